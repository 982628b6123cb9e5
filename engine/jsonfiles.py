"""Reading untrusted JSON/TOML documents and validating them against mlgate's own JSON Schemas.

Specs and policies come from users, so every read is size-capped, every parse error names the file, line and
column, and validation uses an empty `referencing.Registry`: a `$ref` to a remote URL is never fetched.
Schema errors are reported all at once, each as `FILE: /json/path: message`.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry

MAX_DOCUMENT_BYTES = 1 << 20  # a spec or policy larger than 1 MiB is not a hand-written document

ErrorFactory = Callable[..., Exception]


def read_text(path: Path, *, error: ErrorFactory, what: str) -> str:
    """Return the UTF-8 text of `path`, refusing missing, oversized or binary files with `error`."""
    if path.is_dir():
        raise error(f"{path}: a folder, not a {what} file")
    if not path.is_file():
        raise error(f"{path}: {what} file not found")
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise error(f"{path}: {what} file is {size} bytes, more than the {MAX_DOCUMENT_BYTES} allowed")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {what} file is not UTF-8 text (byte {exc.start})") from None


MAX_DEPTH = 64  # no spec or policy needs more; a deeper document would crash recursive readers


def nesting_depth(document: Any) -> int:
    """How many arrays and objects deep `document` goes (walked without recursion)."""
    deepest, stack = 0, [(document, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_document(text: str, path: Path, *, error: ErrorFactory) -> Any:
    """Parse JSON, or TOML when the file name ends in `.toml`; errors name the line and column. A document
    nested more than `MAX_DEPTH` levels deep is refused with one line (never a RecursionError)."""
    try:
        document = _parse(text, path, error=error)
    except RecursionError:
        document = None
    else:
        if nesting_depth(document) <= MAX_DEPTH:
            return document
    raise error(f"{path}: nested more than {MAX_DEPTH} levels deep; mlgate reads documents up to {MAX_DEPTH}")


def _parse(text: str, path: Path, *, error: ErrorFactory) -> Any:
    def finite(token: str) -> float:
        value = float(token)
        if not math.isfinite(value):
            raise ValueError(f"{token} is not a finite number")
        return value

    def refuse(token: str) -> float:
        raise ValueError(f"{token} is not a number JSON allows")

    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text, parse_float=finite)
        except (tomllib.TOMLDecodeError, ValueError) as exc:
            raise error(f"{path}: not valid TOML: {exc}") from None
    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}") from None
    except ValueError as exc:
        raise error(f"{path}: not valid JSON: {exc}") from None


@cache
def load_schema(package: str, name: str) -> dict[str, Any]:
    """Load one of mlgate's bundled JSON Schemas (package data)."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def json_path(parts: Iterable[Any]) -> str:
    """Render a jsonschema error path as a JSON Pointer (`/rules/0/op`), `/` for the document root."""
    return "/" + "/".join(str(part) for part in parts)


def schema_errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of `schema` by `instance`, as `/path: message`, in document order."""
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, registry=Registry(), format_checker=validator_class.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    return [
        f"{json_path(e.absolute_path)}: {_shorten(e.message)}" for e in errors if not _consequence(e, errors)
    ]


def _shorten(message: str, limit: int = 300) -> str:
    """A schema message quotes the offending value; a huge value must not flood the terminal."""
    message = message.replace("False schema does not allow", "a property this kind of rule forbids has the value")
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _consequence(error: jsonschema.ValidationError, errors: list[jsonschema.ValidationError]) -> bool:
    """An `unevaluatedProperties` error caused by a failed branch beside it at or below the same path.

    When a rule's kind-specific branch fails, its properties count as unevaluated; the branch's own error
    says what is wrong, and the extra "unexpected property" line would only mislead.
    """
    if error.validator != "unevaluatedProperties":
        return False
    prefix = list(error.absolute_path)
    return any(
        other is not error and list(other.absolute_path)[: len(prefix)] == prefix
        for other in errors
    )
