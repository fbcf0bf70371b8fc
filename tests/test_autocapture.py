"""Uncaught exceptions: hooks in real subprocesses, chaining, restoring, and the rate limit."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading

import pytest
from hogkit.transport import Client, MemoryTransport
from hogkit.transport.autocapture import SYS_SOURCE

PRELUDE = """
import asyncio, json, sys, threading
from hogkit.transport import Client, MemoryTransport

seen = []
def previous_sys(kind, value, tb):
    seen.append(("sys", str(value)))
def previous_thread(args):
    seen.append(("thread", str(args.exc_value)))
sys.excepthook = previous_sys
threading.excepthook = previous_thread

memory = MemoryTransport()
client = Client("phc_test", sync_mode=True, transport=memory, enable_exception_autocapture=True)

def report():
    out = [(e["event"], e["properties"].get("$exception_source"),
            e["properties"]["$exception_list"][0]["value"]) for e in memory.events]
    print(json.dumps({"events": out, "previous": seen}))
"""

CASES = {
    "main": (
        """
import atexit
atexit.register(report)
raise ValueError("main thread")
""",
        ["python.sys_excepthook", "main thread"],
        ["sys", "main thread"],
    ),
    "thread": (
        """
def fail():
    raise ValueError("other thread")
t = threading.Thread(target=fail); t.start(); t.join()
report()
""",
        ["python.threading_excepthook", "other thread"],
        ["thread", "other thread"],
    ),
    "asyncio": (
        """
import gc
async def fail():
    raise ValueError("asyncio task")
async def main():
    asyncio.get_running_loop().create_task(fail())
    await asyncio.sleep(0.01)
asyncio.run(main())
gc.collect()
report()
""",
        ["python.asyncio_exception_handler", "asyncio task"],
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_uncaught_exception_captured_once_and_previous_hook_runs(case: str) -> None:
    body, expected, previous = CASES[case]
    script = PRELUDE + textwrap.dedent(body)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["events"] == [["$exception", *expected]]
    if previous is not None:
        assert report["previous"] == [previous]
    else:
        assert "asyncio task" in result.stderr  # asyncio's own handler still logged it


def test_close_restores_previous_hooks() -> None:
    before_sys, before_thread = sys.excepthook, threading.excepthook
    client = Client(
        "phc_test", sync_mode=True, transport=MemoryTransport(), enable_exception_autocapture=True
    )
    assert sys.excepthook is not before_sys
    client.shutdown()
    assert sys.excepthook is before_sys
    assert threading.excepthook is before_thread


def test_rate_limit_bounds_identical_errors_and_logs_drops_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    previous = sys.excepthook
    sys.excepthook = lambda *args: None
    memory = MemoryTransport()
    client = Client(
        "phc_test",
        sync_mode=True,
        transport=memory,
        enable_exception_autocapture=True,
        enable_exception_autocapture_rate_limiting=True,
    )
    try:
        with caplog.at_level(logging.WARNING, logger="hogkit"):
            for _ in range(1000):
                try:
                    raise ValueError("same")
                except ValueError as exc:
                    sys.excepthook(ValueError, exc, exc.__traceback__)
            client.shutdown()
    finally:
        sys.excepthook = previous
    events = memory.events
    assert 49 <= len(events) <= 49 + 10
    assert all(e["properties"]["$exception_source"] == SYS_SOURCE for e in events)
    drops = [r.getMessage() for r in caplog.records if "rate limit dropped" in r.getMessage()]
    assert drops == [
        f"rate limit dropped {1000 - len(events)} autocaptured ValueError exception(s)"
    ]


def test_log_captured_exceptions_logs_each_capture(caplog: pytest.LogCaptureFixture) -> None:
    memory = MemoryTransport()
    client = Client("phc_test", sync_mode=True, transport=memory, log_captured_exceptions=True)
    with caplog.at_level(logging.ERROR, logger="hogkit"):
        try:
            raise KeyError("logged")
        except KeyError as exc:
            sent = client.capture_exception(exc)
    (record,) = [r for r in caplog.records if r.exc_info]
    assert sent is not None and sent in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    client.shutdown()
