"""Import boundaries, checked in a fresh interpreter: the engine never loads the TUI, and the CLI starts light."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import DEFAULT_POLICY, ROOT

REPORT = "import json, sys; print(json.dumps(sorted(sys.modules)))"


def loaded_after(code: str) -> list[str]:
    """The names in `sys.modules` after running `code` in a new interpreter."""
    done = subprocess.run([sys.executable, "-c", f"{code}\n{REPORT}"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


def matching(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [name for name in modules if name.startswith(prefixes)]


def test_the_headless_engine_never_imports_textual_or_the_tui() -> None:
    modules = loaded_after("import cli.main, engine.service, engine.audit.verify, engine.policy.loader")
    assert "engine.service" in modules, "the probe really imported the engine"
    assert matching(modules, ("textual", "tui")) == []


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import cli.main", id="import-cli.main"),
        pytest.param(f"from cli.main import main\nassert main(['policy', 'validate', {str(DEFAULT_POLICY)!r}]) == 0",
                     id="policy-validate"),
    ],
)
def test_the_cli_starts_without_lightgbm_or_torch(code: str) -> None:
    modules = loaded_after(code)
    assert "cli.main" in modules
    assert matching(modules, ("lightgbm", "torch")) == []


def test_the_audit_core_loads_no_model_library_plotting_or_signing_before_it_is_needed() -> None:
    """engine.service is what every audit imports first: the families' libraries, the ONNX converters and
    runtime, MAPIE, the plotting stack, SHAP and the signing library load only in the stage that uses them."""
    modules = loaded_after("import engine.service")
    late = ("torch", "lightgbm", "skl2onnx", "onnx", "onnxruntime", "onnxmltools", "mapie", "matplotlib", "shap",
            "cryptography", "optuna", "statsmodels")
    assert {name.split(".")[0] for name in modules} & set(late) == set()


def test_the_tui_opens_without_the_model_libraries_or_the_compiled_kernels() -> None:
    """The reviewer's first screen reads the trail: the families' libraries, scikit-learn (and its SciPy) and the
    numba kernels load only when a card is drawn or an audit runs (each import took a second of the TUI's start)."""
    modules = loaded_after("import tui.app")
    assert "tui.app" in modules
    heavy = ("sklearn", "scipy", "numba", "pandas", "lightgbm", "torch", "shap", "mapie", "onnxruntime", "matplotlib")
    assert {name.split(".")[0] for name in modules} & set(heavy) == set()


def test_training_the_mlp_never_imports_torchs_compiler() -> None:
    """torch.optim and torch.use_deterministic_algorithms import torch._dynamo (seconds, ~70 MB); the MLP uses
    neither on the CPU, so the compiler stays out of an audit."""
    code = (
        "import numpy as np, pandas as pd\n"
        "from engine.candidates import FAMILIES, TrainingData\n"
        "from engine.candidates.base import Features\n"
        "rng = np.random.default_rng(0)\n"
        "x = pd.DataFrame({'a': rng.normal(size=200), 'c': rng.choice(['u', 'v'], 200)})\n"
        "y = (x['a'] > 0).to_numpy()\n"
        "m = FAMILIES['torch_mlp'].build({'epochs': 2, 'device': 'cpu'})\n"
        "m.fit(TrainingData(x[:150], y[:150], x[150:], y[150:], Features(('a',), ('c',)), 0))\n"
        "m.explain(x[:5], x[:5]); m.predict_proba(x)"
    )
    modules = loaded_after(code)
    assert "torch" in modules, "the probe really trained the MLP"
    assert matching(modules, ("torch._dynamo", "torch._inductor", "sympy")) == []


def test_the_cli_process_sets_only_unset_thread_defaults_and_exits_with_its_output_flushed() -> None:
    """cli/process.py: OMP_WAIT_POLICY and OPENBLAS_NUM_THREADS default before numpy loads, a value already set
    is kept, and `finish` exits with the command's code after everything printed has reached the pipe."""
    code = ("import os, sys\n"
            "from cli.process import configure, finish\n"
            "configure()\n"
            "print(os.environ['OMP_WAIT_POLICY'], os.environ['OPENBLAS_NUM_THREADS'], end=' ')\n"
            "sys.stderr.write('on stderr')\n"
            "finish(3)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          check=False, env={**env, "OPENBLAS_NUM_THREADS": "4"})
    assert (done.returncode, done.stdout, done.stderr) == (3, "PASSIVE 4 ", "on stderr")
