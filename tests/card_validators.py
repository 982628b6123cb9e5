"""The real validators of the cards other tools read, offline: jsonschema on the published Model Card Toolkit
schema, huggingface_hub's ModelCard, and cyclonedx-python-lib's JSON validator for CycloneDX 1.6."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from huggingface_hub import ModelCard

MCT_SCHEMA = Path(__file__).resolve().parents[1] / "engine" / "cards" / "model-card-toolkit-v0.0.2.schema.json"


def mct_problems(document: Any) -> list[str]:
    """Every error of `document` against the vendored MCT schema, checked with jsonschema itself (formats too)."""
    schema = json.loads(MCT_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def hf_card(text: str) -> ModelCard:
    """The card as huggingface_hub loads it; raises ValueError on metadata it cannot parse."""
    return ModelCard(text)


def hf_file(path: Path) -> ModelCard:
    return ModelCard.load(path)


def cyclonedx_problem(text: str) -> str | None:
    """The CycloneDX 1.6 validator's complaint about `text`, or None when it is a valid BOM."""
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    return None if error is None else str(error)
