"""The microcontroller table: instructions per inference, flash and RAM per target and precision.

`mcu.sh` runs the firmware tests under QEMU (`cargo test -p ple-tests --test firmware_qemu`),
which print one `FIGURES` line per firmware run; this module turns that log into
`results/mcu.{json,md,svg}`, next to the issue's targets and the scale of TensorFlow Lite
Micro with CMSIS-NN.

QEMU counts instructions exactly (`-icount`), it does not model cycles; the reference figures
are cycles.  On a Cortex-M4 most instructions take one cycle and loads, stores and branches
more, so a cycle count of our firmware would be at least its instruction count: the ratio to
the reference printed here is an upper bound on our advantage, not a measured speed-up.

Python standard library only (the SVG is written by hand), so it runs without the venv.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# Board names of tests/src/firmware.rs -> (core, QEMU machine, Rust target).
BOARDS = {
    "cortex-m4f": ("Cortex-M4F", "mps2-an386", "thumbv7em-none-eabihf"),
    "cortex-m7": ("Cortex-M7", "mps2-an500", "thumbv7em-none-eabihf"),
    "cortex-m0": ("Cortex-M0", "microbit", "thumbv6m-none-eabi"),
    "riscv32imac": ("RV32IMAC", "virt", "riscv32imac-unknown-none-elf"),
}
# TensorFlow Lite Micro + CMSIS-NN on dense layers of a Cortex-M4 (MLPerf Tiny), as quoted by
# the firmware issue: cycles per multiply-accumulate, and the dense multiply-accumulates of
# PaddleRec's PLE (its two-unit softmax outputs included).
TFLM_CYCLES_PER_MAC = (2.5, 4.6)
DENSE_MACS = 69_310
TFLM_CYCLES = tuple(round(c * DENSE_MACS) for c in TFLM_CYCLES_PER_MAC)
# The targets for the Cortex-M4F.
TARGET_INT8_INSTRUCTIONS = 15_000
TARGET_F32_INSTRUCTIONS = 30_000
TARGET_FLASH_BYTES = 90 * 1024
TARGET_RAM_BYTES = 4 * 1024

FIGURES = re.compile(r"^FIGURES (.*)$", re.M)
PAIR = re.compile(r"(\S+?)=(\S+)")
TEST_LINE = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored)", re.M)


def _command(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unavailable"


def parse(log: str) -> tuple[list[dict], dict[str, str]]:
    """The FIGURES rows and the outcome of each test in a `cargo test` log."""
    rows = []
    for line in FIGURES.findall(log):
        fields = dict(PAIR.findall(line))
        counter_key = next((k for k in fields if k.endswith("_per_inference(min/mean/max)")), None)
        if counter_key is None or "board" not in fields:
            raise ValueError(f"FIGURES line without board or per-inference figures: {line}")
        low, mean, high = (int(v) for v in fields[counter_key].split("/"))
        core, machine, target = BOARDS.get(fields["board"], (fields["board"], "?", "?"))
        rows.append({
            "board": fields["board"], "core": core, "qemu_machine": machine, "target": target,
            "precision": fields["precision"], "counter": counter_key.split("_per_inference")[0],
            "per_inference_min": low, "per_inference_mean": mean, "per_inference_max": high,
            **{k: int(fields[k]) for k in ("flash_total", "flash_without_test_rows", "static_ram",
                                            "stack_high_water", "ram_total") if k in fields},
        })
    order = list(BOARDS)
    precisions = ["int8", "f32", "f16"]
    rows.sort(key=lambda r: (order.index(r["board"]) if r["board"] in order else len(order),
                             precisions.index(r["precision"]) if r["precision"] in precisions else 9))
    tests = dict(TEST_LINE.findall(log))
    return rows, tests


def _row(result: dict, board: str, precision: str) -> dict | None:
    return next((r for r in result["rows"] if r["board"] == board and r["precision"] == precision), None)


def targets(result: dict) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each of the issue's Cortex-M4F targets."""
    out = []
    int8 = _row(result, "cortex-m4f", "int8")
    f32 = _row(result, "cortex-m4f", "f32")

    def verdict(value: int, limit: int) -> str:
        return "met" if value <= limit else f"not met ({value / limit:.2f}x the limit)"

    if int8:
        out.append((f"Cortex-M4F int8: at most {TARGET_INT8_INSTRUCTIONS:,} instructions per inference",
                    f"{int8['per_inference_mean']:,} mean, {int8['per_inference_max']:,} max",
                    verdict(int8["per_inference_max"], TARGET_INT8_INSTRUCTIONS)))
        if "flash_total" in int8:
            out.append((f"Cortex-M4F int8: whole firmware at most 90 KB ({TARGET_FLASH_BYTES:,} B) of flash",
                        f"{int8['flash_total']:,} B with the {result['rows_per_run']} embedded test rows; "
                        f"{int8['flash_without_test_rows']:,} B without them",
                        verdict(int8["flash_total"], TARGET_FLASH_BYTES)))
        if "ram_total" in int8:
            out.append((f"Cortex-M4F int8: RAM (static + stack high-water) at most 4 KB ({TARGET_RAM_BYTES:,} B)",
                        f"{int8['ram_total']:,} B", verdict(int8["ram_total"], TARGET_RAM_BYTES)))
    if f32:
        out.append((f"Cortex-M4F f32: at most {TARGET_F32_INSTRUCTIONS:,} instructions per inference",
                    f"{f32['per_inference_mean']:,} mean, {f32['per_inference_max']:,} max",
                    verdict(f32["per_inference_max"], TARGET_F32_INSTRUCTIONS)))
    return out


