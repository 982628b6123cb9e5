"""Every headline metric a policy, a ranking or a view may name, with the task types that have it.

Binary metrics are `engine.evaluation.metrics.METRICS`; regression's and multiclass's are named here and
computed by `engine.evaluation.regression` and `engine.evaluation.multiclass_metrics`. One table says, for each
name, its label, which way is better (the recommendation and the lifts follow it) and the tasks it exists for,
so a policy rule naming a metric its audit's task does not have is refused when the policy is checked against
the task (`engine.policy.tasks`), not left `unknown`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.evaluation.metrics import METRICS

# The names the multiclass and regression evidence computes (engine.evaluation.multiclass_metrics and
# .regression read them from here, so that this table, which every policy check and view imports, stays free of
# the compiled evaluation kernels).
CLASS_METRICS = ("precision", "recall", "f1")
AVERAGED = tuple(f"{metric}_{average}" for metric in ("f1", "precision", "recall")
                 for average in ("macro", "micro", "weighted"))
TOP_K = (2, 3, 5)
DIRECTIONS = {"rmse": "lower", "mae": "lower", "median_absolute_error": "lower", "mape": "lower", "r2": "higher",
              "mean_error": "zero"}
MULTICLASS_GAPS = ("accuracy_difference", "accuracy_ratio", "log_loss_difference", "equalized_odds_difference",
                   "demographic_parity_difference", "demographic_parity_ratio")
REGRESSION_GAPS = ("rmse_difference", "rmse_ratio", "mae_difference", "mae_ratio", "max_group_mse", "max_group_mae",
                   "mean_residual_difference", "mean_prediction_difference", "mean_prediction_ratio")
REGRESSION_LABELS = {"rmse": "RMSE", "mae": "MAE", "median_absolute_error": "median absolute error",
                     "mape": "MAPE", "r2": "R²", "mean_error": "mean error (bias)"}


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
