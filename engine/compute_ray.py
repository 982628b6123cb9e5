"""Ray tasks: the candidates of one audit trained and evaluated on a Ray cluster (the optional `ray` extra).

What runs where: the driver (the `mlgate audit` process) reads and checks the data, records the run's start,
puts the run's evaluation context into Ray's object store once, and starts one task per candidate of the spec
(largest first, one CPU each); each task trains the candidate, its search trials, calibrated variants and
retrained twins, evaluates them and packages their ONNX artifacts, exactly as `audit_candidate` does in
process. What crosses the network: the context (the prepared rows, the split, the settings) once per run to each
node that runs a task, the `engine` package itself (a runtime environment, so the cluster runs the driver's code),
and back the evidence, bootstrap samples, timed stages and progress of each candidate; fitted models stay on the
worker. Artifacts are written to the run's artifacts folder as the task sees it, so on a cluster of several
machines that folder must be shared storage mounted at the same path. The driver alone writes the trail, once,
as with every backend; the run's timings record that it ran on Ray and where.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.candidates import EXTERNAL
from engine.compute import InProcess, Job, Outcome, TaskReference, largest_first, replay, run_job
from engine.compute_local import limit_threads, shipped
from engine.errors import SpecError
from engine.evaluation.candidate import EvaluationContext
from engine.progress import Progress, ProgressCallback

CONNECT_TIMEOUT_S = 5.0
INSTALL = "pip install 'mlgate[ray]'"


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SpecError("compute.backend = \"ray\" (or --ray) needs Ray, which is not installed",
                        hint=INSTALL) from None
    return ray


def reachable(address: str) -> None:
    """Refuse (`SpecError`) an address where nothing answers, within seconds rather than Ray's long retries."""
    if address in ("auto", "local"):
        return
    where = address.removeprefix("ray://").removeprefix("http://")
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise SpecError(f"--ray {address}: not an address of a Ray cluster (HOST:PORT, ray://HOST:PORT, auto, local)")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise SpecError(f"--ray {address}: no Ray cluster answers there ({exc.strerror or exc})",
                        hint="start one with `ray start --head`, or check the address and port") from None


def connect(address: str | None) -> None:
    """Connect this process to the cluster at `address` (None or "local": a Ray instance already started here,
    else a new local one); a cluster that cannot be reached is refused with one line (exit 2)."""
    ray = _ray()
    if ray.is_initialized():
        return
    import engine

    runtime_env = {"py_modules": [str(Path(engine.__file__).parent)]}
    kwargs: dict[str, Any] = {"runtime_env": runtime_env, "log_to_driver": False, "configure_logging": False}
    if address in (None, "local"):
        ray.init(include_dashboard=False, **kwargs)
        return
    reachable(address)
    try:
        ray.init(address=address, **kwargs)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError and its own errors for a refused cluster
        raise SpecError(f"--ray {address}: could not connect to the Ray cluster ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else 'no reason given'})") from None


def _task(context: EvaluationContext, job: Job, reference: TaskReference | None) -> Outcome:
    limit_threads(1)
    return run_job(context, job, reference)


class RayBackend:
    """Each candidate of the spec one Ray task (one CPU) against the run's context, put in the store once."""

    name = "ray"

    def __init__(self, context: EvaluationContext, address: str | None) -> None:
        self.context, self.address = context, address
        self.shared: Any = None

    def describe(self) -> dict[str, Any]:
        return {"backend": "ray", **({"address": self.address} if self.address else {})}

    def run(self, jobs: Sequence[Job], reference: TaskReference | None,
            progress: ProgressCallback) -> list[Outcome]:
        ray = _ray()
        local = [j for j in jobs if j.candidate.family == EXTERNAL]  # its file is read where the driver runs
        remote = [j for j in jobs if j not in local]
        if self.shared is None and remote:
            self.shared = ray.put(shipped(self.context))
        task = ray.remote(num_cpus=1, max_retries=0)(_task)
        pending = {task.remote(self.shared, job, reference): job for job in largest_first(remote)}
        if pending:
            progress(Progress("train", f"training and evaluating {len(pending)} candidates as Ray tasks"))
        done: dict[int, Outcome] = {j.index: o for j, o in
                                    zip(local, InProcess(self.context).run(local, reference, progress), strict=True)}
        waiting = list(pending)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            outcome: Outcome = ray.get(ready[0])
            for event in outcome.progress:
                progress(event)
            done[pending[ready[0]].index] = outcome
        ordered = [done[j.index] for j in jobs]
        replay([o for o in ordered if o.timings])
        return ordered
