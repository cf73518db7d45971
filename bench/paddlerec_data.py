"""Glue for running PaddleRec's own PLE trainer on our encoded splits.

`write` turns a prepared directory (census_data.py format) into PaddleRec's text format: one
line per row, `marital,income,` then the 499 features, comma-separated (what PaddleRec's
census_reader.py parses).  Numbers are written as the shortest text that reads back as the
same float32, so PaddleRec sees exactly the features our trainers see.

`collect` reads the trainer and infer logs of one PaddleRec run and writes a JSON result:
the seconds of every epoch as PaddleRec's trainer reports them (its own timer around the
whole epoch, text parsing and its per-step training AUC included), an estimate of the part
spent reading text, the 4095-bucket AUCs `tools/infer.py` prints, and, with
`--paddlerec-dir`, the exact test AUC of the last epoch's saved weights on every test row
(PaddleRec's loader drops the last partial batch; the exact AUC here does not), computed with
PaddleRec's own network code on the same float32 features.
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


NUMERIC = 11


def write(prepared: Path, out: Path, standardise: bool = False) -> None:
    """With `standardise`, the 11 numeric columns are scaled with the training mean and
    (population) std first, as ple-train and train_pytorch.py do; PaddleRec's own data
    leaves them raw (ages, dollar amounts, the instance weight)."""
    mean = std = None
    for split, folder in (("train", "train_all"), ("test", "test_all")):
        data = census_data.Split(prepared, split)
        if standardise:
            if mean is None:
                mean = data.features[:, :NUMERIC].astype(np.float64).mean(0)
                std = data.features[:, :NUMERIC].astype(np.float64).std(0)
                std[std == 0] = 1.0
            data.features[:, :NUMERIC] = ((data.features[:, :NUMERIC] - mean) / std).astype(np.float32)
        (out / folder).mkdir(parents=True, exist_ok=True)
        numeric = [[str(np.float32(v)) for v in row] for row in data.features[:, :NUMERIC]]
        onehot = data.features[:, NUMERIC:].astype(np.int8)
        labels = data.labels.astype(np.int8)  # columns: income, marital
        tmp = out / folder / "data.txt.partial"
        with open(tmp, "w") as f:
            for i in range(len(labels)):
                hot = ",".join("1" if v else "0" for v in onehot[i])
                f.write(f"{labels[i, 1]},{labels[i, 0]},{','.join(numeric[i])},{hot}\n")
        # A run killed half-way must not leave a file that looks complete.
        tmp.rename(out / folder / "data.txt")


EPOCH = re.compile(r"epoch: (\d+) done, (.*?)epoch time: ([0-9.]+) s")
INTERVAL = re.compile(r"epoch: (\d+), batch_id: (\d+), .*?avg_reader_cost: ([0-9.]+) sec")
INFER = re.compile(r"epoch: (\d+) done, (.*)")
AUC = re.compile(r"(auc_\w+): ?([0-9.]+)")


def reader_seconds(log: str, print_interval: int) -> dict[int, float]:
    """Seconds spent in PaddleRec's data loader per epoch, from the interval lines (each
    reports the mean over the `print_interval` batches before it; the batches after the last
    line are not reported, so this slightly undercounts)."""
    seconds: dict[int, float] = {}
    for m in INTERVAL.finditer(log):
        if int(m.group(2)) > 0:
            seconds[int(m.group(1))] = seconds.get(int(m.group(1)), 0.0) + float(m.group(3)) * print_interval
    return seconds


def exact_test_auc(paddlerec_dir: Path, model_dir: Path, prepared: Path, standardised: bool = False) -> dict:
    """Exact AUC of PaddleRec's saved weights on every test row, through PaddleRec's net.py,
    on the features the text files hold (standardised or not)."""
    import paddle
    import yaml

    ple_dir = paddlerec_dir / "models" / "multitask" / "ple"
    sys.path.insert(0, str(ple_dir))
    import net  # PaddleRec's network definition

    hp = yaml.safe_load((ple_dir / "config_bigdata.yaml").read_text())["hyper_parameters"]
    model = net.PLELayer(hp["feature_size"], hp["task_num"], hp["exp_per_task"], hp["shared_num"],
                         hp["expert_size"], hp["tower_size"], hp["level_number"])
    model.set_dict(paddle.load(str(model_dir / "rec.pdparams")))
    model.eval()
    test = census_data.Split(prepared, "test")
    if standardised:
        train = np.fromfile(prepared / "train.features.f32", dtype="<f4").reshape(-1, census_data.WIDTH)
        mean = train[:, :NUMERIC].astype(np.float64).mean(0)
        std = train[:, :NUMERIC].astype(np.float64).std(0)
        std[std == 0] = 1.0
        test.features[:, :NUMERIC] = ((test.features[:, :NUMERIC] - mean) / std).astype(np.float32)
    scores: list[list[np.ndarray]] = [[], []]
    with paddle.no_grad():
        for start in range(0, len(test.features), 8192):
            outputs = model(paddle.to_tensor(test.features[start:start + 8192]))
            for task, out in enumerate(outputs):  # income, marital; softmax over 2 classes
                scores[task].append(out.numpy()[:, 1])
    return {
        "auc_income": census_data.exact_auc(test.labels[:, 0], np.concatenate(scores[0])),
        "auc_marital": census_data.exact_auc(test.labels[:, 1], np.concatenate(scores[1])),
        "rows": len(test.features),
    }


def collect(train_log: Path, infer_log: Path | None, out: Path, note: str,
            paddlerec_dir: Path | None = None, model_root: Path | None = None,
            prepared: Path | None = None, print_interval: int = 100, standardised: bool = False) -> dict:
    log = train_log.read_text()
    reading = reader_seconds(log, print_interval)
    epochs = []
    for m in EPOCH.finditer(log):
        epoch = int(m.group(1))
        epochs.append({"epoch": epoch, "seconds": float(m.group(3)),
                       "reader_seconds_estimate": reading.get(epoch),
                       "train_paddle_auc": {k: float(v) for k, v in AUC.findall(m.group(2))}})
    if not epochs:
        raise SystemExit(f"{train_log}: no 'epoch: N done ... epoch time' line; the trainer failed")
    infer = {}
    if infer_log and infer_log.exists():
        for m in INFER.finditer(infer_log.read_text()):
            infer[int(m.group(1))] = {k: float(v) for k, v in AUC.findall(m.group(2))}
    for e in epochs:
        if e["epoch"] in infer:
            e["test_paddle_auc"] = infer[e["epoch"]]
    if paddlerec_dir and model_root and prepared:
        last = epochs[-1]
        last["test"] = exact_test_auc(paddlerec_dir, model_root / str(last["epoch"]), prepared, standardised)
    result = {"engine": "paddlerec-ple", "note": note, "standardised_inputs": standardised, "epochs": epochs,
              "machine": machine.describe(("paddlepaddle", "numpy"))}
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("write")
    p.add_argument("--prepared", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--standardise", action="store_true", help="scale the numeric columns (not PaddleRec's format)")
    p = sub.add_parser("collect")
    p.add_argument("--train-log", type=Path, required=True)
    p.add_argument("--infer-log", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--note", default="")
    p.add_argument("--paddlerec-dir", type=Path, help="checkout whose net.py computes the exact test AUC")
    p.add_argument("--model-root", type=Path, help="the trainer's model_save_path (one folder per epoch)")
    p.add_argument("--prepared", type=Path, help="prepared splits (census_data.py format)")
    p.add_argument("--standardised", action="store_true", help="the text files were written with --standardise")
    args = parser.parse_args()
    if args.cmd == "write":
        write(args.prepared, args.out, args.standardise)
    else:
        collect(args.train_log, args.infer_log, args.out, args.note, args.paddlerec_dir, args.model_root, args.prepared,
                standardised=args.standardised)
