"""A model's monitoring runs read back from the trail as a time series (`engine.monitor.series`), with where the
approval stands now (the champion, whether it lapsed, why, and the rollback recommended). The CLI
(`mlgate monitor --history`) and the TUI's monitoring screen read this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.audit.runs import APPROVAL_LAPSED, MONITORING_RUN
from engine.audit.trail import read_events
from engine.champion import reference, registries, registry
from engine.monitor.series import series

JSON = dict[str, Any]


def standing(audit_db: Path, model: str) -> JSON:
    """Where the approval stands: the champion serving now, whether its approval lapsed (rule, message, batch)
    and the champion a rollback is recommended to."""
    found = registry(audit_db, model)
    current = found.current
    return {"champion": reference(current), "lapsed": (current or {}).get("lapsed"),
            "rollback_target": reference(found.rollback_target)}


def history(audit_db: Path, model: str) -> JSON:
    """Every monitoring run of `model`, oldest first, the features worst first, the lapses recorded, and where
    the approval stands now."""
    points, lapses, names = series(read_events(audit_db, kinds=(MONITORING_RUN, APPROVAL_LAPSED)), model)
    return {"model": model, "runs": points, "features": names, "lapses": lapses, **standing(audit_db, model)}


def monitored_models(audit_db: Path) -> list[str]:
    """The models with a champion or a monitoring run, the most recently monitored first."""
    latest: dict[str, int] = {}
    for event in read_events(audit_db, kinds=(MONITORING_RUN,)):
        latest[str(event.data.get("model"))] = event.seq
    names = set(latest) | set(registries(audit_db))
    return sorted(names, key=lambda n: (-latest.get(n, -1), n))
