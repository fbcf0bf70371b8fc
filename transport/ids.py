"""Event uuids for the capture path: valid version 4 UUIDs at the cost of a counter step.

Every captured event needs a uuid in the caller's thread (it is the value `capture` returns),
so making one is on the hottest path the SDK has. Each process draws 74 random bits once,
from `os.urandom`, for the first 20 hex digits (with the version 4 and RFC 4122 variant
bits set), and numbers its events in the last 12 hex digits from a random start. The result
parses as a version 4 UUID, and ids are unique:

* across threads: `itertools.count` steps atomically (one C call under the GIL);
* across processes and forks: a forked child draws a new prefix before anything else runs
  in it (`os.register_at_fork`), and two processes share a prefix with probability about
  2**-74 per pair;
* within a process: the counter starts below 2**47, so it needs 2**47 events to wrap.

PostHog only needs event ids to be unique (it deduplicates on them), not unpredictable.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

__all__ = [
    "new_uuid",
]

_VERSION_MASK = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_VERSION_BITS = (0x4 << 76) | (0x2 << 62)
_COUNTER_BITS = 48
_COUNTER_START_MASK = (1 << (_COUNTER_BITS - 1)) - 1

_prefix = ""
_next: Callable[[], int] = itertools.count().__next__
# The last 3 hex digits come from a table, the 29 before them from `_block`, which changes
# every 4,096 ids: a uuid then costs one concatenation rather than a hex formatting.
_LOW = tuple(f"{low:03x}" for low in range(4096))
_block: tuple[int, str] = (-1, "")  # (counter >> 12, the text before the last 3 digits)


def _reseed() -> None:
    """A new random prefix and counter start (at import, and in every forked child)."""
    global _prefix, _next, _block
    bits = (int.from_bytes(os.urandom(16), "big") & _VERSION_MASK) | _VERSION_BITS
    head = f"{bits >> _COUNTER_BITS:020x}"
    _prefix = f"{head[:8]}-{head[8:12]}-{head[12:16]}-{head[16:20]}-"
    _next = itertools.count(bits & _COUNTER_START_MASK).__next__
    _block = (-1, "")


def new_uuid() -> str:
    """A fresh event uuid (version 4 layout), unique in this process and across processes."""
    global _block
    number = _next()
    high = number >> 12
    block = _block  # one read: another thread may replace it meanwhile, never change it
    if block[0] != high:
        block = _block = (high, f"{_prefix}{high:09x}")
    return block[1] + _LOW[number & 0xFFF]


_reseed()
if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork to survive
    os.register_at_fork(after_in_child=_reseed)