def markdown(result: dict) -> str:
    low, high = TFLM_CYCLES
    lines = [
        f"Microcontrollers under QEMU, default PLE shape; {result['timestamp']}; ple commit "
        f"{result['commit'][:10]}{' (with uncommitted changes)' if result['dirty'] else ''}"
        + (f", {result['tree']}" if result.get("tree", "checkout") != "checkout" else ""),
        "",
        f"Command: `{result['command']}`; {result['rustc']}; {result['qemu']}. Model: {result['model']}. "
        f"{result['rows_per_run']} Census test rows per run, each checked against the host.",
        "",
        "| core (QEMU machine) | precision | instructions / inference, min / mean / max | "
        f"TFLM + CMSIS-NN cycles ({low:,}-{high:,}) / our mean instructions | flash, whole ELF | "
        "flash without test rows | static RAM | stack high-water | RAM total |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        counter = "" if r["counter"] == "instructions" else f" ({r['counter']})"
        lines.append(
            f"| {r['core']} ({r['qemu_machine']}) | {r['precision']} | "
            f"{r['per_inference_min']:,} / {r['per_inference_mean']:,} / {r['per_inference_max']:,}{counter} | "
            f"{low / r['per_inference_mean']:.1f}x-{high / r['per_inference_mean']:.1f}x | "
            + " | ".join(f"{r[k]:,}" if k in r else "?" for k in
                         ("flash_total", "flash_without_test_rows", "static_ram", "stack_high_water", "ram_total"))
            + " |"
        )
    failed = [name for name, outcome in result["tests"].items() if outcome != "ok"]
    lines += [
        "",
        "Bytes. Instructions are counted exactly by QEMU (`-icount`; QEMU does not model cycles). "
        f"The scale column divides the cycles TensorFlow Lite Micro with CMSIS-NN needs for this "
        f"model's {DENSE_MACS:,} dense multiply-accumulates on a Cortex-M4 "
        f"({TFLM_CYCLES_PER_MAC[0]}-{TFLM_CYCLES_PER_MAC[1]} cycles each, MLPerf Tiny) by our instruction "
        "count: cycles against instructions, so it bounds our advantage from above; it is not a "
        "measured speed-up, and the reference was not run here.",
        "",
        "Tests: " + (", ".join(f"{n} {o}" for n, o in result["tests"].items()) or "none parsed")
        + (f". FAILED: {', '.join(failed)}" if failed else ""),
        "",
        "| the firmware issue's target | measured | |",
        "|---|---|---|",
    ]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in targets(result)]
    return "\n".join(lines) + "\n"


