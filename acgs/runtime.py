"""Process-level settings shared by the long-running components.

``freeze_startup_objects``: a component builds most of its Python objects while starting (modules, classes,
schemas, models, clients) and keeps them for its whole life. CPython's cyclic collector still walks all of
them at every full (generation 2) collection: measured under load on this machine, those collections paused
the gateway and the projection worker for 100–500 ms, which the requests and records in flight at that
moment waited out. ``gc.freeze()`` moves the objects alive at that point into a generation the collector
no longer visits; collections after it only walk what was created since.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("acgs.runtime")


def freeze_startup_objects(component: str) -> int:
    """Collect once, then exempt every surviving object from later collections; returns how many."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("%s: %d startup objects exempted from garbage collection", component, frozen)
    return frozen
