"""A shared store of flag definitions, as the poller sees it: leader election, reads, writes.

The store is anything with posthog-python's four-method provider protocol
(`should_fetch_flag_definitions`, `get_flag_definitions`, `on_flag_definitions_received`,
`shutdown`), each method sync or async, so a provider written for posthog-python plugs in
unchanged. `CacheBridge` is the one place that calls it, and it is called only from the
poller's thread (and once at shutdown): evaluation never waits on a shared store.

Why the bridge exists:
- A store is someone else's code talking to someone else's server. Every call is guarded:
  a failing `should_fetch` means "fetch directly", a failing read means "fetch directly",
  a failing write only costs the other processes a fresher copy. One warning is logged
  when a store starts failing and one line when it works again, not one per poll.
- Awaitables are run to completion on a private event loop with a deadline, so an async
  provider cannot stall the poller forever.
- Stores that know more than the protocol (our Redis store) offer optional methods the
  bridge uses when present: `on_flag_definitions_unchanged(etag)` after a 304 (keep the
  shared copy alive; False when it is gone and must be written again), and
  `wait_for_flag_definitions_change(timeout, wake)` as the poller's sleep (return early
  when another process publishes new definitions).
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any, Protocol, TypedDict, runtime_checkable

__all__ = [
    "CALL_TIMEOUT",
    "CacheBridge",
    "FlagDefinitionCacheData",
    "FlagDefinitionCacheProvider",
    "has_document_shape",
    "is_document",
    "shared_document",
]

log = logging.getLogger("hogkit.transport.definitions_cache")

CALL_TIMEOUT = 5.0
"""Seconds one awaitable provider call may run before it counts as failed."""


class _SharedDefinitions(TypedDict):
    flags: list[dict[str, Any]]
    group_type_mapping: dict[str, str]
    cohorts: dict[str, Any]


class FlagDefinitionCacheData(_SharedDefinitions, total=False):
    """The document a provider stores and hands back: the server's definitions in the
    protocol's fields. `shared_document` always writes all five; a document another SDK
    wrote may lack the last two, and readers then assume False and 1."""

    minimal_flag_called_events: bool
    property_matching_version: int


@runtime_checkable
class FlagDefinitionCacheProvider(Protocol):
    """posthog-python's definitions-cache protocol; every method may also return an awaitable."""

    def should_fetch_flag_definitions(self) -> Any:
        """True when this process should download the definitions this round."""
        ...

    def get_flag_definitions(self) -> Any:
        """The shared definitions document, or None when there is none."""
        ...

    def on_flag_definitions_received(self, data: FlagDefinitionCacheData) -> Any:
        """Store a freshly downloaded document for the other processes."""
        ...

    def shutdown(self) -> Any:
        """Release whatever the provider holds (a lock, connections)."""
        ...


_TABLES = ("group_type_mapping", "cohorts")
_FIELDS = ("flags", *_TABLES)


def shared_document(document: Mapping[str, Any], *, read: bool = False) -> FlagDefinitionCacheData:
    """The document a provider receives: the server's definitions, in the protocol's fields;
    with `read`, a document read from the store, as it is put in force.

    `property_matching_version` defaults to 1 and `minimal_flag_called_events` to False, as
    a reader of the shared copy would assume when they are absent. Group types or cohorts
    of another JSON type are kept as they came, as posthog-python keeps them; an empty
    one (null, 0, "") is handed to the store as `{}` and put in force as it was read.
    """
    tables: dict[str, Any] = {
        name: copy.copy(document.get(name) if read else document.get(name) or {})
        for name in _TABLES
    }
    shared: FlagDefinitionCacheData = {
        "flags": list(document.get("flags") or []),
        "group_type_mapping": tables["group_type_mapping"],
        "cohorts": tables["cohorts"],
        "minimal_flag_called_events": document.get("minimal_flag_called_events") is True,
        "property_matching_version": document.get("property_matching_version", 1),
    }
    return shared


def has_document_shape(answer: Any, fields: tuple[str, ...] = _FIELDS) -> bool:
    """Whether `answer` has the shape of a definitions document: a mapping with `fields`
    (by default the protocol's three), its flags a list of flag objects (or empty).

    Anything else (flags given as a string, an error object a proxy answers with) would
    put garbage or nothing in force, so whoever handed it over, a store or the server, it
    counts as no answer, as posthog-python's client takes it. A download may leave out
    the tables (`fields=("flags",)`): hogkit reads a missing one as empty, as it always
    has for documents written by hand."""
    if not isinstance(answer, Mapping) or any(k not in answer for k in fields):
        return False
    flags = answer["flags"]
    return not flags or (
        isinstance(flags, (list, tuple)) and all(isinstance(f, Mapping) for f in flags)
    )


