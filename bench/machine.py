"""What every benchmark result records next to its figures: machine, versions, commit."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _command(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unavailable"


def describe(packages: tuple[str, ...] = ("torch", "numpy", "onnx", "onnxruntime", "safetensors", "tract")) -> dict:
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "os": platform.platform(),
        # Other work on the machine skews timings; the 1/5/15-minute load when the figures
        # were recorded tells a reader how quiet the machine was.
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "rustc": _command("rustc", "--version"),
        "git_commit": _command("git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "HEAD"),
        "packages": versions,
    }


def one_line(info: dict) -> str:
    pk = ", ".join(f"{k} {v}" for k, v in info["packages"].items() if v != "not installed")
    load = info.get("load_average")
    load = f"; load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} when recorded" if load else ""
    return f"{info['cpu']}, {info['logical_cpus']} logical CPUs{load}; Python {info['python']}; {info['rustc']}; {pk}"
