"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes.

A checkpoint commits a log to its RFC 6962 root at a tree size. Its body
(https://c2sp.org/tlog-checkpoint) is::

    <origin>
    <tree size, decimal, no leading zeros>
    <root hash, standard base64>
    timestamp <unix time in milliseconds>
    <further extension lines, if any>

Every line ends in a newline. The ``timestamp`` line is this project's own
extension line and always comes first: it records when the log signed the
checkpoint, so auditors can order checkpoints and spot a stalled log. The
C2SP spec treats extension lines as opaque and does not recommend them
(monitors cannot audit them), so verifiers outside this project will carry
the timestamp along without checking it; never rely on it for ordering trees,
the tree size and consistency proofs do that.

The signed note (https://c2sp.org/signed-note) is the body, a blank line and
signature lines ``— <key name> <base64(key id || signature)>``, with an
em dash (U+2014). Signatures are Ed25519 (signature type 0x01) over the body;
the key id is the first 4 bytes, big-endian, of SHA-256(key name || 0x0A ||
0x01 || 32-byte public key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from streams.audit.exceptions import (
    BadSignatureError,
    InvalidKeyError,
    MalformedCheckpointError,
    MalformedNoteError,
    OriginMismatchError,
    UnknownKeyError,
)

SIGNATURE_TYPE_ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
TIMESTAMP_KEYWORD = "timestamp"
ROOT_HASH_SIZE = 32

# The spec asks verifiers to accept at least 16 signatures and to bound the
# work a hostile note can cause; Go's golang.org/x/mod/sumdb/note stops at 100.
MAX_SIGNATURES = 100

_UINT64_LIMIT = 1 << 64  # sizes and times stay readable by Go's uint64 parsers
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls except newline


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's signed-off tree head: origin, tree size, root and signing time."""

    origin: str
    size: int
    root_hash: bytes
    timestamp_ms: int
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        _check_uint64(self.size, "tree size")
        _check_uint64(self.timestamp_ms, "timestamp")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != ROOT_HASH_SIZE:
            raise MalformedCheckpointError(f"root hash must be {ROOT_HASH_SIZE} bytes")
        for line in self.extensions:
            _check_line(line, "extension line")
            if line.split(" ", 1)[0] == TIMESTAMP_KEYWORD:
                raise MalformedCheckpointError("only the first extension is a timestamp")


def _check_line(line: str, what: str) -> None:
    if not isinstance(line, str) or not line:
        raise MalformedCheckpointError(f"{what} must be a non-empty string")
    if "\n" in line or _CONTROL.search(line):
        raise MalformedCheckpointError(f"{what} contains a newline or control character")


def _check_uint64(value: int, what: str) -> None:
    if type(value) is not int or not 0 <= value < _UINT64_LIMIT:
        raise MalformedCheckpointError(f"{what} must be an integer in [0, 2**64)")


def format_body(checkpoint: Checkpoint) -> str:
    """Return the note text of ``checkpoint`` (see the module docstring)."""
    lines = [
        checkpoint.origin,
        str(checkpoint.size),
        base64.b64encode(checkpoint.root_hash).decode("ascii"),
        f"{TIMESTAMP_KEYWORD} {checkpoint.timestamp_ms}",
        *checkpoint.extensions,
    ]
    return "\n".join(lines) + "\n"


def parse_body(text: str) -> Checkpoint:
    """Parse a checkpoint body; raise MalformedCheckpointError if it is not one.

    Strict, so that one checkpoint has one text: canonical decimal and base64,
    a 32-byte root, and the timestamp as the first extension line.
    """
    if not text.endswith("\n"):
        raise MalformedCheckpointError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 4:
        raise MalformedCheckpointError(f"checkpoint has {len(lines)} lines, want >= 4")
    origin, size_line, root_line, timestamp_line, *extensions = lines
    keyword, _, timestamp = timestamp_line.partition(" ")
    if keyword != TIMESTAMP_KEYWORD:
        raise MalformedCheckpointError("fourth line must be 'timestamp <unix-ms>'")
    return Checkpoint(
        origin=origin,
        size=_parse_decimal(size_line, "tree size"),
        root_hash=_parse_root_hash(root_line),
        timestamp_ms=_parse_decimal(timestamp, "timestamp"),
        extensions=tuple(extensions),
    )


def _parse_decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise MalformedCheckpointError(f"{what} {text!r} is not a canonical decimal")
    return int(text)


def _parse_root_hash(text: str) -> bytes:
    try:
        root = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise MalformedCheckpointError("root hash is not base64") from None
    # Re-encoding rejects non-canonical padding bits: one root, one spelling.
    if len(root) != ROOT_HASH_SIZE or base64.b64encode(root).decode("ascii") != text:
        raise MalformedCheckpointError(f"root hash must be {ROOT_HASH_SIZE} bytes, canonical")
    return root


def sign_checkpoint(checkpoint: Checkpoint, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Return ``checkpoint`` as a signed note with one signature by ``key_name``.

    The C2SP spec says the key name SHOULD equal the origin.
    """
    return sign_note(format_body(checkpoint), key_name, private_key)


def open_checkpoint(
    note: str | bytes,
    key_name: str,
    public_key: Ed25519PublicKey,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint and return it.

    Raises what ``open_note`` raises, MalformedCheckpointError for a bad body
    and, when ``origin`` is given, OriginMismatchError for another log's.
    """
    checkpoint = parse_body(open_note(note, key_name, public_key))
    if origin is not None and checkpoint.origin != origin:
        raise OriginMismatchError(checkpoint.origin, origin)
    return checkpoint


# --- Signed notes ------------------------------------------------------------


def sign_note(text: str, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Return ``text`` as a signed note with one Ed25519 signature.

    Preconditions: ``text`` is non-empty, ends with a newline and has no ASCII
    control characters other than newline; ``key_name`` is a valid key name.
    """
    _check_key_name(key_name)
    if not text.endswith("\n") or _CONTROL.search(text):
        raise MalformedNoteError("note text must end with a newline and hold no controls")
    public = _raw_public_key(private_key.public_key())
    signature = private_key.sign(text.encode("utf-8"))
    blob = _key_id_bytes(key_name, public) + signature
    return f"{text}\n{SIGNATURE_PREFIX}{key_name} {base64.b64encode(blob).decode('ascii')}\n"


def open_note(note: str | bytes, key_name: str, public_key: Ed25519PublicKey) -> str:
    """Verify ``note`` against one known key and return its text.

    Signatures by other keys (another name or key id) are ignored, as the
    spec requires. Raises MalformedNoteError, BadSignatureError when a
    signature by the key fails, UnknownKeyError when the key did not sign.
    """
    text, signature_lines = _split_note(_note_text(note))
    want_id = key_id(key_name, public_key)
    message = text.encode("utf-8")
    verified = False
    for name, found_id, signature in map(_parse_signature_line, signature_lines):
        if name != key_name or found_id != want_id:
            continue
        if verified:
            raise MalformedNoteError(f"repeated signature by {key_name}")
        try:
            public_key.verify(signature, message)
        except InvalidSignature:
            raise BadSignatureError(key_name, want_id) from None
        verified = True
    if not verified:
        raise UnknownKeyError(key_name, want_id)
    return text


def _note_text(note: str | bytes) -> str:
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNoteError("note is not valid UTF-8") from None
    if _CONTROL.search(note):
        raise MalformedNoteError("note holds ASCII control characters")
    return note


def _split_note(note: str) -> tuple[str, list[str]]:
    # The text ends at the last blank line; everything after it is signatures.
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures.endswith("\n"):
        raise MalformedNoteError("note must end with a signature line and a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has {len(lines)} signatures, limit {MAX_SIGNATURES}")
    return text, lines


def _parse_signature_line(line: str) -> tuple[str, int, bytes]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNoteError(f"signature line {line!r} does not start with an em dash")
    name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not _is_valid_key_name(name) or not encoded:
        raise MalformedNoteError(f"signature line {line!r} is malformed")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise MalformedNoteError(f"signature line {line!r} is not base64") from None
    if len(blob) < 5:
        raise MalformedNoteError(f"signature line {line!r} is too short")
    return name, int.from_bytes(blob[:4], "big"), blob[4:]


# --- Keys --------------------------------------------------------------------


def _is_valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def _check_key_name(name: str) -> None:
    if not _is_valid_key_name(name):
        raise InvalidKeyError(f"key name {name!r} is empty or has spaces or '+'")


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key_id_bytes(key_name: str, raw_public_key: bytes) -> bytes:
    material = key_name.encode("utf-8") + b"\n" + SIGNATURE_TYPE_ED25519 + raw_public_key
    return hashlib.sha256(material).digest()[:4]


def key_id(key_name: str, public_key: Ed25519PublicKey) -> int:
    """Return the signed-note key id of an Ed25519 key under ``key_name``."""
    return int.from_bytes(_key_id_bytes(key_name, _raw_public_key(public_key)), "big")


def verifier_key(key_name: str, public_key: Ed25519PublicKey) -> str:
    """Return the signed-note verifier key ``<name>+<hex id>+<base64(0x01||key)>``."""
    _check_key_name(key_name)
    raw = _raw_public_key(public_key)
    encoded = base64.b64encode(SIGNATURE_TYPE_ED25519 + raw).decode("ascii")
    return f"{key_name}+{_key_id_bytes(key_name, raw).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, Ed25519PublicKey]:
    """Return (key name, public key) from a verifier key; check its key id."""
    # Split from the left: base64 may itself contain '+'.
    name, _, rest = vkey.partition("+")
    id_hex, _, encoded = rest.partition("+")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise InvalidKeyError("verifier key material is not base64") from None
    if not _is_valid_key_name(name) or len(raw) != 33 or raw[:1] != SIGNATURE_TYPE_ED25519:
        raise InvalidKeyError(f"{vkey!r} is not an Ed25519 verifier key")
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex) or _key_id_bytes(name, raw[1:]).hex() != id_hex:
        raise InvalidKeyError(f"{vkey!r} has a wrong key id")
    return name, Ed25519PublicKey.from_public_bytes(raw[1:])


def private_key_from_seed(seed_hex: str) -> Ed25519PrivateKey:
    """Return the Ed25519 key of a 32-byte seed written as 64 hex digits."""
    try:
        seed = bytes.fromhex(seed_hex.strip())
    except ValueError:
        raise InvalidKeyError("seed is not hexadecimal") from None
    if len(seed) != 32:
        raise InvalidKeyError(f"seed is {len(seed)} bytes, want 32")
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key_from_pem(pem: str | bytes) -> Ed25519PrivateKey:
    """Return the Ed25519 key of an unencrypted PKCS#8 PEM."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidKeyError("not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidKeyError(f"PEM holds a {type(key).__name__}, want Ed25519")
    return key


def load_private_key(secret: str) -> Ed25519PrivateKey:
    """Return the Ed25519 key in ``secret``: a PEM, or a 32-byte hex seed."""
    if "-----BEGIN" in secret:
        return private_key_from_pem(secret)
    return private_key_from_seed(secret)
