"""`mlgate reasons`: the reasons (and recourse) of a batch's adverse decisions, on a candidate's served artifact."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from cli.output import EXIT_OK, audit_db_option, lock_timeout_option, print_json, safe_text, stdout, trail_path
from engine.safe_text import csv_cell

CSV_COLUMNS = ("row", "score", "kind", "rank", "feature", "value", "contribution", "text")


def _csv(document: dict[str, Any]) -> str:
    """One line per reason and per withheld feature (kind says which), cells neutralised for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for d in document["decisions"]:
        for r in d["reasons"]:
            writer.writerow([csv_cell(v) for v in (d["row"], d["score"], "reason", r["rank"], r["feature"],
                                                   r["value"], r["contribution"], r["text"])])
        for w in d["withheld"]:
            writer.writerow([csv_cell(v) for v in (d["row"], d["score"], "withheld", w["would_rank"], w["feature"],
                                                   w["value"], w["contribution"], w["why"])])
    return out.getvalue()


def _text(document: dict[str, Any]) -> None:
    attribution = document["attribution"]
    stdout.print(safe_text(f"{document['adverse_rows']} of {document['rows']} rows decided adversely by "
                           f"{document['candidate']}; {attribution['method']}, max error "
                           f"{attribution['max_abs_error']:.2g} (log-odds)"))
    table = Table("row", "score", "reasons", "withheld", "recourse")
    for d in document["decisions"]:
        reasons = "; ".join(f"{r['rank']}. {r['text']}" for r in d["reasons"])
        withheld = "; ".join(f"{w['feature']} ({w['why']})" for w in d["withheld"])
        option = d.get("recourse")
        recourse = ("none found" if "recourse" in d and option is None else "" if option is None else
                    ", ".join(f"{c['feature']} {c['from']:.4g}->{c['to']:.4g}" if isinstance(c["to"], float)
                              else f"{c['feature']} {c['from']}->{c['to']}" for c in option["changes"])
                    + f" (cost {option['cost']:.3g})")
        table.add_row(safe_text(d["row"]), safe_text(f"{d['score']:.3f}"), safe_text(reasons), safe_text(withheld),
                      safe_text(recourse))
    stdout.print(table)


@click.command()
@click.argument("run_id")
@click.argument("candidate")
@click.option("--data", "data", type=click.Path(path_type=Path), required=True, help="the rows (CSV or Parquet)")
@click.option("--all", "all_rows", is_flag=True, help="explain every row, not only the adverse decisions")
@click.option("--top", type=click.IntRange(1, 20), default=None, help="reasons per decision (default: the spec's, 4)")
@click.option("--no-recourse", is_flag=True, help="skip the recourse search")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True)
@audit_db_option
@lock_timeout_option
def reasons(run_id: str, candidate: str, data: Path, all_rows: bool, top: int | None, no_recourse: bool,
            output_format: str, audit_db: Path | None, lock_timeout: float) -> int:
    """Reason codes (and recourse) for each adverse decision of a batch, on the candidate's served ONNX artifact;
    the batch's hash and the summary are recorded in the trail."""
    from engine.reasons.batch import explain_batch

    document = explain_batch(trail_path(audit_db), run_id, candidate, data, all_rows=all_rows, top=top,
                             with_recourse=not no_recourse, lock_timeout=lock_timeout)
    if output_format == "json":
        print_json(document)
    elif output_format == "csv":
        sys.stdout.write(_csv(document))
    else:
        _text(document)
    return EXIT_OK


def explained_summary(seq: int, recorded_at: str, data: dict[str, Any]) -> dict[str, Any]:
    """One `reasons_explained` event as `mlgate show` reports it: which batch, how many decisions, the most
    frequent principal reasons and the features withheld."""
    summary = data.get("summary") or {}
    reasons = sorted(summary.get("reasons") or [], key=lambda r: (-int(r.get("principal", 0)), str(r.get("feature"))))
    return {"seq": seq, "recorded_at": recorded_at, "candidate": data.get("candidate"), "data": data.get("data"),
            "batch_sha256": data.get("batch_sha256"), "rows": data.get("rows"),
            "adverse_rows": data.get("adverse_rows"), "explained": summary.get("decisions"),
            "principal_reasons": [{"feature": r.get("feature"), "decisions": r.get("principal")}
                                  for r in reasons[:3] if r.get("principal")],
            "withheld": summary.get("withheld") or []}


def explained_line(entry: dict[str, Any]) -> str:
    """The summary in one line: `reasons explained for logistic: 340 rows of rows.csv (sha256 0a1b…), ...`."""
    principal = ", ".join(f"{r['feature']} ({r['decisions']})" for r in entry["principal_reasons"]) or "none"
    withheld = ", ".join(f"{w.get('feature')} ({w.get('decisions')})" for w in entry["withheld"]) or "none"
    return (f"reasons explained for {entry['candidate']}: {entry['rows']} rows of {Path(str(entry['data'])).name} "
            f"(sha256 {str(entry['batch_sha256'])[:12]}…), {entry['adverse_rows']} adverse, {entry['explained']} "
            f"explained · principal reasons: {principal} · withheld: {withheld} · event {entry['seq']}, "
            f"{entry['recorded_at'][:19]}")
