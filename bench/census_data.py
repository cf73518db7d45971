"""Census-Income (KDD) splits in the encoded form that `ple-train prepare` writes.

Layout of a prepared directory (little-endian, row-major):
  {train,validation,test}.features.f32   float32 [rows, 499]
  {train,validation,test}.income.u8      one byte (0/1) per row
  {train,validation,test}.marital.u8     one byte (0/1) per row

`ple-train prepare --data-dir D --out O` is the reference producer.  `encode_raw` below is
an independent numpy re-implementation of PaddleRec's `datasets/census/data_preparation.py`
used when the trainer binary is not available; `verify` checks any prepared directory
against the published sha256 checksums (shared/census/SPLIT.md), so either producer is
accepted only if it is bit-identical.  `synthetic` writes random rows in the same format for
smoke tests.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

WIDTH = 499
SPLITS = ("train", "validation", "test")
TASKS = ("income", "marital")

# sha256 of the encoded splits (features f32, marital u8, income u8), from SPLIT.md.
CHECKSUMS = {
    "train": (
        "7b267e424500c9c7c8647c56ec634fce7f728542c88f994b48d40898bed4a454",
        "d73d164cda3b05aff7d582429d06705134ad3db738d5871f5f748714144c5bd9",
        "014ca4868899c75d08fe1a30812e9e0d4d89e67cb69ccb5d79bb29db1de68566",
    ),
    "validation": (
        "8acd91316b568372a94af9cdbd1bc7387b145806d7c1d50aa55833794772d60b",
        "bab15f858d4e1ff5e9c0a4ed6dcd012ba17caf82ef36b536bd9d91152bee659c",
        "6ad05e1335002db427a4deb9f93b7ef37e557e9ffd96934a079c7d230d1c3ceb",
    ),
    "test": (
        "f4edbbd2f74616269ca57e651c13cad86ced2ed015d4a339cd5a0581df686197",
        "a5ece3ab5cdf988c29c8bcbf9800549f5e6be5763b724aecb593a96891b3feb7",
        "8a04a5a6446d85b49f690254c6e77bb25b344477ae247038bb6794ee8f1e733e",
    ),
}

COLUMNS = [
    "age", "class_worker", "det_ind_code", "det_occ_code", "education", "wage_per_hour",
    "hs_college", "marital_stat", "major_ind_code", "major_occ_code", "race", "hisp_origin",
    "sex", "union_member", "unemp_reason", "full_or_part_emp", "capital_gains",
    "capital_losses", "stock_dividends", "tax_filer_stat", "region_prev_res",
    "state_prev_res", "det_hh_fam_stat", "det_hh_summ", "instance_weight", "mig_chg_msa",
    "mig_chg_reg", "mig_move_reg", "mig_same", "mig_prev_sunbelt", "num_emp", "fam_under_18",
    "country_father", "country_mother", "country_self", "citizenship", "own_or_self",
    "vet_question", "vet_benefits", "weeks_worked", "year", "income_50k",
]
NUMERIC = [
    "age", "wage_per_hour", "capital_gains", "capital_losses", "stock_dividends",
    "instance_weight", "num_emp", "own_or_self", "vet_benefits", "weeks_worked", "year",
]
CATEGORICAL = [
    "class_worker", "det_ind_code", "det_occ_code", "education", "hs_college",
    "major_ind_code", "major_occ_code", "race", "hisp_origin", "sex", "union_member",
    "unemp_reason", "full_or_part_emp", "tax_filer_stat", "region_prev_res",
    "state_prev_res", "det_hh_fam_stat", "det_hh_summ", "mig_chg_msa", "mig_chg_reg",
    "mig_move_reg", "mig_same", "mig_prev_sunbelt", "fam_under_18", "country_father",
    "country_mother", "country_self", "citizenship", "vet_question",
]
# pandas reads these two categorical columns as integers, so their categories sort as numbers.
INTEGER_CATEGORIES = {"det_ind_code", "det_occ_code"}


def _read_raw(path: Path) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="latin-1") as f:
        for line_no, line in enumerate(f, 1):
            fields = line.rstrip("\n").split(",")
            if len(fields) != len(COLUMNS):
                raise ValueError(f"{path}:{line_no}: {len(fields)} fields, expected {len(COLUMNS)}")
            rows.append(fields)
    return rows


def _find(data_dir: Path, name: str) -> Path:
    for candidate in (data_dir / name, data_dir / (name + ".gz")):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{data_dir}: neither {name} nor {name}.gz")


def vocab_sizes(data_dir: Path) -> list[int]:
    """Vocabulary size of each categorical field, in encoding order, from the training file."""
    rows = _read_raw(_find(data_dir, "census-income.data"))
    col = {c: i for i, c in enumerate(COLUMNS)}
    return [len({r[col[name]] for r in rows}) for name in CATEGORICAL]


def _encode(rows, vocab) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(rows)
    feats = np.zeros((n, WIDTH), dtype=np.float32)
    col = {c: i for i, c in enumerate(COLUMNS)}
    for j, name in enumerate(NUMERIC):
        values = np.array([float(r[col[name]]) for r in rows], dtype=np.float64)
        feats[:, j] = values.astype(np.float32)
    for name in CATEGORICAL:
        offset, index = vocab[name]
        c = col[name]
        hot = np.array([index.get(_key(name, r[c]), -1) for r in rows], dtype=np.int64)
        known = hot >= 0
        feats[np.nonzero(known)[0], offset + hot[known]] = 1.0
    marital = np.array([r[col["marital_stat"]] == " Never married" for r in rows], dtype=np.uint8)
    income = np.array([r[col["income_50k"]] == " 50000+." for r in rows], dtype=np.uint8)
    return feats, income, marital


def _key(name: str, value: str):
    return int(value) if name in INTEGER_CATEGORIES else value


def encode_raw(data_dir: Path, out: Path) -> None:
    """Encodes census-income.{data,test}[.gz] like PaddleRec's data_preparation.py."""
    train_rows = _read_raw(_find(data_dir, "census-income.data"))
    test_rows = _read_raw(_find(data_dir, "census-income.test"))
    col = {c: i for i, c in enumerate(COLUMNS)}
    vocab, offset = {}, len(NUMERIC)
    for name in CATEGORICAL:
        values = sorted({_key(name, r[col[name]]) for r in train_rows})
        vocab[name] = (offset, {v: i for i, v in enumerate(values)})
        offset += len(values)
    if offset != WIDTH:
        raise ValueError(f"{data_dir}: encoding is {offset} wide, expected {WIDTH}")
    # pandas sample(frac=0.5, random_state=1) == RandomState(1).permutation(n)[:n//2 rounded].
    perm = np.random.RandomState(1).permutation(len(test_rows))
    half = int(round(0.5 * len(test_rows)))
    validation_idx = perm[:half]
    test_idx = np.sort(perm[half:])
    out.mkdir(parents=True, exist_ok=True)
    parts = {
        "train": train_rows,
        "validation": [test_rows[i] for i in validation_idx],
        "test": [test_rows[i] for i in test_idx],
    }
    for split, rows in parts.items():
        feats, income, marital = _encode(rows, vocab)
        feats.tofile(out / f"{split}.features.f32")
        income.tofile(out / f"{split}.income.u8")
        marital.tofile(out / f"{split}.marital.u8")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(prepared: Path) -> list[str]:
    """Returns the files of `prepared` whose sha256 differs from SPLIT.md (empty = all equal)."""
    bad = []
    for split, (feat, marital, income) in CHECKSUMS.items():
        for suffix, want in (("features.f32", feat), ("marital.u8", marital), ("income.u8", income)):
            path = prepared / f"{split}.{suffix}"
            if not path.exists() or _sha256(path) != want:
                bad.append(str(path))
    return bad


