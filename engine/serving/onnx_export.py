"""One ONNX graph per candidate, holding its preprocessing and its model, scored from the raw feature columns.

Every graph has the same interface: one input per feature column (numerics `float32`, categoricals `string` with
missing values as the empty string, each of shape [N, 1]) and one output in the task's units (`float32`):
`probability` [N], P(positive), for a binary task; `probability` [N, k], the class probabilities in the order of
the data's classes, for a multiclass one; `prediction` [N] for a regression. scikit-learn pipelines go through
skl2onnx, LightGBM through onnxmltools' converter registered with skl2onnx, the MLP through `torch.onnx` after its
skl2onnx preprocessing; the baseline and the calibrators, which have no converter, are written with the onnx helper
API. onnx, skl2onnx, onnxmltools and torch are imported here only when a graph is built.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.candidates.base import Candidate, Features, task_of
from engine.candidates.calibrated import EPS, CalibratedCandidate

OPSET = 17
ML_OPSET = 3
OUTPUT = "probability"
OUTPUTS = {"binary": OUTPUT, "multiclass": OUTPUT, "regression": "prediction"}


def _initial_types(features: Features) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return [(c, FloatTensorType([None, 1])) for c in features.numeric] + [
        (c, StringTensorType([None, 1])) for c in features.categorical
    ]


def _register_lightgbm() -> None:
    import lightgbm
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        lightgbm.LGBMClassifier, "LightGbmLGBMClassifier", calculate_linear_classifier_output_shapes,
        convert_lightgbm, options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(lightgbm.LGBMRegressor, "LightGbmLGBMRegressor",
                                calculate_linear_regressor_output_shapes, convert_lightgbm, options={"split": None})


def _convert_sklearn(estimator: Any, features: Features, options: dict[int, Any] | None = None) -> Any:
    from skl2onnx import convert_sklearn

    return convert_sklearn(estimator, initial_types=_initial_types(features), options=options,
                           target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET})


def _replace_output(model: Any, nodes: list[Any], produced: str, initializers: Sequence[Any] = (),
                    *, task: str = "binary", classes: int = 0) -> Any:
    """Append `nodes` (and constants) to the graph; `produced` (float32: [N], or [N, k] for a multiclass task)
    becomes its only output, named for the task."""
    from onnx import TensorProto, helper

    graph, name = model.graph, OUTPUTS[task]
    graph.node.extend([*nodes, helper.make_node("Identity", [produced], [name])])
    graph.initializer.extend(initializers)
    del graph.output[:]
    shape: list[Any] = [None, classes] if task == "multiclass" else [None]
    graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    return model


def _task_output(model: Any, task: str, classes: int) -> Any:
    """A scikit-learn graph reduced to the task's output: P(positive) [N], the probabilities [N, k], or the
    regression's [N, 1] prediction flattened to [N]."""
    from onnx import helper, numpy_helper

    if task == "binary":
        return _positive_column(model)
    if task == "multiclass":
        return _replace_output(model, [], model.graph.output[1].name, task=task, classes=classes)
    shape = numpy_helper.from_array(np.array([-1], dtype=np.int64), "mlgate_flat")
    reshape = helper.make_node("Reshape", [model.graph.output[0].name, shape.name], ["mlgate_prediction"])
    return _replace_output(model, [reshape], "mlgate_prediction", [shape], task=task)


def _positive_column(model: Any) -> Any:
    """A classifier graph (outputs label, probabilities [N, 2]) reduced to P(positive) [N]."""
    from onnx import helper, numpy_helper

    probabilities = model.graph.output[1].name
    one = numpy_helper.from_array(np.array(1, dtype=np.int64), "mlgate_positive_index")
    gather = helper.make_node("Gather", [probabilities, one.name], ["mlgate_positive"], axis=1)
    return _replace_output(model, [gather], "mlgate_positive", [one])


def _classes(candidate: Any) -> int:
    estimator = candidate.pipeline.steps[-1][1]
    return len(getattr(estimator, "classes_", ()))


def _sklearn_pipeline(candidate: Any, features: Features) -> Any:
    estimator, task = candidate.pipeline.steps[-1][1], task_of(candidate)
    options = {id(estimator): {"zipmap": False}} if task != "regression" else None
    return _task_output(_convert_sklearn(candidate.pipeline, features, options), task, _classes(candidate))


def _lightgbm(candidate: Any, features: Features) -> Any:
    _register_lightgbm()
    return _sklearn_pipeline(candidate, features)


