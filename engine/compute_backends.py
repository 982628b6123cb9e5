"""Which backend runs an audit's candidates: the spec's `[compute]` table, overridden by `--workers` / `--ray`.

    backend = "local", workers = 1    every candidate in the audit's own process, one after the other (default)
    backend = "local", workers = N    N worker processes (`engine.compute_local`), never more than the cores
    backend = "ray", address = A      Ray tasks on the cluster at A (`engine.compute_ray`, the `ray` extra)

`start()` runs before anything is read or recorded: it starts the local workers' fork server (its imports overlap
the audit's preparation) or connects to Ray, so an unreachable cluster is refused (exit 2) before a run exists.
`open_backend()` then gives the backend for one run's evaluation context. The `[compute]` table is no part of the
recorded spec or its hash: where an audit ran does not change its evidence. The run's timings record it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from engine.compute import Backend, InProcess
from engine.evaluation.candidate import EvaluationContext
from engine.spec import AuditSpec

# One worker (in the audit's own process) unless asked: on 2 cores a quick audit of a 7,000-row table is slower in
# workers (their start outweighs its short jobs) while the five-candidate demo gains 1.23x (docs/compute.md).
DEFAULT_WORKERS = 1


@dataclass(frozen=True)
class ComputeSettings:
    """Where one audit's candidates run."""

    backend: str = "local"
    workers: int = DEFAULT_WORKERS
    address: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, **({"workers": self.workers} if self.backend == "local" else {}),
                **({"address": self.address} if self.address else {})}


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without affinity
        return os.cpu_count() or 1


def compute_settings(spec: AuditSpec, *, workers: int | None = None, ray: str | None = None) -> ComputeSettings:
    """The spec's `[compute]` table with the command line's `--workers N` and `--ray ADDRESS` on top."""
    table = spec.compute
    backend = "ray" if ray else str(table.get("backend", "local"))
    return ComputeSettings(backend=backend, workers=int(workers or table.get("workers", DEFAULT_WORKERS)),
                           address=ray or table.get("address"))


def local_workers(settings: ComputeSettings, jobs: int) -> int:
    """How many local worker processes a run gets: as asked, never more than the cores or the jobs."""
    return max(1, min(settings.workers, cores(), jobs))


def start(settings: ComputeSettings, jobs: int) -> None:
    """Prepare the backend before the audit reads anything: the local fork server, or the Ray connection
    (raises `SpecError`, exit 2, when the cluster cannot be reached or Ray is not installed)."""
    if settings.backend == "ray":
        from engine.compute_ray import connect

        connect(settings.address)
    elif local_workers(settings, jobs) > 1:
        from engine.compute_local import start_fork_server

        start_fork_server()


@contextmanager
def open_backend(settings: ComputeSettings, context: EvaluationContext) -> Iterator[Backend]:
    """The backend for one run's evaluation context, closed (workers stopped) when the block ends."""
    if settings.backend == "ray":
        from engine.compute_ray import RayBackend

        yield RayBackend(context, settings.address)
        return
    workers = local_workers(settings, len(context.plan.spec.candidates))
    if workers <= 1:
        yield InProcess(context)
        return
    from engine.compute_local import LocalPool

    with LocalPool(context, workers, threads=max(1, cores() // workers)) as pool:
        yield pool
