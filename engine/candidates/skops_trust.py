"""Which skops files mlgate loads: only trees of listed estimator and transformer classes, never a callable.

A skops file is a zip holding `schema.json`, a tree of nodes that says what each object is (`__loader__`: how
skops rebuilds it, `__module__` and `__class__`: what it is). skops itself trusts numpy ufuncs and asks the
caller about the rest, and trusting "whatever starts with sklearn. or numpy." lets a `FunctionTransformer`
hold a library function that writes or reads files (`sklearn.datasets.dump_svmlight_file`, `numpy.fromfile`),
which then runs while the model scores. So the tree is walked before skops loads anything: data nodes (dicts,
lists, arrays, strings, numbers) pass, objects and types pass only when their class is in `ALLOWED_CLASSES` or
`ALLOWED_TYPES`, and every other node (a function, a method, a `functools.partial`, an operator, an unknown
class) is refused by name. A `FunctionTransformer` is listed, so one without a function (the identity) loads;
one with a `func` or `inverse_func` holds a function node and is refused.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: skops loaders that rebuild plain data, never an object of a class the file chooses.
DATA_LOADERS = frozenset({"DictNode", "ListNode", "TupleNode", "JsonNode", "NdArrayNode", "SparseMatrixNode",
                          "SliceNode", "DTypeNode"})
#: skops loaders that rebuild an instance or a type named by the file: checked against the lists below.
OBJECT_LOADERS = frozenset({"ObjectNode", "ReduceNode", "TreeNode", "LossNode", "RandomStateNode",
                            "RandomGeneratorNode", "BitGeneratorNode"})
TYPE_LOADERS = frozenset({"TypeNode"})

#: The estimator and transformer classes (and the fitted parts they hold) a skops file may contain.
ALLOWED_CLASSES = frozenset({
    "sklearn.pipeline.Pipeline", "sklearn.pipeline.FeatureUnion",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.impute._base.SimpleImputer", "sklearn.impute._base.MissingIndicator", "sklearn.impute._knn.KNNImputer",
    "sklearn.preprocessing._data.StandardScaler", "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.MaxAbsScaler", "sklearn.preprocessing._data.RobustScaler",
    "sklearn.preprocessing._data.QuantileTransformer", "sklearn.preprocessing._data.PowerTransformer",
    "sklearn.preprocessing._data.Normalizer", "sklearn.preprocessing._data.Binarizer",
    "sklearn.preprocessing._encoders.OneHotEncoder", "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._target_encoder.TargetEncoder", "sklearn.preprocessing._discretization.KBinsDiscretizer",
    "sklearn.preprocessing._polynomial.PolynomialFeatures", "sklearn.preprocessing._polynomial.SplineTransformer",
    "sklearn.preprocessing._function_transformer.FunctionTransformer", "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.feature_selection._variance_threshold.VarianceThreshold",
    "sklearn.decomposition._pca.PCA", "sklearn.decomposition._truncated_svd.TruncatedSVD",
    "sklearn.linear_model._logistic.LogisticRegression", "sklearn.linear_model._logistic.LogisticRegressionCV",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier", "sklearn.linear_model._ridge.RidgeClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier", "sklearn.tree._classes.ExtraTreeRegressor", "sklearn.tree._tree.Tree",
    "sklearn.ensemble._forest.RandomForestClassifier", "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._gb.GradientBoostingClassifier", "sklearn.ensemble._bagging.BaggingClassifier",
    "sklearn.ensemble._weight_boosting.AdaBoostClassifier",
    "sklearn.ensemble._voting.VotingClassifier", "sklearn.ensemble._stacking.StackingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.loss.HalfBinomialLoss", "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss.link.LogitLink", "sklearn._loss.link.Interval",
    "sklearn.dummy.DummyClassifier", "sklearn.naive_bayes.GaussianNB", "sklearn.naive_bayes.BernoulliNB",
    "sklearn.naive_bayes.MultinomialNB", "sklearn.naive_bayes.CategoricalNB",
    "sklearn.neighbors._classification.KNeighborsClassifier", "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree", "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.svm._classes.SVC", "sklearn.svm._classes.LinearSVC",
    "sklearn.calibration.CalibratedClassifierCV", "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration", "sklearn.isotonic.IsotonicRegression",
    "numpy.random.mtrand.RandomState", "numpy.random._generator.Generator", "numpy.random._pcg64.PCG64",
})
#: Types a fitted estimator may hold as a value (an encoder's `dtype`): numbers, text and booleans only.
ALLOWED_TYPES = frozenset({
    "builtins.str", "builtins.int", "builtins.float", "builtins.bool", "builtins.object", "numpy.dtype",
    "numpy.float64", "numpy.float32", "numpy.float16", "numpy.int64", "numpy.int32", "numpy.int16", "numpy.int8",
    "numpy.uint64", "numpy.uint32", "numpy.uint16", "numpy.uint8", "numpy.bool_", "numpy.str_", "numpy.object_",
})


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every node of a skops schema (a dict with a `__loader__`), depth first, without recursion."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _is_trusted(node: dict[str, Any]) -> bool:
    loader = node.get("__loader__")
    name = f"{node.get('__module__')}.{node.get('__class__')}"
    if loader in DATA_LOADERS:
        return True
    if loader in OBJECT_LOADERS:
        return name in ALLOWED_CLASSES
    if loader in TYPE_LOADERS:
        return name in ALLOWED_TYPES
    return False


def untrusted_types(path: Path) -> list[str]:
    """The names of every node of the file's tree mlgate does not trust (sorted; empty: safe to load).

    Raises `ValueError` (or an OSError / zipfile error) when the file is not a skops archive with a schema."""
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    refused = {f"{node.get('__module__')}.{node.get('__class__')}" for node in _nodes(schema) if not _is_trusted(node)}
    return sorted(refused)
