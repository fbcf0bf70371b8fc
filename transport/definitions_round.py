"""One refresh through a shared definitions store: read another process's copy, or lead.

With a store configured, most processes never download: they adopt the copy the leading
process wrote. A document read back is hashed the way a shared one is written, so reading
our own copy compiles nothing; a 304 keeps the store's copy alive (and rewrites it when
the store lost it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import xxhash
from hogkit.core.errors import HogkitError

from .definitions_cache import CacheBridge, shared_document
from .definitions_state import DefinitionsState

__all__ = ["SharedRound"]

log = logging.getLogger("hogkit.transport.poller")


class SharedRound:
    """Reads, adopts and writes the shared copy for a poller's `DefinitionsState`."""

    def __init__(self, cache: CacheBridge, state: DefinitionsState, *, follower_only: bool):
        self.cache = cache
        self.follower_only = follower_only
        self._state = state
        # Whether definitions with a flag are in force: the poller's, unless its owner puts
        # others in force (see `DefinitionsPoller.in_force`).
        self.holds_flags: Callable[[], bool] = state.holds_flags

    def run(self, fetch: Callable[[], bool]) -> bool:
        """The round: read when another process leads, `fetch` when we lead, when the store
        fails or answers no document, or when it is empty and no flag is loaded."""
        try:
            return self._round(fetch)
        finally:
            self.cache.finish_round()

    def _round(self, fetch: Callable[[], bool]) -> bool:
        cache, state = self.cache, self._state
        if self.follower_only or not cache.should_fetch():
            shared = cache.read()
            if isinstance(shared, Mapping) and (self._adopt(shared) or self.follower_only):
                return state.flagset is not None
            if self.follower_only:
                if cache.round_failed:
                    state.last_error = cache.last_error
                return True  # nothing to download: the filler process will share them
            if shared is None and self.holds_flags():
                return True  # an empty store is no reason to download over them
        return fetch()

    def _adopt(self, shared: Mapping[str, Any]) -> bool:
        """Put a document read from the shared store in force (compiled only when it changed)."""
        state = self._state
        try:
            document = shared_document(shared, read=True)
            state.install(msgspec.json.encode(document))
        except (HogkitError, ValueError, TypeError, msgspec.MsgspecError) as exc:
            state.problem(
                "shared",
                logging.ERROR,
                "the shared flag definitions are unusable (%s); keeping the current ones",
                exc,
            )
            return False
        etag = shared.get("etag")
        state.etag = etag if isinstance(etag, str) and etag else state.etag
        state.shared = document
        state.loaded("cache")
        return True

    def share(self, body: bytes) -> None:
        """Hand a complete 200 document to the shared store (after it compiled)."""
        state = self._state
        try:
            document = msgspec.json.decode(body)
        except (msgspec.DecodeError, RecursionError):
            log.debug("definitions not shared: msgspec cannot re-read them")
            return
        if isinstance(document, list):
            document = {"flags": document}
        state.shared = shared_document(document)
        # The store's copy is hashed like a read one, so reading it back compiles nothing.
        state.body_hash = xxhash.xxh3_64_intdigest(msgspec.json.encode(state.shared))
        self.cache.received(state.shared, state.etag)

    def unchanged(self) -> None:
        """After a 304: keep the shared copy alive, writing it again if the store lost it."""
        state = self._state
        if not self.cache.unchanged(state.etag) and state.shared is not None:
            self.cache.received(state.shared, state.etag)
