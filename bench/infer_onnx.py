"""Inference side by side on one thread: onnxruntime, PyTorch eager, torch.compile, tract, ple-core.

Loads `model.safetensors`, writes the same network as ONNX (ple_onnx.py), checks that every
engine's probabilities on the whole test split equal PyTorch eager's within --tolerance (and
ple-core's, when its predictions file is given), then times each engine:

* batch 1: one row per call, each call timed alone with perf_counter_ns; the call overhead of
  the Python binding is part of every figure (that is how a Python service calls the engine);
* batched: the whole test split in batches of --batch rows, as rows per second.

Each measurement is repeated --repeats times (>= 5); the table shows the median, min and max
over repetitions. ple-core runs in Rust, so its figures come from a JSON file that its own
benchmark binary writes (see bench/README.md for the format) and are merged as they are.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import census_data  # noqa: E402
import machine  # noqa: E402
from ple_onnx import build_onnx, load_model  # noqa: E402
from ple_torch import Ple  # noqa: E402


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


def ort_call_floor(work: Path, width: int, calls: int, repeats: int) -> dict:
    """Batch-1 latency of a graph that only copies its input: the cost of calling
    onnxruntime from Python at all, to read next to the model's figures."""
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
    rows = np.zeros((calls, width), dtype=np.float32)
    return time_batch1(ort_engine(path), rows, calls, repeats)


def predict_all(run, x: np.ndarray, batch: int) -> np.ndarray:
    return np.concatenate([run(x[i : i + batch]) for i in range(0, len(x), batch)])


def time_batch1(run, rows: np.ndarray, calls: int, repeats: int) -> dict:
    p50, p90, p99, mean = [], [], [], []
    singles = [np.ascontiguousarray(rows[i : i + 1]) for i in range(calls)]
    for x in singles[:200]:
        run(x)  # warm-up: caches, lazy initialisation, compilation
    for _ in range(repeats):
        ns = np.empty(calls, dtype=np.int64)
        for i, x in enumerate(singles):
            start = time.perf_counter_ns()
            run(x)
            ns[i] = time.perf_counter_ns() - start
        p50.append(float(np.percentile(ns, 50)))
        p90.append(float(np.percentile(ns, 90)))
        p99.append(float(np.percentile(ns, 99)))
        mean.append(float(ns.mean()))
    return {"p50_ns": p50, "p90_ns": p90, "p99_ns": p99, "mean_ns": mean}


