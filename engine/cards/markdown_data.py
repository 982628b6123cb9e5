"""The card's sections about the data and how the candidate fits it, as Markdown.

`split_and_data` lists what the split-integrity certificate and the data-quality profile checked and what they
found: the strategy, sizes and boundaries of the split, duplicates and label conflicts across it, entity and time
overlap, the leakage screen's strongest features, identifier-like columns, where preprocessing was fitted, missing
rates that move, constant features, unseen categories, out-of-range values, the label balance and the test file's
schema. `stability` shows the folds of the cross-validation, the train/validation/test gap and the learning curve
(the HTML card draws the curve, `engine.cards.figures.learning_curve`). Recorded text is escaped by `markup`.
"""

from __future__ import annotations

from typing import Any

from engine.cards.markup import code, md, missing, names, number, table

SHOWN = 5


def _rows(found: dict[str, Any]) -> str:
    shown = ", ".join(str(r) for r in found.get("examples", []))
    return f" (rows {shown})" if shown else ""


def _count(found: dict[str, Any] | None, what: str, out_of: str = "") -> str:
    if not found:
        return f"{what}: not checked"
    return f"{what}: {found.get('rows', 0)}{out_of}{_rows(found)}"


def _split_lines(cert: dict[str, Any]) -> list[str]:
    sizes = cert.get("sizes", {})
    lines = [f"- Strategy: {md(cert.get('strategy', 'stratified'))}; sizes: "
             + ", ".join(f"{part} {sizes[part]}" for part in ("train", "validation", "test") if part in sizes),
             f"- Data SHA-256 the certificate is tied to: `{cert.get('data_sha256')}`; {cert.get('features', 0)} "
             "features checked"]
    duplicates = cert.get("duplicates", {})
    out_of = f" of {duplicates.get('test_rows', '?')}"
    lines.append(f"- {_count(duplicates, 'Test rows that repeat a development row', out_of)}")
    lines.append(f"- {_count(cert.get('conflicting_labels'), 'Rows whose features repeat with the other label')}")
    entity = cert.get("entity_overlap")
    if entity:
        lines.append(f"- Groups of {code(entity['column'])} on both sides of the split: {entity['groups']} "
                     f"({entity['rows']} test rows{_rows(entity)})")
    time = cert.get("time_overlap")
    if time:
        lines.append(f"- Test rows not later than the latest development {code(time['column'])}: {time['rows']}"
                     f"{_rows(time)}")
    leakage = cert.get("leakage", {})
    key = leakage.get("measure", "auc")  # a regression's screen: R² of each feature's bin means
    top = ", ".join(f"{code(e['feature'])} {e[key]:.4f}" for e in leakage.get("top", []))
    measure = "R²" if key == "r2" else "ROC AUC"
    lines.append(f"- Leakage screen (each feature alone against the label, {measure} on {leakage.get('rows', '?')} "
                 f"training rows; a leak at {leakage.get('threshold', '?')}): flagged "
                 f"{names([e['feature'] for e in leakage.get('flagged', [])])}; strongest {top or 'none'}")
    lines.append(f"- Identifier-like features (unique per row): "
                 f"{names([e['feature'] for e in cert.get('identifiers', [])])}")
    fitted = cert.get("preprocessing")
    if fitted:
        where = (md(fitted.get("reason", "elsewhere")) if not fitted.get("checked") else
                 f"{md(fitted.get('fitted_on'))}, {fitted.get('rows')} rows, {fitted.get('test_rows_in_fit', 0)} of "
                 "them test rows")
        lines.append(f"- Preprocessing fitted on: {where}")
    return lines


