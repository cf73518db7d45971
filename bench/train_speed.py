"""Training speed side by side: ple-train vs the same PLE in PyTorch (1 thread, default threads).

One command: builds ple-train in release, prepares the encoded splits (checked bit for bit
against shared/census/SPLIT.md), then runs, `--runs` times in turn, ple-train, PyTorch on one
thread and PyTorch with its default threads, each for `--epochs` epochs on the full data with
the same batch size, optimiser and seed.  Every epoch is one timing; the summary gives the
median, min and max seconds per epoch per engine, the ratio of medians (PyTorch / ple-train),
and the test AUC after the last epoch.  Results go to bench/results/train_speed.{json,md,svg}.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
import census_data  # noqa: E402
import machine  # noqa: E402

DEFAULT_TRAIN_ARGS = "train --data-dir {data_dir} --out {out} --epochs {epochs} --seed {seed}"


def run(cmd: list[str], log: Path, env: dict | None = None) -> None:
    print("$", shlex.join(cmd), flush=True)
    with open(log, "w") as f:
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    if done.returncode != 0:
        tail = log.read_text()[-2000:]
        raise RuntimeError(f"{cmd[0]} exited with {done.returncode}; log {log}:\n{tail}")


def build_ple_train() -> Path | None:
    try:
        run(["cargo", "build", "--release", "-p", "ple-train"], Path("/tmp/ple-bench-cargo.log"))
    except RuntimeError as error:
        print(f"ple-train does not build: {error}", flush=True)
        return None
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "release" / "ple-train"


def prepare(binary: Path | None, data_dir: Path, prepared: Path) -> str:
    """Encodes the splits; returns which program produced them."""
    if census_data.verify(prepared) == []:
        return "already prepared (checksums equal SPLIT.md)"
    producer = "ple-train prepare"
    try:
        if binary is None:
            raise RuntimeError("no ple-train binary")
        run([str(binary), "prepare", "--data-dir", str(data_dir), "--out", str(prepared)], Path("/tmp/ple-bench-prepare.log"))
    except RuntimeError as error:
        print(f"ple-train prepare unavailable ({str(error).splitlines()[0]}); encoding with bench/census_data.py", flush=True)
        census_data.encode_raw(data_dir, prepared)
        producer = "bench/census_data.py encode"
    bad = census_data.verify(prepared)
    if bad:
        raise SystemExit(f"prepared data differs from SPLIT.md: {bad}")
    return producer


def ple_train_epochs(binary: Path, template: str, data_dir: Path, prepared: Path, out: Path, epochs: int, seed: int) -> dict:
    args = template.format(data_dir=data_dir, prepared=prepared, out=out, epochs=epochs, seed=seed)
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    run([str(binary), *shlex.split(args)], out.with_suffix(".log"), env)
    report = json.loads((out / "report.json").read_text())
    return {
        "seconds": [float(e["seconds"]) for e in report["epochs"]],
        "test": report.get("test"),
        "validation": report.get("validation"),
        "best_epoch": report.get("best_epoch"),
        "last_epoch": report["epochs"][-1],
    }


def pytorch_epochs(python: str, prepared: Path, out: Path, epochs: int, seed: int, threads: int, impl: str) -> dict:
    cmd = [python, str(BENCH / "train_pytorch.py"), "--prepared", str(prepared), "--epochs", str(epochs),
           "--seed", str(seed), "--threads", str(threads), "--impl", impl, "--out", str(out)]
    run(cmd, out.with_suffix(".log"))
    result = json.loads(out.read_text())
    return {
        "seconds": [e["seconds"] for e in result["epochs"]],
        "test": result["epochs"][-1].get("test"),
        "validation": result["epochs"][-1].get("validation"),
        "threads": result["threads"],
    }


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def paired_ratio(base_runs: list, runs: list) -> str:
    """Epoch time over ple-train's epoch time of the same run and epoch: median (min..max)."""
    ratios = [t / b for base, run in zip(base_runs, runs) for b, t in zip(base["seconds"], run["seconds"])]
    if not ratios:
        return "n/a"
    return f"{statistics.median(ratios):.1f}x ({min(ratios):.1f}..{max(ratios):.1f}), n={len(ratios)}"


