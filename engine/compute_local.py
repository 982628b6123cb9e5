"""Local worker processes: candidates of one audit trained and evaluated side by side on this machine.

The workers are forked from a fork server (fork-safe: the server has started no threads) that imports the heavy
libraries once (`PRELOAD`), so each worker starts in milliseconds with them already loaded; `start_fork_server()`
starts it before the audit reads its data, so its imports overlap the preparation. Each worker receives the run's
evaluation context once, when it starts (not with every job), and caps its BLAS, OpenMP, numba and torch threads
so that workers × threads never exceeds the cores. The largest job is started first (`engine.compute`). A worker
never writes to the trail: its evidence, timed stages and progress come back to the driver, which records the run.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import replace
from multiprocessing import forkserver
from types import TracebackType
from typing import Any

from engine.candidates import EXTERNAL
from engine.compute import InProcess, Job, Outcome, TaskReference, largest_first, replay, run_job
from engine.evaluation.candidate import EvaluationContext
from engine.progress import Progress, ProgressCallback

# What a worker needs for any family, imported once by the fork server rather than by each worker.
PRELOAD = ["engine.compute", "engine.evaluation.bootstrap", "sklearn.linear_model", "sklearn.isotonic", "lightgbm",
           "torch", "skl2onnx", "onnxmltools", "onnxruntime", "mapie.classification", "shap"]

_CONTEXT: EvaluationContext | None = None  # a worker's copy of the run's evaluation context


def start_fork_server() -> None:
    """Start the fork server now (it imports `PRELOAD` while the driver prepares the audit)."""
    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()


def limit_threads(threads: int) -> None:
    """Cap this process's thread pools (BLAS, OpenMP, numba, torch) at `threads`."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    try:
        import numba

        numba.set_num_threads(min(threads, int(getattr(numba.config, "NUMBA_NUM_THREADS", threads))))
    except (ImportError, ValueError):  # pragma: no cover - numba is a dependency; a layer that refuses keeps its own
        pass
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def _start_worker(context: EvaluationContext, threads: int) -> None:
    global _CONTEXT
    limit_threads(threads)
    _CONTEXT = context


def _run(job: Job, reference: TaskReference | None) -> Outcome:
    if _CONTEXT is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("a worker ran a job before it received the run's context")
    return run_job(_CONTEXT, job, reference)


def shipped(context: EvaluationContext) -> EvaluationContext:
    """The context as a worker receives it: the plan's unfitted models without those trained elsewhere (such a
    model is evaluated in the driver, which holds its file)."""
    plan = context.plan
    families = {c.name: c.family for c in plan.spec.candidates}
    models = {name: model for name, model in plan.models.items() if families.get(name) != EXTERNAL}
    return replace(context, plan=replace(plan, models=models))


class LocalPool:
    """`workers` local processes for one run; each job a candidate of the spec."""

    name = "local"

    def __init__(self, context: EvaluationContext, workers: int, *, threads: int) -> None:
        self.context, self.workers, self.threads = context, workers, threads
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def describe(self) -> dict[str, Any]:
        return {"backend": "local", "workers": self.workers, "threads": self.threads}

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("forkserver"),
                                            initializer=_start_worker, initargs=(shipped(self.context), self.threads))
        return self.pool

    def run(self, jobs: Sequence[Job], reference: TaskReference | None,
            progress: ProgressCallback) -> list[Outcome]:
        local = [j for j in jobs if j.candidate.family == EXTERNAL]
        remote = [j for j in jobs if j not in local]
        if len(remote) <= 1:
            return InProcess(self.context).run(jobs, reference, progress)
        progress(Progress("train", f"training and evaluating {len(remote)} candidates in {self.workers} worker "
                                   f"processes ({self.threads} thread{'s' if self.threads != 1 else ''} each)"))
        pool = self._pool()
        futures: dict[Future[Outcome], Job] = {pool.submit(_run, job, reference): job for job in largest_first(remote)}
        done: dict[int, Outcome] = {j.index: o for j, o in
                                    zip(local, InProcess(self.context).run(local, reference, progress), strict=True)}
        for future in as_completed(futures):
            outcome = future.result()
            for event in outcome.progress:
                progress(event)
            done[futures[future].index] = outcome
        ordered = [done[j.index] for j in jobs]
        replay([o for o in ordered if o.timings])
        return ordered
