"""The one-hot preprocessing shared by the logistic and MLP families, built so it exports exactly to ONNX.

Numerics are median-imputed and standardised; categoricals get a "(missing)" level and are one-hot encoded
over the categories frequent enough in the training rows (at least `min_frequency` rows, at most
`max_categories` levels). Rarer and unseen categories share the all-zero encoding. The categories are listed
explicitly (not sklearn's infrequent grouping) because that is what skl2onnx converts exactly; missing
categoricals arrive as the empty string (`MISSING_CATEGORY`), which is how the serving graph receives them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from engine.candidates.base import MISSING_CATEGORY, Features

MISSING_LEVEL = "(missing)"


def frequent_categories(values: pd.Series, *, min_frequency: int, max_categories: int) -> list[str]:
    """The levels of one training column one-hot encoded: at most `max_categories` of the most frequent ones
    with at least `min_frequency` rows each, sorted by name."""
    counts = values.replace(MISSING_CATEGORY, MISSING_LEVEL).value_counts()
    ranked = sorted(((int(n), str(level)) for level, n in counts.items() if n >= min_frequency),
                    key=lambda item: (-item[0], item[1]))
    return sorted(level for _, level in ranked[:max_categories])


def one_hot_preprocessor(features: Features, params: dict[str, Any], x_train: pd.DataFrame) -> ColumnTransformer:
    """An unfitted transformer whose categories come from the training rows `x_train` (a categorical frame)."""
    categories = [
        frequent_categories(x_train[c], min_frequency=params["min_frequency"], max_categories=params["max_categories"])
        for c in features.categorical
    ]
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(missing_values=MISSING_CATEGORY, strategy="constant", fill_value=MISSING_LEVEL),
        OneHotEncoder(categories=categories or "auto", handle_unknown="ignore", sparse_output=False,
                      dtype=np.float64),
    )
    return ColumnTransformer(
        [("numeric", numeric, list(features.numeric)), ("categorical", categorical, list(features.categorical))],
        verbose_feature_names_out=False,
    )


def input_origins(preprocess: ColumnTransformer, features: Features) -> NDArray[np.intp]:
    """For each model input of a fitted `one_hot_preprocessor`, the index (in `features.all`) of the original
    feature it was made from (numerics first, then each categorical's one-hot columns)."""
    widths: list[int] = []
    if features.categorical:
        encoder = preprocess.named_transformers_["categorical"].steps[-1][1]
        widths = [len(c) for c in encoder.categories_]
    offset = len(features.numeric)
    origins = [*range(offset), *(offset + i for i, w in enumerate(widths) for _ in range(w))]
    return np.asarray(origins, dtype=np.intp)
