#!/usr/bin/env python3
"""Write a ple `model.safetensors` from a PyTorch-like state dict.

The state dict maps the documented tensor names (see ple-codegen/README.md) to arrays:
weights `[outputs, inputs]` exactly as `torch.nn.Linear.weight`, biases `[outputs]`. Only the
`safetensors` and `numpy` packages are needed, not torch; a torch state dict converts with
`{name: t.detach().cpu().numpy() for name, t in state_dict.items()}`.

From Python:

    from export_pytorch import export
    export(state_dict, config, "model.safetensors", feature_spec=None, normalisation=None)

From the command line, with the weights in a `.npz` file or a JSON object of nested lists:

    python3 export_pytorch.py --config config.json --weights weights.npz --out model.safetensors \
        [--feature-spec spec.json] [--normalisation norm.json] [--dtype f32|f16|bf16|f64]

`config` is the JSON of ple_codegen::ModelConfig: input_dim, tasks, experts_per_task,
shared_experts, levels, expert_units, tower_units, task_names. `ple-codegen` converts f16,
bf16 and f64 tensors to f32 when it loads them.
"""

import argparse
import json
import sys

import numpy as np
from safetensors.numpy import save_file

FORMAT_VERSION = "1"


def expected_tensors(config):
    """Every (name, shape) the network of `config` has, in canonical order (mirrors
    ple_core::shape::PleShape::tensors)."""
    tasks, ept, shared = config["tasks"], config["experts_per_task"], config["shared_experts"]
    levels, units, tower = config["levels"], config["expert_units"], config["tower_units"]
    layers = []
    for level in range(levels):
        width_in = config["input_dim"] if level == 0 else units[-1]
        experts = [f"level{level}.task{t}.expert{e}" for t in range(tasks) for e in range(ept)]
        experts += [f"level{level}.shared.expert{e}" for e in range(shared)]
        for expert in experts:
            inputs = width_in
            for k, outputs in enumerate(units):
                layers.append((f"{expert}.layer{k}", outputs, inputs))
                inputs = outputs
        for t in range(tasks):
            layers.append((f"level{level}.task{t}.gate", ept + shared, width_in))
        if level + 1 < levels:
            layers.append((f"level{level}.shared.gate", tasks * ept + shared, width_in))
    for t in range(tasks):
        inputs = units[-1]
        for k, outputs in enumerate(tower):
            layers.append((f"task{t}.tower.layer{k}", outputs, inputs))
            inputs = outputs
        layers.append((f"task{t}.output", 1, inputs))
    tensors = []
    for name, outputs, inputs in layers:
        tensors.append((f"{name}.weight", (outputs, inputs)))
        tensors.append((f"{name}.bias", (outputs,)))
    return tensors


def export(state_dict, config, path, feature_spec=None, normalisation=None, dtype="f32"):
    """Checks `state_dict` against `config` and writes the model file to `path`."""
    if len(config["task_names"]) != config["tasks"]:
        raise ValueError(f"{config['tasks']} tasks but {len(config['task_names'])} task names")
    np_dtype = {"f32": np.float32, "f16": np.float16, "f64": np.float64}.get(dtype)
    expected = expected_tensors(config)
    unknown = sorted(set(state_dict) - {name for name, _ in expected})
    if unknown:
        raise ValueError(f"tensors not in the configured network: {unknown}")
    tensors = {}
    for name, shape in expected:
        if name not in state_dict:
            raise ValueError(f"tensor {name} is missing")
        value = np.asarray(state_dict[name], dtype=np.float64)
        if value.shape != shape:
            raise ValueError(f"tensor {name} has shape {value.shape}, expected {shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"tensor {name} holds NaN or infinite values")
        if dtype == "bf16":
            # numpy has no bfloat16: keep the top half of each f32, rounded to nearest even.
            bits = value.astype(np.float32).view(np.uint32).astype(np.uint64)
            rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
            tensors[name] = rounded.astype(np.uint16)
        else:
            tensors[name] = np.ascontiguousarray(value.astype(np_dtype))
    metadata = {"ple.format": FORMAT_VERSION, "ple.config": json.dumps(config)}
    if feature_spec is not None:
        metadata["ple.feature_spec"] = json.dumps(feature_spec)
    if normalisation is not None:
        metadata["ple.normalisation"] = json.dumps(normalisation)
    if dtype == "bf16":
        _save_bf16(tensors, path, metadata)
    else:
        save_file(tensors, path, metadata=metadata)


def _save_bf16(tensors, path, metadata):
    """Writes a safetensors file whose uint16 arrays are labelled BF16 (numpy has no bfloat16,
    and safetensors.numpy would label them U16)."""
    header = {"__metadata__": metadata}
    offset = 0
    for name, array in tensors.items():
        header[name] = {
            "dtype": "BF16",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for array in tensors.values():
            f.write(array.astype("<u2").tobytes())


def _load_weights(path):
    if path.endswith(".npz"):
        with np.load(path) as archive:
            return {name: archive[name] for name in archive.files}
    with open(path) as f:
        return {name: np.asarray(v, dtype=np.float64) for name, v in json.load(f).items()}


def _load_json(path):
    if path is None:
        return None
    with open(path) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="ModelConfig JSON file")
    parser.add_argument("--weights", required=True, help=".npz or JSON state dict")
    parser.add_argument("--out", required=True, help="model.safetensors to write")
    parser.add_argument("--feature-spec", help="FeatureSpec JSON file")
    parser.add_argument("--normalisation", help="Normalisation JSON file")
    parser.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16", "f64"])
    args = parser.parse_args()
    try:
        export(
            _load_weights(args.weights),
            _load_json(args.config),
            args.out,
            feature_spec=_load_json(args.feature_spec),
            normalisation=_load_json(args.normalisation),
            dtype=args.dtype,
        )
    except (OSError, ValueError) as e:
        print(f"export_pytorch: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
