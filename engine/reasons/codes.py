"""Reason codes: for each adverse decision, the features that pushed the served score furthest towards it, each
said in the spec's words, with the protected ones withheld and the withholding stated.

A feature is never given as a reason when it is a sensitive column, or when the run's proxy screen flagged it
(its association with a sensitive column, normalised mutual information on the test split, at or above the
screen's threshold). It is then listed as withheld, with the score that withheld it, wherever it would have
ranked among the top reasons: a reviewer sees that the model leaned on it even though the applicant is not told.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.reasons.attribution import Attribution

DEFAULT_TOP = 4
ADVERSE = ("positive", "negative")


@dataclass(frozen=True)
class Screen:
    """Which features may not be reasons, and why (one sentence each)."""

    why: dict[str, str]
    threshold: float | None

    def withheld(self, feature: str) -> str | None:
        return self.why.get(feature)


def screen(explanations: Mapping[str, Any] | None, sensitive: Sequence[str]) -> Screen:
    """The sensitive columns and the proxies the run's explanation evidence flagged."""
    why = {name: "a sensitive column" for name in sensitive}
    threshold = None
    if isinstance(explanations, Mapping) and "ranking" in explanations:
        threshold = float(explanations.get("proxy_threshold", 0.2))
        for entry in explanations["ranking"]:
            feature = entry["feature"]
            if entry.get("sensitive"):
                why.setdefault(feature, "a sensitive column")
            strongest = max((entry.get("associations") or {}).items(), key=lambda kv: kv[1], default=None)
            if strongest is not None and strongest[1] > threshold and feature not in why:
                why[feature] = (f"a proxy of {strongest[0]} (normalized mutual information {strongest[1]:.3f} "
                                f"> {threshold:g})")
    return Screen(why, threshold)


def adverse_mask(proba: NDArray[np.float64], *, threshold: float, adverse: str) -> NDArray[np.bool_]:
    """The rows decided adversely: scored at or above the threshold when the positive label is the adverse one."""
    positive = proba >= threshold
    return np.asarray(positive if adverse == "positive" else ~positive, dtype=bool)


def _text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def row_reasons(contribution: NDArray[np.float64], values: Sequence[Any], *, features: Sequence[str],
                catalog: Mapping[str, str], screened: Screen, top: int, sign: float) -> dict[str, Any]:
    """One decision's top reasons and what was withheld among them."""
    pushed = sign * contribution
    order = [j for j in np.argsort(-pushed, kind="mergesort") if pushed[j] > 0]
    reasons: list[dict[str, Any]] = []
    withheld: list[dict[str, Any]] = []
    for j in order:
        if len(reasons) >= top:
            break
        feature = features[j]
        why = screened.withheld(feature)
        entry = {"feature": feature, "value": _text(values[j]), "contribution": float(contribution[j])}
        if why is not None:
            withheld.append({**entry, "would_rank": len(reasons) + len(withheld) + 1, "why": why})
            continue
        reasons.append({**entry, "rank": len(reasons) + 1, "text": catalog.get(feature, feature)})
    return {"reasons": reasons, "withheld": withheld}


def decisions(attribution: Attribution, x: pd.DataFrame, proba: NDArray[np.float64], rows: NDArray[np.intp], *,
              catalog: Mapping[str, str], screened: Screen, top: int, adverse: str,
              threshold: float) -> list[dict[str, Any]]:
    """The reasons of each row in `rows` (positions in `x` and in the attribution)."""
    sign = 1.0 if adverse == "positive" else -1.0
    features = attribution.features
    matrix = x.loc[:, features].to_numpy(dtype=object)
    error = attribution.error
    out = []
    for i in rows:
        found = row_reasons(attribution.values[i], matrix[i], features=features, catalog=catalog,
                            screened=screened, top=top, sign=sign)
        adverse_row = bool(proba[i] >= threshold) == (adverse == "positive")
        out.append({"row": int(i), "score": float(proba[i]), "adverse": adverse_row,
                    "output": float(attribution.output[i]), "error": float(error[i]), **found})
    return out


def summary(explained: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How often each feature is a reason (any rank, and the principal one) and how often one was withheld."""
    any_rank = Counter(r["feature"] for d in explained for r in d["reasons"])
    principal = Counter(d["reasons"][0]["feature"] for d in explained if d["reasons"])
    withheld = Counter(w["feature"] for d in explained for w in d["withheld"])
    return {
        "decisions": len(explained),
        "reasons": [{"feature": f, "decisions": n, "principal": principal.get(f, 0)}
                    for f, n in any_rank.most_common()],
        "withheld": [{"feature": f, "decisions": n} for f, n in withheld.most_common()],
        "decisions_with_withheld": sum(1 for d in explained if d["withheld"]),
    }
