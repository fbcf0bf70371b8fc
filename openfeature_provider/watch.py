"""Provider events from the client's definitions.

- READY: once definitions are in force (at `initialize`, or when they first arrive later);
  again when they are fresh after a STALE or ERROR episode.
- CONFIGURATION_CHANGED: a download changed the definitions, with the keys whose
  definitions differ (added, removed or edited), from the client's change listener.
- STALE: the server has not confirmed the definitions for longer than `stale_after`.
- ERROR: the server refuses them (401: bad key, 402: quota), once per episode.

The client tells of changes as they happen; age and refusals are read every
`check_interval` seconds by one daemon thread (`check()` does one such pass).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import Any

from hogkit.core import FlagSet
from hogkit.transport.client import Client
from openfeature.event import ProviderEvent, ProviderEventDetails
from openfeature.exception import ErrorCode, GeneralError, ProviderNotReadyError

from .reasons import flag_signature

__all__ = ["DefinitionsWatch", "changed_keys"]

Emit = Callable[[ProviderEvent, ProviderEventDetails], None]


class _State(enum.Enum):
    NOT_READY = "not_ready"
    STARTING = "starting"
    READY = "ready"
    STALE = "stale"
    ERROR = "error"


def changed_keys(old: FlagSet | None, new: FlagSet | None) -> list[str]:
    """Keys added, removed or defined differently between two sets, sorted."""
    old_keys = set(old.keys) if old is not None else set()
    new_keys = set(new.keys) if new is not None else set()
    changed = old_keys ^ new_keys
    for key in old_keys & new_keys:
        if flag_signature(old, key) != flag_signature(new, key):
            changed.add(key)
    return sorted(changed)


def _refusal(status: int) -> str:
    if status == 401:
        return "flag definitions refused (HTTP 401): check the secret key"
    return "flag definitions refused (HTTP 402): feature flag quota exceeded"


class DefinitionsWatch:
    """Turns a client's definitions news into provider events (see the module docstring)."""

    def __init__(
        self, client: Client, emit: Emit, *, stale_after: float, check_interval: float
    ) -> None:
        self._client = client
        self._emit = emit
        self.stale_after = stale_after
        self.check_interval = max(0.01, check_interval)
        self._lock = threading.Lock()
        self._state = _State.NOT_READY
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Subscribe and decide readiness; raises the error `initialize` should report."""
        with self._lock:
            self._state = _State.STARTING
        polls = self._client.add_flag_definitions_listener(self._changed)
        status = self._client.flag_definitions_status()
        if polls and not status.loaded and status.refused is None:
            self._client.load_feature_flags()  # bounded by the poller's request timeout
            status = self._client.flag_definitions_status()
        if polls:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="hogkit-openfeature-watch", daemon=True
            )
            self._thread.start()
        with self._lock:
            if status.refused is not None:
                self._state = _State.ERROR
                raise GeneralError(_refusal(status.refused))
            if polls and not status.loaded:
                self._state = _State.NOT_READY
                raise ProviderNotReadyError("no flag definitions yet")
            self._state = _State.READY

    def stop(self) -> None:
        self._client.remove_flag_definitions_listener(self._changed)
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.check_interval):
            try:
                self.check()
            except Exception:  # a handler's failure must not end the watch
                continue

    def check(self) -> None:
        """One look at the definitions' age and refusals; emits what changed."""
        status = self._client.flag_definitions_status()
        event: tuple[ProviderEvent, ProviderEventDetails] | None = None
        with self._lock:
            state = self._state
            if state is _State.STARTING:
                return  # `initialize` reports the outcome
            if status.refused is not None:
                if state is not _State.ERROR:
                    self._state = _State.ERROR
                    details = ProviderEventDetails(
                        message=_refusal(status.refused), error_code=ErrorCode.GENERAL
                    )
                    event = (ProviderEvent.PROVIDER_ERROR, details)
            elif status.loaded and status.age is not None and status.age > self.stale_after:
                if state is _State.READY:
                    self._state = _State.STALE
                    message = f"flag definitions not confirmed for {status.age:.0f}s"
                    event = (ProviderEvent.PROVIDER_STALE, ProviderEventDetails(message=message))
            elif status.loaded and state is not _State.READY:
                self._state = _State.READY
                event = (ProviderEvent.PROVIDER_READY, ProviderEventDetails())
        if event is not None:
            self._emit(*event)

    def _changed(self, old: FlagSet | None, new: FlagSet | None) -> None:
        if new is None:
            self.check()
            return
        with self._lock:
            if self._state is _State.STARTING:
                return  # `initialize` reports READY once it returns
            first = self._state is not _State.READY
            self._state = _State.READY
        keys = changed_keys(old, new)
        details: Any = ProviderEventDetails(flags_changed=keys)
        if first:
            self._emit(ProviderEvent.PROVIDER_READY, details)
        elif keys:
            self._emit(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, details)
