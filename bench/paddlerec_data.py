"""Glue for running PaddleRec's own PLE trainer on our encoded splits.

`write` turns a prepared directory (census_data.py format) into PaddleRec's text format: one
line per row, `marital,income,` then the 499 features, comma-separated (what PaddleRec's
census_reader.py parses).  `collect` reads the trainer and infer logs and writes a JSON
result with the seconds of every epoch and the AUCs PaddleRec reports.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import census_data  # noqa: E402
import machine  # noqa: E402


def write(prepared: Path, out: Path) -> None:
    for split, folder in (("train", "train_all"), ("test", "test_all")):
        data = census_data.Split(prepared, split)
        (out / folder).mkdir(parents=True, exist_ok=True)
        numeric = [[str(np.float32(v)) for v in row] for row in data.features[:, :11]]
        onehot = data.features[:, 11:].astype(np.int8)
        labels = data.labels.astype(np.int8)  # columns: income, marital
        with open(out / folder / "data.txt", "w") as f:
            for i in range(len(labels)):
                hot = ",".join("1" if v else "0" for v in onehot[i])
                f.write(f"{labels[i, 1]},{labels[i, 0]},{','.join(numeric[i])},{hot}\n")


EPOCH = re.compile(r"epoch: (\d+) done, (.*?)epoch time: ([0-9.]+) s")
INFER = re.compile(r"epoch: (\d+) done, (.*)")
AUC = re.compile(r"(auc_\w+): ?([0-9.]+)")


def collect(train_log: Path, infer_log: Path | None, out: Path, note: str) -> None:
    epochs = []
    for m in EPOCH.finditer(train_log.read_text()):
        epochs.append({"epoch": int(m.group(1)), "seconds": float(m.group(3)),
                       "train": {k: float(v) for k, v in AUC.findall(m.group(2))}})
    infer = {}
    if infer_log and infer_log.exists():
        for m in INFER.finditer(infer_log.read_text()):
            infer[int(m.group(1))] = {k: float(v) for k, v in AUC.findall(m.group(2))}
    for e in epochs:
        if e["epoch"] in infer:
            e["test_paddle_auc"] = infer[e["epoch"]]
    result = {"engine": "paddlerec-ple", "note": note, "epochs": epochs,
              "machine": machine.describe(("paddlepaddle", "numpy"))}
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("write")
    p.add_argument("--prepared", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("collect")
    p.add_argument("--train-log", type=Path, required=True)
    p.add_argument("--infer-log", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--note", default="")
    args = parser.parse_args()
    if args.cmd == "write":
        write(args.prepared, args.out)
    else:
        collect(args.train_log, args.infer_log, args.out, args.note)