def svg(result: dict) -> str:
    """Horizontal bars of mean instructions per inference (log scale) with the reference band."""
    import math

    rows = result["rows"]
    left, right, top, bar_h, gap = 190, 30, 50, 18, 8
    width = 760
    plot_w = width - left - right
    lo_exp = min(4, math.floor(math.log10(min(r["per_inference_min"] for r in rows))))
    hi_exp = max(6, math.ceil(math.log10(max(r["per_inference_max"] for r in rows))))
    height = top + len(rows) * (bar_h + gap) + 70

    def x(value: float) -> float:
        return left + (math.log10(value) - lo_exp) / (hi_exp - lo_exp) * plot_w

    low, high = TFLM_CYCLES
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="20" font-size="13">Instructions per inference under QEMU (log scale); '
        f'shaded: TFLM + CMSIS-NN cycles</text>',
        f'<rect x="{x(low):.1f}" y="{top - 8}" width="{x(high) - x(low):.1f}" '
        f'height="{len(rows) * (bar_h + gap) + 8}" fill="#f3d9a4" opacity="0.6"/>',
        f'<text x="{x(high):.1f}" y="{top - 12}" text-anchor="end" fill="#8a5a00">TFLM + CMSIS-NN, Cortex-M4: '
        f'{low:,}-{high:,} cycles</text>',
    ]
    for exp in range(lo_exp, hi_exp + 1):
        gx = x(10 ** exp)
        y_end = top + len(rows) * (bar_h + gap)
        parts.append(f'<line x1="{gx:.1f}" y1="{top - 8}" x2="{gx:.1f}" y2="{y_end}" stroke="#cccccc"/>')
        parts.append(f'<text x="{gx:.1f}" y="{y_end + 14}" text-anchor="middle">{10 ** exp:,}</text>')
    colours = {"int8": "#2c7fb8", "f32": "#41ab5d", "f16": "#807dba"}
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        mean = r["per_inference_mean"]
        parts.append(f'<text x="{left - 6}" y="{y + bar_h - 5}" text-anchor="end">'
                     f'{r["core"]} {r["precision"]}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{x(mean) - left:.1f}" height="{bar_h}" '
                     f'fill="{colours.get(r["precision"], "#888888")}"/>')
        parts.append(f'<line x1="{x(r["per_inference_min"]):.1f}" y1="{y + bar_h / 2}" '
                     f'x2="{x(r["per_inference_max"]):.1f}" y2="{y + bar_h / 2}" stroke="black"/>')
        parts.append(f'<text x="{x(mean) + 4:.1f}" y="{y + bar_h - 5}">{mean:,}</text>')
    parts.append(f'<text x="{left}" y="{height - 10}" fill="#555555">QEMU counts instructions, not cycles; '
                 f'commit {result["commit"][:10]}, {result["timestamp"]}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, required=True, help="output of the firmware tests")
    parser.add_argument("--command", required=True, help="the command that produced the log")
    parser.add_argument("--model", default="the tests' trained model (default PLE, seed 2020, ple-train 1 epoch on "
                        "the first 20,000 training rows, no weight averaging)")
    parser.add_argument("--rows-per-run", type=int, default=200)
    parser.add_argument("--tree", type=Path, default=BENCH.parent, help="the source tree the tests ran in")
    parser.add_argument("--commit", default="", help="its commit, when the tree is an export, not a checkout")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    rows, tests = parse(args.log.read_text(errors="replace"))
    if not rows:
        raise SystemExit(f"{args.log}: no FIGURES line; did the firmware tests build and run?")
    repo = str(args.tree)
    is_checkout = _command("git", "-C", repo, "rev-parse", "--show-toplevel") != "unavailable"
    result = {
        "timestamp": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": args.command,
        "commit": _command("git", "-C", repo, "rev-parse", "HEAD") if is_checkout else (args.commit or "unknown"),
        # An export (`git archive`) is the commit exactly; a checkout may carry uncommitted work.
        "dirty": is_checkout and bool(_command("git", "-C", repo, "status", "--porcelain", "--", "ple-core",
                                               "ple-codegen", "ple-train", "firmware-example", "tests")),
        "tree": "checkout" if is_checkout else f"export of commit {args.commit or 'unknown'} (git archive)",
        "rustc": _command("rustc", "--version"),
        "qemu": _command("qemu-system-arm", "--version").splitlines()[0],
        "model": args.model,
        "rows_per_run": args.rows_per_run,
        "rows": rows,
        "tests": tests,
        "reference": {"tflm_cmsis_nn_cycles_per_mac": TFLM_CYCLES_PER_MAC, "dense_macs": DENSE_MACS,
                      "cycles": TFLM_CYCLES},
    }
    result["targets"] = [{"target": t, "measured": m, "verdict": v} for t, m, v in targets(result)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mcu.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "mcu.md").write_text(markdown(result))
    (args.out / "mcu.svg").write_text(svg(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
