"""Where candidates are audited: `audit_candidate()` and the backends that run it.

`audit_candidate()` is a pure function of the run's evaluation context (the prepared plan: data, split, training
set, settings), one candidate of the spec and, for a multiclass or regression audit, the baseline's test outputs:
it trains the candidate (after its recorded search, if any), its calibrated variants and their retrained twins,
and returns their evidence. Nothing it does writes to the trail; its serving artifacts go under the run's
artifacts folder. So it can run anywhere the plan can be sent: in the driver (`InProcess`), in local worker
processes (`engine.compute_local`) or as Ray tasks (`engine.compute_ray`); `engine.compute_backends` picks one
from the spec's `[compute]` table and the command line. Seeds travel with the plan, so every backend produces the
same evidence. The driver alone records the run, once, with the outcomes in the spec's order.

A job's result leaves its fitted models behind (`lean`): what the later stages need is the evidence, the bootstrap
samples and the description, and a model is costly to send back across a process or the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from engine.candidates import BASELINE, EXTERNAL
from engine.evaluation.candidate import Evaluated, EvaluationContext, evaluate_candidate
from engine.evaluation.task_candidate import evaluate_task_candidate
from engine.evaluation.versus_champion import TaskChampion
from engine.progress import Progress, ProgressCallback
from engine.spec import CandidateSpec
from engine.timings import absorb, for_candidate, recording
from engine.train import Trained, calibrate, train_candidate

# A rough relative cost of one candidate of each family on the same rows (the largest job is started first, so
# the longest chain does not start last); a calibrated variant or a search multiplies it.
FAMILY_WEIGHT = {BASELINE: 1.0, "logistic": 5.0, "lightgbm": 4.0, "torch_mlp": 4.0, EXTERNAL: 1.0}


@dataclass(frozen=True)
class TaskReference:
    """What every non-baseline candidate of a multiclass or regression audit is compared with."""

    baseline: tuple[str, NDArray[np.float64]] | None
    champion: TaskChampion


@dataclass(frozen=True)
class Audited:
    """One candidate of the spec after `audit_candidate`: its evaluations (the candidate, then each calibrated
    variant) and, for a multiclass or regression audit, its test outputs."""

    evaluated: list[Evaluated]
    output: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class Job:
    """One candidate of the spec to audit, with its place in the spec and its estimated cost."""

    index: int
    candidate: CandidateSpec
    weight: float


@dataclass(frozen=True)
class Outcome:
    """A job's result as it comes back from a worker: what it audited, the stages it timed and the progress it
    reported (both replayed by the driver)."""

    audited: Audited
    timings: list[tuple[str, str | None, float]] = field(default_factory=list)
    progress: list[Progress] = field(default_factory=list)


class Backend(Protocol):
    """Runs jobs against one run's evaluation context; results come back in the jobs' order."""

    name: str

    def run(self, jobs: Sequence[Job], reference: TaskReference | None,
            progress: ProgressCallback) -> list[Outcome]: ...

    def describe(self) -> dict[str, Any]: ...


def lean(item: Evaluated) -> Evaluated:
    """The evaluation without its fitted model and twin (the later stages read evidence, samples, description)."""
    trained = item.trained
    if trained.model is None and trained.retrain.twin is None:
        return item
    return replace(item, trained=replace(trained, model=None, retrain=replace(trained.retrain, twin=None)))


def audit_candidate(context: EvaluationContext, candidate: CandidateSpec, progress: ProgressCallback,
                    reference: TaskReference | None = None) -> Audited:
    """Train and evaluate one candidate of the spec and its calibrated variants (a multiclass or regression
    candidate against `reference`, the baseline's outputs); the stages are timed under the candidate's name.

    BLAS runs one thread inside (OpenBLAS sums in an order that depends on its thread count, so a logistic fit's
    last digits would depend on the backend; one thread is also the faster on a shared machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _audit_candidate(context, candidate, progress, reference)


def _audit_candidate(context: EvaluationContext, candidate: CandidateSpec, progress: ProgressCallback,
                     reference: TaskReference | None) -> Audited:
    plan = context.plan
    if plan.dataset.task == "binary":
        def evaluate(trained: Trained) -> tuple[Evaluated, NDArray[np.float64] | None]:
            return evaluate_candidate(trained, context, progress), None
    elif reference is None:
        raise ValueError("a multiclass or regression candidate is audited against its run's champion")
    else:
        def evaluate(trained: Trained) -> tuple[Evaluated, NDArray[np.float64] | None]:
            return evaluate_task_candidate(trained, context, progress, baseline=reference.baseline,
                                           champion=reference.champion)
    with for_candidate(candidate.name):
        base = train_candidate(plan, candidate, progress)
        first, output = evaluate(base)
    evaluated = [first]
    if first.error is None:
        for method in candidate.calibration:
            with for_candidate(f"{candidate.name}.{method}"):
                evaluated.append(evaluate(calibrate(plan, base, method, progress))[0])
    return Audited([lean(item) for item in evaluated], output)


def run_job(context: EvaluationContext, job: Job, reference: TaskReference | None) -> Outcome:
    """One job in a worker: `audit_candidate` with its timings and progress kept for the driver to replay."""
    events: list[Progress] = []
    with recording() as timings:
        audited = audit_candidate(context, job.candidate, events.append, reference)
    return Outcome(audited, list(timings.rows), events)


def jobs_of(candidates: Sequence[CandidateSpec]) -> list[Job]:
    """The spec's candidates as jobs, each with its estimated cost."""
    def weight(c: CandidateSpec) -> float:
        trials = int((c.search or {}).get("trials", 0))
        return FAMILY_WEIGHT.get(c.family, 2.0) * (1 + len(c.calibration)) * (1 + trials)
    return [Job(i, c, weight(c)) for i, c in enumerate(candidates)]


def largest_first(jobs: Sequence[Job]) -> list[Job]:
    """The order jobs are started in by a parallel backend: the costliest first, ties in the spec's order."""
    return sorted(jobs, key=lambda j: (-j.weight, j.index))


def replay(outcomes: Sequence[Outcome]) -> None:
    """Add the stages the workers timed to the driver's table, in the jobs' order."""
    for outcome in outcomes:
        absorb(outcome.timings)


class InProcess:
    """The driver itself runs every job, one after the other (`workers = 1`)."""

    name = "in-process"

    def __init__(self, context: EvaluationContext) -> None:
        self.context = context

    def run(self, jobs: Sequence[Job], reference: TaskReference | None,
            progress: ProgressCallback) -> list[Outcome]:
        return [Outcome(audit_candidate(self.context, job.candidate, progress, reference)) for job in jobs]

    def describe(self) -> dict[str, Any]:
        return {"backend": "local", "workers": 1}


def audit_all(backend: Backend, context: EvaluationContext, progress: ProgressCallback,
              champion: TaskChampion | None = None) -> list[Evaluated]:
    """Every candidate of the spec through `backend`, in the spec's order (each followed by its calibrated
    variants). A multiclass or regression audit evaluates its baseline first: its outputs are every other
    candidate's reference, and `champion` (the run's re-scored champion) every candidate's."""
    plan = context.plan
    jobs = jobs_of(plan.spec.candidates)
    if plan.dataset.task == "binary":
        return [item for outcome in backend.run(jobs, None, progress) for item in outcome.audited.evaluated]
    record = champion if champion is not None else TaskChampion({"current": None})
    first = [j for j in jobs if j.candidate.family == BASELINE]
    rest = [j for j in jobs if j.candidate.family != BASELINE]
    done, baseline = [], None
    for job in first:  # in the driver: the baseline is quick, and every other candidate waits for its outputs
        done.append(Outcome(audit_candidate(context, job.candidate, progress, TaskReference(baseline, record))))
        if done[-1].audited.output is not None:
            baseline = (job.candidate.name, done[-1].audited.output)
    later = backend.run(rest, TaskReference(baseline, record), progress) if rest else []
    return [item for outcome in (*done, *later) for item in outcome.audited.evaluated]
