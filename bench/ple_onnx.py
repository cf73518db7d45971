"""Loads `model.safetensors` and writes the same network as an ONNX graph.

The graph is built node by node with `onnx.helper` rather than traced, so that it is exactly
the network of ple-core/src/shape.rs and nothing else: every expert and gate that reads the
same tensor is one `Gemm` over their concatenated weights (the best dense formulation for a
general-purpose engine), gates are `Softmax`, mixtures `Mul` + `ReduceSum`, outputs `Sigmoid`.

The numeric standardisation stored in the model (`ple.normalisation`) is folded into the
first layer, as ple-codegen does for deployed models, so every engine takes the raw encoded
features.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ple_torch import PleConfig


def load_model(path: Path) -> tuple[PleConfig, dict[str, np.ndarray], list[str]]:
    """Weights with the normalisation folded in, the config and the task names."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k).astype(np.float32) for k in f.keys()}
    if "ple.config" not in meta:
        raise ValueError(f"{path}: no ple.config metadata")
    raw_config = json.loads(meta["ple.config"])
    cfg = PleConfig.from_json(meta["ple.config"])
    names = raw_config.get("task_names") or [f"task{t}" for t in range(cfg.tasks)]
    if "ple.normalisation" in meta:
        norm = json.loads(meta["ple.normalisation"])
        fold_normalisation(cfg, tensors, np.asarray(norm["mean"], np.float32), np.asarray(norm["std"], np.float32))
    return cfg, tensors, names


def first_layer_names(cfg: PleConfig) -> list[str]:
    """The layers that read the model input: level 0's expert first layers and gates."""
    names = []
    for t in range(cfg.tasks):
        names += [f"level0.task{t}.expert{e}.layer0" for e in range(cfg.experts_per_task)]
    names += [f"level0.shared.expert{e}.layer0" for e in range(cfg.shared_experts)]
    names += [f"level0.task{t}.gate" for t in range(cfg.tasks)]
    if cfg.levels > 1:
        names.append("level0.shared.gate")
    return names


def fold_normalisation(cfg: PleConfig, tensors: dict, mean: np.ndarray, std: np.ndarray) -> None:
    """W x_norm + b with x_norm = (x - mean) / std  ==  (W / std) x + (b - W (mean / std))."""
    n = len(mean)
    for name in first_layer_names(cfg):
        w = tensors[f"{name}.weight"].astype(np.float64)
        b = tensors[f"{name}.bias"].astype(np.float64)
        scaled = w[:, :n] / std.astype(np.float64)
        b = b - scaled @ mean.astype(np.float64)
        w[:, :n] = scaled
        tensors[f"{name}.weight"] = w.astype(np.float32)
        tensors[f"{name}.bias"] = b.astype(np.float32)


class _Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, stem: str, value: np.ndarray) -> str:
        name = self.fresh(stem)
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, kind: str, inputs: list[str], stem: str, outputs: int = 1, **attrs) -> list[str]:
        outs = [self.fresh(stem) for _ in range(outputs)]
        self.nodes.append(helper.make_node(kind, inputs, outs, **attrs))
        return outs

    def dense_group(self, x: str, names: list[str], tensors: dict) -> list[str]:
        """One Gemm for all layers reading `x`, split back into one output per layer."""
        w = np.concatenate([tensors[f"{n}.weight"] for n in names], 0)
        b = np.concatenate([tensors[f"{n}.bias"] for n in names], 0)
        y = self.op("Gemm", [x, self.const("w", w), self.const("b", b)], "gemm", transB=1)[0]
        if len(names) == 1:
            return [y]
        sizes = self.const("sizes", np.array([tensors[f"{n}.bias"].shape[0] for n in names], np.int64))
        return self.op("Split", [y, sizes], "part", outputs=len(names), axis=1)

    def dense(self, x: str, name: str, tensors: dict) -> str:
        return self.dense_group(x, [name], tensors)[0]

    def relu(self, x: str) -> str:
        return self.op("Relu", [x], "relu")[0]

    def mix(self, gate_logits: str, experts: list[str]) -> str:
        """softmax(gate) weighted sum of expert outputs."""
        axes1 = self.const("axes", np.array([1], np.int64))
        stacked = [self.op("Unsqueeze", [e, axes1], "unsq")[0] for e in experts]
        stack = self.op("Concat", stacked, "stack", axis=1)[0]  # [B, E, W]
        weights = self.op("Softmax", [gate_logits], "softmax", axis=1)[0]
        axes2 = self.const("axes", np.array([2], np.int64))
        weights = self.op("Unsqueeze", [weights, axes2], "unsq")[0]  # [B, E, 1]
        product = self.op("Mul", [stack, weights], "mul")[0]
        return self.op("ReduceSum", [product, axes1], "sum", keepdims=0)[0]


def build_onnx(cfg: PleConfig, tensors: dict, batch: int | str = "batch") -> onnx.ModelProto:
    g = _Graph()
    depth = len(cfg.expert_units)

    def expert(first: str, prefix: str) -> str:
        h = g.relu(first)
        for k in range(1, depth):
            h = g.relu(g.dense(h, f"{prefix}.layer{k}", tensors))
        return h

    task_in, shared_in = ["features"] * cfg.tasks, "features"
    for level in range(cfg.levels):
        has_shared_gate = level + 1 < cfg.levels
        own_names = [[f"level{level}.task{t}.expert{e}" for e in range(cfg.experts_per_task)] for t in range(cfg.tasks)]
        shared_names = [f"level{level}.shared.expert{e}" for e in range(cfg.shared_experts)]
        if level == 0:
            layer_names = first_layer_names(cfg)
            outs = dict(zip(layer_names, g.dense_group("features", layer_names, tensors)))
        else:
            outs = {}
            for t in range(cfg.tasks):
                names = [f"{n}.layer0" for n in own_names[t]] + [f"level{level}.task{t}.gate"]
                outs.update(zip(names, g.dense_group(task_in[t], names, tensors)))
            names = [f"{n}.layer0" for n in shared_names] + ([f"level{level}.shared.gate"] if has_shared_gate else [])
            if names:
                outs.update(zip(names, g.dense_group(shared_in, names, tensors)))
        own = [[expert(outs[f"{n}.layer0"], n) for n in group] for group in own_names]
        shared = [expert(outs[f"{n}.layer0"], n) for n in shared_names]
        next_task = [g.mix(outs[f"level{level}.task{t}.gate"], own[t] + shared) for t in range(cfg.tasks)]
        if has_shared_gate:
            shared_in = g.mix(outs[f"level{level}.shared.gate"], [e for group in own for e in group] + shared)
        task_in = next_task
    logits = []
    for t in range(cfg.tasks):
        h = task_in[t]
        for k in range(len(cfg.tower_units)):
            h = g.relu(g.dense(h, f"task{t}.tower.layer{k}", tensors))
        logits.append(g.dense(h, f"task{t}.output", tensors))
    joined = g.op("Concat", logits, "logits", axis=1)[0] if cfg.tasks > 1 else logits[0]
    g.nodes.append(helper.make_node("Sigmoid", [joined], ["probabilities"]))
    graph = helper.make_graph(
        g.nodes,
        "ple",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, cfg.input_dim])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [batch, cfg.tasks])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ple-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
