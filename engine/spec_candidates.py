"""The checks of a spec's candidates that the spec schema cannot express, kept apart from `engine.spec` (which
reads and assembles the spec) because each candidate is checked against its family's own parameter schema."""

from __future__ import annotations

from typing import Any

from engine.candidates import BASELINE, FAMILIES
from engine.jsonfiles import schema_errors


def candidate_problems(candidates: list[dict[str, Any]]) -> list[str]:
    """Every problem of the spec's candidates the schema cannot see, each with its JSON path: duplicate or
    reserved names, a family and a model file together or neither, parameters against the family's schema, and
    a search's space against the parameters it may tune."""
    problems: list[str] = []
    seen: set[str] = set()
    for index, candidate in enumerate(candidates):
        name = candidate["name"]
        if name in seen:
            problems.append(f"/candidates/{index}/name: duplicate candidate name {name!r}")
        seen.add(name)
        if name == BASELINE and candidate.get("family") != BASELINE:
            problems.append(f"/candidates/{index}/name: the name {BASELINE!r} is reserved for the baseline")
        for method in candidate.get("calibration", []):
            variant = f"{name}.{method}"
            if variant in seen:
                problems.append(f"/candidates/{index}/calibration: variant name {variant!r} is already taken")
            seen.add(variant)
        if ("model" in candidate) == ("family" in candidate):
            both = "model" in candidate
            problems.append(f"/candidates/{index}: " + ("give a family to train or a model file (model), not both"
                                                        if both else "needs a family to train or a model file (model)"))
            continue
        if "model" not in candidate and "sha256" in candidate:
            problems.append(f"/candidates/{index}/sha256: only a model file (model) has a SHA-256 to pin")
        if "model" in candidate:
            for key, what in (("params", "takes no parameters"), ("search", "has no parameters to tune")):
                if key in candidate:
                    problems.append(f"/candidates/{index}/{key}: a model file (model) {what}")
            continue
        family = FAMILIES[candidate["family"]]
        for problem in schema_errors(candidate.get("params", {}), family.params_schema):
            path, _, message = problem.partition(": ")
            problems.append(f"/candidates/{index}/params{path.rstrip('/')}: {message}")
        problems += search_problems(candidate, family.params_schema, f"/candidates/{index}/search")
    return problems


def search_problems(candidate: dict[str, Any], params_schema: dict[str, Any], where: str) -> list[str]:
    """A search may only tune its family's parameters, over a range the family accepts, and not the baseline."""
    search = candidate.get("search")
    if search is None:
        return []
    if candidate["family"] == BASELINE:
        return [f"{where}: the baseline has nothing to tune"]
    known = params_schema.get("properties", {})
    problems = []
    for name, dimension in search["space"].items():
        if name not in known:
            problems.append(f"{where}/space/{name}: not a parameter of the {candidate['family']} family "
                            f"(it has {', '.join(sorted(known))})")
            continue
        values = dimension.get("choices") or [dimension.get("low"), dimension.get("high")]
        for value in values:
            problems += [f"{where}/space/{name}: {value!r}: {p.partition(': ')[2]}"
                         for p in schema_errors({name: value}, params_schema)]
        if "low" in dimension and dimension["low"] >= dimension["high"]:
            problems.append(f"{where}/space/{name}: low must be below high")
    return problems