def synthetic(out: Path, rows: dict[str, int], seed: int = 0) -> None:
    """Random rows in the prepared format: 11 numeric columns then 29 one-hot fields."""
    rng = np.random.default_rng(seed)
    sizes = np.full(29, (WIDTH - 11) // 29)
    sizes[: (WIDTH - 11) - sizes.sum()] += 1
    offsets = 11 + np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out.mkdir(parents=True, exist_ok=True)
    for split, n in rows.items():
        feats = np.zeros((n, WIDTH), dtype=np.float32)
        feats[:, :11] = rng.normal(size=(n, 11)).astype(np.float32) * 10
        hot = offsets + (rng.random((n, 29)) * sizes).astype(np.int64)
        feats[np.arange(n)[:, None], hot] = 1.0
        score = feats[:, 0] + 3 * feats[:, 11] - feats[:, 20]
        (score > np.median(score)).astype(np.uint8).tofile(out / f"{split}.income.u8")
        (feats[:, 1] > 0).astype(np.uint8).tofile(out / f"{split}.marital.u8")
        feats.tofile(out / f"{split}.features.f32")


class Split:
    """One prepared split, loaded into memory (features are ~400 MB for train)."""

    def __init__(self, prepared: Path, split: str):
        self.features = np.fromfile(prepared / f"{split}.features.f32", dtype="<f4").reshape(-1, WIDTH)
        self.labels = np.stack(
            [np.fromfile(prepared / f"{split}.{t}.u8", dtype=np.uint8) for t in task_names(prepared)], axis=1
        ).astype(np.float32)
        if len(self.labels) != len(self.features):
            raise ValueError(f"{prepared}/{split}: {len(self.features)} feature rows but {len(self.labels)} labels")


def task_names(prepared: Path) -> tuple[str, ...]:
    """Task order from the feature_spec.json that `ple-train prepare` writes, else
    (income, marital), the order of the label files."""
    spec = prepared / "feature_spec.json"
    if spec.exists():
        tasks = json.loads(spec.read_text()).get("tasks")
        if isinstance(tasks, list) and tasks and all(isinstance(t, dict) and "name" in t for t in tasks):
            return tuple(t["name"] for t in tasks)
    return TASKS


def exact_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Exact ROC AUC with tied scores sharing their average rank (Mann-Whitney U)."""
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average ranks over runs of equal scores.
    boundaries = np.concatenate([[0], np.nonzero(np.diff(sorted_scores))[0] + 1, [len(scores)]])
    for start, end in zip(boundaries[:-1], boundaries[1:]):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    pos = labels.sum()
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("encode", help="encode the raw UCI files with numpy (no trainer needed)")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("verify", help="check a prepared directory against SPLIT.md")
    p.add_argument("prepared", type=Path)
    p = sub.add_parser("vocab-sizes", help="print the categorical vocabulary sizes, comma-separated")
    p.add_argument("--data-dir", type=Path, required=True)
    p = sub.add_parser("synthetic", help="write random rows in the prepared format")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    if args.cmd == "encode":
        encode_raw(args.data_dir, args.out)
        bad = verify(args.out)
        print("checksums:", "all equal to SPLIT.md" if not bad else f"DIFFER: {bad}")
        sys.exit(1 if bad else 0)
    if args.cmd == "verify":
        bad = verify(args.prepared)
        print("checksums:", "all equal to SPLIT.md" if not bad else f"DIFFER: {bad}")
        sys.exit(1 if bad else 0)
    if args.cmd == "vocab-sizes":
        print(",".join(str(n) for n in vocab_sizes(args.data_dir)))
        sys.exit(0)
    synthetic(args.out, {"train": args.rows, "validation": args.rows // 4, "test": args.rows // 4})
