"""The PLE network of ple-core/src/shape.rs, written in PyTorch for side-by-side benchmarks.

Parameters are kept one `nn.Linear` per dense layer, registered under the canonical tensor
names of shape.rs (`level0.task0.expert0.layer0.weight`, ...), so that a state dict maps 1:1
onto `model.safetensors`.  Two forward implementations compute the same function:

* `per_layer` runs every expert and gate as its own `F.linear`, as PaddleRec's net.py and
  most PyTorch PLE code do;
* `fused` concatenates, on every call, the weights of all layers that read the same input
  (at level 0 every expert and gate reads the model input) into one matrix, so the input is
  read once by one GEMM.  This is the fastest dense formulation we found for PyTorch and is
  the one the speed comparison uses unless told otherwise.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class PleConfig:
    input_dim: int = 499
    tasks: int = 2
    experts_per_task: int = 3
    shared_experts: int = 2
    levels: int = 1
    expert_units: list[int] = field(default_factory=lambda: [16])
    tower_units: list[int] = field(default_factory=lambda: [8])

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> "PleConfig":
        raw = json.loads(text)
        # The trainer may nest the shape under "shape" and add training options; keep the shape.
        raw = raw.get("shape", raw)
        known = {k: raw[k] for k in PleConfig.__dataclass_fields__ if k in raw}
        return PleConfig(**known)


def layer_names(cfg: PleConfig) -> list[tuple[str, int, int]]:
    """(name, inputs, outputs) of every dense layer in shape.rs's canonical order."""
    out = []
    width = cfg.expert_units[-1]
    for level in range(cfg.levels):
        level_in = cfg.input_dim if level == 0 else width
        for t in range(cfg.tasks):
            for e in range(cfg.experts_per_task):
                prev = level_in
                for k, units in enumerate(cfg.expert_units):
                    out.append((f"level{level}.task{t}.expert{e}.layer{k}", prev, units))
                    prev = units
        for e in range(cfg.shared_experts):
            prev = level_in
            for k, units in enumerate(cfg.expert_units):
                out.append((f"level{level}.shared.expert{e}.layer{k}", prev, units))
                prev = units
        for t in range(cfg.tasks):
            out.append((f"level{level}.task{t}.gate", level_in, cfg.experts_per_task + cfg.shared_experts))
        if level + 1 < cfg.levels:
            total = cfg.tasks * cfg.experts_per_task + cfg.shared_experts
            out.append((f"level{level}.shared.gate", level_in, total))
    for t in range(cfg.tasks):
        prev = width
        for k, units in enumerate(cfg.tower_units):
            out.append((f"task{t}.tower.layer{k}", prev, units))
            prev = units
        out.append((f"task{t}.output", prev, 1))
    return out


