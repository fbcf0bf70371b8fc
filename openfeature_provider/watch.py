"""Provider events from the client's definitions.

- READY: once definitions are in force (at `initialize`, or when they first arrive later);
  again when they are fresh after a STALE or ERROR episode.
- CONFIGURATION_CHANGED: other definitions came into force, with the keys whose
  definitions differ (added, removed or edited). The client tells of a new set when it is
  first used (on the evaluating thread, never the poller's); the watch's own check notices
  it too when nothing evaluates.
- STALE: the server has not confirmed the definitions for longer than `stale_after`.
- ERROR: the server refuses them (401: bad key, 402: quota), once per episode.

Age, refusals and the set in force are read every `check_interval` seconds by one daemon
thread (`check()` does one such pass).
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
        self._service = client.flag_service
        self._emit = emit
        self.stale_after = stale_after
        self.check_interval = max(0.01, check_interval)
        self._lock = threading.Lock()
        self._state = _State.NOT_READY
        self._seen: FlagSet | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Subscribe and decide readiness; raises the error `initialize` should report."""
        service = self._service
        with self._lock:
            self._state = _State.STARTING
            self._seen = service.flagset
        self._unsubscribe = service.on_change(self._changed)
        polls = service.poller is not None and not service.offline
        status = self._client.flag_definitions_status()
        if polls and status.source is None and status.refused is None:
            self._client.load_feature_flags()  # bounded by the poller's request timeout
            status = self._client.flag_definitions_status()
        if polls:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="hogkit-openfeature-watch", daemon=True
            )
            self._thread.start()
        with self._lock:
            self._seen = service.flagset
            if status.refused is not None:
                self._state = _State.ERROR
                raise GeneralError(_refusal(status.refused))
            if polls and status.source is None:
                self._state = _State.NOT_READY
                raise ProviderNotReadyError("no flag definitions yet")
            self._state = _State.READY

    def stop(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
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
        """One look at the definitions: a new set in force (noticed here even when nothing
        evaluates), their age and refusals; emits what changed."""
        current = self._service.flagset
        if current is not self._seen:
            self._changed(current)
        status = self._client.flag_definitions_status()
        loaded = status.source is not None
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
            elif loaded and status.age is not None and status.age > self.stale_after:
                if state is _State.READY:
                    self._state = _State.STALE
                    message = f"flag definitions not confirmed for {status.age:.0f}s"
                    event = (ProviderEvent.PROVIDER_STALE, ProviderEventDetails(message=message))
            elif loaded and state is not _State.READY:
                self._state = _State.READY
                event = (ProviderEvent.PROVIDER_READY, ProviderEventDetails())
        if event is not None:
            self._emit(*event)

    def _changed(self, new: FlagSet | None) -> None:
        """Another set came into force (told by the client when it is first used, or
        noticed by `check`): READY or CONFIGURATION_CHANGED with the keys that differ."""
        with self._lock:
            old, self._seen = self._seen, new
            if old is new or self._state is _State.STARTING:
                return  # `initialize` reports READY once it returns
            if new is None:
                state = None
            else:
                state, self._state = self._state, _State.READY
        if state is None:
            self.check()
            return
        keys = changed_keys(old, new)
        details: Any = ProviderEventDetails(flags_changed=keys)
        if state is not _State.READY:
            self._emit(ProviderEvent.PROVIDER_READY, details)
        elif keys:
            self._emit(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, details)
