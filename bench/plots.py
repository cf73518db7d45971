"""SVG bar charts of the benchmark results (matplotlib, no display needed)."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

matplotlib.rcParams["svg.hashsalt"] = "ple-bench"  # stable ids: re-running gives a small diff


def _bars(ax, names, medians, lows, highs, unit, log=False):
    errors = [[m - lo for m, lo in zip(medians, lows)], [hi - m for m, hi in zip(medians, highs)]]
    bars = ax.bar(names, medians, yerr=errors, capsize=4, color="#4472c4")
    ax.set_ylabel(unit)
    if log:
        ax.set_yscale("log")
    for bar, value in zip(bars, medians):
        ax.annotate(f"{value:.3g}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)


def _footer(fig, info: dict) -> None:
    fig.text(0.01, 0.01, f"{info['cpu']}, {info['logical_cpus']} CPUs; median of repeats, bars min..max",
             fontsize=7, color="#555555")


def train_speed(result: dict, path: Path) -> None:
    names, med, lo, hi = [], [], [], []
    for name, engine in result["engines"].items():
        if "summary" in engine:
            s = engine["summary"]
            names.append(f"{name} (n={s['n']})")
            med.append(s["median"])
            lo.append(s["min"])
            hi.append(s["max"])
    if not names:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    _bars(ax, names, med, lo, hi, "seconds per epoch (log scale)", log=True)
    ax.set_title(f"Training one epoch, {result['rows']} rows, batch 32")
    _footer(fig, result["machine"])
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def inference(result: dict, path: Path) -> None:
    engines = {n: e for n, e in result["engines"].items() if "batch1" in e and e["batch1"].get("p50_ns")}
    if not engines:
        return
    names = list(engines)
    import infer_report

    ratios = infer_report.paired_ratios(result)
    fig, axes = plt.subplots(1, 3 if ratios else 2, figsize=(18 if ratios else 12, 5))
    left, right = axes[0], axes[1]
    p50 = [[v / 1e3 for v in engines[n]["batch1"]["p50_ns"]] for n in names]
    _bars(left, names, [statistics.median(v) for v in p50], [min(v) for v in p50], [max(v) for v in p50],
          "batch-1 latency p50, microseconds (log)", log=True)
    left.set_title("One row per call, one thread")
    every = result["engines"]  # the batch API's rows have no batch-1 figure but belong here
    batched = [n for n, e in every.items() if e.get("batched", {}).get("rows_per_second")]
    rates = [every[n]["batched"]["rows_per_second"] for n in batched]
    _bars(right, batched, [statistics.median(v) for v in rates], [min(v) for v in rates], [max(v) for v in rates],
          "rows per second (log)", log=True)
    right.set_title("Batched, one thread")
    if ratios:
        # One bar per ple-core variant: batch-1 speed-up where it has one, else batched.
        labels, values = [], []
        for name, got in ratios.items():
            for key, what in (("batch1_speedup", "batch 1"), ("batched_speedup", "batched")):
                if key in got:
                    labels.append(f"{name.removeprefix('ple-core ')}, {what}")
                    values.append(got[key])
        _bars(axes[2], labels, [statistics.median(v) for v in values], [min(v) for v in values],
              [max(v) for v in values], "x onnxruntime, same repetition (log)", log=True)
        axes[2].axhline(1.0, color="#999999", linewidth=0.8)
        axes[2].set_title("ple-core over onnxruntime (Python call included)")
    _footer(fig, result["machine"])
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    # Re-draw from saved results: python plots.py results/train_speed.json results/inference.json
    for arg in sys.argv[1:]:
        data = json.loads(Path(arg).read_text())
        (train_speed if "rows" in data and "epochs" in data and "runs" in data else inference)(data, Path(arg).with_suffix(".svg"))
