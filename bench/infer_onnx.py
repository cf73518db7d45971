"""Inference side by side on one thread: onnxruntime, PyTorch eager, torch.compile, tract, ple-core.

Loads `model.safetensors`, writes the same network as ONNX (ple_onnx.py), checks that every
engine's probabilities on the whole test split equal PyTorch eager's within --tolerance (and
ple-core's, through its benchmark program), then times the engines interleaved:

* every repetition runs each engine once, in an order rotated by one engine per repetition,
  so that a busy spell of the shared machine falls on all engines of that repetition, and
  ratios are taken between engines of the same repetition;
* batch 1: one row per call, each call timed alone with perf_counter_ns; the call overhead of
  the Python binding is part of every figure (that is how a Python service calls the engine),
  and an Identity graph through onnxruntime's binding (`onnxruntime-call-floor`) measures it;
* batched: the whole test split in batches of --batch rows, as rows per second.

ple-core runs in Rust: `bench/ple-core-bench` is run with `--repeats 1` in its slot of every
repetition and its JSON merged (see bench/README.md for the format). The table (median, min
and max over repetitions, and the ple-core / onnxruntime ratios) is made by infer_report.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import census_data  # noqa: E402
import infer_report  # noqa: E402
import machine  # noqa: E402
from infer_engines import PleCore, call_floor_graph, ort_engine, torch_engine, tract_engine  # noqa: E402
from ple_onnx import build_onnx, load_model  # noqa: E402
from ple_torch import Ple  # noqa: E402

CALL_FLOOR = infer_report.CALL_FLOOR
TIMING_KEYS = ("p50_ns", "p90_ns", "p99_ns", "mean_ns")


def predict_all(run, x: np.ndarray, batch: int) -> np.ndarray:
    return np.concatenate([run(x[i : i + batch]) for i in range(0, len(x), batch)])


def time_batch1(run, rows: np.ndarray, calls: int) -> dict:
    """One repetition: 200 warm-up calls (other engines ran since this one's last turn), then
    `calls` single-row calls, each timed alone."""
    singles = [np.ascontiguousarray(rows[i : i + 1]) for i in range(calls)]
    for x in singles[:200]:
        run(x)
    ns = np.empty(calls, dtype=np.int64)
    for i, x in enumerate(singles):
        start = time.perf_counter_ns()
        run(x)
        ns[i] = time.perf_counter_ns() - start
    return {"p50_ns": float(np.percentile(ns, 50)), "p90_ns": float(np.percentile(ns, 90)),
            "p99_ns": float(np.percentile(ns, 99)), "mean_ns": float(ns.mean())}


def time_batched(run, x: np.ndarray, batch: int) -> float:
    """One repetition: the whole split in chunks of `batch` rows, in rows per second."""
    chunks = [np.ascontiguousarray(x[i : i + batch]) for i in range(0, len(x), batch)]
    run(chunks[0])
    start = time.perf_counter()
    for c in chunks:
        run(c)
    return len(x) / (time.perf_counter() - start)


def append(into: dict, got: dict) -> None:
    for key, value in got.items():
        into.setdefault(key, []).append(value)


def check_python_engines(args, factories: dict, x: np.ndarray, reference: np.ndarray, checks: dict, results: dict) -> dict:
    """Runs every engine on the whole split; returns the runners whose outputs are within the
    tolerance of PyTorch eager (the others are reported and never timed)."""
    runners = {}
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
        runners[engine] = run
        results[engine] = {"batch1": {}, "batched": {"batch": args.batch, "rows_per_second": []}}
    return runners


def check_ple_core(core: PleCore, reference: np.ndarray, tolerance: float, checks: dict, results: dict) -> bool:
    timings, predictions = core.check()
    core_diff = float(np.abs(predictions.reshape(reference.shape) - reference).max())
    checks["ple-core"] = core_diff
    for entry in timings:
        # The predictions file is f32 sparse's; the other variants carry their own distance to
        # it, so their distance to torch is at most the sum.
        checks[entry["engine"]] = core_diff + float(entry.get("max_abs_diff_vs_f32_sparse", 0.0))
        if core_diff > tolerance:
            results[entry["engine"]] = {"error": f"ple-core predictions differ from torch by {core_diff:.3g}"}
        else:
            results[entry["engine"]] = {"batch1": {}, "batched": {"batch": entry.get("batch"), "rows_per_second": []}}
    print(f"ple-core: max diff {core_diff:.2e} ({len(timings)} variants)", flush=True)
    return core_diff <= tolerance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model.safetensors")
    parser.add_argument("--prepared", type=Path, default=Path("/tmp/ple-bench-data"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ple-bench-infer"), help="ONNX files go here")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000, help="batch-1 calls per repetition")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--tolerance", type=float, default=1e-5, help="max |p - p_ref| on probabilities")
    parser.add_argument("--engines", default="onnxruntime,torch-eager,torch-compile,tract")
    parser.add_argument("--ple-core-bench", type=Path, help="the built bench/ple-core-bench program")
    parser.add_argument("--vocab-sizes", default="", help="passed to ple-core-bench (models without a feature spec)")
    parser.add_argument("--source-commit", default=os.environ.get("PLE_SOURCE_COMMIT"),
                        help="the commit ple-core-bench was built from (default: PLE_SOURCE_COMMIT, else this tree's HEAD)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "inference.json")
    args = parser.parse_args()
    if args.repeats < 5:
        parser.error("--repeats must be at least 5")

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

    # Correctness before any timing.
    reference = predict_all(torch_engine(model, False), x, 4096)
    checks = {
        "reference": "torch-eager",
        "auc": {n: census_data.exact_auc(test.labels[:, t], reference[:, t]) for t, n in enumerate(names)},
    }
    factories = {
        "onnxruntime": lambda: ort_engine(onnx_path),
        "torch-eager": lambda: torch_engine(model, False),
        "torch-compile": lambda: torch_engine(model, True),
        "tract": lambda: tract_engine(onnx_path),
    }
    results: dict[str, dict] = {}
    runners = check_python_engines(args, factories, x, reference, checks, results)
    if "onnxruntime" in runners:
        runners[CALL_FLOOR] = ort_engine(call_floor_graph(args.work, cfg.input_dim))
        results[CALL_FLOOR] = {"batch1": {}, "note": "Identity graph: Python call overhead only"}
    core = None
    if args.ple_core_bench:
        core = PleCore(args.ple_core_bench, args.model, args.prepared, args.work, args.vocab_sizes, args.calls)
        if not check_ple_core(core, reference, args.tolerance, checks, results):
            core = None

    slots = [*runners, *(["ple-core"] if core else [])]
    zeros = np.zeros((args.calls, cfg.input_dim), dtype=np.float32)
    repetitions = []
    for k in range(args.repeats):
        order = slots[k % len(slots):] + slots[: k % len(slots)]
        repetitions.append({"started": time.strftime("%H:%M:%S", time.gmtime()),
                            "load_average_before": list(os.getloadavg()), "order": order})
        for slot in order:
            if slot == "ple-core":
                for entry in core.repetition(k + 1):
                    append(results[entry["engine"]]["batch1"], {key: entry[key][0] for key in TIMING_KEYS if key in entry})
                    results[entry["engine"]]["batched"]["rows_per_second"].append(entry["rows_per_second"][0])
            elif slot == CALL_FLOOR:
                append(results[slot]["batch1"], time_batch1(runners[slot], zeros, args.calls))
            else:
                append(results[slot]["batch1"], time_batch1(runners[slot], x, args.calls))
                results[slot]["batched"]["rows_per_second"].append(time_batched(runners[slot], x, args.batch))
        print(f"repetition {k + 1}/{args.repeats}: {', '.join(order)}", flush=True)
    for entry in results.values():
        if entry.get("batch1") == {}:
            del entry["batch1"]  # ple-core's batch API: timed on whole batches only

    out = {
        "timestamp": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "model": str(args.model),
        "source_commit": args.source_commit or machine.describe(())["git_commit"],
        "rows": len(x),
        "calls_per_repeat": args.calls,
        "repeats": args.repeats,
        "interleaved": True,
        "repetitions": repetitions,
        "tolerance": args.tolerance,
        "checks_max_abs_diff": checks,
        "engines": results,
        "machine": machine.describe(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    args.out.with_suffix(".md").write_text(infer_report.markdown(out))
    print(infer_report.markdown(out))
    print(f"wrote {args.out}")
    import plots

    plots.inference(out, args.out.with_suffix(".svg"))


if __name__ == "__main__":
    main()
