"""The project's shape: the import-linter contracts hold (and catch a forbidden import), no import cycle among the
modules of engine, cli and tui, no module of theirs over 400 lines, and no private helper imported across modules."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGES = ("engine", "cli", "tui")
MAX_LINES = 400
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the project at `root` (its pyproject.toml and packages, nothing else on the path)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], capture_output=True, text=True, cwd=root, env=env,
                          timeout=300, check=False)


def test_the_import_contracts_hold() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract", "named"),
    [
        ("engine/errors.py", "import click", "engine is headless: no cli, tui, click, rich or textual",
         "engine.errors -> click"),
        ("tui/text.py", "import cli.output", "the front ends cli and tui are independent", "tui.text -> cli.output"),
        ("engine/audit/trail.py", "import engine.service", "trail, evaluation and policy do not import engine.service",
         "engine.audit.trail -> engine.service"),
    ],
    ids=["engine-imports-click", "tui-imports-cli", "trail-imports-the-orchestrator"],
)
def test_a_forbidden_import_breaks_its_contract(module: str, line: str, contract: str, named: str,
                                                tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    changed = tmp_path / module
    changed.write_text(changed.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    done = lint_imports(tmp_path)
    assert done.returncode != 0, done.stdout
    assert "2 kept, 1 broken" in done.stdout
    broken = done.stdout.partition("Broken contracts")[2]
    assert contract in broken, done.stdout
    assert named in broken


def project_modules() -> dict[str, Path]:
    """Every module of engine, cli and tui by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """Every project module `module` imports anywhere in its file: at module level, in functions, under
    `if TYPE_CHECKING:`. `from pkg import name` counts as pkg.name when that is a module, else as pkg."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import engine.audit.trail.X` style: the module part
                target = target.rpartition(".")[0]
            if target and target != module:
                yield target


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: set(imported_names(name, path, modules)) for name, path in modules.items()}


def cycle_groups(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that reach each other through imports (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each group of modules that import each other."""
    return [one_cycle(graph, group) for group in cycle_groups(graph)]


def one_cycle(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {group}")


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_tree() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_every_kind_of_import_is_an_edge(tmp_path: Path) -> None:
    source = tmp_path / "one.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import pkg.two\n"
        "from . import three\n"
        "from .four import helper\n"
        "if TYPE_CHECKING:\n"
        "    from pkg.five import Five\n"
        "def later() -> None:\n"
        "    import pkg.six.attribute\n",
        encoding="utf-8",
    )
    modules = dict.fromkeys(["pkg", "pkg.one", "pkg.two", "pkg.three", "pkg.four", "pkg.five", "pkg.six"], source)
    found = set(imported_names("pkg.one", source, modules))
    assert found == {"pkg.two", "pkg.three", "pkg.four", "pkg.five", "pkg.six"}


def test_the_graph_sees_imports_in_functions() -> None:
    graph = import_graph()
    assert "engine.policy.explain" in graph["cli.author"], "cli.author imports it inside `policy explain`"
    assert not any(name.startswith("tui") for name in graph["cli.main"]), "`mlgate tui` runs `python -m tui`"
    assert {"cli.author", "cli.output", "cli.progress", "engine.errors"} <= graph["cli.main"]
    assert len(graph) > 60


def test_no_import_cycle_among_the_modules_of_engine_cli_and_tui() -> None:
    graph = import_graph()
    found = [f"{' -> '.join(one_cycle(graph, group))} (the group: {', '.join(group)})" for group in cycle_groups(graph)]
    assert found == [], "import cycles:\n" + "\n".join(found)


def test_no_module_is_over_400_lines() -> None:
    lengths = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in project_modules().items()}
    assert lengths["cli.main"] > 0
    over = {name: count for name, count in sorted(lengths.items()) if count > MAX_LINES}
    assert over == {}, f"modules over {MAX_LINES} lines: {over}"


def private_imports(modules: dict[str, Path]) -> list[str]:
    """Every `from module import _name` (or `import module._name`) of one project module from another."""
    found = []
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
                found += [f"{module}: from {node.module} import {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
            elif isinstance(node, ast.Import):
                found += [f"{module}: import {a.name}" for a in node.names
                          if a.name.split(".")[0] in PACKAGES and any(p.startswith("_") and not p.startswith("__")
                                                                      for p in a.name.split("."))]
    return found


def test_no_private_helper_is_imported_from_another_module(tmp_path: Path) -> None:
    assert private_imports(project_modules()) == []
    bad = tmp_path / "bad.py"
    bad.write_text("from engine.policy.rules import _bound\n", encoding="utf-8")
    assert private_imports({"bad": bad}) == ["bad: from engine.policy.rules import _bound"], "the check can fail"
