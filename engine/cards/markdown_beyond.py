"""The Markdown card's sections on evidence beyond metrics: conformal sets, explanations, robustness, the serving
artifact, and reproducibility with the champion. Each is a function of the card document (see `document.py`)
to lines of Markdown, listed in order by `markdown.SECTIONS`.
"""

from __future__ import annotations

from typing import Any

from engine.cards.document import NOT_EVALUATED
from engine.cards.markup import METRIC_LABELS, UNDEFINED, code, interval, md, missing, names, number, table


def conformal(card: dict[str, Any]) -> list[str]:
    conformal = card["mlgate"]["conformal"]
    if (reason := missing(conformal)) is not None:
        return ["## Conformal prediction sets", "", reason, ""]
    size = "mean set size" if all("mean_set_size" in level for level in conformal["levels"]) else "mean width"
    key = size.replace(" ", "_")
    lines = ["## Conformal prediction sets", "", f"{md(conformal['method'])}; {conformal['rows']} test rows.", "",
             *table(["confidence", "coverage", size, "empty sets", "both labels"],
                    ([f"{level['confidence']:.0%}", number(level["coverage"]), number(level.get(key)),
                      number(level.get("empty_rate")), number(level.get("both_labels_rate"))]
                     for level in conformal["levels"])), ""]
    for level in conformal["levels"]:
        for grouping in level["by_group"]:
            if len(grouping["columns"]) != 1:
                continue
            lines += [f"Coverage at {level['confidence']:.0%} by {code(grouping['name'])}:", "",
                      *table(["group", "rows", "coverage", size],
                             ([md(g["group"]) + (" (too small)" if g["too_small"] else ""), str(g["support"]),
                               number(g["coverage"]), number(g.get(key))] for g in grouping["groups"])), ""]
    return lines


def _associations(feature: dict[str, Any], threshold: float) -> str:
    strong = [f"{md(column)} {value:.2f}" for column, value in sorted(feature["associations"].items(),
                                                                     key=lambda item: -item[1])
              if value >= threshold and column != feature["feature"]]
    return "proxy of " + ", ".join(strong) if strong else "—"


def explanations(card: dict[str, Any], top: int = 10) -> list[str]:
    explained = card["mlgate"]["explanations"]
    if (reason := missing(explained)) is not None:
        return ["## Explanations", "", reason, ""]
    faithfulness = explained["faithfulness"]
    threshold = float(explained["proxy_threshold"])
    rows = ([str(rank), code(f["feature"]), number(f["mean_abs"]), "**sensitive**" if f["sensitive"] else "—",
             _associations(f, threshold)] for rank, f in enumerate(explained["ranking"][:top], start=1))
    return [
        "## Explanations", "",
        f"{md(explained['method'])}, in {md(explained['output_space'].replace('_', ' '))} space; "
        f"faithfulness: {md(faithfulness['check'])}, largest error {faithfulness['max_abs_error']:.2e}.", "",
        f"Top drivers (mean |SHAP value|; a feature whose association with a sensitive column reaches "
        f"{threshold} is marked a proxy):", "",
        *table(["rank", "feature", "mean abs SHAP", "sensitive", "association"], rows), "",
    ]


def robustness(card: dict[str, Any]) -> list[str]:
    robust = card["mlgate"]["robustness"]
    if (reason := missing(robust)) is not None:
        return ["## Robustness", "", reason, ""]
    # the task's own (ROC AUC and accuracy, RMSE and MAE, accuracy and macro F1), the one its rule judges first
    metrics = sorted(robust["clean"], key=lambda m: m != robust.get("metric", "roc_auc"))  # binary: ROC AUC
    labels = [METRIC_LABELS.get(m, m) for m in metrics]
    decisions = robust.get("task") != "regression"  # a regression has no decision to flip
    perturbed = ([name.replace("_", " "), *(number(p["drop"].get(m)) for m in metrics),
                  *([number(p["flip_rate"])] if decisions else []), number(p["mean_abs_change"])]
                 for name, p in robust["perturbations"].items())
    clean = ", ".join(f"{md(label)} {number(robust['clean'][m])}" for m, label in zip(metrics, labels, strict=True))
    lines = ["## Robustness", "",
             f"On {robust['rows']} test rows (seed {robust['seed']}); clean: {clean}. A change is how much worse "
             f"the perturbed rows score (positive = worse: a drop of a score, a rise of an error).", "",
             *table(["perturbation", *(f"{md(label)} change" for label in labels),
                     *(["decisions flipped"] if decisions else []), "mean abs change"], perturbed), ""]
    if robust["invariance"]:
        lines += [*table(["invariance: column shuffled", "a feature", "rows whose score moved", "largest change"],
                         ([code(i["column"]), "yes" if i["is_feature"] else "no", number(i["violation_rate"]),
                           number(i["max_abs_change"])] for i in robust["invariance"])), ""]
    if robust["directional"]:
        lines += [*table(["directional: feature", "shift", "expected", "rows violating", "mean change"],
                         ([code(d["feature"]), f"{d['shift']:+g}", d["expect"].replace("_", " "),
                           number(d["violation_rate"]), number(d["mean_change"])] for d in robust["directional"])),
                  ""]
    return lines