def markdown(result: dict) -> str:
    lines = [
        f"Training, default PLE, full data ({result['rows']} rows), batch 32, Adam lr 0.001, "
        f"{result['epochs']} epoch(s) x {result['runs']} run(s); {result['timestamp']}",
        "",
        f"Machine: {machine.one_line(result['machine'])}",
        "",
        "| engine | s/epoch median | min | max | timings | time / ple-train's, same run: median (min..max) | test AUC income | test AUC marital |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = result["engines"].get("ple-train", {}).get("summary")
    for name, engine in result["engines"].items():
        if "summary" not in engine:
            lines.append(f"| {name} | not run: {engine.get('error', '')} | | | | | | |")
            continue
        s = engine["summary"]
        ratio = paired_ratio(result["engines"].get("ple-train", {}).get("runs", []), engine["runs"]) if base and name != "ple-train" else ("1" if base else "n/a")
        aucs = [r.get("test") or {} for r in engine["runs"]]
        inc = statistics.median([a["auc_income"] for a in aucs if "auc_income" in a]) if any("auc_income" in a for a in aucs) else float("nan")
        mar = statistics.median([a["auc_marital"] for a in aucs if "auc_marital" in a]) if any("auc_marital" in a for a in aucs) else float("nan")
        lines.append(
            f"| {name} | {s['median']:.2f} | {s['min']:.2f} | {s['max']:.2f} | {s['n']} | {ratio} | {inc:.4f} | {mar:.4f} |"
        )
    lines += ["", "Test AUC: median over runs, after the last epoch (PyTorch) / best-by-validation epoch (ple-train report)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--render":
        # Re-render the table and plot of a saved result: train_speed.py --render results/train_speed.json
        saved = json.loads(Path(sys.argv[2]).read_text())
        Path(sys.argv[2]).with_suffix(".md").write_text(markdown(saved))
        import plots

        plots.train_speed(saved, Path(sys.argv[2]).with_suffix(".svg"))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("PLE_CENSUS_DIR", REPO.parent / "shared" / "census")))
    parser.add_argument("--prepared", type=Path, default=Path("/tmp/ple-bench-data"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ple-bench-train"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--runs-for", default="",
                        help="fewer runs for some engines, e.g. pytorch-default-threads=2 (the table shows n)")
    parser.add_argument("--impl", choices=("fused", "per_layer"), default="fused")
    parser.add_argument("--engines", default="ple-train,pytorch-1-thread,pytorch-default-threads",
                        help="comma-separated: ple-train, pytorch-1-thread, pytorch-default-threads; "
                             "a PyTorch name ending in -per-layer uses the per-layer forward")
    parser.add_argument("--ple-train-args", default=DEFAULT_TRAIN_ARGS,
                        help="arguments of one ple-train training run ({data_dir} {prepared} {out} {epochs} {seed})")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    load_at_start = list(os.getloadavg())
    engines = [e for e in args.engines.split(",") if e]

    binary = build_ple_train()  # also the preferred producer of the prepared data
    producer = prepare(binary, args.data_dir, args.prepared)
    print(f"data: {producer}", flush=True)
    rows = os.path.getsize(args.prepared / "train.income.u8")
    runs: dict[str, list] = {e: [] for e in engines}
    runs_for = {k: int(v) for k, v in (item.split("=") for item in args.runs_for.split(",") if item)}
    errors: dict[str, str] = {}
    for r in range(1, args.runs + 1):
        for engine in engines:
            if engine in errors or r > runs_for.get(engine, args.runs):
                continue
            out = args.work / f"{engine}-run{r}"
            try:
                if engine == "ple-train":
                    if binary is None:
                        raise RuntimeError("ple-train did not build")
                    got = ple_train_epochs(binary, args.ple_train_args, args.data_dir, args.prepared, out, args.epochs, r)
                else:
                    # pytorch-1-thread / pytorch-default-threads, optionally suffixed -per-layer
                    threads = 1 if engine.startswith("pytorch-1-thread") else 0
                    impl = "per_layer" if engine.endswith("-per-layer") else args.impl
                    got = pytorch_epochs(sys.executable, args.prepared, out.with_suffix(".json"), args.epochs, r, threads, impl)
            except (RuntimeError, KeyError, OSError, json.JSONDecodeError) as error:
                errors[engine] = str(error).splitlines()[0][:300]
                print(f"{engine}: {errors[engine]}", flush=True)
                continue
            runs[engine].append(got)
            print(f"run {r} {engine}: seconds per epoch {[round(s, 2) for s in got['seconds']]} test {got['test']}", flush=True)

    result = {
        "timestamp": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rows": rows,
        "epochs": args.epochs,
        "runs": args.runs,
        "pytorch_impl": args.impl,
        "data_producer": producer,
        "load_average_at_start": load_at_start,
        "ple_train_args": args.ple_train_args,
        "engines": {},
        "machine": machine.describe(),
    }
    for engine in engines:
        timings = [s for got in runs[engine] for s in got["seconds"]]
        entry = {"runs": runs[engine]}
        if timings:
            entry["summary"] = summary(timings)
        if engine in errors:
            entry["error"] = errors[engine]
        result["engines"][engine] = entry
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train_speed.json").write_text(json.dumps(result, indent=2))
    table = markdown(result)
    (args.out / "train_speed.md").write_text(table)
    print(table)
    try:
        import plots

        plots.train_speed(result, args.out / "train_speed.svg")
    except ImportError as error:
        print(f"no plot: {error}")


if __name__ == "__main__":
    main()
