"""After its initialisers a worker freezes its startup heap, so full collections skip it (no database)."""

from __future__ import annotations

import gc
import weakref

from cadml_site.process_state import freeze_startup_heap


def test_freeze_moves_what_exists_out_of_the_collected_generations():
    startup_object = [object()]  # stands for an imported module, the settings, the loaded model...
    try:
        frozen = freeze_startup_heap()
        # the returned count is the permanent generation's at the freeze; other threads of this test process (a
        # thumbnail runner left by an earlier test, for one) may free a frozen object right after, never add one
        assert 0 < gc.get_freeze_count() <= frozen
        tracked = gc.get_objects()  # the collected generations only
        assert not any(o is startup_object for o in tracked)
        later = [object()]
        assert any(o is later for o in gc.get_objects())  # what comes after is collected as usual
    finally:
        gc.unfreeze()  # this is the test process, not a worker


def test_cyclic_garbage_from_before_the_freeze_is_collected_not_frozen():
    class Node:
        pass

    gc.disable()  # no automatic collection in between: only freeze_startup_heap's own can free the cycle
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b  # a cycle: only the cyclic collector frees it
        freeze_startup_heap()
        assert alive() is None  # collected before the freeze, not kept forever in the permanent generation
    finally:
        gc.unfreeze()
        gc.enable()
