"""Training speed side by side: ple-train vs PyTorch (1 thread, default threads) vs PaddleRec.

One command: builds ple-train in release, prepares the encoded splits (checked bit for bit
against shared/census/SPLIT.md), then runs, `--runs` times in turn, ple-train, PyTorch on one
thread, PyTorch with its default threads and PaddleRec's own PLE trainer (`paddlerec_ple.sh`,
one thread), each for `--epochs` epochs on the full data with the same batch size and
optimiser.  Every epoch is one timing; the summary gives the median, min and max seconds per
epoch per engine, each engine's epoch time over ple-train's epoch of the same round, and the test
AUC after the last epoch.  Results go to bench/results/train_speed.{json,md,svg}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
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


class RunTimedOut(RuntimeError):
    """A run stopped at its time limit: a censored timing (slower than the limit), not a failure."""


def run(cmd: list[str], log: Path, env: dict | None = None, timeout: float | None = None) -> None:
    print("$", shlex.join(cmd), flush=True)
    with open(log, "w") as f:
        # A session of its own, so that a run over the time limit is stopped with every
        # process it started (PaddleRec's runs are a shell script starting Python).
        child = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True)
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise RunTimedOut(f"{cmd[0]} stopped after the {timeout:.0f} s limit per run (--run-timeout); log {log}")
    if child.returncode != 0:
        tail = log.read_text()[-2000:]
        raise RuntimeError(f"{cmd[0]} exited with {child.returncode}; log {log}:\n{tail}")


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


def ple_train_epochs(binary: Path, template: str, data_dir: Path, prepared: Path, out: Path, epochs: int, seed: int,
                     timeout: float | None) -> dict:
    args = template.format(data_dir=data_dir, prepared=prepared, out=out, epochs=epochs, seed=seed)
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    run([str(binary), *shlex.split(args)], out.with_suffix(".log"), env, timeout)
    return read_ple_train(out)


def read_ple_train(out: Path) -> dict:
    report = json.loads((out / "report.json").read_text())
    return {
        "seconds": [float(e["seconds"]) for e in report["epochs"]],
        "test": report.get("test"),
        "validation": report.get("validation"),
        "best_epoch": report.get("best_epoch"),
        "last_epoch": report["epochs"][-1],
    }


def pytorch_epochs(python: str, prepared: Path, out: Path, epochs: int, seed: int, threads: int, impl: str,
                   timeout: float | None) -> dict:
    cmd = [python, str(BENCH / "train_pytorch.py"), "--prepared", str(prepared), "--epochs", str(epochs),
           "--seed", str(seed), "--threads", str(threads), "--impl", impl, "--out", str(out)]
    run(cmd, out.with_suffix(".log"), timeout=timeout)
    return read_pytorch(out)


def read_pytorch(out: Path) -> dict:
    result = json.loads(out.read_text())
    return {
        "seconds": [e["seconds"] for e in result["epochs"]],
        "test": result["epochs"][-1].get("test"),
        "validation": result["epochs"][-1].get("validation"),
        "threads": result["threads"],
    }


PADDLEREC_SCRIPT = BENCH / "paddlerec_ple.sh"


def paddlerec_env(prepared: Path, engine: str) -> dict:
    """`paddlerec` feeds PaddleRec its own data format; `paddlerec-standardised` the same rows
    with the numeric columns standardised as ple-train does (PaddleRec's code unchanged)."""
    return dict(os.environ, PLE_BENCH_DATA=str(prepared),
                PLE_PADDLEREC_STANDARDISE="1" if engine == "paddlerec-standardised" else "0")


def paddlerec_setup(prepared: Path, engine: str) -> None:
    """PaddleRec's venv, code (PADDLEREC_DIR or a clone) and text data; not timed."""
    run(["bash", str(PADDLEREC_SCRIPT), "setup"], Path(f"/tmp/ple-bench-{engine}-setup.log"),
        paddlerec_env(prepared, engine))


def paddlerec_epochs(prepared: Path, engine: str, out: Path, epochs: int, timeout: float | None) -> dict:
    """PaddleRec's tools/trainer.py for `epochs` epochs (its fixed seed, 12345), its infer.py
    on the last epoch, and the exact test AUC of those weights."""
    run(["bash", str(PADDLEREC_SCRIPT), "run", str(epochs), str(out)], out.with_suffix(".log"),
        paddlerec_env(prepared, engine), timeout)
    return read_paddlerec(out)


def read_paddlerec(out: Path) -> dict:
    result = json.loads((out / "result.json").read_text())
    last = result["epochs"][-1]
    return {
        "seconds": [e["seconds"] for e in result["epochs"]],
        "reader_seconds_estimate": [e.get("reader_seconds_estimate") for e in result["epochs"]],
        "test": last.get("test"),
        "test_paddle_bucket_auc": last.get("test_paddle_auc"),
        "note": result.get("note"),
        "packages": result["machine"]["packages"],
    }


PROGRESS = re.compile(r"progress: epoch (\d+) step (\d+) of (\d+) at ([0-9.]+) s")


def last_progress(log: Path) -> dict | None:
    """How far a stopped PyTorch run got: its last progress line (steps done, of, seconds)."""
    try:
        found = PROGRESS.findall(log.read_text(errors="replace"))
    except OSError:
        return None
    if not found:
        return None
    epoch, step, steps, seconds = found[-1]
    return {"epoch": int(epoch), "step": int(step), "steps": int(steps), "seconds": float(seconds)}


LOAD_LINE = re.compile(r"load average ([0-9.]+)/([0-9.]+)/([0-9.]+) when recorded")


def meta_path(work: Path, engine: str, r: int) -> Path:
    return work / f"{engine}-run{r}.meta.json"


def run_meta(work: Path, engine: str, r: int) -> dict:
    """What a run's orchestrator knew of it (load before it, start time), saved beside its
    output; for PyTorch runs without it, the load its own log printed at start-up."""
    try:
        return json.loads(meta_path(work, engine, r).read_text())
    except (OSError, json.JSONDecodeError):
        pass
    try:
        found = LOAD_LINE.search((work / f"{engine}-run{r}.log").read_text(errors="replace"))
    except OSError:
        found = None
    return {"load_average_before": [float(v) for v in found.groups()], "load_from": "the run's own log"} if found else {}


def collect_work(work: Path, engines: list[str], runs: int, limits: dict[str, float]) -> tuple[dict, dict, dict]:
    """Rebuilds the per-run results of an interrupted invocation from the files its runs left in
    `work`: runs without output are skipped, a PyTorch log without its JSON counts as stopped at
    the time limit (only pass --run-timeout if that is how it ended)."""
    got: dict[str, list] = {e: [] for e in engines}
    stopped: dict[str, list[float]] = {e: [] for e in engines}
    progress: dict[str, list] = {e: [] for e in engines}
    for r in range(1, runs + 1):
        for engine in engines:
            out = work / f"{engine}-run{r}"
            try:
                if engine == "ple-train":
                    one = read_ple_train(out)
                elif engine.startswith("paddlerec"):
                    one = read_paddlerec(out)
                elif out.with_suffix(".json").exists():
                    one = read_pytorch(out.with_suffix(".json"))
                else:
                    if out.with_suffix(".log").exists() and engine in limits:
                        stopped[engine].append(limits[engine])
                        progress[engine].append(last_progress(out.with_suffix(".log")))
                    continue
            except (OSError, KeyError, json.JSONDecodeError):
                continue
            one["run"] = r
            one.update(run_meta(work, engine, r))
            got[engine].append(one)
    return got, stopped, progress


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def paired_ratio(base_runs: list, runs: list) -> str:
    """Epoch time over ple-train's epoch time of the same round and epoch: median (min..max)."""
    # Paired by run number: a run stopped at its time limit leaves a gap, not a shift.
    base_by_run = {base.get("run", i): base for i, base in enumerate(base_runs)}
    ratios = [t / b for i, run in enumerate(runs) if run.get("run", i) in base_by_run
              for b, t in zip(base_by_run[run.get("run", i)]["seconds"], run["seconds"])]
    if not ratios:
        return "n/a"
    return f"{statistics.median(ratios):.1f}x ({min(ratios):.1f}..{max(ratios):.1f}), n={len(ratios)}"


def per_round(result: dict) -> list[str]:
    """Every run, round by round: its seconds, its ratio to ple-train's epoch of the same round
    and the 1-minute load average just before it started."""
    engines = result["engines"]
    rounds = sorted({run["run"] for e in engines.values() for run in e.get("runs", []) if "run" in run})
    if not rounds:
        return []
    base = {run["run"]: run["seconds"][0] for run in engines.get("ple-train", {}).get("runs", []) if "run" in run}
    lines = ["", "Every run, round by round (seconds of its epoch; x ple-train's epoch of the same round; "
             "1-minute load average before it):", "",
             "| round | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]
    for r in rounds:
        cells = []
        for name, engine in engines.items():
            got = [run for run in engine.get("runs", []) if run.get("run") == r]
            if got:
                seconds, load = got[0]["seconds"][0], got[0].get("load_average_before")
                ratio = f"; {seconds / base[r]:.1f}x" if r in base and name != "ple-train" else ""
                cells.append(f"{seconds:.1f} s{ratio}" + (f"; load {load[0]:.1f}" if load else ""))
            else:
                cells.append("no timing")
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    return lines


def markdown(result: dict) -> str:
    lines = [
        f"Training, default PLE, full data ({result['rows']} rows), batch 32, Adam lr 0.001, "
        f"{result['epochs']} epoch(s) x {result['runs']} run(s); {result['timestamp']}",
        "",
        f"Machine: {machine.one_line(result['machine'])}",
        "",
        "| engine | s/epoch median | min | max | timings | time / ple-train's, same round: median (min..max) | test AUC income | test AUC marital |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = result["engines"].get("ple-train", {}).get("summary")
    for name, engine in result["engines"].items():
        if "summary" not in engine:
            cut = engine.get("stopped_at_seconds") or []
            why = (f"every run stopped at the time limit ({len(cut)} x {max(cut):.0f} s)" if cut
                   else engine.get("error") or "no completed run")
            lines.append(f"| {name} | not run: {why} | | | | | | |")
            continue
        s = engine["summary"]
        cut = engine.get("stopped_at_seconds") or []
        n = f"{s['n']}" + (f" (+{len(cut)} stopped at {max(cut):.0f} s)" if cut else "")
        ratio = paired_ratio(result["engines"].get("ple-train", {}).get("runs", []), engine["runs"]) if base and name != "ple-train" else ("1" if base else "n/a")
        aucs = [r.get("test") or {} for r in engine["runs"]]
        inc = statistics.median([a["auc_income"] for a in aucs if "auc_income" in a]) if any("auc_income" in a for a in aucs) else float("nan")
        mar = statistics.median([a["auc_marital"] for a in aucs if "auc_marital" in a]) if any("auc_marital" in a for a in aucs) else float("nan")
        lines.append(
            f"| {name} | {s['median']:.2f} | {s['min']:.2f} | {s['max']:.2f} | {n} | {ratio} | {inc:.4f} | {mar:.4f} |"
        )
    if any(e.get("stopped_at_seconds") for e in result["engines"].values()):
        lines += ["", "Runs stopped at the time limit took longer than that (wall time of the whole run, start-up included); min, median and max are "
                  "of the completed runs only, so they understate such an engine's time."]
        for name, engine in result["engines"].items():
            got = [g for g in engine.get("stopped_progress") or [] if g]
            if got:
                rates = [g["seconds"] * g["steps"] / g["step"] for g in got]
                lines += ["", f"{name}, stopped runs: " + "; ".join(
                    f"{g['step']:,} of {g['steps']:,} steps in {g['seconds']:.0f} s" for g in got)
                    + f" (at that pace an epoch would take about {min(rates):.0f}-{max(rates):.0f} s; an estimate, not a timing)."]
    lines += ["", "Test AUC: exact, median over runs, after the last epoch (PyTorch, PaddleRec) / "
              "best-by-validation epoch (ple-train report)."]
    for name, paddle in result["engines"].items():
        if not name.startswith("paddlerec") or not paddle.get("runs"):
            continue
        got = paddle["runs"]
        reading = [r for run in got for r in run.get("reader_seconds_estimate", []) if r is not None]
        bucket = got[-1].get("test_paddle_bucket_auc") or {}
        lines += [
            "",
            f"{name}: {got[-1].get('note', '')}; paddlepaddle {got[-1]['packages'].get('paddlepaddle', '?')}. "
            "Its seconds are the epoch time its trainer prints (text parsing by its data loader and its "
            "per-step training AUC included"
            + (f"; of which reading text about {statistics.median(reading):.1f} s median" if reading else "")
            + "). Its test AUC is computed here, exactly, on every test row with its own net.py and saved "
            "weights; its infer.py prints the 4095-bucket AUC "
            + ", ".join(f"{k} {v:.4f}" for k, v in bucket.items()) + " (last batch dropped).",
        ]
    lines += per_round(result)
    loads = [run.get("load_average_before") for engine in result["engines"].values() for run in engine.get("runs", [])]
    loads = [l[0] for l in loads if l]
    if loads:
        lines += ["", f"1-minute load average before each run: median {statistics.median(loads):.1f}, "
                  f"min {min(loads):.1f}, max {max(loads):.1f} (2 logical CPUs)."]
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
    parser.add_argument("--first-run", type=int, default=1,
                        help="number of the first run (to continue an interrupted invocation in the same --work)")
    parser.add_argument("--runs-for", default="",
                        help="fewer runs for some engines, e.g. pytorch-default-threads=2 (the table shows n)")
    parser.add_argument("--impl", choices=("fused", "per_layer"), default="fused")
    parser.add_argument("--engines", default="ple-train,pytorch-1-thread,pytorch-default-threads,paddlerec",
                        help="comma-separated: ple-train, pytorch-1-thread, pytorch-default-threads, paddlerec, "
                             "paddlerec-standardised (numeric inputs scaled as ple-train does); "
                             "a PyTorch name ending in -per-layer uses the per-layer forward")
    parser.add_argument("--run-timeout", default="",
                        help="seconds after which a run is stopped and recorded as slower than that: "
                             "S for every engine, or ENGINE=S,... (e.g. pytorch-default-threads=180)")
    parser.add_argument("--ple-train-args", default=DEFAULT_TRAIN_ARGS,
                        help="arguments of one ple-train training run ({data_dir} {prepared} {out} {epochs} {seed})")
    parser.add_argument("--collect", action="store_true",
                        help="run nothing: rebuild the results from the files an interrupted run left in --work")
    parser.add_argument("--ple-train-binary", type=Path,
                        help="an already built ple-train (default: build it in release from this tree)")
    parser.add_argument("--source-commit", default=os.environ.get("PLE_SOURCE_COMMIT"),
                        help="the commit ple-train was built from (default: PLE_SOURCE_COMMIT, else this tree's HEAD)")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    load_at_start = list(os.getloadavg())
    engines = [e for e in args.engines.split(",") if e]

    if args.collect:
        binary, producer = args.ple_train_binary, "as prepared by the interrupted run"
    else:
        # also the preferred producer of the prepared data
        binary = args.ple_train_binary if args.ple_train_binary else build_ple_train()
        producer = prepare(binary, args.data_dir, args.prepared)
    print(f"data: {producer}", flush=True)
    rows = os.path.getsize(args.prepared / "train.income.u8")
    runs: dict[str, list] = {e: [] for e in engines}
    runs_for = {k: int(v) for k, v in (item.split("=") for item in args.runs_for.split(",") if item)}
    limits: dict[str, float] = {}
    for item in (i for i in args.run_timeout.split(",") if i):
        if "=" in item:
            limits[item.split("=")[0]] = float(item.split("=")[1])
        else:
            limits.update({e: float(item) for e in engines if e not in limits})
    stopped: dict[str, list[float]] = {e: [] for e in engines}
    progress: dict[str, list] = {e: [] for e in engines}
    errors: dict[str, str] = {}
    for engine in [e for e in engines if e.startswith("paddlerec") and not args.collect]:
        try:
            paddlerec_setup(args.prepared, engine)
        except RuntimeError as error:
            errors[engine] = str(error).splitlines()[0][:300]
            print(f"{engine}: {errors[engine]}", flush=True)
    if args.collect:
        runs, stopped, progress = collect_work(args.work, engines, args.runs, limits)
    for r in range(args.first_run, args.first_run if args.collect else args.first_run + args.runs):
        for engine in engines:
            if engine in errors or r > runs_for.get(engine, args.first_run + args.runs - 1):
                continue
            out = args.work / f"{engine}-run{r}"
            load_before = list(os.getloadavg())
            started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
            try:
                if engine.startswith("paddlerec"):
                    got = paddlerec_epochs(args.prepared, engine, out, args.epochs, limits.get(engine))
                elif engine == "ple-train":
                    if binary is None:
                        raise RuntimeError("ple-train did not build")
                    got = ple_train_epochs(binary, args.ple_train_args, args.data_dir, args.prepared, out, args.epochs, r,
                                           limits.get(engine))
                else:
                    # pytorch-1-thread / pytorch-default-threads, optionally suffixed -per-layer
                    threads = 1 if engine.startswith("pytorch-1-thread") else 0
                    impl = "per_layer" if engine.endswith("-per-layer") else args.impl
                    got = pytorch_epochs(sys.executable, args.prepared, out.with_suffix(".json"), args.epochs, r, threads,
                                         impl, limits.get(engine))
            except RunTimedOut as error:
                stopped[engine].append(limits[engine])
                progress[engine].append(last_progress(out.with_suffix(".log")))
                print(f"run {r} {engine}: {error}", flush=True)
                continue
            except (RuntimeError, KeyError, OSError, json.JSONDecodeError) as error:
                errors[engine] = str(error).splitlines()[0][:300]
                print(f"{engine}: {errors[engine]}", flush=True)
                continue
            got["load_average_before"] = load_before
            got["started"] = started
            got["run"] = r
            meta_path(args.work, engine, r).write_text(json.dumps({"load_average_before": load_before, "started": started}))
            runs[engine].append(got)
            print(f"run {r} {engine}: seconds per epoch {[round(s, 2) for s in got['seconds']]} test {got['test']}", flush=True)

    result = {
        "timestamp": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rows": rows,
        "epochs": args.epochs,
        "runs": args.runs,
        "collected_from_interrupted_run": args.collect,
        "pytorch_impl": args.impl,
        "data_producer": producer,
        "load_average_at_start": load_at_start,
        "load_average_at_end": list(os.getloadavg()),
        "ple_train_args": args.ple_train_args,
        "ple_train_binary": str(binary) if binary else None,
        "source_commit": args.source_commit or machine.describe(())["git_commit"],
        "engines": {},
        "machine": machine.describe(),
    }
    for engine in engines:
        timings = [s for got in runs[engine] for s in got["seconds"]]
        entry = {"runs": runs[engine], "stopped_at_seconds": stopped[engine], "stopped_progress": progress[engine]}
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
