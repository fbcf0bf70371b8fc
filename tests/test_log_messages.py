"""hogkit's log lines do not repeat the logger's name: every record comes from the `hogkit`
logger (or one under it), and the debug handler's format already prints that name, so a
message starting with "hogkit" would show it twice. A few real paths are checked, one per
kind of message: a warning about an option, a captured exception, a worker failure."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import pytest
from hogkit.transport import Client
from hogkit.transport.logs import LOGGER_NAME
from hogkit.transport.transports import SendResult


class RaisingTransport:
    """A transport that breaks its contract by raising."""

    def send(self, events: Sequence[bytes], *, stop: threading.Event | None = None) -> SendResult:
        raise RuntimeError("the transport broke")


def test_messages_do_not_begin_with_the_logger_name(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        client = Client(
            "phc_test",
            transport=RaisingTransport(),
            enable_exception_autocapture=True,
            enable_exception_autocapture_rate_limiting=True,
            exception_autocapture_bucket_size=1000,  # out of range: a warning
            log_captured_exceptions=True,
        )
        try:
            try:
                raise ValueError("boom")
            except ValueError as exc:
                assert client.capture_exception(exc, distinct_id="u") is not None
            client.flush(5.0)  # the worker meets the raising transport
        finally:
            client.shutdown(0.0)
    ours = [r for r in caplog.records if r.name.split(".")[0] == LOGGER_NAME]
    seen = {
        part
        for part in ("out of range", "captured exception", "the transport raised")
        for r in ours
        if part in r.getMessage()
    }
    assert seen == {"out of range", "captured exception", "the transport raised"}
    assert [r.getMessage() for r in ours if r.getMessage().startswith(LOGGER_NAME)] == []
