"""Fast random ids for the request path.

``uuid.uuid4`` asks the kernel for 16 random bytes per id; on the hot path that syscall costs more than the
rest of the id. Ids only need to be unique, not secret (reads are scoped by tenant), so a generator seeded
once from the kernel serves them.
"""

from __future__ import annotations

import os
import random
import uuid

_rng = random.Random(os.urandom(32))


def new_id() -> str:
    """A random (version 4) UUID as text."""
    return str(uuid.UUID(int=_rng.getrandbits(128), version=4))


def reseed_after_fork() -> None:
    """Give a forked worker its own sequence (uvicorn workers fork from one parent)."""
    _rng.seed(os.urandom(32))


os.register_at_fork(after_in_child=reseed_after_fork)
