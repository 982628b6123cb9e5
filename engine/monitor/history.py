"""A model's monitoring runs read back as a time series: for each run its batch, window, status and alerts, the
PSI of every feature and of the scores; features ordered worst first (their largest PSI over the runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.audit.trail import read_events
from engine.champion import APPROVAL_LAPSED

MONITORING_RUN = "monitoring_run"

JSON = dict[str, Any]


def _point(seq: int, recorded_at: str, data: JSON) -> JSON:
    drift = data["evidence"].get("drift") or {}
    features = {f["name"]: f.get("psi") for f in drift.get("features", [])}
    prediction = drift.get("prediction") or {}
    feedback = (data["evidence"].get("metrics") or {})
    return {"seq": seq, "recorded_at": recorded_at, "champion": data["champion"], "batch": data["batch"],
            "status": data["status"], "alerts": [{k: a[k] for k in ("id", "alert", "message")} for a in data["alerts"]],
            "psi": features, "prediction_psi": prediction.get("psi"), "drift_error": drift.get("error"),
            "feedback_metrics": feedback or None}


def history(audit_db: Path, model: str) -> JSON:
    """Every monitoring run of `model`, oldest first, the features worst first, and the lapses recorded."""
    points: list[JSON] = []
    lapses: list[JSON] = []
    for event in read_events(audit_db, kinds=(MONITORING_RUN, APPROVAL_LAPSED)):
        if event.data.get("model") != model:
            continue
        if event.kind == MONITORING_RUN:
            points.append(_point(event.seq, event.recorded_at, event.data))
        else:
            lapses.append({"seq": event.seq, "recorded_at": event.recorded_at, "rule": event.data["rule"],
                           "message": event.data["message"], "batch": event.data["batch"],
                           "rollback_recommended_to": event.data.get("rollback_recommended_to")})
    worst: dict[str, float] = {}
    for point in points:
        for name, value in point["psi"].items():
            if value is not None:
                worst[name] = max(worst.get(name, 0.0), float(value))
    names = sorted({n for p in points for n in p["psi"]}, key=lambda n: (-worst.get(n, -1.0), n))
    return {"model": model, "runs": points, "features": names, "lapses": lapses}