def is_document(answer: Any) -> bool:
    """Whether a store's answer is a definitions document: of that shape, and holding
    nothing JSON cannot hold (a store hands over Python objects, not JSON text)."""
    if not has_document_shape(answer):
        return False
    try:
        json.dumps({k: answer[k] for k in _FIELDS}, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


class _Failed:
    """A provider call that raised or timed out (distinct from a None answer)."""


FAILED = _Failed()


class CacheBridge:
    """Guarded calls into a definitions-cache provider (see the module docstring)."""

    def __init__(self, provider: Any, *, call_timeout: float = CALL_TIMEOUT) -> None:
        self.provider = provider
        self._call_timeout = call_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_pid = 0
        self.failing = False
        self.round_failed = False
        self._shutdown_lock = threading.Lock()
        self._shut = False
        self.last_error: str | None = None

    # ------------------------------------------------------------------ calls

    def _resolve(self, result: Any) -> Any:
        if not inspect.isawaitable(result):
            return result
        loop = self._loop
        if loop is None or loop.is_closed() or self._loop_pid != os.getpid():
            loop = self._loop = asyncio.new_event_loop()
            self._loop_pid = os.getpid()
        if loop.is_running():  # the poller's call in flight; this one (shutdown) gets its own
            loop = asyncio.new_event_loop()
            try:
                return loop.run_until_complete(asyncio.wait_for(result, self._call_timeout))
            finally:
                loop.close()
        return loop.run_until_complete(asyncio.wait_for(result, self._call_timeout))

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return self._resolve(getattr(self.provider, name)(*args))
        except Exception as exc:
            self.round_failed = True
            self.last_error = f"{name}: {type(exc).__name__}: {exc}"
            return FAILED

    def finish_round(self) -> None:
        """Log the change of state a poll round shows: one warning when the store starts
        failing, one line when a whole round works again."""
        failed, self.round_failed = self.round_failed, False
        if failed and not self.failing:
            self.failing = True
            log.warning(
                "the flag definitions cache failed (%s); fetching definitions "
                "directly until it works again",
                self.last_error,
            )
        elif not failed and self.failing:
            self.failing = False
            self.last_error = None
            log.info("the flag definitions cache works again; sharing definitions")

    # ------------------------------------------------------------------ the protocol

    def should_fetch(self) -> bool:
        """Whether to download this round; True when the provider cannot say."""
        answer = self._call("should_fetch_flag_definitions")
        return True if answer is FAILED else bool(answer)

    def read(self) -> Mapping[str, Any] | _Failed | None:
        """The shared document, None when the store has none (any false answer: None, an
        empty dict), `FAILED` when it failed or answered something that is not a document
        (the store is then as good as down: the round downloads instead)."""
        answer: Any = self._call("get_flag_definitions")
        if isinstance(answer, _Failed):
            return answer
        try:
            if not answer:
                return None
            usable = is_document(answer)
        except Exception:  # an answer whose truth or fields raise is no document either
            usable = False
        if not usable:
            self.round_failed = True
            self.last_error = "get_flag_definitions: not a flag definitions document"
            return FAILED
        document: Mapping[str, Any] = answer
        return document

    def received(self, document: Mapping[str, Any], etag: str | None) -> None:
        """Share a freshly downloaded document (the protocol has no room for the ETag; a store
        that wants it offers `on_flag_definitions_fetched(data, etag)`)."""
        data = shared_document(document)
        fetched = getattr(self.provider, "on_flag_definitions_fetched", None)
        if fetched is not None:
            self._call("on_flag_definitions_fetched", data, etag)
        else:
            self._call("on_flag_definitions_received", data)

    def unchanged(self, etag: str | None) -> bool:
        """After a 304: False when the store lost its copy and needs it written again."""
        if getattr(self.provider, "on_flag_definitions_unchanged", None) is None:
            return True
        answer = self._call("on_flag_definitions_unchanged", etag)
        return answer is FAILED or answer is not False

    def wait(self, timeout: float, wake: threading.Event) -> None:
        """The poller's sleep: until `timeout`, `wake`, or a change another process announced."""
        waiter = getattr(self.provider, "wait_for_flag_definitions_change", None)
        if waiter is None:
            wake.wait(timeout)
            return
        try:
            waiter(timeout, wake)
        except Exception:
            log.debug("waiting for a definitions change failed", exc_info=True)
            wake.wait(timeout)

    def shutdown(self) -> None:
        """Call the provider's `shutdown` once; close the private loop."""
        with self._shutdown_lock:
            if self._shut:
                return
            self._shut = True
        self._call("shutdown")
        loop = self._loop
        if loop is not None and self._loop_pid == os.getpid() and not loop.is_running():
            loop.close()
