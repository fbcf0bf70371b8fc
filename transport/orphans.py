"""Workers whose client was dropped without `shutdown()`.

A pipeline is held weakly (by the process-wide hooks) and its worker's threads hold no
reference to it, so a client the application drops is collected. Its worker is then
adopted here: it sends what was queued and ends by itself, and at interpreter exit it gets
the exit deadline like an open client, after which what it still holds is reported lost
rather than vanishing with the process.
"""

from __future__ import annotations

import threading
import time

from .worker import Worker

__all__ = ["adopt", "stop_orphans"]

# How long a stopped orphan may take to hand back what it still queued.
_STOP_GRACE = 0.1

_orphans: set[Worker] = set()
_lock = threading.Lock()


def adopt(worker: Worker) -> None:
    """`worker`'s pipeline was collected: let it finish what it holds, then end."""
    global _orphans
    with _lock:
        _orphans = {w for w in _orphans if w.thread.is_alive()}
        _orphans.add(worker)
    worker.retire()


def stop_orphans(deadline: float) -> None:
    """At exit: orphans get until `deadline` to send what they hold (they stop by
    themselves once it is sent); what is left then is reported lost (reason "deadline")."""
    with _lock:
        workers = [w for w in _orphans if w.thread.is_alive()]
    for worker in workers:
        worker.thread.join(max(0.0, deadline - time.monotonic()))
    for worker in workers:
        worker.halt(0.0)
    for worker in workers:
        worker.halt(_STOP_GRACE)
        worker.give_up()
