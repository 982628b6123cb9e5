"""Every headline metric a policy, a ranking or a view may name, with the task types that have it.

Binary metrics are `engine.evaluation.metrics.METRICS`; regression's and multiclass's are named by
`engine.evaluation.regression` and `engine.evaluation.multiclass_metrics`. One table says, for each name, its
label, which way is better (the recommendation and the lifts follow it) and the tasks it exists for, so a
policy rule naming a metric its audit's task does not have is refused when the policy is checked against the
task (`engine.policy.tasks`), not left `unknown`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.evaluation.metrics import METRICS
from engine.evaluation.multiclass_metrics import AVERAGED, TOP_K
from engine.evaluation.regression import DIRECTIONS
from engine.evaluation.regression import LABELS as REGRESSION_LABELS


@dataclass(frozen=True)
class MetricInfo:
    label: str
    higher_is_better: bool
    tasks: tuple[str, ...]


def _averaged_label(name: str) -> str:
    metric, average = name.rsplit("_", 1)
    return f"{average} {'F1' if metric == 'f1' else metric}"


MULTICLASS_METRICS: dict[str, MetricInfo] = {
    "accuracy": MetricInfo("accuracy", True, ("multiclass",)),
    "balanced_accuracy": MetricInfo("balanced accuracy", True, ("multiclass",)),
    **{name: MetricInfo(_averaged_label(name), True, ("multiclass",)) for name in AVERAGED},
    "roc_auc_ovr_macro": MetricInfo("one-vs-rest macro ROC AUC", True, ("multiclass",)),
    "log_loss": MetricInfo("log loss", False, ("multiclass",)),
    **{f"top_{k}_accuracy": MetricInfo(f"top-{k} accuracy", True, ("multiclass",)) for k in TOP_K},
}
REGRESSION_METRICS: dict[str, MetricInfo] = {
    name: MetricInfo(REGRESSION_LABELS[name], direction == "higher", ("regression",))
    for name, direction in DIRECTIONS.items()  # the mean error (bias) is best at zero: rank by it with care
}


def _merged() -> dict[str, MetricInfo]:
    table = {name: MetricInfo(m.label, m.higher_is_better, ("binary",)) for name, m in METRICS.items()}
    for name, info in {**MULTICLASS_METRICS, **REGRESSION_METRICS}.items():
        known = table.get(name)
        table[name] = info if known is None else MetricInfo(known.label, known.higher_is_better,
                                                            (*known.tasks, *info.tasks))
    return table


ALL_METRICS: dict[str, MetricInfo] = _merged()


def task_metrics(task: str) -> list[str]:
    """The metric names an audit of `task` computes."""
    return [name for name, info in ALL_METRICS.items() if task in info.tasks]
