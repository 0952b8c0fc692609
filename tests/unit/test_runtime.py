"""acgs.runtime.freeze_startup_objects: startup objects leave the collector's view; later garbage is still freed."""

import gc
import weakref

from acgs.runtime import freeze_startup_objects


class Node:
    def __init__(self) -> None:
        self.other = self


def test_startup_garbage_is_collected_first_and_what_is_left_is_frozen():
    before_garbage = weakref.ref(Node())  # a cycle: only the collector frees it
    kept = Node()
    try:
        frozen = freeze_startup_objects("test")
        assert before_garbage() is None  # collected before freezing, not frozen as a leak
        assert frozen == gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects(generation=2))  # out of the collector's view
        later_garbage = weakref.ref(Node())
        gc.collect()
        assert later_garbage() is None  # what is created afterwards is collected as usual
    finally:
        gc.unfreeze()
