"""One canonical JSON encoding for everything mlgate hashes, the conversion of evidence to plain JSON, and the
one SHA-256 helper (of bytes, text, a file streamed in chunks, or the canonical JSON of a value).

The trail hashes the exact canonical text it stores, so the encoding must be deterministic: sorted keys, no
whitespace, UTF-8, and no NaN or infinity (JSON has none; an undefined number is stored as null). Every SHA-256
mlgate records (trail rows, data fingerprints, card files, packaged models, policies, exports) is computed here
and written the same way: 64 lower-case hex digits.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data: numpy scalars and arrays unwrapped, paths as text, NaN/inf as None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"{type(value).__name__} is not JSON data")


def canonical_json(value: Any) -> str:
    """The deterministic JSON text of plain JSON data (see `jsonable`)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


CHUNK_BYTES = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """The SHA-256 of `data`, as 64 lower-case hex digits (the form every hash in the trail takes)."""
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """The SHA-256 of `text` encoded as UTF-8."""
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: Path, *, chunk_bytes: int = CHUNK_BYTES) -> str:
    """The SHA-256 of a file's bytes, read in chunks of `chunk_bytes` so a large data or model file is never held
    in memory whole. An unreadable file raises `OSError`; callers say what the file was."""
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def digest(value: Any) -> str:
    """SHA-256 of the canonical JSON of `value`."""
    return sha256_text(canonical_json(jsonable(value)))


def digests_differ(data: memoryview, offsets: Any, digests: list[str | None]) -> list[int]:
    """The indices `i` whose SHA-256 of `data[offsets[i]:offsets[i + 1]]` (one packed text column, as Arrow lays
    it out) is not `digests[i]`: the trail's rows hashed from the stored bytes, without a copy per row."""
    sha256 = hashlib.sha256
    return [i for i, digest in enumerate(digests)
            if sha256(data[int(offsets[i]):int(offsets[i + 1])]).hexdigest() != digest]
