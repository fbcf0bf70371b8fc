"""The `hogkit` logger, configured the way a library should.

At import it gets only a `NullHandler`: the application decides what is shown. `debug=True`
on a Client asks for the client's own messages at DEBUG level, and they must appear exactly
once whether or not the application configured logging: so the handler added here writes
only while the root logger has no handlers (otherwise the record propagates there and is
written by the application's handler instead).
"""

from __future__ import annotations

import logging
import threading

__all__ = ["LOGGER_NAME", "enable_debug_output"]

LOGGER_NAME = "hogkit"

logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())

_lock = threading.Lock()


class _UnlessRootHandles(logging.Filter):
    """Passes a record only while the root logger has no handlers of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not logging.getLogger().handlers


def enable_debug_output() -> None:
    """Show hogkit's messages from DEBUG up, once each (see the module docstring)."""
    logger = logging.getLogger(LOGGER_NAME)
    with _lock:
        logger.setLevel(logging.DEBUG)
        if any(getattr(h, "hogkit_debug", False) for h in logger.handlers):
            return
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_UnlessRootHandles())
        handler.hogkit_debug = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
