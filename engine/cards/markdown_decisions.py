"""The model card's reason-code section: the most frequent reasons among adverse decisions, by sensitive group,
what was withheld, and recourse by group with intervals (from the `decisions` evidence, engine.reasons)."""

from __future__ import annotations

from typing import Any

from engine.cards.markup import code, interval, md, number, table


def decisions(card: dict[str, Any]) -> list[str]:
    part = card["mlgate"].get("decisions")
    if not part:
        return []
    if "error" in part:
        return ["## Decisions explained", "", f"Computing it failed: {md(part['error'])}", ""]
    attribution = part["attribution"]
    lines = [
        "## Decisions explained", "",
        f"{part['explained_rows']} of {part['adverse_rows']} adverse decisions of the test split explained on the "
        f"served artifact: {md(attribution['method'])}; largest error {attribution['max_abs_error']:.2e} (log-odds).",
        "", "Most frequent reasons:", "",
        *table(["feature", "decisions", "as principal reason"],
               ([code(r["feature"]), str(r["decisions"]), str(r["principal"])]
                for r in part["summary"]["reasons"][:8])),
        "",
    ]
    for grouping, groups in part.get("by_group", {}).items():
        rows = ([md(label), ", ".join(code(r["feature"]) for r in reasons) or "—"] for label, reasons in groups.items())
        lines += [f"By {md(grouping)}:", "", *table(["group", "most frequent reasons"], rows), ""]
    withheld = part["screen"]["withheld_features"]
    if withheld:
        lines += ["Never given as reasons: " + "; ".join(f"{code(f)} ({md(why)})" for f, why in withheld.items()), ""]
    recourse = part["recourse"]
    if "error" in recourse:
        return [*lines, f"Recourse: {md(recourse['error'])}", ""]
    lines += [f"Recourse: {md(recourse['method'])}. Feasible for {recourse['feasible']} of {recourse['denied']}.", ""]
    for grouping, found in recourse["by_group"].items():
        rows = ([md(g["group"]), str(g["denied"]), number(g.get("feasible_share")), interval(g.get("share_interval")),
                 number(g.get("median_cost"))] for g in found["groups"])
        lines += [f"Recourse by {md(grouping)}:", "",
                  *table(["group", "denied", "feasible share", "interval", "median cost"], rows), ""]
    return lines
