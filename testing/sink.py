"""An in-memory destination for a test client's events, with helpers to assert on them.

A `CaptureSink` is a transport: give it to `Client(transport=...)` (with `sync_mode=True`
each call is delivered before it returns), and every event the client would have sent,
`$feature_flag_called` included, is kept decoded, in order, for the test to inspect.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from hogkit.transport.transports import SendResult, decode_events

__all__ = ["CaptureSink"]


class CaptureSink:
    """Keeps every delivered event; `captured` lists them oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []

    def send(self, events: Sequence[bytes], *, stop: threading.Event | None = None) -> SendResult:
        decoded = decode_events(events)
        with self._lock:
            self._events.extend(decoded)
        return SendResult(len(decoded))

    @property
    def captured(self) -> list[dict[str, Any]]:
        """Every event so far (a copy: the test may change it freely)."""
        with self._lock:
            return list(self._events)

    def events(
        self, event: str | None = None, distinct_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Events with that name and/or distinct id, oldest first."""
        return [
            item
            for item in self.captured
            if (event is None or item.get("event") == event)
            and (distinct_id is None or item.get("distinct_id") == distinct_id)
        ]

    def flag_calls(self, key: str | None = None, distinct_id: str | None = None) -> list[Any]:
        """The values reported by `$feature_flag_called` (for one flag when `key` is given)."""
        return [
            item["properties"].get("$feature_flag_response")
            for item in self.events("$feature_flag_called", distinct_id)
            if key is None or item["properties"].get("$feature_flag") == key
        ]

    def assert_captured(
        self, event: str, distinct_id: str | None = None, **properties: Any
    ) -> dict[str, Any]:
        """The last matching event whose properties include `properties`; AssertionError
        listing what was captured when there is none."""
        for item in reversed(self.events(event, distinct_id)):
            props = item.get("properties") or {}
            if all(props.get(name) == value for name, value in properties.items()):
                found: dict[str, Any] = item
                return found
        seen = [(item.get("event"), item.get("distinct_id")) for item in self.captured]
        raise AssertionError(
            f"no {event!r} event for {distinct_id!r} with {properties!r}; captured: {seen!r}"
        )

    def assert_not_captured(self, event: str, distinct_id: str | None = None) -> None:
        found = self.events(event, distinct_id)
        if found:
            raise AssertionError(f"{len(found)} unexpected {event!r} event(s) for {distinct_id!r}")

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
