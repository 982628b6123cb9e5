"""Published heads: `mlgate keygen`, `mlgate head` and `mlgate verify --expect-head/--pubkey`, through the real CLI.

A head (log id, sequence number, hash), kept outside the trail and signed with Ed25519, must catch what the chain
alone cannot: the newest events cut off, the tail rewritten, the whole file replaced. Tampering is done the way
an attacker would: plain DuckDB SQL on the file, or a text editor on the head file.
"""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import run_cli, tamper

from engine.audit.trail import NewEvent, append

EVENTS = 8  # genesis + 7


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def assert_one_error_line(done: Any, *named: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mlgate: error:"), lines[0]
    for text in named:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def make_trail(path: Path, *, events: int = EVENTS - 1, run: str = "run-1") -> Path:
    """A trail written by the engine: the genesis event plus `events` more, in a few appends."""
    append(path, [NewEvent("note", None, {"value": 0})])
    rest = [NewEvent("step", run, {"value": v}) for v in range(1, events)]
    for start in range(0, len(rest), 3):
        append(path, rest[start:start + 3])
    return path



def last_row(path: Path) -> tuple[Any, ...]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute("SELECT seq, recorded_at, run_id, kind, body, prev_hash, hash FROM events "
                          "ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        con.close()
    assert row is not None
    return row


def verified(path: Path) -> dict[str, Any]:
    done = run_cli("verify", "--audit-db", path, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def keygen(prefix: Path) -> tuple[Path, Path]:
    done = run_cli("keygen", "--out", prefix)
    assert done.returncode == 0, done.stderr
    return prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")


def write_head(trail: Path, out: Path, *extra: str | Path) -> dict[str, Any]:
    done = run_cli("head", "--audit-db", trail, "--out", out, *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text(encoding="utf-8"))


def expect(trail: Path, head: Path, *extra: str | Path) -> Any:
    return run_cli("verify", "--audit-db", trail, "--expect-head", head, *extra)


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    return make_trail(tmp_path / "audit.duckdb")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return keygen(tmp_path / "signer")


@pytest.fixture
def signed(trail: Path, keys: tuple[Path, Path], tmp_path: Path) -> Path:
    """A head of `trail`, signed with the private key of `keys`."""
    out = tmp_path / "published" / "head.json"
    out.parent.mkdir()
    write_head(trail, out, "--sign-key", keys[0])
    return out


# --- keygen -------------------------------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_only_its_owner_can_read_and_a_public_key(tmp_path: Path) -> None:
    done = run_cli("keygen", "--out", tmp_path / "signer")
    assert done.returncode == 0, done.stderr
    private, public = tmp_path / "signer.key", tmp_path / "signer.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text(encoding="ascii").startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text(encoding="ascii").startswith("-----BEGIN PUBLIC KEY-----")
    assert str(private) in done.stdout and str(public) in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signer.key", "signer.pub"]


def test_keygen_does_not_overwrite_keys_without_force(tmp_path: Path) -> None:
    private, public = keygen(tmp_path / "signer")
    before = (private.read_bytes(), public.read_bytes())
    refused = run_cli("keygen", "--out", tmp_path / "signer")
    assert_one_error_line(refused, "signer.key", "--force")
    assert (private.read_bytes(), public.read_bytes()) == before

    forced = run_cli("keygen", "--out", tmp_path / "signer", "--force")
    assert forced.returncode == 0, forced.stderr
    assert private.read_bytes() != before[0] and public.read_bytes() != before[1]


def test_keygen_force_over_a_readable_key_file_still_leaves_the_private_key_0600(tmp_path: Path) -> None:
    """An old key file that others can read must not keep its mode when a new private key is written into it."""
    private = tmp_path / "signer.key"
    private.write_text("old key\n", encoding="ascii")
    private.chmod(0o644)
    done = run_cli("keygen", "--out", tmp_path / "signer", "--force")
    assert done.returncode == 0, done.stderr
    assert private.read_text(encoding="ascii").startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600, "the new private key is readable by others"


@pytest.mark.parametrize("command", ["keygen", "head"])
def test_writing_into_a_missing_folder_is_not_a_traceback(
    command: str, trail: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "such" / "folder"
    if command == "keygen":
        done = run_cli("keygen", "--out", missing / "signer")
    else:
        done = run_cli("head", "--audit-db", trail, "--out", missing / "head.json")
    assert "Traceback" not in done.stderr, done.stderr
    if done.returncode == 0:  # creating the folder is fine too
        assert (missing / ("signer.key" if command == "keygen" else "head.json")).is_file()
    else:
        assert_one_error_line(done, str(missing))


# --- heads that verify ---------------------------------------------------------------------------------------------


def test_verify_prints_the_head_log_id_seq_and_hash(trail: Path) -> None:
    document = verified(trail)
    assert (document["intact"], document["ok"], document["events"], document["head_seq"]) == (True, True, EVENTS,
                                                                                                EVENTS)
    assert document["head_hash"] == last_row(trail)[6]
    text = run_cli("verify", "--audit-db", trail)
    assert text.returncode == 0, text.stderr
    flat = " ".join(text.stdout.split())
    for value in (document["log_id"], f"seq {EVENTS}", document["head_hash"]):
        assert value in flat, (value, text.stdout)


def test_a_signed_head_verifies_with_the_public_key_alone(signed: Path, keys: tuple[Path, Path], trail: Path) -> None:
    head = json.loads(signed.read_text(encoding="utf-8"))
    document = verified(trail)
    assert head["format"] == "mlgate-head-v1"
    assert (head["log_id"], head["seq"], head["hash"]) == (document["log_id"], EVENTS, document["head_hash"])
    assert isinstance(head["signature"], str) and head["signature"]

    keys[0].unlink()  # whoever checks the head has the public key only
    done = expect(trail, signed, "--pubkey", keys[1])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intact" in done.stdout and "NOT THE PUBLISHED TRAIL" not in done.stdout
    as_json = json.loads(expect(trail, signed, "--pubkey", keys[1], "--format", "json").stdout)
    assert (as_json["ok"], as_json["head_problem"]) == (True, None)


def test_an_unsigned_head_verifies_without_a_public_key(trail: Path, tmp_path: Path) -> None:
    head = write_head(trail, tmp_path / "head.json")
    assert "signature" not in head
    done = expect(trail, tmp_path / "head.json")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_head_still_verifies_after_the_trail_grew(signed: Path, keys: tuple[Path, Path], trail: Path) -> None:
    append(trail, [NewEvent("later", "run-2", {"value": v}) for v in range(3)])
    done = expect(trail, signed, "--pubkey", keys[1])
    assert done.returncode == 0, done.stdout + done.stderr
    assert verified(trail)["head_seq"] == EVENTS + 3


# --- heads that fail -----------------------------------------------------------------------------------------------


def edit_head(path: Path, **changes: Any) -> None:
    head = json.loads(path.read_text(encoding="utf-8"))
    head.update(changes)
    path.write_text(json.dumps(head, indent=2), encoding="utf-8")


HEAD_EDITS = [
    pytest.param({"seq": EVENTS - 1}, id="seq-lowered"),
    pytest.param({"seq": EVENTS + 1}, id="seq-raised"),
    pytest.param({"hash": hashlib.sha256(b"forged").hexdigest()}, id="hash"),
    pytest.param({"log_id": "0" * 32}, id="log-id"),
]


def assert_not_the_published_trail(done: Any, *words: str) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "NOT THE PUBLISHED TRAIL" in done.stdout, done.stdout
    flat = " ".join(done.stdout.split())
    for word in words:
        assert word in flat, (word, flat)
    return flat


@pytest.mark.parametrize("changes", HEAD_EDITS)
def test_a_changed_signed_head_fails_its_signature(
    changes: dict[str, Any], signed: Path, keys: tuple[Path, Path], trail: Path
) -> None:
    edit_head(signed, **changes)
    assert_not_the_published_trail(expect(trail, signed, "--pubkey", keys[1]), "signature does not match")


@pytest.mark.parametrize("changes", HEAD_EDITS)
def test_a_changed_unsigned_head_is_not_extended_by_the_trail(
    changes: dict[str, Any], trail: Path, tmp_path: Path
) -> None:
    out = tmp_path / "head.json"
    write_head(trail, out)
    edit_head(out, **changes)
    assert_not_the_published_trail(expect(trail, out))


@pytest.mark.parametrize("signature", [
    pytest.param("flip", id="one-character-changed"),
    pytest.param("!!not base64!!", id="not-base64"),
    pytest.param("", id="empty"),
])
def test_a_changed_signature_fails(signature: str, signed: Path, keys: tuple[Path, Path], trail: Path) -> None:
    original = json.loads(signed.read_text(encoding="utf-8"))["signature"]
    if signature == "flip":
        signature = ("A" if original[0] != "A" else "B") + original[1:]
    edit_head(signed, signature=signature)
    assert_not_the_published_trail(expect(trail, signed, "--pubkey", keys[1]), "signature")


def test_another_public_key_fails(signed: Path, trail: Path, tmp_path: Path) -> None:
    _, other_public = keygen(tmp_path / "other")
    assert_not_the_published_trail(expect(trail, signed, "--pubkey", other_public),
                                   "signature does not match this public key")


def test_an_unsigned_head_fails_when_a_public_key_is_given(
    trail: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    write_head(trail, tmp_path / "head.json")
    assert_not_the_published_trail(expect(trail, tmp_path / "head.json", "--pubkey", keys[1]), "not signed")


def test_cutting_the_trail_back_below_the_head_is_caught_only_by_expect_head(
    signed: Path, keys: tuple[Path, Path], trail: Path
) -> None:
    kept = EVENTS - 2
    tamper(trail, "DELETE FROM events WHERE seq > ?", kept)
    stale = run_cli("verify", "--audit-db", trail, "--format", "json")
    assert stale.returncode == 1 and "runs index" in json.loads(stale.stdout)["index_problem"]
    # whoever cuts the events also rebuilds the derived index: the shorter chain is then consistent on its own
    assert run_cli("verify", "--audit-db", trail, "--rebuild-index").returncode == 0
    assert verified(trail)["head_seq"] == kept, "the shorter chain is still consistent on its own"
    for extra in ([], ["--pubkey", keys[1]]):
        flat = assert_not_the_published_trail(expect(trail, signed, *extra), "removed")
        assert f"sequence {kept}" in flat and str(EVENTS) in flat
    as_json = json.loads(expect(trail, signed, "--format", "json").stdout)
    assert as_json["intact"] is True and as_json["ok"] is False and "removed" in as_json["head_problem"]


def test_a_tail_rewritten_past_the_head_is_caught(signed: Path, keys: tuple[Path, Path], trail: Path) -> None:
    """Cut back below the head, then append other events with the engine: the chain is long and consistent again."""
    tamper(trail, "DELETE FROM events WHERE seq > ?", EVENTS - 2)
    append(trail, [NewEvent("step", "run-1", {"value": f"rewritten-{v}"}) for v in range(4)])
    assert verified(trail)["head_seq"] == EVENTS + 2
    assert_not_the_published_trail(expect(trail, signed, "--pubkey", keys[1]), f"event {EVENTS}", "rewritten")


def test_a_trail_rewritten_from_scratch_has_another_log_id(
    signed: Path, keys: tuple[Path, Path], trail: Path, tmp_path: Path
) -> None:
    replacement = make_trail(tmp_path / "rewritten.duckdb")
    assert verified(replacement)["events"] == EVENTS
    replacement.replace(trail)
    published = json.loads(signed.read_text(encoding="utf-8"))
    new_log = verified(trail)["log_id"]
    assert new_log != published["log_id"]
    flat = assert_not_the_published_trail(expect(trail, signed, "--pubkey", keys[1]), "different or rewritten")
    assert new_log in flat and published["log_id"] in flat


def _forged(row: tuple[Any, ...], how: str) -> tuple[Any, ...]:
    """An event appended after `row` with plain SQL, wrong in one way."""
    seq, _, _, _, _, _, prev = row
    new_seq = seq + 2 if how == "seq-gap" else seq + 1
    link = "0" * 64 if how == "wrong-link" else prev
    recorded_at = "2030-01-01T00:00:00.000000Z"
    body = json.dumps({"seq": new_seq, "prev_hash": link, "recorded_at": recorded_at, "run_id": "run-1",
                       "kind": "signoff", "data": {"decision": "approve"}}, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    if how == "hash-not-of-body":
        digest = hashlib.sha256(b"something else").hexdigest()
    kind = "run_completed" if how == "column-differs" else "signoff"
    return (new_seq, recorded_at, "run-1", kind, body, link, digest)


@pytest.mark.parametrize("how", ["wrong-link", "hash-not-of-body", "seq-gap", "column-differs"])
def test_a_forged_row_appended_at_the_end_is_caught_by_plain_verify(how: str, signed: Path, trail: Path) -> None:
    forged = _forged(last_row(trail), how)
    tamper(trail, "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", *forged)
    done = run_cli("verify", "--audit-db", trail)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"BROKEN at sequence {EVENTS + 1}" in " ".join(done.stdout.split()), done.stdout
    assert expect(trail, signed).returncode == 1


# --- writing heads: refusals -----------------------------------------------------------------------------------------


def test_an_existing_head_file_is_not_overwritten_without_force(trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "head.json"
    write_head(trail, out)
    before = out.read_bytes()
    append(trail, [NewEvent("later", None, {})])
    assert_one_error_line(run_cli("head", "--audit-db", trail, "--out", out), str(out), "--force")
    assert out.read_bytes() == before

    forced = run_cli("head", "--audit-db", trail, "--out", out, "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["seq"] == EVENTS + 1


def test_no_head_is_written_for_a_broken_trail(trail: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    tamper(trail, "UPDATE events SET body = replace(body, '\"value\":2', '\"value\":20') WHERE seq = 4")
    assert run_cli("verify", "--audit-db", trail).returncode == 1
    out = tmp_path / "head.json"
    line = assert_one_error_line(run_cli("head", "--audit-db", trail, "--out", out, "--sign-key", keys[0]),
                                 "broken", "sequence 4")
    assert str(trail) in line
    assert not out.exists()


def test_a_public_key_is_not_a_signing_key(trail: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "head.json"
    assert_one_error_line(run_cli("head", "--audit-db", trail, "--out", out, "--sign-key", keys[1]), str(keys[1]))
    assert not out.exists()


def test_a_private_key_or_garbage_is_not_a_public_key(signed: Path, keys: tuple[Path, Path], trail: Path,
                                                      tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pub"
    garbage.write_text("not a key\n", encoding="ascii")
    for key in (keys[0], garbage):
        assert_one_error_line(expect(trail, signed, "--pubkey", key), str(key))


def test_pubkey_without_expect_head_is_refused(trail: Path, keys: tuple[Path, Path]) -> None:
    assert_one_error_line(run_cli("verify", "--audit-db", trail, "--pubkey", keys[1]), "--expect-head")


def _head_fields(trail: Path) -> dict[str, Any]:
    document = verified(trail)
    return {"format": "mlgate-head-v1", "log_id": document["log_id"], "seq": document["head_seq"],
            "hash": document["head_hash"]}


MALFORMED = [
    pytest.param(lambda h: '{"format": "mlgate-head-v1", "log_id":', id="not-json"),
    pytest.param(lambda h: json.dumps([h]), id="a-list"),
    pytest.param(lambda h: json.dumps({**h, "format": "something-else"}), id="wrong-format"),
    pytest.param(lambda h: json.dumps({k: v for k, v in h.items() if k != "hash"}), id="no-hash"),
    pytest.param(lambda h: "", id="empty"),
    pytest.param(lambda h: json.dumps({**h, "seq": str(h["seq"] - 1)}), id="seq-as-text"),
    pytest.param(lambda h: json.dumps({**h, "hash": 12345}), id="hash-as-number"),
]


@pytest.mark.parametrize("content", MALFORMED)
def test_a_malformed_head_file_is_one_error_line_exit_2(content: Any, trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "head.json"
    out.write_text(content(_head_fields(trail)), encoding="utf-8")
    done = expect(trail, out)
    assert_one_error_line(done, str(out))
    assert done.stdout == ""


def test_a_missing_or_binary_head_file_is_one_error_line_exit_2(trail: Path, tmp_path: Path) -> None:
    assert_one_error_line(expect(trail, tmp_path / "nowhere.json"), "nowhere.json")
    binary = tmp_path / "head.bin"
    binary.write_bytes(b"\xff\xfe\x00\x01" * 10)
    assert_one_error_line(expect(trail, binary), "head.bin")
