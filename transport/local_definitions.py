"""The local flag definitions in force: read, replaced and watched in one place.

Definitions come either from the application (an exported file, given at start or later
through `replace_definitions`) or from a `DefinitionsPoller` that downloads them. Listeners hear of
every new set when it is first used, so they never run on the poller's thread.

Definitions handed over "until the next download" are ended by the poller as it installs
one (`DefinitionsPoller.on_install`): a once-per-download event, so a flag read is a plain
attribute read and never asks whether it happened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hogkit.core import FlagSet
from hogkit.core.errors import HogkitError

from .definitions_cache import CacheBridge
from .evaluations import FlagMeta
from .flags_transport import FlagsTransport
from .poller import DefinitionsPoller, DefinitionsStatus
from .remote_flags import safe_text

__all__ = ["Definitions", "LocalDefinitions", "load_definitions", "open_definitions"]

log = logging.getLogger("hogkit.transport.flags")

Definitions = str | bytes | os.PathLike[str] | FlagSet | Mapping[str, Any] | Sequence[Any]


def load_definitions(source: Definitions) -> FlagSet:
    """A `FlagSet` from an exported file: a path, JSON bytes/text, a decoded document or a set.

    Raises `DefinitionsError` (bad JSON or shape) or `OSError` (unreadable file).
    """
    if isinstance(source, FlagSet):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return FlagSet.from_json(bytes(source))
    if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
        return FlagSet.from_json(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return FlagSet.from_json(handle.read())
    return FlagSet.from_document(source)


class LocalDefinitions:
    """Given definitions (`offline`) or the poller's latest, plus change listeners."""

    def __init__(
        self,
        request_timeout: float,
        offline: bool,
        given: FlagSet | None,
        poller: DefinitionsPoller | None,
    ) -> None:
        """`given` is used when `offline` (None: none could be loaded); otherwise the
        `poller`, if any, supplies them. The first read may wait `request_timeout`."""
        self.request_timeout = request_timeout
        self.offline = offline
        # Whether flags are never asked of the server: definitions given at start are the
        # whole truth; ones handed over later may leave the rest to the server.
        self.local_only = offline
        self.given = given
        self.poller = poller
        # Definitions handed over until the next download: the poller's install count
        # when they were (None: none handed over that way).
        self._until: int | None = None
        # Per definitions in force: the `minimalFlagCalledEvents` gate and the memo of flag
        # metadata its snapshots share (see `FlagEvaluations`).
        self._per_set: tuple[FlagSet | None, bool, dict[str, FlagMeta]] = (None, False, {})
        self._listeners: list[Callable[[FlagSet | None], None]] = []
        # Held while the definitions in force change: the poller's thread ends a handover
        # (`_downloaded`) while the application's may replace them.
        self._swap = threading.Lock()
        if poller is not None:
            poller.in_force(self.holds_flags)
            poller.on_install(self._downloaded)

    def installs(self) -> int:
        """How many documents the poller put in force so far (downloaded or read from a
        shared store); -1 without a poller, where none ever comes."""
        return self.poller.state.installs if self.poller is not None else -1

    def holds_flags(self) -> bool:
        """Whether the definitions in force list a flag: those handed over until the next
        download while they are, else the downloaded ones."""
        if self._until is not None:
            return self.given is not None and bool(self.given.keys)
        return self.poller is not None and self.poller.state.holds_flags()

    def _downloaded(self) -> None:
        """The poller put a document in force (a load, a poll or a shared store's copy).

        Told on the thread that installed it, so a flag read never checks for it."""
        with self._swap:
            self._end_handover()

    def _end_handover(self) -> None:
        """Put the downloads back in force if one came in after definitions were handed
        over until the next download (called with `_swap` held).

        `given` is left for the next replacement to drop: a read on another thread that saw
        `offline` just before it turned false still finds a set, not None."""
        mark = self._until
        if mark is None or self.installs() == mark:
            return
        self._until = None
        self.offline = self.local_only = False

    @property
    def flagset(self) -> FlagSet | None:
        """The definitions in force right now (never waits)."""
        if self.offline:
            return self.given
        return self.poller.flagset if self.poller is not None else None

    def definitions(self) -> FlagSet | None:
        """The definitions for a flag call; the first call may wait for the first download."""
        if self.offline:
            return self.given
        poller = self.poller
        if poller is None:
            return None
        return poller.current(self.request_timeout)

    def for_set(self, fs: FlagSet | None) -> tuple[FlagSet | None, bool, dict[str, FlagMeta]]:
        """(fs, its `minimalFlagCalledEvents` gate, its metadata memo), made once per set."""
        seen = self._per_set
        if seen[0] is not fs:
            gate = fs is not None and fs.minimal_flag_called_events
            seen = self._per_set = (fs, gate, {})
            self._changed(fs)
        return seen

    def replace_definitions(
        self,
        source: Definitions | None,
        *,
        temporary: bool = False,
        ask_server: bool = False,
        until_download: bool = False,
    ) -> Callable[[], None]:
        """Use `source` as the local definitions from now on, instead of any download;
        flags are then evaluated locally only, never asked of the server, unless
        `ask_server` (then what they cannot decide goes to `/flags`, as with downloads).

        For embedders and test kits that supply definitions themselves. `None` leaves no
        local definitions at all. Normally the poller (if any) stops for good. With
        `temporary` it keeps refreshing behind the replacement, and the returned `restore`
        puts back what was in force before (the downloads and the remote fallback
        included); without it, `restore` can only bring back definitions that were given.
        With `until_download` (posthog-python's `client.feature_flags = [...]`) the poller
        keeps its schedule and its next download puts the downloads back in force.
        """
        fs = load_definitions(source) if source is not None else None
        keep = temporary or until_download
        if not keep and self.poller is not None:
            self.poller.stop(0.0)
            self.poller = None
        with self._swap:
            saved = self.offline, self.local_only, self.given, self._until
            self.given, self.offline, self.local_only = fs, True, not ask_server
            self._until = self.installs() if until_download else None
        self.for_set(fs)

        def restore() -> None:
            with self._swap:
                self.offline, self.local_only, self.given, self._until = saved
                self._end_handover()  # a download may have come while these were replaced
            self.for_set(self.flagset)

        return restore

    def on_change(self, listener: Callable[[FlagSet | None], None]) -> Callable[[], None]:
        """Call `listener(flagset)` whenever other definitions come into force; returns
        the function that stops it.

        A new set is noticed when it is first used (or replaced), so a listener never runs
        on the poller's thread nor under its locks; a raising listener is logged and
        otherwise ignored.
        """
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def _changed(self, fs: FlagSet | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(fs)
            except Exception:
                log.exception("a definitions listener raised")

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's poller may have held it) and the
        poller restarted if the parent's was running (its thread is gone)."""
        self._swap = threading.Lock()
        if self.poller is not None:
            self.poller.resume_after_fork()

    def status(self) -> DefinitionsStatus:
        """Where the definitions in force came from (see `DefinitionsStatus`)."""
        if self.poller is not None and not self.offline:
            return self.poller.status()
        loaded = self.given
        return DefinitionsStatus(
            source="file" if loaded is not None else None,
            age=None,
            etag=None,
            last_error=None,
            flags=len(loaded.keys) if loaded is not None else 0,
            fetches=0,
        )

    def reload(self) -> bool:
        """Fetch definitions now, on this thread, then keep them fresh in the background.
        True when the server answered usefully."""
        if self.poller is None:
            return False
        return self.poller.load_now()

    def stop(self, timeout: float) -> None:
        """Stop the poller, if any, waiting at most `timeout` seconds."""
        if self.poller is not None:
            self.poller.stop(timeout)


def open_definitions(
    transport: FlagsTransport,
    request_timeout: float,
    given: Definitions | None,
    *,
    poller: bool,
    poll_interval: float,
    refresh: bool,
    definitions_cache: Any,
    follower_only: bool,
) -> LocalDefinitions:
    """The definitions a client starts with: `given` ones (a file that fails to load is
    logged and leaves none), else a poller when `poller`, else none at all.

    The poller starts at the first flag read or `load_feature_flags()`, as posthog-python
    starts its own: definitions polls are billed, and a process that only captures events
    should not pay for them."""
    loaded: FlagSet | None = None
    running: DefinitionsPoller | None = None
    if given is not None:
        try:
            loaded = load_definitions(given)
        except (HogkitError, OSError, ValueError, TypeError) as exc:
            log.error("could not load flag_definitions: %s", safe_text(exc))
    elif poller:
        running = DefinitionsPoller(
            transport,
            interval=poll_interval,
            refresh=refresh,
            cache=CacheBridge(definitions_cache) if definitions_cache is not None else None,
            follower_only=follower_only,
        )
    return LocalDefinitions(request_timeout, given is not None, loaded, running)
