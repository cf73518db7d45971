#!/usr/bin/env bash
# The PLE paper's Census-Income table (Tang et al., RecSys 2020, Table 5) reproduced with
# ple-train: Single-task, MMoE, CGC (= PLE with one level) and PLE with two levels, each
# trained on the same split with seeds 2020, 1 and 2, one training at a time. The test AUCs
# reported are those of the best epoch by mean validation AUC (ple-train's selection).
# Writes bench/results/quality.{json,md} and, for the first seed of each model, the pictures of
# its mean gate weights over the test split (bench/results/quality.gates-<preset>.svg, ple-train's
# gate_usage.svg) and of its loss and AUC per epoch (quality.curves-<preset>.svg, ple-train's
# training_curves.svg). Needs only bash, cargo and python3's standard library.
#
# Usage: bench/quality.sh [--epochs N] [--seeds "2020 1 2"] [--work DIR]
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
EPOCHS=""
SEEDS="2020 1 2"
WORK="${TMPDIR:-/tmp}/ple-quality"
while [ $# -gt 0 ]; do
    case "$1" in
        --epochs) EPOCHS="$2"; shift 2 ;;
        --seeds) SEEDS="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        *) echo "quality.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
DATA_DIR="${PLE_CENSUS_DIR:-$ROOT/../shared/census}"
if [ ! -d "$DATA_DIR" ]; then
    echo "quality.sh: no data directory $DATA_DIR (set PLE_CENSUS_DIR)" >&2
    exit 1
fi

(cd "$ROOT" && cargo build --release -p ple-train)
TRAIN="$ROOT/target/release/ple-train"
EXTRA=()
if [ -n "$EPOCHS" ]; then EXTRA+=(--epochs "$EPOCHS"); fi

# cgc and paddlerec are the same network (3 experts per task, 2 shared, 1 level): cgc is
# trained on every seed and paddlerec on the first one, to check that they give the same model.
FIRST_SEED="${SEEDS%% *}"
RUNS=()
for preset in single-task mmoe cgc ple; do
    for seed in $SEEDS; do RUNS+=("$preset:$seed"); done
done
RUNS+=("paddlerec:$FIRST_SEED")

for run in "${RUNS[@]}"; do
    preset="${run%%:*}"
    seed="${run##*:}"
    out="$WORK/$preset-$seed"
    rm -rf "$out"
    echo "== $preset seed $seed" >&2
    "$TRAIN" train --data-dir "$DATA_DIR" --preset "$preset" --seed "$seed" \
        ${EXTRA[@]+"${EXTRA[@]}"} --out "$out" >"$WORK-$preset-$seed.log" 2>&1 || {
        echo "quality.sh: training $preset seed $seed failed, see $WORK-$preset-$seed.log" >&2
        exit 1
    }
done

python3 - "$BENCH_DIR" "$WORK" "$SEEDS" "${RUNS[*]}" <<'PY'
import json
import shutil
import sys
from pathlib import Path

bench_dir, work, seeds, runs = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
sys.path.insert(0, str(bench_dir))
import machine  # noqa: E402  (standard library only when asked for no packages)

# (preset, row name, paper's income / marital AUC or None)
ROWS = [
    ("single-task", "Single-task", (0.9445, 0.9923)),
    ("mmoe", "MMoE (8 shared experts)", (0.9393, 0.9928)),
    ("cgc", "CGC = PLE, 1 level (`cgc`, same network as `paddlerec`)", None),
    ("ple", "PLE, 2 levels", (0.9522, 0.9945)),
]
TASKS = ["income", "marital"]

reports = {}
for run in runs:
    preset, seed = run.split(":")
    reports[(preset, seed)] = json.loads((work / f"{preset}-{seed}" / "report.json").read_text())