class Ple(nn.Module):
    """Returns logits `[batch, tasks]`; the probabilities are their sigmoid."""

    def __init__(self, cfg: PleConfig, impl: str = "fused"):
        super().__init__()
        if impl not in ("fused", "per_layer"):
            raise ValueError(f"unknown implementation {impl!r}")
        self.cfg, self.impl = cfg, impl
        # nn.ModuleDict keys may not contain dots, so layers live in a flat dict keyed by
        # index; `named_tensors` gives the canonical names.
        self.names = [n for n, _, _ in layer_names(cfg)]
        self.layers = nn.ModuleList(nn.Linear(i, o) for _, i, o in layer_names(cfg))
        self.index = {n: i for i, n in enumerate(self.names)}

    def reset_xavier(self, generator: torch.Generator) -> None:
        """Xavier-uniform weights and zero biases, like ple-train."""
        with torch.no_grad():
            for layer in self.layers:
                fan_out, fan_in = layer.weight.shape
                bound = (6.0 / (fan_in + fan_out)) ** 0.5
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.zero_()

    def named_tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for name, layer in zip(self.names, self.layers):
            out[f"{name}.weight"] = layer.weight
            out[f"{name}.bias"] = layer.bias
        return out

    def load_named(self, tensors: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, layer in zip(self.names, self.layers):
                layer.weight.copy_(tensors[f"{name}.weight"])
                layer.bias.copy_(tensors[f"{name}.bias"])

    def _layer(self, name: str) -> nn.Linear:
        return self.layers[self.index[name]]

    def _dense_group(self, x: torch.Tensor, names: list[str]) -> list[torch.Tensor]:
        """Applies the first-level layers `names` (all reading `x`) and returns their outputs."""
        layers = [self._layer(n) for n in names]
        if self.impl == "per_layer" or len(layers) == 1:
            return [F.linear(x, l.weight, l.bias) for l in layers]
        weight = torch.cat([l.weight for l in layers], 0)
        bias = torch.cat([l.bias for l in layers], 0)
        return list(torch.split(F.linear(x, weight, bias), [l.out_features for l in layers], 1))

    def _expert(self, first: torch.Tensor, prefix: str) -> torch.Tensor:
        h = F.relu(first)
        for k in range(1, len(self.cfg.expert_units)):
            h = F.relu(self._layer(f"{prefix}.layer{k}")(h))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        task_in = [x] * cfg.tasks
        shared_in = x
        for level in range(cfg.levels):
            own, gates = [], []
            shared_names = [f"level{level}.shared.expert{e}" for e in range(cfg.shared_experts)]
            has_shared_gate = level + 1 < cfg.levels
            if level == 0:
                # Every expert and gate of level 0 reads the model input: one group.
                task_names = [[f"level0.task{t}.expert{e}" for e in range(cfg.experts_per_task)] for t in range(cfg.tasks)]
                names = [f"{n}.layer0" for group in task_names for n in group]
                names += [f"{n}.layer0" for n in shared_names]
                names += [f"level0.task{t}.gate" for t in range(cfg.tasks)]
                names += ["level0.shared.gate"] if has_shared_gate else []
                outs = iter(self._dense_group(x, names))
                own = [[self._expert(next(outs), n) for n in group] for group in task_names]
                shared = [self._expert(next(outs), n) for n in shared_names]
                gates = [next(outs) for _ in range(cfg.tasks)]
                shared_gate = next(outs) if has_shared_gate else None
            else:
                for t in range(cfg.tasks):
                    names = [f"level{level}.task{t}.expert{e}" for e in range(cfg.experts_per_task)]
                    outs = self._dense_group(task_in[t], [f"{n}.layer0" for n in names] + [f"level{level}.task{t}.gate"])
                    own.append([self._expert(o, n) for o, n in zip(outs, names)])
                    gates.append(outs[-1])
                names = [f"{n}.layer0" for n in shared_names] + ([f"level{level}.shared.gate"] if has_shared_gate else [])
                outs = self._dense_group(shared_in, names) if names else []
                shared = [self._expert(o, n) for o, n in zip(outs, shared_names)]
                shared_gate = outs[-1] if has_shared_gate else None
            shared_stack = torch.stack(shared, 1) if shared else None
            next_task = []
            for t in range(cfg.tasks):
                experts = own[t] + shared
                stack = torch.stack(experts, 1)  # [batch, experts, width]
                weights = torch.softmax(gates[t], 1).unsqueeze(2)
                next_task.append((weights * stack).sum(1))
            if has_shared_gate:
                every = torch.stack([e for group in own for e in group], 1)
                every = torch.cat([every, shared_stack], 1) if shared_stack is not None else every
                shared_in = (torch.softmax(shared_gate, 1).unsqueeze(2) * every).sum(1)
            task_in = next_task
        logits = []
        for t in range(cfg.tasks):
            h = task_in[t]
            for k in range(len(cfg.tower_units)):
                h = F.relu(self._layer(f"task{t}.tower.layer{k}")(h))
            logits.append(self._layer(f"task{t}.output")(h))
        return torch.cat(logits, 1)
