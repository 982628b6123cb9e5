"""A tabular MLP in PyTorch: one-hot categoricals, standardised numerics, early stopping on the validation split.

Preprocessing is the shared `onehot` transformer, fitted on the training rows only. Training uses CUDA with
mixed precision when it is available (or when the spec forces `device = "cuda"`), else the CPU in float32;
the device, its name and the precision are recorded. On the CPU the optimiser is `adamw.AdamW` (torch's AdamW
update as plain tensor operations, so torch's compiler is never imported). Seeds, a seeded shuffling generator,
deterministic algorithms and a fixed thread count make a CPU retrain bit-identical. The best epoch (lowest
validation loss) is restored, and the trained network is moved to the CPU for scoring, which is what gets
exported. The head follows the task: one logit (binary log loss), one logit per class (softmax, cross-entropy) or
one value (regression: squared error on the standardised target, whose scale is then folded into the last layer,
so the network itself outputs the target's units).
torch is imported only when a candidate of this family is fitted or scores.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.compose import ColumnTransformer

from engine.candidates.adamw import AdamW
from engine.candidates.base import MISSING_CATEGORY, Contributions, Family, Features, TrainingData, categorical_frame
from engine.candidates.mlp_attribution import forward, per_output, rescale_attributions
from engine.candidates.onehot import input_origins, one_hot_preprocessor

DEFAULTS: dict[str, Any] = {
    "hidden_sizes": [64, 32],
    "dropout": 0.1,
    "weight_decay": 1e-4,
    "learning_rate": 1e-3,
    "batch_size": 256,
    "epochs": 30,
    "patience": 5,
    "max_categories": 50,
    "min_frequency": 5,
    "device": "auto",
    "threads": 1,
}
LOSS_NAMES = {"binary": "log loss", "multiclass": "cross-entropy", "regression": "squared error (standardised)"}


@contextmanager
def _deterministic(torch: Any, seed: int, threads: int) -> Iterator[None]:
    """Seeded, deterministic torch with a fixed thread count, restoring the process-wide settings afterwards.

    The deterministic flag is set where `torch.use_deterministic_algorithms` sets it for eager operations
    (`torch._C`): the public function also imports the compiler's configuration (torch._inductor, and with it
    torch._dynamo: seconds and about 70 MB) only to flag compiled code deterministic, and nothing here compiles.
    """
    flags = torch._C
    previous = (flags._get_deterministic_algorithms(), flags._get_deterministic_algorithms_warn_only(),
                torch.get_num_threads())
    torch.manual_seed(seed)
    flags._set_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        flags._set_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.set_num_threads(previous[2])


def _device(torch: Any, wanted: str) -> tuple[Any, str, str]:
    """The torch device, its name and the training precision."""
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device = 'cuda' was asked for, but torch.cuda.is_available() is False")
    if wanted == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu"), "cpu", "float32"
    precision = "mixed bfloat16" if torch.cuda.is_bf16_supported() else "mixed float16"
    return torch.device("cuda"), str(torch.cuda.get_device_name(0)), precision


def _network(torch: Any, n_inputs: int, hidden: list[int], dropout: float, outputs: int = 1) -> Any:
    layers: list[Any] = []
    width = n_inputs
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU(), torch.nn.Dropout(dropout)]
        width = size
    layers.append(torch.nn.Linear(width, outputs))
    return torch.nn.Sequential(*layers)


def _optimiser_step(torch: Any, net: Any, device: Any, p: dict[str, Any], amp_dtype: Any) -> Callable[[Any], None]:
    """One AdamW update from a batch's loss: on the CPU the plain-tensor AdamW of `adamw` (bit-identical to
    torch's, without importing torch's compiler), on CUDA torch's own, with a gradient scaler for float16."""
    if device.type == "cpu":
        plain = AdamW(torch, list(net.parameters()), lr=p["learning_rate"], weight_decay=p["weight_decay"])

        def cpu_step(loss: Any) -> None:
            plain.zero_grad()
            loss.backward()
            plain.step()

        return cpu_step
    optimiser = torch.optim.AdamW(net.parameters(), lr=p["learning_rate"], weight_decay=p["weight_decay"])
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    def cuda_step(loss: Any) -> None:
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()

    return cuda_step
