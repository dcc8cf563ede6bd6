"""A standalone proxy settles its heap once it serves (``freeze_start_up_heap``)."""

from __future__ import annotations

import subprocess
import sys

# Run in a child: freezing is process-wide, and nothing frozen is ever collected again.
PROBE = """
import gc, weakref
from codex_admin.proxy import freeze_start_up_heap

class Node:
    pass

garbage = Node(); garbage.me = garbage          # a cycle only the collector frees
dead = weakref.ref(garbage); del garbage
kept = [Node() for _ in range(1000)]           # live: what a proxy built at start-up
freeze_start_up_heap()
assert dead() is None, "garbage was frozen instead of collected"
assert gc.get_freeze_count() >= len(kept), gc.get_freeze_count()
print(gc.get_count()[0], gc.get_freeze_count())
"""


def test_start_up_garbage_is_collected_and_the_rest_frozen() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    young, frozen = map(int, result.stdout.split())
    assert young < 50 and frozen >= 1000
