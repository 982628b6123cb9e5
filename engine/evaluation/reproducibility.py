"""Does a retrain reproduce the candidate? It is trained again (engine.train) and its test scores compared here.

The evidence is the comparison of the two models' probabilities on the test split: the largest absolute
difference, whether they are bit-identical, how many decisions at the threshold flip, and the seconds the
retrain took. On the CPU every shipped family is deterministic, so the `reproducible` rule expects identical
scores there; a family that trains elsewhere records its `device` in its description, and the rule may allow a
stated tolerance off the CPU. When no retrain ran (the spec turned it off, or a model was trained elsewhere and
has no trainer here) the evidence says why, and the rule is `unknown`, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

METHOD = "retrained on the same training split with the same parameters and seed; test-split probabilities compared"


def device_of(description: Mapping[str, Any]) -> str:
    """Where a candidate trained, as its description says (`device`: a name or {"type": ...}); the CPU if unsaid."""
    device = description.get("device")
    if isinstance(device, Mapping):
        device = device.get("type")
    return str(device) if device else "cpu"


def not_retrained(reason: str) -> dict[str, Any]:
    """The evidence when no retrain was run, with the reason a reviewer reads."""
    return {"retrained": False, "reason": reason}


def compare_predictions(reference: NDArray[np.float64], retrained: NDArray[np.float64], *, threshold: float,
                        seconds: float, device: str) -> dict[str, Any]:
    """How far a retrain's probabilities are from the original's on the same rows."""
    reference = np.asarray(reference, dtype=np.float64)
    retrained = np.asarray(retrained, dtype=np.float64)
    finite = bool(np.all(np.isfinite(retrained)))
    difference = np.abs(reference - retrained)
    flipped = np.count_nonzero((reference >= threshold) != (retrained >= threshold))
    return {
        "retrained": True,
        "method": METHOD,
        "device": device,
        "rows": int(reference.size),
        "identical": bool(np.array_equal(reference, retrained)),
        "max_abs_diff": float(difference.max()) if finite and reference.size else (0.0 if finite else None),
        "label_disagreement": float(flipped / reference.size) if reference.size else 0.0,
        "non_finite": int(np.count_nonzero(~np.isfinite(retrained))),
        "seconds": round(seconds, 3),
    }



def failed(error: str, *, seconds: float, device: str) -> dict[str, Any]:
    """The evidence when the retrain was run and failed (to fit, or to score): that failure is the finding."""
    return {"retrained": True, "method": METHOD, "device": device, "error": error, "seconds": round(seconds, 3)}
