"""Where a run came from: code version, inputs, environment, library versions and seeds, recorded with every run.

`lineage()` describes the process (git commit and dirty tree, interpreter, platform, CPU and GPU, library
versions read from package metadata, so torch is never imported just to read its version). `run_lineage()` adds
the run's inputs (the spec's, policies' and data's SHA-256) and seeds; each candidate's evidence carries it with
the candidate's own part (family, parameters hash, training seed), so `lineage_complete` is a pure rule over
stored evidence. `missing_fields()` is what that rule counts: a field that is absent or null is missing.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import engine
from engine.canonical import digest

LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy", "lightgbm", "torch", "numba", "duckdb", "jsonschema",
             "onnx", "onnxruntime", "skl2onnx", "onnxmltools")
# Libraries every candidate's numbers depend on, and those only some families use.
CORE_LIBRARIES = ("numpy", "pandas", "scikit-learn")
FAMILY_LIBRARIES: dict[str, tuple[str, ...]] = {"lightgbm": ("lightgbm",), "torch_mlp": ("torch",)}
# Fields `lineage_complete` requires (dotted paths into a candidate's lineage); libraries are added per family.
REQUIRED_FIELDS = (
    "mlgate_version", "git_commit", "git_dirty", "python", "platform", "machine", "cpu.model", "cpu.count",
    "gpu.devices", "inputs.spec_sha256", "inputs.policies_sha256", "inputs.data_sha256", "seeds.split",
    "seeds.training", "seeds.bootstrap", "candidate.family", "candidate.params_sha256", "candidate.seed",
)
GPU_QUERY = ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]


def _run(args: list[str], cwd: Path | None = None) -> str | None:
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _git(args: list[str], cwd: Path) -> str | None:
    return _run(["git", *args], cwd)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    """The CPU's model name (Linux /proc/cpuinfo; elsewhere what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def _gpus() -> list[str] | None:
    """NVIDIA GPUs seen by the driver: [] without a driver (no GPU), None when the driver does not answer."""
    try:
        done = subprocess.run(GPU_QUERY, capture_output=True, text=True, timeout=10, check=False)
    except FileNotFoundError:
        return []
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def lineage(*, cwd: Path) -> dict[str, Any]:
    """Code (git commit, dirty tree), interpreter, platform, CPU/GPU and library versions."""
    commit = _git(["rev-parse", "HEAD"], cwd)
    status = _git(["status", "--porcelain"], cwd) if commit else None
    return {
        "mlgate_version": engine.__version__,
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": {"model": _cpu_model(), "count": os.cpu_count()},
        "gpu": {"devices": _gpus(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")},
        "libraries": {name: _version(name) for name in LIBRARIES},
        "command": sys.argv[1:],
    }


def run_lineage(environment: Mapping[str, Any], *, spec_sha256: str, policies: Sequence[Mapping[str, Any]],
                data_sha256: str | None, seed: int) -> dict[str, Any]:
    """The process's lineage with the run's inputs and seeds (split, training and bootstrap share the spec's)."""
    return {
        **environment,
        "inputs": {
            "spec_sha256": spec_sha256,
            "policies_sha256": [{"name": p["name"], "sha256": p["sha256"]} for p in policies] or None,
            "data_sha256": data_sha256,
        },
        "seeds": {"split": seed, "training": seed, "bootstrap": seed},
    }


def candidate_lineage(run: Mapping[str, Any], *, family: str, params: Mapping[str, Any], seed: int
                      ) -> dict[str, Any]:
    """A candidate's lineage: the run's, and what only this candidate has (family, parameters hash, seed)."""
    return {**run, "candidate": {"family": family, "params_sha256": digest(dict(params)), "seed": seed}}


def required_fields(family: str | None) -> list[str]:
    """The dotted fields `lineage_complete` requires of a candidate of `family`."""
    libraries = [*CORE_LIBRARIES, *FAMILY_LIBRARIES.get(family or "", ())]
    return [*REQUIRED_FIELDS, *(f"libraries.{name}" for name in libraries)]


def _lookup(document: Mapping[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def missing_fields(candidate: Mapping[str, Any]) -> list[str]:
    """Every required field of a candidate's lineage that is absent or null (an empty GPU list is "no GPU")."""
    family = _lookup(candidate, "candidate.family")
    return [name for name in required_fields(family if isinstance(family, str) else None)
            if _lookup(candidate, name) is None]
