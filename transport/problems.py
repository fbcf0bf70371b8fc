"""How the shell reports problems: the one never-raise error path of every public method.

With `debug=True` the exception reaches the caller (a developer wants to see it); otherwise
it is logged once on the `hogkit` logger and handed to `on_error`, and the method returns
its "nothing happened" value. Delivery failures from the worker come through here too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hogkit.core.errors import HogkitError

from .transports import decode_events

__all__ = ["OnError", "Problems", "log", "short_text", "unknown_arguments"]

log = logging.getLogger("hogkit")

_SHORT_CHARS = 80

OnError = Callable[[Exception, list[dict[str, Any]]], Any]
"""`on_error(error, events)`: the events are the decoded ones that were not delivered."""


class Problems:
    """Routes errors to the log, to `on_error`, or (with `debug`) to the caller."""

    __slots__ = ("debug", "on_error")

    def __init__(self, debug: bool, on_error: OnError | None) -> None:
        self.debug = debug
        self.on_error = on_error

    def fail(self, name: str, exc: Exception) -> None:
        """The error path of public method `name`: re-raise in debug mode, else log and report."""
        if self.debug:
            raise exc
        if isinstance(exc, HogkitError):
            log.warning("%s: %s", name, exc)
        else:
            log.warning("%s failed: %s: %s", name, type(exc).__name__, exc)
        self.tell(exc, [])

    def config(self, message: str) -> None:
        """A constructor argument the client cannot work with (raises in debug mode)."""
        if self.debug:
            raise HogkitError(message)
        log.error("%s", message)

    def delivery(self, error: Exception, events: Sequence[bytes]) -> None:
        """A delivery failure or drop, from the worker or a sync send."""
        if events:
            log.warning("%d events were not delivered: %s", len(events), error)
        else:
            log.warning("%s", error)
        if self.on_error is not None:
            self.tell(error, decode_events(events) if events else [])

    def tell(self, error: Exception, events: list[dict[str, Any]]) -> None:
        """Hand `error` to `on_error`, which must not break the caller either."""
        if self.on_error is None:
            return
        try:
            self.on_error(error, events)
        except Exception:
            log.exception("on_error raised")


_told: set[tuple[str, str]] = set()
_TOLD_LIMIT = 1000


def unknown_arguments(method: str, unknown: Mapping[str, Any]) -> None:
    """Warn, once per method and name, of keywords `method` does not know and ignores.

    posthog-python's capture methods take `**kwargs` and ignore what they do not know, so a
    call carrying an old or misspelt keyword still sends its event; hogkit does the same
    rather than raise into the application, and says so.
    """
    for name in unknown:
        if (method, name) in _told:
            continue
        if len(_told) < _TOLD_LIMIT:
            _told.add((method, name))
        log.warning("%s: ignoring the unknown argument %r", method, name)


def short_text(value: object) -> str:
    """A caller's value for a log line: a text's repr cut to a readable length, anything
    else only its type's name. A value may be as large as an event, and another type's
    `__repr__` is the application's code, which may raise or print megabytes."""
    text = str.__repr__(value) if isinstance(value, str) else type(value).__name__
    if len(text) > _SHORT_CHARS:
        text = f"{text[:_SHORT_CHARS]}... ({len(text)} chars)"
    return text
