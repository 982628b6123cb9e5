"""The model card's monitoring section: for a champion monitored after its approval, the monitoring runs (batch,
window, status, worst drift, feedback against the approval), each feature's PSI over the runs worst first, and
the lapses of its approval with the rollback recommended (the `monitoring` part of the card document, built from
the trail's `monitoring_run` and `approval_lapsed` events by `engine.monitor.series.card_part`)."""

from __future__ import annotations

from typing import Any

from engine.cards.markup import code, interval, md, number, table

JSON = dict[str, Any]
SHOWN_FEATURES = 10  # the worst features in the drift summary; the JSON card holds every one
SHOWN_RUNS = 20  # the latest runs in the table


def _window(batch: JSON) -> str:
    window = batch.get("window") or {}
    if window.get("column"):
        return md(f"{window.get('start')}–{window.get('end')}")
    return md(window.get("label") or "—")


def _feedback(point: JSON) -> str:
    auc = (point.get("feedback") or {}).get("roc_auc")
    if auc:
        return (f"{number(auc.get('batch'))} vs {number(auc.get('approved'))}, change "
                f"{interval(auc.get('change_interval'))}")
    estimated = (point.get("estimated") or {}).get("roc_auc")
    return f"estimated (no labels) {number(estimated)}" if estimated is not None else "no labels"


def _worst(point: JSON) -> str:
    measured = [(n, v) for n, v in point["psi"].items() if v is not None]
    if not measured:
        return md(point.get("drift_error") or "—")
    name, value = max(measured, key=lambda p: p[1])
    return f"{code(name)} {value:.3f} ({md(point['levels'].get(name))})"


def monitoring(card: JSON) -> list[str]:
    part = card["mlgate"].get("monitoring")
    if not part:
        return []
    runs = part["runs"]
    lines = ["## Monitoring after approval", "",
             f"{len(runs)} monitoring run(s) of this model as champion, recorded in the audit trail "
             "(`mlgate monitor`); drift is against the training reference recorded at audit time.", "",
             f"Checklist item `monitoring` in the latest run: **{md(runs[-1]['checklist']).upper()}**." if runs
             else "No monitoring run recorded.", ""]
    for lapse in part["lapses"]:
        target = lapse.get("rollback_recommended_to")
        to = f"{md(target['candidate'])} of run `{target['run_id']}`" if target else "no earlier champion"
        lines += [f"**Approval lapsed** at event {lapse['seq']} ({lapse['recorded_at'][:19]}): {code(lapse['rule'])} "
                  f"— {md(lapse['message'])}; batch `{str(lapse['batch'].get('sha256'))[:16]}`. Rollback "
                  f"recommended to {to}.", ""]
    rows = ([str(p["seq"]), p["recorded_at"][:19], _window(p["batch"]), f"`{str(p['batch']['sha256'])[:12]}`",
             str(p["batch"]["rows"]), md(p["status"]), _worst(p), number(p.get("prediction_psi")), _feedback(p),
             md("; ".join(f"{a['alert']} {a['id']}" for a in p["alerts"]) or "none")]
            for p in runs[-SHOWN_RUNS:])
    lines += table(["event", "recorded (UTC)", "window", "batch", "rows", "status", "worst feature drift",
                    "scores PSI", "ROC AUC on feedback vs approved", "alerts"], rows)
    lines += ["", f"Drift summary (PSI: 0.1 warning, 0.25 action; the {SHOWN_FEATURES} worst features):", ""]
    lines += table(["feature", "PSI in the last run", "level", "worst PSI", "runs measured"],
                   ([code(f["name"]), number(f["last_psi"]), md(f["last_level"] or "—"), number(f["worst_psi"]),
                     str(f["runs_measured"])] for f in part["features"][:SHOWN_FEATURES]))
    return [*lines, ""]
