"""Every family on a regression and a multiclass target: fit seconds, the served ONNX artifact's parity with the
trained model in the output's own units, and scikit-learn's loss on the test rows against the baseline's.

    python -m bench.task_parity [--data examples/wage/wage.csv]

Regression on `wage` (`logwage` left out), multiclass on `education`, split as an audit splits them. Prints one
line per family and task: seconds to fit, seconds to score the artifact with onnxruntime, the largest |ONNX -
native| difference (the target's units for a regression, probabilities for a multiclass task), the rate at which
the most probable class differs, and the test loss (RMSE or log loss) next to the baseline's.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, mean_squared_error

from engine.candidates import FAMILIES, TrainingData
from engine.data import load_dataset
from engine.serving import measure
from engine.serving.onnx_export import export_onnx
from engine.serving.schema import feeds, input_schema
from engine.spec import DEFAULT_MISSING_VALUES, DataSpec, SplitSpec
from engine.split import split_rows

TARGETS = {"regression": ("wage", ("logwage",)), "multiclass": ("education", ("logwage",))}


def _loss(task: str, y: np.ndarray, out: np.ndarray) -> float:
    if task == "regression":
        return float(np.sqrt(mean_squared_error(y, out)))
    return float(log_loss(y, out / out.sum(axis=1, keepdims=True), labels=list(range(out.shape[1]))))


def run(path: Path, task: str) -> None:
    target, left_out = TARGETS[task]
    frame = pd.read_csv(path)
    features = tuple(c for c in frame.columns if c not in (target, *left_out))
    data = load_dataset(DataSpec(path, target, None, (), features, False, DEFAULT_MISSING_VALUES, task=task))
    splits = split_rows(data.y, SplitSpec(test=0.2, validation=0.2, seed=42))
    x = data.frame
    training = TrainingData(x.iloc[splits.train], data.y[splits.train], x.iloc[splits.validation],
                            data.y[splits.validation], data.features, 42, task, max(len(data.classes), 2))
    x_test, y_test = x.iloc[splits.test], data.y[splits.test]
    losses = {}
    for name, family in FAMILIES.items():
        model = family.build(dict(family.default_params))
        started = time.perf_counter()
        model.fit(training)
        fit = time.perf_counter() - started
        native = model.predict_proba(x_test)
        graph = export_onnx(model, data.features)
        schema = input_schema(data.features, training.x_train, [i.name for i in graph.graph.input])
        session = measure.session(graph.SerializeToString(), threads=1)
        inputs = feeds(schema, x_test)
        started = time.perf_counter()
        served = measure.score(session, inputs)
        score = time.perf_counter() - started
        skew = measure.task_skew(served, native, 0.5, task)
        losses[name] = _loss(task, y_test, native)
        disagree = skew["label_disagreement"]
        print(f"{task:10} {name:9} fit {fit:6.2f} s  onnx score {score * 1e3:7.2f} ms ({len(x_test)} rows)  "
              f"max |onnx-native| {skew['max_abs_diff']:.3g}  "
              f"argmax differs {'-' if disagree is None else f'{disagree:.4f}'}  "
              f"{'RMSE' if task == 'regression' else 'log loss'} {losses[name]:.4f} "
              f"(baseline {losses['baseline']:.4f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("examples/wage/wage.csv"))
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (1 min)")
    for task in TARGETS:
        run(args.data, task)


if __name__ == "__main__":
    main()
