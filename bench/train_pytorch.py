"""Train the default PLE in PyTorch exactly as ple-train does, and time every epoch.

Same network (ple_torch.py), Xavier-uniform weights and zero biases, Adam (lr 0.001, dense
updates), batch 32, BCE-with-logits summed over the tasks, numeric columns standardised with
the training split's mean and std, a fresh seeded shuffle every epoch, dense 499-wide input.
Prints seconds per epoch (the training loop only; evaluation is timed apart) and the exact
validation and test AUC after each epoch, and writes everything to --out as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import census_data  # noqa: E402
import machine  # noqa: E402
from ple_torch import Ple, PleConfig  # noqa: E402

NUMERIC = 11


def standardise(train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scales the numeric columns in place with the training mean and (population) std."""
    mean = train[:, :NUMERIC].astype(np.float64).mean(0)
    std = train[:, :NUMERIC].astype(np.float64).std(0)
    std[std == 0] = 1.0
    for block in (train, *others):
        block[:, :NUMERIC] = ((block[:, :NUMERIC] - mean) / std).astype(np.float32)
    return mean.astype(np.float32), std.astype(np.float32)


@torch.no_grad()
def predict(model: Ple, features: torch.Tensor, batch: int = 8192) -> np.ndarray:
    model.eval()
    out = [torch.sigmoid(model(features[i : i + batch])) for i in range(0, len(features), batch)]
    model.train()
    return torch.cat(out).numpy()


def aucs(model: Ple, split: census_data.Split, features: torch.Tensor, names) -> dict:
    probs = predict(model, features)
    return {f"auc_{n}": census_data.exact_auc(split.labels[:, t], probs[:, t]) for t, n in enumerate(names)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", type=Path, default=Path("/tmp/ple-bench-data"),
                        help="directory written by `ple-train prepare` (or census_data.py encode)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads; 0 = PyTorch's default")
    parser.add_argument("--impl", choices=("fused", "per_layer"), default="fused")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-rows", type=int, default=0, help="train on the first N rows only (smoke tests)")
    parser.add_argument("--no-eval", action="store_true", help="skip AUC after each epoch")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--save-model", type=Path, help="write the weights as safetensors (ple tensor names)")
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    names = census_data.task_names(args.prepared)
    train = census_data.Split(args.prepared, "train")
    validation = census_data.Split(args.prepared, "validation")
    test = census_data.Split(args.prepared, "test")
    if args.max_rows:
        train.features, train.labels = train.features[: args.max_rows], train.labels[: args.max_rows]
    mean, std = standardise(train.features, validation.features, test.features)
    x_train, y_train = torch.from_numpy(train.features), torch.from_numpy(train.labels)
    x_val, x_test = torch.from_numpy(validation.features), torch.from_numpy(test.features)

    cfg = PleConfig(input_dim=train.features.shape[1], tasks=len(names))
    model = Ple(cfg, args.impl)
    generator = torch.Generator().manual_seed(args.seed)
    model.reset_xavier(generator)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rows = len(x_train)
    info = machine.describe()
    print(f"pytorch: {rows} rows, batch {args.batch_size}, threads {torch.get_num_threads()}, impl {args.impl}")
    print(f"machine: {machine.one_line(info)}")
    epochs = []
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(rows, generator=generator)
        start = time.perf_counter()
        total = 0.0
        for i in range(0, rows, args.batch_size):
            idx = order[i : i + args.batch_size]
            xb, yb = x_train.index_select(0, idx), y_train.index_select(0, idx)
            logits = model(xb)
            loss = sum(loss_fn(logits[:, t], yb[:, t]) for t in range(cfg.tasks))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += loss.item()
            # A run stopped at a time limit still tells how far it got (one line per 1,000 steps).
            if (i // args.batch_size + 1) % 1000 == 0:
                print(f"progress: epoch {epoch} step {i // args.batch_size + 1} of {-(-rows // args.batch_size)} "
                      f"at {time.perf_counter() - start:.1f} s", flush=True)
        seconds = time.perf_counter() - start
        record = {"epoch": epoch, "seconds": seconds, "mean_loss": total / -(-rows // args.batch_size)}
        if not args.no_eval:
            eval_start = time.perf_counter()
            record["validation"] = aucs(model, validation, x_val, names)
            record["test"] = aucs(model, test, x_test, names)
            record["eval_seconds"] = time.perf_counter() - eval_start
        epochs.append(record)
        shown = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in record.items() if k not in ("validation", "test")}
        print(f"epoch {epoch}: {shown} validation {record.get('validation')} test {record.get('test')}", flush=True)

    result = {
        "engine": "pytorch",
        "impl": args.impl,
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "rows": rows,
        "config": json.loads(cfg.to_json()),
        "epochs": epochs,
        "machine": info,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    if args.save_model:
        from safetensors.torch import save_file

        tensors = {k: v.detach().contiguous() for k, v in model.named_tensors().items()}
        # The metadata keys and layout of ple-codegen's model_file.rs (format "1").
        config = json.loads(cfg.to_json()) | {"task_names": list(names)}
        meta = {
            "ple.format": "1",
            "ple.config": json.dumps(config),
            "ple.normalisation": json.dumps({"mean": mean.tolist(), "std": std.tolist()}),
        }
        save_file(tensors, str(args.save_model), metadata=meta)


if __name__ == "__main__":
    main()
