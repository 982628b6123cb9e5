"""A model's monitoring events as a time series (pure: events in, points out), shared by the history that the CLI
and the TUI read and by the champion's model card: for each run its batch, window, status and alerts, the PSI and
level of every feature and of the scores, feedback performance against the approval (or the label-free
estimate) and the paired comparison with a challenger; features ordered worst first (their largest PSI).
"""

from __future__ import annotations

from typing import Any

from engine.audit.runs import APPROVAL_LAPSED, MONITORING_RUN
from engine.audit.trail import Event
from engine.checklist import item_status

MONITORING_ITEM = "monitoring"  # the checklist item the monitoring rules serve

SPARK = "▁▂▃▄▅▆▇█"
FEEDBACK_METRICS = ("roc_auc", "pr_auc", "accuracy", "brier", "log_loss")

JSON = dict[str, Any]


def spark(values: list[float | None], top: float) -> str:
    """A small chart of one feature's PSI over the runs (0 to `top`), '·' where it was not measured."""
    scale = len(SPARK) - 1
    return "".join("·" if v is None else SPARK[min(scale, round(scale * min(v, top) / top))] for v in values)


def _feedback(evidence: JSON) -> JSON | None:
    """The approved metrics on labelled feedback: batch value, interval, approved value, change and its interval."""
    versus = (evidence.get("versus_approval") or {}).get("metrics") or {}
    found = {name: {k: entry.get(k) for k in ("batch", "batch_interval", "approved", "change", "change_interval",
                                               "significant_decay")}
             for name, entry in versus.items() if name in FEEDBACK_METRICS}
    return found or None


def _paired(evidence: JSON) -> JSON | None:
    paired = evidence.get("versus_challenger")
    if not paired:
        return None
    if "error" in paired:
        return {"challenger": paired.get("challenger"), "error": paired["error"]}
    auc = paired["metrics"].get("roc_auc") or {}
    return {"challenger": paired["challenger"], "verdict": paired["verdict"],
            "roc_auc": {k: auc.get(k) for k in ("champion", "challenger", "lift", "interval")}}


def point(seq: int, recorded_at: str, data: JSON) -> JSON:
    """One monitoring run as a point of the series."""
    evidence = data["evidence"]
    drift = evidence.get("drift") or {}
    features = drift.get("features", [])
    prediction = drift.get("prediction") or {}
    return {"seq": seq, "recorded_at": recorded_at, "champion": data["champion"], "batch": data["batch"],
            "status": data["status"], "checklist": item_status([o for o in data.get("outcomes", [])
                                                                if o.get("checklist") == MONITORING_ITEM]),
            "alerts": [{k: a[k] for k in ("id", "alert", "message")} for a in data["alerts"]],
            "psi": {f["name"]: f.get("psi") for f in features},
            "levels": {f["name"]: f.get("psi_level") or ("absent" if f.get("absent") else None) for f in features},
            "drifted": [f["name"] for f in features if f.get("drifted")],
            "new_categories": {f["name"]: f["new_categories"] for f in features if f.get("new_categories")},
            "prediction_psi": prediction.get("psi"), "prediction_level": prediction.get("psi_level"),
            "drift_error": drift.get("error"), "schema": {k: (evidence.get("schema") or {}).get(k) for k in
                                                          ("violating_rows", "rows", "missing_columns")},
            "feedback_metrics": evidence.get("metrics") or None, "feedback": _feedback(evidence),
            "estimated": (evidence.get("estimated") or {}).get("metrics"), "paired": _paired(evidence)}


def lapse(event: Event) -> JSON:
    """An `approval_lapsed` event as the series shows it."""
    return {"seq": event.seq, "recorded_at": event.recorded_at, "rule": event.data["rule"],
            "message": event.data["message"], "batch": event.data["batch"],
            "champion": event.data.get("champion"),
            "rollback_recommended_to": event.data.get("rollback_recommended_to")}


def series(events: list[Event], model: str | None = None) -> tuple[list[JSON], list[JSON], list[str]]:
    """The points, the lapses and the features worst first, of the monitoring events given (of `model`)."""
    points: list[JSON] = []
    lapses: list[JSON] = []
    for event in events:
        if model is not None and event.data.get("model") != model:
            continue
        if event.kind == MONITORING_RUN:
            points.append(point(event.seq, event.recorded_at, event.data))
        elif event.kind == APPROVAL_LAPSED:
            lapses.append(lapse(event))
    worst: dict[str, float] = {}
    for found in points:
        for name, value in found["psi"].items():
            if value is not None:
                worst[name] = max(worst.get(name, 0.0), float(value))
    names = sorted({n for p in points for n in p["psi"]}, key=lambda n: (-worst.get(n, -1.0), n))
    return points, lapses, names


def card_part(events: list[Event], name: str) -> JSON | None:
    """The card document's `monitoring` part for candidate `name` (None when it was never monitored)."""
    mine = [e for e in events if ((e.data.get("champion") or {}).get("candidate")) == name]
    points, lapses, features = series(mine)
    if not points and not lapses:
        return None
    summary = []
    for feature in features:
        values = [p["psi"].get(feature) for p in points]
        measured = [v for v in values if v is not None]
        summary.append({"name": feature, "last_psi": values[-1] if values else None,
                        "last_level": points[-1]["levels"].get(feature) if points else None,
                        "worst_psi": max(measured) if measured else None, "runs_measured": len(measured)})
    return {"runs": points, "features": summary, "lapses": lapses}
