"""The engines of the inference comparison, each as a function from a [rows, 499] f32 batch of
raw encoded features to [rows, tasks] probabilities, on one thread; and ple-core's benchmark
program, which runs in Rust and is driven as a subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import torch

from ple_torch import Ple


def ort_engine(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"features": x})[0]


def torch_engine(model: Ple, compiled: bool):
    fn = torch.compile(model, dynamic=False) if compiled else model

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.sigmoid(fn(torch.from_numpy(x))).numpy()

    return run


def tract_engine(path: Path):
    import tract
    from tract.transform import SetSymbols

    # tract's Python API (0.23): load -> typed model -> runnable (optimised for the CPU on the
    # way). Binding the symbolic batch to a number lets tract pick its kernels for that size
    # (about twice the batched throughput here), so there is one runnable per batch size,
    # made on first use (the correctness pass makes them all before anything is timed).
    runnables = {}

    def run(x: np.ndarray) -> np.ndarray:
        rows = x.shape[0]
        if rows not in runnables:
            model = tract.onnx().load(str(path)).into_model()
            model.transform(SetSymbols({"batch": rows}))
            runnables[rows] = model.into_runnable()
        return runnables[rows].run([x])[0].to_numpy()

    return run


def call_floor_graph(work: Path, width: int) -> Path:
    """A graph that only copies its input: timed through the same binding, the cost of calling
    onnxruntime from Python at all, to read next to the model's batch-1 figures."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["features"], ["probabilities"])],
        "floor",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", width])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = work / "identity.onnx"
    onnx.save(model, str(path))
    return path


class PleCore:
    """ple-core's benchmark program (bench/ple-core-bench), run with `--repeats 1` once per
    repetition, in that repetition's slot of the rotation. Its first run (few batch-1 calls)
    provides the predictions that are checked before anything is timed; every timed run must
    reproduce them bit for bit."""

    def __init__(self, binary: Path, model: Path, prepared: Path, work: Path, vocab_sizes: str, calls: int):
        self.base = [str(binary), "--model", str(model), "--prepared", str(prepared), "--repeats", "1"]
        if vocab_sizes:
            self.base += ["--vocab-sizes", vocab_sizes]
        self.work, self.calls = work, calls
        self.expected: np.ndarray | None = None

    def _run(self, name: str, calls: int) -> tuple[list, np.ndarray]:
        out = self.work / name
        done = subprocess.run([*self.base, "--out-dir", str(out), "--calls", str(calls)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"ple-core-bench exited with {done.returncode}: {done.stderr.strip()[-500:]}")
        timings = json.loads((out / "ple-core-timings.json").read_text())
        return timings, np.fromfile(out / "ple-core-predictions.f32", dtype="<f4")

    def check(self) -> tuple[list, np.ndarray]:
        timings, self.expected = self._run("ple-core-check", 200)
        return timings, self.expected

    def repetition(self, k: int) -> list:
        timings, predictions = self._run(f"ple-core-rep{k}", self.calls)
        if self.expected is None or not np.array_equal(predictions.view(np.uint32), self.expected.view(np.uint32)):
            raise RuntimeError(f"ple-core's predictions in repetition {k} differ from the checked ones")
        return timings