def serving(card: dict[str, Any]) -> list[str]:
    serving = card["mlgate"]["serving"]
    if (reason := missing(serving)) is not None:
        return ["## Serving artifact", "", reason, ""]
    lines = ["## Serving artifact", ""]
    features = serving.get("features", {})
    if "error" in serving:
        lines += [f"Not packaged: {md(serving['error'])}", ""]
    else:
        artifact, skew, latency = serving["artifact"], serving["skew"], serving["latency"]
        lines += [
            f"- Folder: {code(artifact['path'])} ({md(artifact['exporter'])}, ONNX opset {artifact['onnx_opset']})",
            *(f"- {code(name)}: {entry['bytes']} bytes, SHA-256 `{entry['sha256']}`"
              for name, entry in sorted(artifact["files"].items())),
            f"- Skew on {skew['rows']} test rows (onnxruntime against the trained model): largest "
            f"{'difference' if skew.get('units') else 'probability difference'} {skew['max_abs_diff']:.2e}, 99th "
            f"percentile {skew['p99_abs_diff']:.2e}"
            + (f" ({md(skew['units'])})" if skew.get("units") else "")
            + (f", labels differing {skew['labels_disagreeing']} ({number(skew['label_disagreement'])})"
               if skew.get("labels_disagreeing") is not None else ""),
            f"- Single-row latency over {latency['calls']} calls after {latency['warmup_calls']} warm-up calls, "
            f"{latency['threads']} thread(s): p50 {latency['p50_ms']:.3f} ms, p95 {latency['p95_ms']:.3f} ms, "
            f"p99 {latency['p99_ms']:.3f} ms",
            f"- Throughput: {serving['throughput']['rows_per_second']:,.0f} rows/s "
            f"(batches of {serving['throughput']['batch_rows']}); size {serving['size']['model_mb']:.3f} MB; "
            f"rise of peak memory while scoring a batch {serving['memory']['peak_scoring_mb']:.1f} MB",
            "",
        ]
    if features:
        unavailable = features.get("unavailable") or []
        lines += [f"Features used: {len(features.get('used', []))}; not available at serving time: "
                  + (names(unavailable) if unavailable else "none")
                  + ("" if features.get("available") is not None else " (the spec lists no serving features)"), ""]
    return lines


def release(card: dict[str, Any]) -> list[str]:
    lines = ["## Reproducibility and champion", ""]
    again = card["mlgate"]["reproducibility"]
    if (reason := missing(again)) is not None:
        lines.append(f"- Retrain: {reason}")
    else:
        verdict = "identical" if again["identical"] else f"differs (largest difference {again['max_abs_diff']:.2e})"
        lines.append(f"- Retrain with the same data, parameters and seed on {md(again['device'])}: {verdict} "
                     f"on {again['rows']} test rows ({again['seconds']:.1f} s)")
    champion = card["mlgate"]["champion"]
    if (reason := missing(champion)) is not None:
        lines.append(f"- Champion: {reason}")
    elif champion.get("current") is None:
        lines.append(f"- Champion of {code(champion['model'])}: none promoted yet, so there is nothing to roll back to")
    else:
        current = champion["current"]
        lines.append(f"- Champion of {code(champion['model'])}: {code(current['candidate'])} of run "
                     f"`{current['run_id']}`, promoted {current['promoted_at'][:19]} by {md(current['reviewer'])}; "
                     f"{len(champion.get('available', []))} earlier champion(s) available")
        if "rescored_error" in champion:
            lines.append(f"- Not compared with the champion: {md(champion['rescored_error'])}")
        comparison = champion.get("comparison") or {}
        rows = ([METRIC_LABELS.get(name, name), number(entry["lift"], UNDEFINED), interval(entry["interval"]),
                 NOT_EVALUATED if entry["p_value"] is None else f"{entry['p_value']:.4f}"]
                for name, entry in comparison.items())
        if comparison:
            lines += ["", *table(["metric", "lift over the champion", "interval", "p (not better)"], rows)]
    return [*lines, ""]


def search(card: dict[str, Any]) -> list[str]:
    """The recorded hyper-parameter search that chose the candidate's parameters (nothing without one)."""
    found = card["mlgate"].get("search")
    if not found:
        return []
    best, scores, importances = found["best"], found["scores"], found["importances"]
    lines = ["## Hyper-parameter search", "",
             f"- {found['trials']} trials ({scores['complete']} complete, {scores['pruned']} pruned; stopped by "
             f"{md(found['stopped_by'])}) with the {md(found['sampler'])} sampler, seed {found['seed']}, "
             f"{md(found['direction'])} {code(found['metric'])} on {md(found['scored_on'])}; test rows seen by any "
             f"trial: {found['test_rows_seen'] if found['test_rows_seen'] is not None else 'not checked'}",
             f"- Best trial {best['number']}: {number(best['score'])} with "
             + ", ".join(f"{code(k)} = {md(v)}" for k, v in best["params"].items()),
             "- Score distribution: " + ", ".join(f"{k} {number(scores[k])}" for k in ("min", "q25", "median",
                                                                                         "q75", "max") if k in scores),
             ""]
    if "error" in importances:
        return [*lines, f"Parameter importances not computed: {md(importances['error'])}", ""]
    rows = ([code(name), f"{value:.3f}"] for name, value in importances["values"].items())
    return [*lines, *table(["parameter", f"importance ({md(importances['evaluator'])})"], rows), ""]