def _quality_lines(quality: dict[str, Any]) -> list[str]:
    moved = sorted(quality.get("missing", []), key=lambda m: -abs(m.get("change", 0.0)))
    moved = [m for m in moved if m.get("change")]
    balance = quality.get("label_balance", {})
    lines = [
        "- Missing rate change from train to test (largest): " + (", ".join(
            f"{code(m['feature'])} {m['change']:+.4f}" for m in moved[:SHOWN]) or "none"),
        f"- Constant or near-constant features: {names([c['feature'] for c in quality.get('constant', [])])}",
        "- Test categories never seen in training: " + (", ".join(
            f"{code(u['feature'])} {u['rows']} rows ({u['rate']:.2%})"
            for u in quality.get("unseen_categories", [])[:SHOWN]) or "none"),
        "- Test values outside the training range: " + (", ".join(
            f"{code(o['feature'])} {o['rows']} rows ({o['rate']:.2%})"
            for o in quality.get("out_of_range", [])[:SHOWN]) or "none"),
    ]
    shift = quality.get("label_shift")
    if shift:  # a regression's KS statistics or a multiclass target's class-share differences, against training
        lines.append(f"- Target shift against {shift['reference']}: " + ", ".join(
            f"{part} {value:.4f}" for part, found in shift.get("against", {}).items()
            for name, value in found.items() if name != "p_value"))
    else:
        lines.append("- Positive rate per part: " + (", ".join(f"{part} {value:.4f}" for part, value in balance.items())
                                                     or "none"))
    drift = quality.get("schema_drift")
    if drift is not None:
        lines.append(f"- Test file schema against the data file: missing {names(drift.get('missing', []))}, added "
                     f"{names(drift.get('added', []))}, retyped "
                     f"{names([r['column'] for r in drift.get('retyped', [])])}")
    return lines


def _part(section: Any, lines_of: Any) -> list[str]:
    if (reason := missing(section)) is not None:
        return [f"- {reason}"]
    return list(lines_of(section))


def split_and_data(card: dict[str, Any]) -> list[str]:
    """What the split-integrity certificate and the data-quality profile checked and found."""
    checks = card["mlgate"].get("data_checks")
    if not checks:
        return []
    return ["## Split integrity and data quality", "",
            "### Split-integrity certificate", "", *_part(checks["split_integrity"], _split_lines), "",
            "### Data quality", "", *_part(checks["data_quality"], _quality_lines), ""]


def _folds(section: dict[str, Any]) -> list[str]:
    rows = ([str(f["fold"]), str(f["train_rows"]), str(f["rows"]), number(f["score"])] for f in section["per_fold"])
    return [f"{section['folds']} {md(section['strategy'])} folds of the development rows (the test rows are in "
            f"none of them); {code(section['metric'])} on each fold's held-out rows: mean "
            f"{number(section['mean'])}, standard deviation {number(section['std'])}, spread "
            f"{number(section['spread'])}, worst fold {number(section['worst'])}.", "",
            *table(["fold", "training rows", "held-out rows", md(section["metric"])], rows)]


def _gap(section: dict[str, Any]) -> list[str]:
    lines = [f"{code(section['metric'])} on the {section['train_rows']} training rows {number(section['train'])}, "
             f"on the validation rows {number(section['validation'])}, on the {section['test_rows']} test rows "
             f"{number(section['test'])}: a gap of {number(section['gap'])} (positive: better on the training rows)."]
    curve = section.get("learning_curve")
    if curve:
        rows = ([f"{p['fraction']:.0%}", str(p["rows"]), number(p["train"]), number(p["validation"])]
                for p in curve["points"])
        lines += ["", "Learning curve (refitted on growing shares of the training rows, scored on them and on the "
                      "validation rows):", "",
                  *table(["share", "training rows", "on the training rows", "on the validation rows"], rows)]
    return lines


def stability(card: dict[str, Any]) -> list[str]:
    """The cross-validation folds, the generalization gap and the learning curve, when recorded."""
    fit = card["mlgate"].get("fit")
    if not fit:
        return []
    lines = ["## Stability and overfitting", ""]
    for title, key, lines_of in (("Cross-validation", "cross_validation", _folds),
                                 ("Training rows against held-out rows", "generalization", _gap)):
        section = fit.get(key)
        if section is None:
            continue
        lines += [f"### {title}", "", *_part(section, lines_of), ""]
    return lines if len(lines) > 2 else []