def time_batched(run, x: np.ndarray, batch: int, repeats: int) -> dict:
    chunks = [np.ascontiguousarray(x[i : i + batch]) for i in range(0, len(x), batch)]
    run(chunks[0])
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for c in chunks:
            run(c)
        rates.append(len(x) / (time.perf_counter() - start))
    return {"batch": batch, "rows_per_second": rates}


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def markdown(out: dict) -> str:
    lines = [
        f"Inference on one thread, {out['rows']} test rows; batch 1: {out['calls_per_repeat']} calls per repetition; "
        f"{out['repeats']} repetitions; {out['timestamp']}",
        "",
        f"Machine: {machine.one_line(out['machine'])}",
        "",
        "| engine | max abs diff vs torch | batch-1 p50 us (median, min..max) | p99 us (median) | batched rows/s (median, min..max) |",
        "|---|---|---|---|---|",
    ]
    for name, entry in out["engines"].items():
        diff = out["checks_max_abs_diff"].get(name)
        diff = f"{diff:.1e}" if isinstance(diff, float) else "n/a"
        if "error" in entry:
            lines.append(f"| {name} | {diff} | not timed: {entry['error']} | | |")
            continue
        if "batched" not in entry:
            p50 = summary([v / 1e3 for v in entry["batch1"]["p50_ns"]])
            lines.append(f"| {name} | n/a | {p50['median']:.1f} ({p50['min']:.1f}..{p50['max']:.1f}) | | {entry.get('note', '')} |")
            continue
        b1, bb = entry["batch1"], entry["batched"]["rows_per_second"]
        rate = summary(bb)
        if "p50_ns" not in b1:
            # ple-core's batch API: timed on whole batches only.
            lines.append(
                f"| {name} | {diff} | batched only | | {rate['median']:,.0f} ({rate['min']:,.0f}..{rate['max']:,.0f}) |"
            )
            continue
        p50 = summary([v / 1e3 for v in b1["p50_ns"]])
        p99 = summary([v / 1e3 for v in b1.get("p99_ns", b1["p50_ns"])])
        rate = summary(bb)
        lines.append(
            f"| {name} | {diff} | {p50['median']:.1f} ({p50['min']:.1f}..{p50['max']:.1f}) | {p99['median']:.1f} "
            f"| {rate['median']:,.0f} ({rate['min']:,.0f}..{rate['max']:,.0f}) |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model.safetensors")
    parser.add_argument("--prepared", type=Path, default=Path("/tmp/ple-bench-data"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ple-bench-infer"), help="ONNX files go here")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000, help="batch-1 calls per repetition")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--tolerance", type=float, default=1e-5, help="max |p - p_ref| on probabilities")
    parser.add_argument("--engines", default="onnxruntime,torch-eager,torch-compile,tract")
    parser.add_argument("--ple-core-predictions", type=Path, help="ple-core's test-split probabilities, f32 [rows, tasks]")
    parser.add_argument("--ple-core-timings", type=Path, help="ple-core's timing JSON (see README)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "inference.json")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    cfg, tensors, names = load_model(args.model)
    test = census_data.Split(args.prepared, "test")
    x = np.ascontiguousarray(test.features)
    args.work.mkdir(parents=True, exist_ok=True)
    onnx_path = args.work / "ple.onnx"
    import onnx

    onnx.save(build_onnx(cfg, tensors), str(onnx_path))
    model = Ple(cfg, "fused")
    model.load_named({k: torch.from_numpy(v) for k, v in tensors.items()})
    model.eval()

    reference = predict_all(torch_engine(model, False), x, 4096)
    checks = {
        "reference": "torch-eager",
        "auc": {n: census_data.exact_auc(test.labels[:, t], reference[:, t]) for t, n in enumerate(names)},
    }
    if args.ple_core_predictions:
        core = np.fromfile(args.ple_core_predictions, dtype="<f4").reshape(reference.shape)
        checks["ple-core"] = float(np.abs(core - reference).max())
    factories = {
        "onnxruntime": lambda: ort_engine(onnx_path),
        "torch-eager": lambda: torch_engine(model, False),
        "torch-compile": lambda: torch_engine(model, True),
        "tract": lambda: tract_engine(onnx_path),
    }
    results = {}
    for engine in [e for e in args.engines.split(",") if e]:
        try:
            run = factories[engine]()
            got = predict_all(run, x, args.batch)
        except Exception as error:  # an engine that cannot run here is reported, not hidden
            results[engine] = {"error": f"{type(error).__name__}: {error}"}
            print(f"{engine}: cannot run: {error}", flush=True)
            continue
        diff = float(np.abs(got - reference).max())
        checks[engine] = diff
        if diff > args.tolerance:
            results[engine] = {"error": f"max |p - p_torch| = {diff:.3g} > {args.tolerance}"}
            print(f"{engine}: outputs differ by {diff:.3g}, not timed", flush=True)
            continue
        b1 = time_batch1(run, x, args.calls, args.repeats)
        bb = time_batched(run, x, args.batch, args.repeats)
        results[engine] = {"batch1": b1, "batched": bb}
        print(
            f"{engine}: max diff {diff:.2e}; batch 1 p50 {summary(b1['p50_ns'])['median'] / 1e3:.1f} us, "
            f"p99 {summary(b1['p99_ns'])['median'] / 1e3:.1f} us; batch {args.batch}: "
            f"{summary(bb['rows_per_second'])['median']:.0f} rows/s",
            flush=True,
        )
    if "onnxruntime" in results and "error" not in results["onnxruntime"]:
        floor = ort_call_floor(args.work, cfg.input_dim, args.calls, args.repeats)
        results["onnxruntime-call-floor"] = {"batch1": floor, "note": "Identity graph: Python call overhead only"}
    if args.ple_core_timings:
        core_diff = checks.get("ple-core")
        for entry in json.loads(args.ple_core_timings.read_text()):
            # The predictions file is the first entry's (f32 sparse); the others carry their
            # own distance to it, so their distance to torch is at most the sum.
            if core_diff is None or core_diff > args.tolerance:
                results[entry["engine"]] = {"error": f"ple-core predictions differ from torch by {core_diff}"}
                continue
            checks[entry["engine"]] = core_diff + float(entry.get("max_abs_diff_vs_f32_sparse", 0.0))
            results[entry["engine"]] = {
                "batch1": {k: entry[k] for k in ("p50_ns", "p90_ns", "p99_ns", "mean_ns") if k in entry},
                "batched": {"batch": entry.get("batch", args.batch), "rows_per_second": entry["rows_per_second"]},
                "source": str(args.ple_core_timings),
            }
    out = {
        "timestamp": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "model": str(args.model),
        "rows": len(x),
        "calls_per_repeat": args.calls,
        "repeats": args.repeats,
        "tolerance": args.tolerance,
        "checks_max_abs_diff": checks,
        "engines": results,
        "machine": machine.describe(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    table = markdown(out)
    args.out.with_suffix(".md").write_text(table)
    print(table)
    print(f"wrote {args.out}")
    import plots

    plots.inference(out, args.out.with_suffix(".svg"))


if __name__ == "__main__":
    main()