def _head(torch: Any, data: TrainingData) -> tuple[Any, int, Any]:
    """The task's loss, the network's output width and the label dtype its loss takes."""
    if data.task == "multiclass":
        return torch.nn.CrossEntropyLoss(), data.n_classes, np.int64
    if data.task == "regression":
        return torch.nn.MSELoss(), 1, np.float32
    return torch.nn.BCEWithLogitsLoss(), 1, np.float32


def _fold_scale(torch: Any, net: Any, mean: float, scale: float) -> None:
    """Make the last layer output `mean + scale * output`: the network then predicts in the target's units."""
    last = list(net)[-1]
    with torch.no_grad():
        last.weight.mul_(scale)
        last.bias.mul_(scale).add_(mean)


class TorchMLPCandidate:
    family = "torch_mlp"

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = {**DEFAULTS, **params}
        self.features: Features | None = None
        self.preprocess: ColumnTransformer | None = None
        self.net: Any = None
        self.training: dict[str, Any] = {}
        self.task = "binary"

    def _inputs(self, x: pd.DataFrame) -> NDArray[np.float32]:
        if self.preprocess is None or self.features is None:
            raise RuntimeError("torch_mlp candidate used before fit")
        frame = categorical_frame(x, self.features, missing=MISSING_CATEGORY)
        return np.ascontiguousarray(self.preprocess.transform(frame), dtype=np.float32)

    def fit(self, data: TrainingData) -> None:
        import torch

        self.features = data.features
        self.task = data.task
        x_train = categorical_frame(data.x_train, data.features, missing=MISSING_CATEGORY)
        self.preprocess = one_hot_preprocessor(data.features, self.params, x_train).fit(x_train)
        with _deterministic(torch, data.seed, int(self.params["threads"])):
            self._train(torch, data)

    def _train(self, torch: Any, data: TrainingData) -> None:
        p = self.params
        device, device_name, precision = _device(torch, str(p["device"]))
        loss_fn, width, label_type = _head(torch, data)
        centre, scale = (float(np.mean(data.y_train)), float(np.std(data.y_train)) or 1.0) \
            if data.task == "regression" else (0.0, 1.0)
        x = torch.from_numpy(self._inputs(data.x_train)).to(device)
        y = torch.from_numpy(((data.y_train - centre) / scale).astype(label_type)).to(device)
        x_valid = torch.from_numpy(self._inputs(data.x_valid)).to(device)
        y_valid = torch.from_numpy(((data.y_valid - centre) / scale).astype(label_type)).to(device)
        net = _network(torch, int(x.shape[1]), list(p["hidden_sizes"]), float(p["dropout"]), width).to(device)
        squeeze = width == 1
        amp_dtype = {"mixed bfloat16": torch.bfloat16, "mixed float16": torch.float16}.get(precision)
        step = _optimiser_step(torch, net, device, p, amp_dtype)
        shuffle = torch.Generator().manual_seed(data.seed)
        best = (float("inf"), 0, copy.deepcopy(net.state_dict()))
        epochs_run = 0
        for epoch in range(1, int(p["epochs"]) + 1):
            net.train()
            order = torch.randperm(int(x.shape[0]), generator=shuffle).to(device)
            for batch in order.split(int(p["batch_size"])):
                with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                    out = net(x[batch])
                    loss = loss_fn(out.squeeze(1) if squeeze else out.float(), y[batch])
                step(loss)
            net.eval()
            with torch.no_grad():
                out = net(x_valid).float()
                valid_loss = float(loss_fn(out.squeeze(1) if squeeze else out, y_valid))
            epochs_run = epoch
            if valid_loss < best[0]:
                best = (valid_loss, epoch, copy.deepcopy(net.state_dict()))
            elif epoch - best[1] >= int(p["patience"]):
                break
        net.load_state_dict(best[2])
        self.net = net.to("cpu").eval()
        if data.task == "regression":
            _fold_scale(torch, self.net, centre, scale)
        self.training = {
            "device": device.type, "device_name": device_name, "precision": precision,
            "torch": str(torch.__version__), "threads": int(p["threads"]),
            "early_stopping": {"metric": f"{LOSS_NAMES[data.task]} on the validation split", "best_epoch": best[1],
                               "best_validation_loss": best[0], "epochs_run": epochs_run},
            "n_inputs": int(x.shape[1]), "n_parameters": int(sum(t.numel() for t in net.parameters())),
        }

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        inputs = self._inputs(x)
        if self.net is None:
            raise RuntimeError("torch_mlp candidate used before fit")
        import torch

        with torch.no_grad():
            out = self.net(torch.from_numpy(inputs))
            if self.task == "multiclass":
                return np.asarray(torch.softmax(out, dim=1).numpy(), dtype=np.float64)
            if self.task == "regression":
                return np.asarray(out.squeeze(1).numpy(), dtype=np.float64)
            return np.asarray(torch.sigmoid(out.squeeze(1)).numpy(), dtype=np.float64)

    def explain(self, x: pd.DataFrame, background: pd.DataFrame) -> Contributions:
        """DeepSHAP (DeepLIFT rescale against each background row) in float64 on the trained weights, one-hot
        inputs summed back into the feature they came from (`mlp_attribution`): of P(positive) for a binary
        network; of the raw output (a regression's prediction, each class's logit) otherwise, checked against the
        network's float64 forward pass (its float32 scoring differs from that by rounding only)."""
        if self.preprocess is None or self.features is None or self.net is None:
            raise RuntimeError("torch_mlp candidate used before fit")
        layers = [(m.weight.detach().double().numpy(), m.bias.detach().double().numpy())
                  for m in self.net if hasattr(m, "weight")]
        inputs, references = (self._inputs(x).astype(np.float64),  # exactly what the network is fed
                              self._inputs(background).astype(np.float64))
        origins = input_origins(self.preprocess, self.features)
        if origins.size != inputs.shape[1]:
            raise RuntimeError(f"{origins.size} model inputs traced back to features, but the network has "
                               f"{inputs.shape[1]}")
        method = (f"DeepSHAP: DeepLIFT rescale rule in float64 against each of {len(background)} background rows, "
                  "averaged (additive by construction)")
        if self.task != "binary":
            values, base = per_output(layers, inputs, references)
            by_class = np.zeros((len(x), len(self.features.all), values.shape[2]))
            np.add.at(by_class.transpose(1, 0, 2), origins, values.transpose(1, 0, 2))
            raw = forward(layers, inputs)
            if self.task == "regression":
                return Contributions(by_class[:, :, 0], float(base[0]), raw[:, 0], "prediction", method)
            return Contributions(by_class, base, raw, "class_logits", method)
        values, reference_out = rescale_attributions(layers, inputs, references)
        by_feature = np.zeros((len(x), len(self.features.all)))
        np.add.at(by_feature.T, origins, values.T)
        return Contributions(by_feature, float(reference_out.mean()), self.predict_proba(x), "probability", method)

    def describe(self) -> dict[str, Any]:
        return {"params": self.params, **self.training}


FAMILY = Family(
    name="torch_mlp",
    summary="PyTorch MLP: one-hot categoricals, standardised numerics, early stopping on the validation split",
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "hidden_sizes": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 4096},
                             "minItems": 1, "maxItems": 8},
            "dropout": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
            "weight_decay": {"type": "number", "minimum": 0},
            "learning_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "batch_size": {"type": "integer", "minimum": 1, "maximum": 1048576},
            "epochs": {"type": "integer", "minimum": 1, "maximum": 10000},
            "patience": {"type": "integer", "minimum": 1},
            "max_categories": {"type": "integer", "minimum": 2, "maximum": 1000},
            "min_frequency": {"type": "integer", "minimum": 1},
            "device": {"enum": ["auto", "cpu", "cuda"],
                       "description": "auto: CUDA (mixed precision) when available, else the CPU"},
            "threads": {"type": "integer", "minimum": 1, "maximum": 1024,
                        "description": "CPU threads while training (fixed, so a retrain is bit-identical)"},
        },
    },
    default_params=DEFAULTS,
    build=TorchMLPCandidate,
)
