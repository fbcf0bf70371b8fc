"""The worker's event building: queued `Deferred` calls turned into wire bytes as taken.

The queue calls `many` with a whole take (the bulk encoder) and `one` for each item the
bulk encoder left. Neither raises: a bug in the bulk encoder sends every item the
per-item way, and an item that cannot be built (too large, say) becomes None, its error
kept with the item until the worker collects both with `take_failures` to report the
event as lost.
"""

from __future__ import annotations

import logging

from hogkit.core.errors import HogkitError

from .queue import Deferred, Prepare, PrepareMany

__all__ = ["WorkerBuild"]

log = logging.getLogger("hogkit.transport")


class WorkerBuild:
    """Builds deferred events with a client's `prepare` and `prepare_many` functions."""

    def __init__(self, prepare: Prepare | None, prepare_many: PrepareMany | None) -> None:
        self.prepare = prepare
        self.prepare_many = prepare_many
        # Events `one` could not build since the last `take_failures` (error, item).
        self._failures: list[tuple[Exception, Deferred]] = []

    def take_failures(self) -> list[tuple[Exception, Deferred]]:
        """The events that could not be built since the last call, with their errors."""
        failures, self._failures = self._failures, []
        return failures

    def many(self, items: list[Deferred]) -> list[bytes | None]:
        """The bulk encoder's answer; on a bug in it, every item goes the per-item way."""
        prepare_many = self.prepare_many
        if prepare_many is not None:
            try:
                return prepare_many(items)
            except Exception:
                log.exception("bulk event building failed; building one by one")
        return [None] * len(items)

    def one(self, item: Deferred) -> bytes | None:
        """A deferred event's bytes, or None (its error kept for `take_failures`)."""
        prepare = self.prepare
        try:
            if prepare is None:
                raise HogkitError("a deferred event reached a worker that cannot build events")
            data = prepare(item)
            if data is None:
                raise HogkitError("a captured event could not be built")
            return data
        except Exception as exc:
            if not isinstance(exc, HogkitError):
                log.exception("the worker could not build a captured event")
            self._failures.append((exc, item))
            return None
