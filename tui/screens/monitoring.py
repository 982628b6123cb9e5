"""A model after its approval: where the approval stands (the champion serving, whether it lapsed, the rule and
figures that lapsed it, the rollback recommended), its monitoring runs over time, each feature's PSI over those
runs with the selected run's level and test (worst feature first), and the selected run's prediction drift, schema
violations, feedback performance against the approval's figures with intervals (or the label-free estimate,
marked as one), the paired comparison with a challenger and the alerts. Read from the trail through
`engine.monitor.history`, as `mlgate monitor --history` reads it.

`M` opens it from any screen: for the model of the run shown or selected, else the model monitored last; `n`
moves to the next monitored model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from engine.monitor.history import history, monitored_models
from engine.monitor.series import spark
from tui import reads
from tui.screens.base import MlgateScreen
from tui.screens.runs import RunsScreen
from tui.text import NONE, interval, literal, number, signed
from tui.widgets.tables import SortableTable

STYLES = {"healthy": "bold green", "failed": "bold yellow", "lapsed": "bold red", "stable": "green",
          "pass": "bold green", "fail": "bold red", "warn": "bold yellow", "unknown": "yellow",
          "warning": "bold yellow", "action": "bold red", "absent": "bold red", "critical": "bold red",
          "info": "cyan", "holds": "bold green"}
RUN_HEADERS = ("#", "time (UTC)", "window", "batch", "rows", "status", "alerts", "worst feature", "scores PSI",
               "feedback ROC AUC", "change vs approval", "challenger")
RUN_PRIORITIES = (0, 3, 1, 4, 4, 0, 3, 1, 1, 1, 1, 2)
FEATURE_HEADERS = ("feature", "PSI over the runs", "PSI", "level", "worst PSI", "drifted (test)", "new categories")
FEATURE_PRIORITIES = (0, 1, 0, 0, 2, 2, 3)
SPARK_TOP = 0.5  # the PSI at which a spark bar is full (twice the action level)


def word(value: str | None) -> Text:
    """A status or level as an upper-case word, coloured by what it says (the word alone says it)."""
    return Text(NONE) if value is None else Text(str(value).upper(), style=STYLES.get(str(value), ""))


def model_of(screen: Screen[Any]) -> str | None:
    """The model (its spec's name) of the run a screen shows or has selected; None where it shows none."""
    run = getattr(screen, "run", None)
    if isinstance(run, reads.Run):
        return run.view.name
    if isinstance(screen, RunsScreen):
        chosen = screen.selected_run()
        return next((str(r["name"]) for r in screen.runs if r["run_id"] == chosen), None)
    return None


def read(path: Path, model: str | None) -> dict[str, Any]:
    """The monitored models and the history of `model` (default: the model monitored last)."""
    models = monitored_models(path) if path.is_file() else []
    chosen = model if model is not None else (models[0] if models else None)
    return {"models": models, "model": chosen,
            "history": history(path, chosen) if chosen is not None and path.is_file() else None}


def window_text(batch: dict[str, Any]) -> str:
    window = batch.get("window") or {}
    if window.get("column"):
        span = f"{window.get('start')}–{window.get('end')}"
        return f"{window['label']} ({span})" if window.get("label") else span
    return str(window.get("label") or NONE)


def standing_text(found: dict[str, Any]) -> Text:
    """The approval's standing: the champion and whether its approval holds or lapsed, with the reason."""
    champion = found.get("champion")
    if champion is None:
        return literal(f"{found['model']}: no champion is serving (promote one with `mlgate promote`)")
    text = Text.assemble(literal(f"{found['model']}: champion {champion['candidate']} of run {champion['run_id']} "
                                 f"(promoted by {champion.get('reviewer')}) · approval "))
    lapsed = found.get("lapsed")
    if not lapsed:
        return text.append_text(word("holds"))
    target = lapsed.get("rollback_recommended_to")
    to = f"{target['candidate']} of run {target['run_id']}" if target else "no earlier champion"
    text.append_text(word("lapsed"))
    return text.append_text(literal(f" — rollback recommended to {to} · {lapsed.get('rule')}: "
                                    f"{lapsed.get('message')} (batch {str(lapsed.get('batch_sha256'))[:12]}…, "
                                    f"event {lapsed.get('seq')})"))


def run_row(point: dict[str, Any]) -> list[Text]:
    feedback = (point.get("feedback") or {}).get("roc_auc") or {}
    estimated = (point.get("estimated") or {}).get("roc_auc")
    worst = max(((n, v) for n, v in point["psi"].items() if v is not None), key=lambda p: p[1], default=None)
    paired = point.get("paired") or {}
    absent = [name for name, level in point["levels"].items() if level == "absent"]
    if feedback:
        performance = Text(f"{number(feedback['batch'])} {interval(feedback.get('batch_interval'))}")
        change = Text(f"{signed(feedback.get('change'))} {interval(feedback.get('change_interval'))}")
    else:
        performance = Text(f"ESTIMATED {number(estimated)}" if estimated is not None else NONE, style="italic")
        change = Text(NONE)
    batch = point["batch"]
    return [
        Text(str(point["seq"])), Text(point["recorded_at"][:19].replace("T", " ")), literal(window_text(batch)),
        Text(str(batch["sha256"])[:12]), Text(str(batch["rows"])), word(point["status"]),
        literal(", ".join(f"{a['alert']} {a['id']}" for a in point["alerts"]) or NONE),
        literal(f"{absent[0]} ABSENT") if absent else literal(f"{worst[0]} {worst[1]:.3f}") if worst else
        Text("unknown" if point.get("drift_error") else NONE),
        Text(number(point.get("prediction_psi"), 3)), performance, change,
        literal(paired["verdict"]["verdict"] if paired.get("verdict") else paired.get("error", NONE)[:40]),
    ]


def feature_rows(found: dict[str, Any], point: dict[str, Any] | None) -> list[list[Text]]:
    rows = []
    for name in found["features"]:
        values = [p["psi"].get(name) for p in found["runs"]]
        measured = [v for v in values if v is not None]
        here = (point or {}).get("psi", {}).get(name)
        level = (point or {}).get("levels", {}).get(name)
        drifted = None if point is None or point.get("drift_error") else name in point.get("drifted", [])
        rows.append([literal(name), Text(spark(values, SPARK_TOP), style="cyan"), Text(number(here, 3)), word(level),
                     Text(number(max(measured) if measured else None, 3)),
                     Text(NONE if drifted is None else "yes" if drifted else "no"),
                     literal(", ".join((point or {}).get("new_categories", {}).get(name, [])) or NONE)])
    return rows


def detail_text(point: dict[str, Any] | None) -> Text:
    """The selected run beyond the tables: scores, schema, feedback against the approval, challenger, alerts."""
    if point is None:
        return Text("no monitoring run recorded yet: `mlgate monitor BATCH` records one", style="dim")
    lines = [f"run #{point['seq']} · batch {point['batch'].get('path')} · sha256 {point['batch']['sha256']}"]
    if point.get("drift_error"):
        lines.append(f"drift: unknown — {point['drift_error']}")
    lines.append(f"prediction drift: PSI {number(point.get('prediction_psi'), 3)} "
                 f"({point.get('prediction_level') or NONE})")
    schema = point.get("schema") or {}
    lines.append(f"schema: {schema.get('violating_rows')} of {schema.get('rows')} rows violate it"
                 + (f"; missing columns: {', '.join(schema['missing_columns'])}" if schema.get("missing_columns")
                    else ""))
    for name, entry in (point.get("feedback") or {}).items():
        lines.append(f"feedback {name}: {number(entry['batch'])} {interval(entry.get('batch_interval'))} vs "
                     f"{number(entry['approved'])} approved; change {signed(entry.get('change'))} "
                     f"{interval(entry.get('change_interval'))}"
                     + (" — significant decay" if entry.get("significant_decay") else ""))
    if point.get("estimated") and not point.get("feedback"):
        lines.append("no labels — ESTIMATED (CBPE), not measured: " + ", ".join(
            f"{k} {number(v)}" for k, v in point["estimated"].items()))
    paired = point.get("paired")
    if paired:
        them = paired.get("challenger") or {}
        if "error" in paired:
            lines.append(f"challenger {them.get('candidate')}: {paired['error']}")
        else:
            auc = paired["roc_auc"]
            lines.append(f"challenger {them.get('candidate')} of run {them.get('run_id')} on the same rows: ROC AUC "
                         f"{number(auc.get('challenger'))} vs {number(auc.get('champion'))}, difference "
                         f"{signed(auc.get('lift'))} {interval(auc.get('interval'))}; supports "
                         f"{paired['verdict']['supports']}")
    lines += [f"{a['alert'].upper()}: {a['id']} — {a['message']}" for a in point["alerts"]]
    return Text("\n").join(literal(line) for line in lines)  # each line made safe alone: no newline in a value


class MonitoringScreen(MlgateScreen):
    """One model's monitoring after approval; the runs table's cursor picks the run the other parts show."""

    DEFAULT_CSS = """
    MonitoringScreen #monitoring-runs { height: auto; max-height: 10; }
    MonitoringScreen #monitoring-features { height: 1fr; border-top: hkey $primary; }
    MonitoringScreen #monitoring-detail { height: auto; max-height: 12; padding: 0 1; border-top: hkey $primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="monitoring.back"),
        Binding("n", "next_model", "Next model", id="monitoring.next"),
    ]
    FAILURE_PLACE = "monitoring-state"

    def __init__(self, model: str | None = None) -> None:
        super().__init__()
        self.model = model
        self.found: dict[str, Any] | None = None
        self.models: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text("loading the monitoring runs…"), id="monitoring-state", classes="crumb")
        yield SortableTable(RUN_HEADERS, priorities=list(RUN_PRIORITIES), id="monitoring-runs")
        yield SortableTable(FEATURE_HEADERS, priorities=list(FEATURE_PRIORITIES), id="monitoring-features")
        yield Static(id="monitoring-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "monitoring"
        self.query_one("#monitoring-runs", SortableTable).focus()
        self.reload()

    def reload(self) -> None:
        path, model = self.audit_db, self.model
        self.load(self.show, lambda: read(path, model), group="monitoring")

    def show(self, read_back: dict[str, Any]) -> None:
        self.models, self.model, self.found = read_back["models"], read_back["model"], read_back["history"]
        state = self.query_one("#monitoring-state", Static)
        if self.found is None:
            state.update(literal("no model of this trail has a champion or a monitoring run yet"))
            return
        self.title = f"monitoring · {self.found['model']}"
        others = [m for m in self.models if m != self.found["model"]]
        latest = self.found["runs"][-1]["checklist"] if self.found["runs"] else None
        state.update(Text.assemble(standing_text(self.found), literal(
            f" · {len(self.found['runs'])} monitoring runs · checklist item Monitoring in the latest run: "),
            word(latest), literal(f" · n: next model ({len(others)} more)" if others else "")))
        points = self.found["runs"]
        table = self.query_one("#monitoring-runs", SortableTable)
        table.fill([run_row(p) for p in points], keys=[str(p["seq"]) for p in points])
        if points:
            table.move_cursor(row=len(points) - 1)  # the latest run first
        self.show_point(points[-1] if points else None)

    def point(self, seq: str) -> dict[str, Any] | None:
        return next((p for p in (self.found or {}).get("runs", []) if str(p["seq"]) == seq), None)

    def show_point(self, point: dict[str, Any] | None) -> None:
        if self.found is None:
            return
        self.query_one("#monitoring-features", SortableTable).fill(feature_rows(self.found, point),
                                                                    keys=list(self.found["features"]))
        self.query_one("#monitoring-detail", Static).update(detail_text(point))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "monitoring-runs" and event.row_key.value is not None:
            self.show_point(self.point(str(event.row_key.value)))

    def action_next_model(self) -> None:
        if len(self.models) > 1 and self.found is not None:
            index = self.models.index(self.found["model"]) if self.found["model"] in self.models else -1
            self.model = self.models[(index + 1) % len(self.models)]
            self.reload()
