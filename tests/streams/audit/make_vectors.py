"""Write the golden files in tests/streams/audit/testdata/.

Reproduce them, from the repository root, with::

    .venv/bin/python -m tests.streams.audit.make_vectors

and check that ``git diff tests/streams/audit/testdata`` is empty. Nothing here
imports ``streams.audit``: Merkle values come from the naive RFC 6962
transcription in ``rfc6962_reference.py`` and the checkpoint is assembled by
hand from the C2SP specs with ``hashlib`` and ``cryptography``, so that the
files check the library rather than echo it.

- ``rfc6962_vectors.json``: the 8-leaf tree of Certificate Transparency and
  transparency-dev/merkle; its roots for sizes 0..8, every inclusion and
  consistency proof, and named mutation probes that a verifier must reject.
- ``checkpoint_golden.json``: a checkpoint signed with a fixed Ed25519 seed
  (Ed25519 signatures are deterministic, RFC 8032).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.streams.audit.rfc6962_reference import mth, path, proof

TESTDATA = Path(__file__).parent / "testdata"
COMMAND = ".venv/bin/python -m tests.streams.audit.make_vectors"

LEAVES_HEX = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
LEAVES = [bytes.fromhex(leaf) for leaf in LEAVES_HEX]

# The cases transparency-dev/merkle proof/verify_test.go corrupts (0-based).
PROBED_INCLUSIONS = [(0, 8), (5, 8), (2, 3), (1, 5)]
PROBED_CONSISTENCIES = [(1, 8), (6, 8), (2, 5), (6, 7)]

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def hexes(values: list[bytes]) -> list[str]:
    return [value.hex() for value in values]


def inclusion_case(index: int, size: int) -> dict[str, Any]:
    return {
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": leaf_hash(LEAVES[index]).hex(),
        "proof": hexes(path(index, LEAVES[:size])),
        "root": mth(LEAVES[:size]).hex(),
    }


def consistency_case(first: int, second: int) -> dict[str, Any]:
    return {
        "first": first,
        "second": second,
        "first_root": mth(LEAVES[:first]).hex(),
        "second_root": mth(LEAVES[:second]).hex(),
        "proof": hexes(proof(first, LEAVES[:second])),
    }


def flipped(value: bytes, bit: int) -> bytes:
    return bytes([value[0] ^ bit]) + value[1:]


def inclusion_probes(index: int, size: int) -> list[dict[str, Any]]:
    """Mutations of a good inclusion proof, after verify_test.go's."""
    good = inclusion_case(index, size)
    hashes = path(index, LEAVES[:size])
    root, leaf = mth(LEAVES[:size]), leaf_hash(LEAVES[index])
    other_root = mth(LEAVES[: size - 1]) if size > 1 else SOME_HASH
    changes: list[tuple[str, dict[str, Any]]] = [
        ("wrong-index", {"leaf_index": index + 1}),
        ("index-minus-one", {"leaf_index": index - 1}),
        ("index-xor-two", {"leaf_index": index ^ 2}),
        # Only sizes that change the proof's shape can be caught: a proof for
        # (1, 5) also "verifies" for (1, 6), because hashes alone cannot tell
        # a leaf from a subtree. Verifiers must take sizes from a checkpoint.
        ("wrong-size", {"tree_size": size * 2}),
        ("size-halved", {"tree_size": size // 2}),
        ("wrong-leaf", {"leaf_hash": leaf_hash(b"WrongLeaf").hex()}),
        ("short-leaf", {"leaf_hash": b"WrongLeaf".hex()}),
        ("wrong-root", {"root": other_root.hex()}),
        ("empty-root", {"root": EMPTY_ROOT.hex()}),
        ("random-root", {"root": SOME_HASH.hex()}),
        ("extra-hash", {"proof": hexes(hashes + [SOME_HASH])}),
        ("trailing-root", {"proof": hexes(hashes + [root])}),
        ("trailing-garbage", {"proof": hexes(hashes + [b""])}),
        ("preceding-root", {"proof": hexes([root] + hashes)}),
        ("preceding-garbage", {"proof": hexes([b""] + hashes)}),
    ]
    changes += _proof_mutations(hashes, bit=8)
    return [
        {"name": name, "case": f"inclusion {index}/{size}", **good, **change}
        for name, change in changes
    ]


def consistency_probes(first: int, second: int) -> list[dict[str, Any]]:
    """Mutations of a good consistency proof, after verify_test.go's."""
    good = consistency_case(first, second)
    hashes = proof(first, LEAVES[:second])
    root1, root2 = mth(LEAVES[:first]), mth(LEAVES[:second])
    changes: list[tuple[str, dict[str, Any]]] = [
        ("wrong-size", {"first": first + 1}),
        ("first-minus-one", {"first": first - 1}),
        ("first-xor-two", {"first": first ^ 2}),
        ("second-doubled", {"second": second * 2}),
        ("second-halved", {"second": second // 2}),
        ("wrong-root", {"first_root": SOME_HASH.hex()}),
        ("wrong-second-root", {"second_root": SOME_HASH.hex()}),
        ("short-root", {"first_root": b"WrongRoot".hex()}),
        ("swapped-roots", {"first_root": root2.hex(), "second_root": root1.hex()}),
        ("empty-proof", {"proof": []}),
        ("extra-hash", {"proof": hexes(hashes + [SOME_HASH])}),
        ("trailing-root", {"proof": hexes(hashes + [root2])}),
        ("trailing-garbage", {"proof": hexes(hashes + [b""])}),
        ("preceding-root", {"proof": hexes([root1] + hashes)}),
        ("preceding-first-hash", {"proof": hexes(hashes[:1] + hashes)}),
    ]
    changes += _proof_mutations(hashes, bit=16)
    return [
        {"name": name, "case": f"consistency {first}/{second}", **good, **change}
        for name, change in changes
    ]


def _proof_mutations(hashes: list[bytes], bit: int) -> list[tuple[str, dict[str, Any]]]:
    changes: list[tuple[str, dict[str, Any]]] = []
    for position in range(len(hashes)):
        changed = hashes.copy()
        changed[position] = flipped(changed[position], bit)
        changes.append((f"flipped-bit-in-hash-{position}", {"proof": hexes(changed)}))
    if hashes:
        changes.append(("truncated-proof", {"proof": hexes(hashes[:-1])}))
    if len(hashes) > 1:
        swapped = [hashes[1], hashes[0], *hashes[2:]]
        changes.append(("swapped-hashes", {"proof": hexes(swapped)}))
        changes.append(("inserted-hash", {"proof": hexes([hashes[0], SOME_HASH, *hashes[1:]])}))
    return changes


def rfc6962_vectors() -> dict[str, Any]:
    sizes = range(1, len(LEAVES) + 1)
    return {
        "about": "RFC 6962 8-leaf tree of CT / transparency-dev; indexes 0-based",
        "generated_by": COMMAND,
        "leaves": LEAVES_HEX,
        "leaf_hashes": hexes([leaf_hash(leaf) for leaf in LEAVES]),
        "roots": hexes([mth(LEAVES[:size]) for size in range(len(LEAVES) + 1)]),
        "inclusion": [inclusion_case(i, n) for n in sizes for i in range(n)],
        "consistency": [consistency_case(m, n) for n in sizes for m in range(1, n + 1)],
        "inclusion_probes": [p for i, n in PROBED_INCLUSIONS for p in inclusion_probes(i, n)],
        "consistency_probes": [
            p for m, n in PROBED_CONSISTENCIES for p in consistency_probes(m, n)
        ],
    }


def checkpoint_golden() -> dict[str, Any]:
    """A checkpoint note built by hand from the C2SP tlog-checkpoint and signed-note specs."""
    seed = bytes(range(32))
    key_name = origin = "acgs2.example/audit"
    size, root, timestamp_ms = 8, mth(LEAVES), 1767225600000  # 2026-01-01T00:00:00Z
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntimestamp {timestamp_ms}\n"
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes_raw()
    key_id = hashlib.sha256(key_name.encode() + b"\n\x01" + public).digest()[:4]
    signature = base64.b64encode(key_id + key.sign(body.encode())).decode()
    key_material = base64.b64encode(b"\x01" + public).decode()
    return {
        "about": "checkpoint signed with a fixed Ed25519 seed",
        "generated_by": COMMAND,
        "seed_hex": seed.hex(),
        "key_name": key_name,
        "verifier_key": f"{key_name}+{key_id.hex()}+{key_material}",
        "origin": origin,
        "size": size,
        "root_hash": root.hex(),
        "timestamp_ms": timestamp_ms,
        "note": f"{body}\n\u2014 {key_name} {signature}\n",
    }


def write(name: str, content: dict[str, Any]) -> None:
    text = json.dumps(content, indent=1, ensure_ascii=False) + "\n"
    (TESTDATA / name).write_text(text, encoding="utf-8")


def main() -> None:
    TESTDATA.mkdir(exist_ok=True)
    write("rfc6962_vectors.json", rfc6962_vectors())
    write("checkpoint_golden.json", checkpoint_golden())


if __name__ == "__main__":
    main()
