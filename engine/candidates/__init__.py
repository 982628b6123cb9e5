"""Model families, one module each, behind the `Candidate` interface of `base`.

`FAMILIES` is the explicit registry: the spec schema's list of families is tested to equal its keys.
A family imports its heavy library (lightgbm, torch) only when a candidate is fitted. A model trained
elsewhere (`external`, read from a file) is a candidate but not a family: nothing is trained.
"""

from __future__ import annotations

from engine.candidates import baseline, external, lgbm, logistic, torch_mlp
from engine.candidates.base import Candidate, Family, Features, TrainingData

FAMILIES: dict[str, Family] = {f.name: f for f in (baseline.FAMILY, logistic.FAMILY, lgbm.FAMILY, torch_mlp.FAMILY)}
BASELINE = baseline.FAMILY.name
EXTERNAL = external.EXTERNAL

__all__ = ["BASELINE", "EXTERNAL", "FAMILIES", "Candidate", "Family", "Features", "TrainingData"]
