"""Events queued by a client the application dropped are still delivered at interpreter exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from httpserver import LoopbackServer


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def test_a_dropped_clients_queued_events_are_delivered_at_exit(loopback: LoopbackServer) -> None:
    script = textwrap.dedent(
        f"""
        import gc
        from hogkit.transport import Client
        client = Client("phc_exit_test", host={loopback.url!r})
        client.capture("from the dropped client", distinct_id="u")
        client = Client("phc_exit_test", host={loopback.url!r})
        gc.collect()  # the first client is gone; its worker still holds the queue
        client.capture("from the second client", distinct_id="u")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    assert sorted(e["event"] for e in loopback.events()) == [
        "from the dropped client",
        "from the second client",
    ]