def _baseline(candidate: Any, features: Features) -> Any:
    """The class prior (class frequencies, mean target) for every row: the batch size read from the first input's
    shape."""
    from onnx import TensorProto, helper

    names: list[str] = []
    for column in features.all:  # named as skl2onnx names its inputs: non-word characters become "_"
        name = re.sub(r"[^\w+]", "_", column)
        names.append(name if name not in names else f"{name}_{len(names)}")
    types = [TensorProto.FLOAT] * len(features.numeric) + [TensorProto.STRING] * len(features.categorical)
    inputs = [helper.make_tensor_value_info(n, t, [None, 1]) for n, t in zip(names, types, strict=True)]
    rows = helper.make_node("Shape", [inputs[0].name], ["mlgate_rows"], start=0, end=1)
    task = task_of(candidate)
    if task == "multiclass":
        priors = [float(p) for p in candidate.priors]
        nodes = [rows,
                 helper.make_node("Constant", [], ["mlgate_k"], value=helper.make_tensor(
                     "k", TensorProto.INT64, [1], [len(priors)])),
                 helper.make_node("Concat", ["mlgate_rows", "mlgate_k"], ["mlgate_shape"], axis=0),
                 helper.make_node("Constant", [], ["mlgate_priors"], value=helper.make_tensor(
                     "priors", TensorProto.FLOAT, [1, len(priors)], priors)),
                 helper.make_node("Expand", ["mlgate_priors", "mlgate_shape"], ["mlgate_prior"])]
    else:
        nodes = [rows, helper.make_node("ConstantOfShape", ["mlgate_rows"], ["mlgate_prior"],
                                        value=helper.make_tensor("prior", TensorProto.FLOAT, [1],
                                                                 [float(candidate.prior)]))]
    graph = helper.make_graph(nodes, "baseline", inputs, [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    classes = len(candidate.priors) if task == "multiclass" else 0
    return _replace_output(model, [], "mlgate_prior", task=task, classes=classes)


def _torch_mlp(candidate: Any, features: Features) -> Any:
    """skl2onnx preprocessing, then the network exported by torch.onnx, joined into one graph."""
    import onnx
    import torch
    from onnx import compose, helper

    preprocess = _convert_sklearn(candidate.preprocess, features)
    example = torch.zeros(2, int(candidate.training["n_inputs"]))
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(folder) / "network.onnx"
        torch.onnx.export(candidate.net, (example,), str(path), input_names=["mlgate_inputs"],
                          output_names=["mlgate_logit"], dynamic_axes={"mlgate_inputs": {0: "rows"}},
                          opset_version=OPSET, dynamo=False)
        network = onnx.load(str(path))
    network.ir_version = preprocess.ir_version = min(network.ir_version, preprocess.ir_version)
    merged = compose.merge_models(preprocess, network, io_map=[(preprocess.graph.output[0].name, "mlgate_inputs")])
    task = task_of(candidate)
    if task == "multiclass":
        softmax = helper.make_node("Softmax", ["mlgate_logit"], ["mlgate_p"], axis=1)
        return _replace_output(merged, [softmax], "mlgate_p", task=task,
                               classes=int(list(candidate.net)[-1].out_features))
    first = [helper.make_node("Sigmoid", ["mlgate_logit"], ["mlgate_p2d"])] if task == "binary" else [
        helper.make_node("Identity", ["mlgate_logit"], ["mlgate_p2d"])]
    nodes = [
        *first,
        helper.make_node("Flatten", ["mlgate_p2d"], ["mlgate_pflat"], axis=0),
        helper.make_node("Squeeze", ["mlgate_pflat"], ["mlgate_p"]),
    ]
    return _replace_output(merged, nodes, "mlgate_p", task=task)


def _calibrated(candidate: CalibratedCandidate, features: Features) -> Any:
    """The base candidate's graph followed by its calibrator, computed in float64 like the native one."""
    from onnx import TensorProto, helper, numpy_helper
    from sklearn.isotonic import IsotonicRegression

    model = export_onnx(candidate.base, features)
    base_out = "mlgate_base_probability"
    for node in model.graph.node:
        node.output[:] = [base_out if o == OUTPUT else o for o in node.output]

    def const(name: str, value: Any) -> Any:
        return numpy_helper.from_array(np.asarray(value, dtype=np.float64), name)

    nodes = [helper.make_node("Cast", [base_out], ["mlgate_s"], to=TensorProto.DOUBLE)]
    calibrator = candidate.calibrator
    if candidate.temperature is not None:  # softmax(log(clip(p, EPS, 1)) / T) over the classes, as natively
        consts = [const("temp_lo", EPS), const("temp_hi", 1.0), const("temp_t", candidate.temperature)]
        nodes += [
            helper.make_node("Clip", ["mlgate_s", "temp_lo", "temp_hi"], ["temp_c"]),
            helper.make_node("Log", ["temp_c"], ["temp_log"]),
            helper.make_node("Div", ["temp_log", "temp_t"], ["temp_z"]),
            helper.make_node("Softmax", ["temp_z"], ["mlgate_cal"], axis=1),
        ]
    elif calibrator is None:
        raise RuntimeError("calibrated candidate exported before fit")
    elif isinstance(calibrator, IsotonicRegression):
        xs = np.asarray(calibrator.X_thresholds_, dtype=np.float64)
        ys = np.asarray(calibrator.y_thresholds_, dtype=np.float64)
        if xs.size < 2:
            xs, ys = np.array([xs[0], xs[0] + 1.0]), np.array([ys[0], ys[0]])
        dx = np.diff(xs)
        slopes = np.divide(np.diff(ys), dx, out=np.zeros_like(dx), where=dx > 0)
        consts = [const("iso_lo", xs[0]), const("iso_hi", xs[-1]), const("iso_inner", xs[1:-1].reshape(1, -1)),
                  const("iso_x", xs[:-1]), const("iso_y", ys[:-1]), const("iso_slope", slopes),
                  numpy_helper.from_array(np.array([1], dtype=np.int64), "iso_axis"),
                  numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), "iso_column")]
        nodes += [
            helper.make_node("Clip", ["mlgate_s", "iso_lo", "iso_hi"], ["iso_c"]),
            helper.make_node("Reshape", ["iso_c", "iso_column"], ["iso_c2"]),
            helper.make_node("GreaterOrEqual", ["iso_c2", "iso_inner"], ["iso_ge"]),
            helper.make_node("Cast", ["iso_ge"], ["iso_ge64"], to=TensorProto.INT64),
            helper.make_node("ReduceSum", ["iso_ge64", "iso_axis"], ["iso_idx"], keepdims=0),
            helper.make_node("Gather", ["iso_x", "iso_idx"], ["iso_xi"]),
            helper.make_node("Gather", ["iso_y", "iso_idx"], ["iso_yi"]),
            helper.make_node("Gather", ["iso_slope", "iso_idx"], ["iso_si"]),
            helper.make_node("Sub", ["iso_c", "iso_xi"], ["iso_dx"]),
            helper.make_node("Mul", ["iso_dx", "iso_si"], ["iso_rise"]),
            helper.make_node("Add", ["iso_yi", "iso_rise"], ["mlgate_cal"]),
        ]
    else:
        consts = [const("platt_lo", EPS), const("platt_hi", 1 - EPS), const("platt_one", 1.0),
                  const("platt_coef", float(calibrator.coef_[0, 0])),
                  const("platt_intercept", float(calibrator.intercept_[0]))]
        nodes += [
            helper.make_node("Clip", ["mlgate_s", "platt_lo", "platt_hi"], ["platt_c"]),
            helper.make_node("Sub", ["platt_one", "platt_c"], ["platt_q"]),
            helper.make_node("Div", ["platt_c", "platt_q"], ["platt_odds"]),
            helper.make_node("Log", ["platt_odds"], ["platt_logit"]),
            helper.make_node("Mul", ["platt_logit", "platt_coef"], ["platt_scaled"]),
            helper.make_node("Add", ["platt_scaled", "platt_intercept"], ["platt_z"]),
            helper.make_node("Sigmoid", ["platt_z"], ["mlgate_cal"]),
        ]
    nodes.append(helper.make_node("Cast", ["mlgate_cal"], ["mlgate_calibrated"], to=TensorProto.FLOAT))
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(consts)
    model.graph.node.append(helper.make_node("Identity", ["mlgate_calibrated"], [OUTPUT]))
    return model


