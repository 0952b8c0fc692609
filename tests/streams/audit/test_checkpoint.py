"""Checkpoints as C2SP signed notes: formats, signatures and golden values."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streams.audit.checkpoint import (
    Checkpoint,
    format_body,
    key_id,
    load_private_key,
    open_checkpoint,
    open_note,
    parse_body,
    parse_verifier_key,
    private_key_from_pem,
    private_key_from_seed,
    sign_checkpoint,
    sign_note,
    verifier_key,
)
from streams.audit.exceptions import (
    BadSignatureError,
    InvalidKeyError,
    MalformedCheckpointError,
    MalformedNoteError,
    OriginMismatchError,
    UnknownKeyError,
)
from tests.streams.audit import make_vectors

GOLDEN: dict[str, Any] = json.loads(
    (Path(__file__).parent / "testdata" / "checkpoint_golden.json").read_text("utf-8")
)
KEY = private_key_from_seed(GOLDEN["seed_hex"])
NAME = GOLDEN["key_name"]
CHECKPOINT = Checkpoint(
    origin=GOLDEN["origin"],
    size=GOLDEN["size"],
    root_hash=bytes.fromhex(GOLDEN["root_hash"]),
    timestamp_ms=GOLDEN["timestamp_ms"],
)

# golang.org/x/mod/sumdb/note note_test.go: the reference implementation's key
# and signed note; Ed25519 is deterministic, so ours must match byte for byte.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
    "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def go_private_key() -> Ed25519PrivateKey:
    # The skey's last field is base64(0x01 || 32-byte seed); base64 may hold '+'.
    material = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert material[0] == 1
    return private_key_from_seed(material[1:].hex())


def with_line(note: str, index: int, line: str) -> str:
    lines = note.split("\n")
    lines[index] = line
    return "\n".join(lines)


# --- Golden values ---------------------------------------------------------------


def test_golden_file_is_what_make_vectors_writes() -> None:
    assert GOLDEN == json.loads(json.dumps(make_vectors.checkpoint_golden()))


def test_signing_the_golden_checkpoint_gives_the_golden_note() -> None:
    assert sign_checkpoint(CHECKPOINT, NAME, KEY) == GOLDEN["note"]


def test_the_golden_note_opens_to_the_golden_checkpoint() -> None:
    opened = open_checkpoint(GOLDEN["note"], NAME, KEY.public_key(), origin=GOLDEN["origin"])
    assert opened == CHECKPOINT


def test_the_golden_verifier_key_is_rendered_and_parsed() -> None:
    assert verifier_key(NAME, KEY.public_key()) == GOLDEN["verifier_key"]
    name, public = parse_verifier_key(GOLDEN["verifier_key"])
    assert name == NAME
    assert open_checkpoint(GOLDEN["note"], name, public) == CHECKPOINT


def test_signed_notes_match_the_go_reference_byte_for_byte() -> None:
    key = go_private_key()
    assert verifier_key("PeterNeumann", key.public_key()) == GO_VKEY
    assert key_id("PeterNeumann", key.public_key()) == 0xC74F20A3
    assert sign_note(GO_TEXT, "PeterNeumann", key) == GO_NOTE
    name, public = parse_verifier_key(GO_VKEY)
    assert open_note(GO_NOTE, name, public) == GO_TEXT


def test_the_body_has_origin_size_root_and_timestamp_lines() -> None:
    assert format_body(CHECKPOINT) == (
        "acgs2.example/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
        "timestamp 1767225600000\n"
    )


# --- Round trips -----------------------------------------------------------------


def test_a_checkpoint_survives_signing_and_opening() -> None:
    checkpoint = replace(CHECKPOINT, size=0, extensions=("witness-policy v1", "x"))
    note = sign_checkpoint(checkpoint, NAME, KEY)
    assert open_checkpoint(note, NAME, KEY.public_key()) == checkpoint
    assert open_checkpoint(note.encode(), NAME, KEY.public_key()) == checkpoint


def test_body_parsing_inverts_formatting() -> None:
    checkpoint = replace(CHECKPOINT, size=2**64 - 1, extensions=("a b c",))
    assert parse_body(format_body(checkpoint)) == checkpoint


# --- Tampering and wrong keys ----------------------------------------------------------


def test_an_altered_size_is_rejected() -> None:
    with pytest.raises(BadSignatureError):
        open_checkpoint(with_line(GOLDEN["note"], 1, "9"), NAME, KEY.public_key())


def test_an_altered_root_is_rejected() -> None:
    other_root = base64.b64encode(bytes(32)).decode()
    with pytest.raises(BadSignatureError):
        open_checkpoint(with_line(GOLDEN["note"], 2, other_root), NAME, KEY.public_key())


def test_an_altered_origin_is_rejected() -> None:
    with pytest.raises(BadSignatureError):
        open_checkpoint(with_line(GOLDEN["note"], 0, "evil.example/audit"), NAME, KEY.public_key())


def test_an_altered_timestamp_is_rejected() -> None:
    altered = with_line(GOLDEN["note"], 3, "timestamp 1767225600001")
    with pytest.raises(BadSignatureError):
        open_checkpoint(altered, NAME, KEY.public_key())


def test_a_note_signed_with_another_key_is_rejected() -> None:
    note = sign_checkpoint(CHECKPOINT, NAME, Ed25519PrivateKey.generate())
    with pytest.raises(UnknownKeyError) as error:
        open_checkpoint(note, NAME, KEY.public_key())
    assert error.value.key_id == key_id(NAME, KEY.public_key())


def test_a_note_signed_under_another_name_is_rejected() -> None:
    note = sign_checkpoint(CHECKPOINT, "other.example/log", KEY)
    with pytest.raises(UnknownKeyError):
        open_checkpoint(note, NAME, KEY.public_key())


def test_a_forged_signature_under_the_right_key_id_is_rejected() -> None:
    blob = key_id(NAME, KEY.public_key()).to_bytes(4, "big") + bytes(64)
    forged = GOLDEN["note"].split("\n\n")[0] + "\n\n"
    forged += f"\u2014 {NAME} {base64.b64encode(blob).decode()}\n"
    with pytest.raises(BadSignatureError):
        open_checkpoint(forged, NAME, KEY.public_key())


def test_signatures_by_unknown_keys_are_ignored() -> None:
    cosigned = sign_checkpoint(CHECKPOINT, "witness.example", Ed25519PrivateKey.generate())
    witness_line = cosigned.split("\n\n")[1]
    note = GOLDEN["note"] + witness_line
    assert open_checkpoint(note, NAME, KEY.public_key()) == CHECKPOINT


def test_a_repeated_signature_by_the_known_key_is_malformed() -> None:
    signature_line = GOLDEN["note"].split("\n\n")[1]
    with pytest.raises(MalformedNoteError):
        open_note(GOLDEN["note"] + signature_line, NAME, KEY.public_key())


def test_a_checkpoint_from_another_log_is_rejected() -> None:
    with pytest.raises(OriginMismatchError) as error:
        open_checkpoint(GOLDEN["note"], NAME, KEY.public_key(), origin="other.example")
    assert (error.value.got, error.value.want) == (GOLDEN["origin"], "other.example")


# --- Malformed notes and bodies ---------------------------------------------------------


@pytest.mark.parametrize(
    "note",
    [
        pytest.param("acgs\n8\n", id="no-signatures"),
        pytest.param(GOLDEN["note"][:-1], id="no-final-newline"),
        pytest.param(GOLDEN["note"].replace("\u2014", "-"), id="hyphen-not-em-dash"),
        pytest.param(GOLDEN["note"].replace("8\n", "8\t\n", 1), id="control-character"),
        pytest.param(GOLDEN["note"].replace("=\n", "!\n"), id="signature-not-base64"),
        pytest.param(GOLDEN["note"] + "\u2014 name AAAA\n", id="signature-too-short"),
        pytest.param(GOLDEN["note"] + "\u2014 name\n", id="signature-without-blob"),
        pytest.param(GOLDEN["note"] + "\u2014 a+b AAAAAAAA\n", id="plus-in-key-name"),
        pytest.param(GOLDEN["note"] + "\u2014 x AAAAAAAA\n" * 100, id="too-many-signatures"),
    ],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    with pytest.raises(MalformedNoteError):
        open_note(note, NAME, KEY.public_key())


def test_a_note_that_is_not_utf8_is_malformed() -> None:
    with pytest.raises(MalformedNoteError):
        open_note(GOLDEN["note"].encode() + b"\xff\n", NAME, KEY.public_key())


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("o\n8\n" + "A" * 42 + "==\ntimestamp 1\n", id="root-not-32-bytes"),
        pytest.param("o\n08\n" + "A" * 43 + "=\ntimestamp 1\n", id="leading-zero"),
        pytest.param("o\n-1\n" + "A" * 43 + "=\ntimestamp 1\n", id="negative-size"),
        pytest.param("o\n\u0668\n" + "A" * 43 + "=\ntimestamp 1\n", id="non-ascii-digit"),
        pytest.param("o\n8\n" + "A" * 42 + "B=\ntimestamp 1\n", id="non-canonical-base64"),
        pytest.param("o\n8\n" + "A" * 43 + "=\n", id="no-timestamp"),
        pytest.param("o\n8\n" + "A" * 43 + "=\ntime 1\n", id="not-a-timestamp"),
        pytest.param("o\n8\n" + "A" * 43 + "=\ntimestamp 01\n", id="timestamp-leading-zero"),
        pytest.param("o\n8\n" + "A" * 43 + "=\ntimestamp 1\n\n", id="empty-extension"),
        pytest.param("o\n8\n" + "A" * 43 + "=\ntimestamp 1\ntimestamp 2\n", id="two-timestamps"),
        pytest.param("\n8\n" + "A" * 43 + "=\ntimestamp 1\n", id="empty-origin"),
        pytest.param("o\n8\n" + "A" * 43 + "=\ntimestamp 1", id="no-final-newline"),
        pytest.param(f"o\n{2**64}\n" + "A" * 43 + "=\ntimestamp 1\n", id="size-beyond-uint64"),
    ],
)
def test_malformed_bodies_are_rejected(body: str) -> None:
    with pytest.raises(MalformedCheckpointError):
        parse_body(body)


def test_a_valid_note_with_a_non_checkpoint_body_is_rejected() -> None:
    note = sign_note("just some text\n", NAME, KEY)
    with pytest.raises(MalformedCheckpointError):
        open_checkpoint(note, NAME, KEY.public_key())


@pytest.mark.parametrize(
    "change",
    [
        {"origin": ""},
        {"origin": "a\nb"},
        {"size": -1},
        {"size": True},
        {"root_hash": bytes(31)},
        {"timestamp_ms": 1.5},
        {"extensions": ("",)},
        {"extensions": ("timestamp 5",)},
    ],
)
def test_invalid_checkpoints_cannot_be_built(change: dict[str, Any]) -> None:
    with pytest.raises(MalformedCheckpointError):
        replace(CHECKPOINT, **change)


# --- Keys ------------------------------------------------------------------------


def test_keys_load_from_a_hex_seed_or_a_pem() -> None:
    pem = KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    for loaded in (load_private_key(GOLDEN["seed_hex"]), load_private_key(pem)):
        assert verifier_key(NAME, loaded.public_key()) == GOLDEN["verifier_key"]


@pytest.mark.parametrize("secret", ["00" * 31, "zz" * 32, "-----BEGIN PRIVATE KEY-----\nx\n"])
def test_bad_secrets_are_refused(secret: str) -> None:
    with pytest.raises(InvalidKeyError):
        load_private_key(secret)


def test_a_pem_of_another_key_type_is_refused() -> None:
    pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidKeyError):
        private_key_from_pem(pem)


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\there"])
def test_invalid_key_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidKeyError):
        sign_note("text\n", name, KEY)


@pytest.mark.parametrize(
    "vkey",
    [
        GO_VKEY.replace("c74f20a3", "c74f20a4"),
        GO_VKEY.replace("+ARpc", "+AhpC"),
        GO_VKEY[:-2],
        "PeterNeumann+c74f20a3",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(InvalidKeyError):
        parse_verifier_key(vkey)


def test_note_text_must_end_with_a_newline() -> None:
    with pytest.raises(MalformedNoteError):
        sign_note("no newline", NAME, KEY)
