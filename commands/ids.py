"""Fast ids for the request and stream paths.

``uuid.uuid4`` asks the kernel for 16 random bytes per id; on the hot path that syscall costs more than the
rest of the id. Ids only need to be unique, not secret (reads are scoped by tenant), so a generator seeded
once from the kernel serves them.

Derived ids (a replayed record gets the same one) are RFC 4122 version 5 UUIDs. ``derived_id`` returns the
same text as ``str(uuid.uuid5(namespace, name))`` without building the ``UUID`` object, which is most of that
call's cost (``bench/ids_bench.py``: about a third of the time); the gate makes several per command.
"""

from __future__ import annotations

import hashlib
import os
import random
import uuid

_rng = random.Random(os.urandom(32))


def new_id() -> str:
    """A random (version 4) UUID as text."""
    return str(uuid.UUID(int=_rng.getrandbits(128), version=4))


def derived_id(namespace: uuid.UUID, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))``: SHA-1 of namespace and name, version 5 and RFC 4122 variant bits."""
    raw = bytearray(hashlib.sha1(namespace.bytes + name.encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # variant 10xx
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def reseed_after_fork() -> None:
    """Give a forked worker its own sequence (uvicorn workers fork from one parent)."""
    _rng.seed(os.urandom(32))


os.register_at_fork(after_in_child=reseed_after_fork)