EXPORTERS: dict[str, Callable[[Any, Features], Any]] = {
    "baseline": _baseline,
    "logistic": _sklearn_pipeline,
    "lightgbm": _lightgbm,
    "torch_mlp": _torch_mlp,
}
EXPORTER_NAMES: dict[str, str] = {
    "baseline": "onnx.helper", "logistic": "skl2onnx", "lightgbm": "skl2onnx + onnxmltools",
    "torch_mlp": "skl2onnx + torch.onnx",
}


def export_onnx(candidate: Candidate, features: Features) -> Any:
    """The candidate's serving graph (an `onnx.ModelProto`), checked by the ONNX checker.

    The same fitted model always gives the same bytes: the random graph name skl2onnx draws is replaced.
    """
    import onnx

    if isinstance(candidate, CalibratedCandidate):
        model = _calibrated(candidate, features)
    else:
        model = EXPORTERS[candidate.family](candidate, features)
    model.graph.name = f"mlgate_{candidate.family}"
    model.graph.doc_string = ""
    model.doc_string = ""
    onnx.checker.check_model(model)
    return model


def exporter_name(candidate: Candidate) -> str:
    base = EXPORTER_NAMES[candidate.family]
    return f"{base} + onnx.helper (calibrator)" if isinstance(candidate, CalibratedCandidate) else base
