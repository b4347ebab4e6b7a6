"""The server runner's process set-up (tracking.server)."""

import gc

from tracking.server import freeze_startup_objects


def test_startup_objects_are_left_out_of_garbage_collection():
    class Loaded:  # stands for what the application holds for the process's lifetime
        pass

    loaded = Loaded()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 1000
        assert not any(obj is loaded for obj in gc.get_objects())  # frozen objects are not tracked for collection
        made_later = Loaded()
        assert any(obj is made_later for obj in gc.get_objects())
    finally:
        gc.unfreeze()
    assert any(obj is loaded for obj in gc.get_objects())
