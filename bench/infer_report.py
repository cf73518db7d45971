"""Tables of the inference comparison (`infer_onnx.py`): figures per engine and ratios per repetition.

The engines run interleaved: every repetition times each engine once, in an order rotated by
one engine per repetition, so that a busy spell of the shared machine slows every engine of
that repetition rather than one engine's whole series. A ratio is therefore only ever taken
between two engines of the same repetition, and its median, min and max are over repetitions.
"""

from __future__ import annotations

import statistics

import machine

REFERENCE = "onnxruntime"
CALL_FLOOR = "onnxruntime-call-floor"


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _span(values: list[float], fmt: str, unit: str = "") -> str:
    s = summary(values)
    if fmt == "us":  # sub-microsecond figures need two decimals to differ at all
        fmt = ".2f" if s["median"] < 10 else ".1f"
    return f"{s['median']:{fmt}}{unit} ({s['min']:{fmt}}..{s['max']:{fmt}})"


def paired_ratios(result: dict) -> dict:
    """For every ple-core variant, per repetition: onnxruntime's batch-1 p50 over ple-core's
    (with onnxruntime's Python call, and without it: minus the Identity graph's p50 of the same
    repetition) and ple-core's batched rows/s over onnxruntime's."""
    engines = result["engines"]
    ort = engines.get(REFERENCE, {})
    if "batch1" not in ort or not result.get("interleaved"):
        return {}
    ort_p50 = ort["batch1"]["p50_ns"]
    ort_rate = ort["batched"]["rows_per_second"]
    floor = engines.get(CALL_FLOOR, {}).get("batch1", {}).get("p50_ns")
    ratios = {}
    for name, entry in engines.items():
        if not name.startswith("ple-core") or "batched" not in entry:
            continue
        got = {}
        p50 = entry.get("batch1", {}).get("p50_ns")
        if p50 and len(p50) == len(ort_p50):
            got["batch1_speedup"] = [o / c for o, c in zip(ort_p50, p50)]
            if floor and len(floor) == len(ort_p50):
                got["batch1_speedup_without_call"] = [(o - f) / c for o, f, c in zip(ort_p50, floor, p50)]
        rate = entry["batched"]["rows_per_second"]
        if len(rate) == len(ort_rate):
            got["batched_speedup"] = [c / o for c, o in zip(rate, ort_rate)]
        ratios[name] = got
    return ratios


def engine_table(result: dict) -> list[str]:
    lines = [
        "| engine | max abs diff vs torch | batch-1 p50 us: median (min..max) | p99 us (median) | batched rows/s: median (min..max) | n |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in result["engines"].items():
        diff = result["checks_max_abs_diff"].get(name)
        diff = f"{diff:.1e}" if isinstance(diff, float) else "n/a"
        if "error" in entry:
            lines.append(f"| {name} | {diff} | not timed: {entry['error']} | | | |")
            continue
        b1 = entry.get("batch1", {})
        p50 = [v / 1e3 for v in b1.get("p50_ns", [])]
        p99 = [v / 1e3 for v in b1.get("p99_ns", [])]
        rates = entry.get("batched", {}).get("rows_per_second", [])
        latency = _span(p50, "us") if p50 else "batched only"
        tail = f"{statistics.median(p99):.1f}" if p99 else ""
        batched = _span(rates, ",.0f") if rates else entry.get("note", "")
        lines.append(f"| {name} | {diff} | {latency} | {tail} | {batched} | {len(p50) or len(rates)} |")
    return lines


def ratio_table(result: dict) -> list[str]:
    ratios = paired_ratios(result)
    if not ratios:
        return ["No ple-core / onnxruntime ratios: the engines did not run interleaved in this result."]
    lines = [
        "ple-core over onnxruntime, each ratio taken within one repetition (median (min..max) over repetitions):",
        "",
        "| ple-core variant | batch 1: onnxruntime p50 / ple-core p50 | same, onnxruntime's Python call floor subtracted | batched: ple-core rows/s / onnxruntime rows/s (batch 1,024) | n |",
        "|---|---|---|---|---|",
    ]
    for name, got in ratios.items():
        cells = [
            _span(got[key], ".1f", "x") if key in got else "n/a (batched only)"
            for key in ("batch1_speedup", "batch1_speedup_without_call")
        ]
        batched = _span(got["batched_speedup"], ".2f", "x") if "batched_speedup" in got else "n/a"
        n = max((len(v) for v in got.values()), default=0)
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {batched} | {n} |")
    return lines


def repetition_lines(result: dict) -> list[str]:
    reps = result.get("repetitions") or []
    if not reps:
        return []
    lines = ["| repetition | started (UTC) | load average before (1/5/15 min) | engine order |", "|---|---|---|---|"]
    for i, rep in enumerate(reps, 1):
        load = "/".join(f"{v:.1f}" for v in rep["load_average_before"])
        lines.append(f"| {i} | {rep['started']} | {load} | {', '.join(rep['order'])} |")
    return lines


def markdown(result: dict) -> str:
    how = ("interleaved: each repetition runs every engine once, order rotated by one engine per repetition"
           if result.get("interleaved") else "engines one after the other (not interleaved)")
    lines = [
        f"Inference on one thread, {result['rows']} test rows; batch 1: {result['calls_per_repeat']} calls per "
        f"repetition; {result['repeats']} repetitions, {how}; {result['timestamp']}",
        "",
        f"Machine: {machine.one_line(result['machine'])}",
        f"Source commit: {result.get('source_commit') or 'unrecorded'}; model: {result['model']}",
        "",
        *engine_table(result),
        "",
        *ratio_table(result),
        "",
        "Batch-1 figures of the Python engines are timed around their Python call (perf_counter_ns), so "
        "the binding's overhead is inside them; `onnxruntime-call-floor` is an Identity graph on the same "
        "input through the same binding, i.e. that overhead alone, and the third ratio column subtracts it "
        "from onnxruntime's p50 of the same repetition. ple-core's figures are Rust `Instant` around each "
        "`predict` call (no binding). Batched: onnxruntime at batch 1,024 rows per call; ple-core's "
        "`... batch` rows use its batch API at 1,024 rows per call, its other rows loop over single-row "
        "calls. f16 and int8 variants are compared with onnxruntime on the f32 weights.",
    ]
    reps = repetition_lines(result)
    if reps:
        lines += ["", *reps]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    # Re-render a saved result: python infer_report.py results/inference.json
    import json
    import sys
    from pathlib import Path

    import plots

    for arg in sys.argv[1:]:
        saved = json.loads(Path(arg).read_text())
        Path(arg).with_suffix(".md").write_text(markdown(saved))
        plots.inference(saved, Path(arg).with_suffix(".svg"))