rows = []
for preset, name, paper in ROWS:
    per_seed = []
    for seed in seeds:
        r = reports[(preset, seed)]
        per_seed.append({
            "seed": int(seed),
            "best_epoch": r["best_epoch"],
            "parameters": r["parameters"],
            "seconds_per_epoch": r["seconds_per_epoch"],
            **{f"auc_{t}": r["test"][f"auc_{t}"] for t in TASKS},
        })
    row = {"preset": preset, "model": name, "epochs": reports[(preset, seeds[0])]["config"]["epochs"],
           "parameters": per_seed[0]["parameters"], "runs": per_seed}
    for i, t in enumerate(TASKS):
        v = [s[f"auc_{t}"] for s in per_seed]
        row[t] = {"mean": sum(v) / len(v), "min": min(v), "max": max(v),
                  "paper": paper[i] if paper else None}
    row["gates_first_seed"] = reports[(preset, seeds[0])].get("gates")
    rows.append(row)

cgc = reports[("cgc", seeds[0])]["test"]
pad = reports[("paddlerec", seeds[0])]["test"]
same = all(cgc[f"auc_{t}"] == pad[f"auc_{t}"] for t in TASKS)
result = {
    "what": "PLE paper Table 5 (Census-Income) reproduced with ple-train: best-by-validation test ROC AUC "
            "per task over seeds, the paper's figures beside ours",
    "seeds": [int(s) for s in seeds],
    "selection": reports[("cgc", seeds[0])]["selection"],
    "paper": "Tang et al., Progressive Layered Extraction (PLE), RecSys 2020, Table 5; "
             "MMoE's income AUC 0.9393 as printed",
    "paddlerec_equals_cgc": {"seed": int(seeds[0]), "identical_test_aucs": same},
    "rows": rows,
    "machine": machine.describe(packages=()),
}
results = bench_dir / "results"
results.mkdir(exist_ok=True)
for preset, _, _ in ROWS:
    for picture, name in (("gate_usage.svg", "gates"), ("training_curves.svg", "curves")):
        svg = work / f"{preset}-{seeds[0]}" / picture
        if svg.exists():
            shutil.copyfile(svg, results / f"quality.{name}-{preset}.svg")
(results / "quality.json").write_text(json.dumps(result, indent=2) + "\n")

def fmt(stats):
    return f"{stats['mean']:.5f} ({stats['min']:.5f}-{stats['max']:.5f})"

m = result["machine"]
lines = [
    "# Census-Income quality: the PLE paper's Table 5 with ple-train",
    "",
    f"Test ROC AUC of the best epoch by mean validation AUC, mean (min-max) over seeds {', '.join(seeds)}; "
    f"{rows[0]['epochs']} epochs, batch 32, Adam lr 0.001, experts of 16 units, towers of 8, "
    "weight average (ple-train's defaults). Paper: Tang et al., RecSys 2020, Table 5.",
    "",
    "| model | preset | parameters | income AUC | paper | marital AUC | paper |",
    "|---|---|---|---|---|---|---|",
]
for row in rows:
    p = lambda t: f"{row[t]['paper']:.4f}" if row[t]["paper"] is not None else "-"
    lines.append(f"| {row['model']} | `{row['preset']}` | {row['parameters']:,} | {fmt(row['income'])} | {p('income')} "
                 f"| {fmt(row['marital'])} | {p('marital')} |")
lines += [
    "",
    f"`paddlerec` preset, seed {seeds[0]}: test AUCs {'identical to' if same else 'DIFFERENT from'} `cgc`'s.",
    "",
    f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['cpus_available']} available), "
    f"load {', '.join(f'{x:.2f}' for x in m['load_average'] or [])}; {m['rustc']}; commit {m['git_commit'][:12]}.",
    "Command: `bench/quality.sh`",
    "",
    f"Mean gate weights over the test split, seed {seeds[0]}: "
    + ", ".join(f"[{r['preset']}](quality.gates-{r['preset']}.svg)" for r in rows) + ".",
    f"Training loss and validation AUC per epoch, seed {seeds[0]}: "
    + ", ".join(f"[{r['preset']}](quality.curves-{r['preset']}.svg)" for r in rows) + ".",
    "",
]
(results / "quality.md").write_text("\n".join(lines))
print("\n".join(lines))
PY
