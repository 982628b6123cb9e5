"""The trail's head, published outside the file, and the check that the trail still extends it.

A hash chain shows that no recorded event changed, but not that the newest events were cut off or the whole
file replaced. So the head (the trail's random log id, its last sequence number and hash) is written to a
small JSON file to keep elsewhere — a ticket, a commit, a write-once bucket — optionally signed with Ed25519:
anyone with the public key can check it, nobody without the private key can forge it. The signed bytes are
the canonical JSON of the head's fields, never a re-serialisation of something else. The cryptography library
loads only when a key is made, used or checked (every audit imports this module; few sign).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.audit.trail import COLUMNS, query_events, reading
from engine.audit.verify import Verification, verify
from engine.canonical import canonical_json
from engine.errors import MlgateError
from engine.jsonfiles import read_text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HEAD_FORMAT = "mlgate-head-v1"
SIGNED_FIELDS = ("format", "log_id", "seq", "hash")


class HeadError(MlgateError):
    """A head file or key that cannot be used."""


@dataclass(frozen=True)
class HeadCheck:
    ok: bool
    problem: str | None = None


def head_document(result: Verification) -> dict[str, Any]:
    return {"format": HEAD_FORMAT, "log_id": result.log_id, "seq": result.head_seq, "hash": result.head_hash}


def _signed_bytes(head: dict[str, Any]) -> bytes:
    return canonical_json({k: head[k] for k in SIGNED_FIELDS}).encode("utf-8")


def _private_key(path: Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise HeadError(f"{path}: not a readable PEM private key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise HeadError(f"{path}: not an Ed25519 private key")
    return key


def _public_key(path: Path) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise HeadError(f"{path}: not a readable PEM public key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise HeadError(f"{path}: not an Ed25519 public key")
    return key


def keygen(prefix: Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair: PREFIX.key (private, mode 600) and PREFIX.pub."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_path, public_path = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    for path in (private_path, public_path):
        if path.exists() and not force:
            raise HeadError(f"{path}: exists; not overwritten without --force")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        for path in (private_path, public_path):
            if path.exists() or path.is_symlink():  # with --force: a new file, never an old one's permissions
                path.unlink()
        descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(private)
        public_path.write_bytes(public)
    except OSError as exc:
        raise HeadError(f"{exc.filename or private_path}: cannot write the key: {exc.strerror}") from None
    return private_path, public_path


def write_head(audit_db: Path, out: Path, *, sign_key: Path | None = None, force: bool = False) -> dict[str, Any]:
    """Write the current head of an intact trail to `out`, signed when a key is given."""
    result = verify(audit_db)
    if not result.intact:
        raise HeadError(f"{audit_db}: the trail is broken at sequence {result.bad_seq}; no head to publish")
    if out.is_symlink():  # a planted link would send the head (with --force, over) wherever it points
        raise HeadError(f"{out}: a symbolic link; the head is never written through one (remove it or choose --out)")
    if out.exists() and not force:
        raise HeadError(f"{out}: exists; not overwritten without --force")
    head = head_document(result)
    if sign_key is not None:
        head["signature"] = base64.b64encode(_private_key(sign_key).sign(_signed_bytes(head))).decode("ascii")
    try:
        out.write_text(json.dumps(head, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise HeadError(f"{out}: cannot write the head: {exc.strerror}") from None
    return head


def read_head(path: Path) -> dict[str, Any]:
    text = read_text(path, error=HeadError, what="head")
    try:
        head = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HeadError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(head, dict) or head.get("format") != HEAD_FORMAT or not all(k in head for k in SIGNED_FIELDS):
        raise HeadError(f"{path}: not an mlgate head file (format {HEAD_FORMAT})")
    types_ok = (isinstance(head["log_id"], str) and isinstance(head["seq"], int) and not isinstance(head["seq"], bool)
                and isinstance(head["hash"], str) and len(head["hash"]) == 64)
    if not types_ok or ("signature" in head and not isinstance(head["signature"], str)):
        raise HeadError(f"{path}: a head needs a text log_id, an integer seq and a 64-character hash")
    return head


def check_head(audit_db: Path, result: Verification, head: dict[str, Any], *,
               public_key: Path | None = None) -> HeadCheck:
    """Does the (verified) trail still extend `head`, and is the head's signature good?"""
    if public_key is not None and (unsigned := signature_problem(head, public_key)) is not None:
        return HeadCheck(False, unsigned)
    if head["log_id"] != result.log_id:
        return HeadCheck(False, f"the trail's log id {result.log_id} is not the head's {head['log_id']}: "
                                "a different or rewritten trail")
    if not isinstance(head["seq"], int) or head["seq"] > result.head_seq:
        return HeadCheck(False, f"the trail ends at sequence {result.head_seq}, before the head's {head['seq']}: "
                                "events were removed")
    with reading(audit_db) as con:
        rows = query_events(con, audit_db, f"SELECT {COLUMNS} FROM events WHERE seq = ?", [head["seq"]])
    if not rows or rows[0][6] != head["hash"]:
        return HeadCheck(False, f"event {head['seq']} is not the head's: the trail was rewritten")
    return HeadCheck(True)


def signature_problem(head: dict[str, Any], public_key: Path) -> str | None:
    """Why `head` is not signed by the key in `public_key`, or None when its signature is good."""
    from cryptography.exceptions import InvalidSignature

    signature = head.get("signature")
    if not isinstance(signature, str):
        return "the head is not signed"
    try:
        _public_key(public_key).verify(base64.b64decode(signature), _signed_bytes(head))
    except (InvalidSignature, ValueError):
        return "the head's signature does not match this public key"
    return None
