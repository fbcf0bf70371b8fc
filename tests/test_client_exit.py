"""Events queued by a client the application dropped are still delivered at interpreter exit,
also when the garbage collector ran (and collected the client) before the exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from httpserver import LoopbackServer

KEY = "phc_exit_test"


def run_script(body: str) -> None:
    """Run `body` in a fresh interpreter that exits when it ends (`Client` and `gc` are imported)."""
    script = "import gc\nfrom hogkit.transport import Client\n" + textwrap.dedent(body)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)


def test_a_dropped_and_collected_client_still_delivers_at_exit(loopback: LoopbackServer) -> None:
    run_script(
        f"""
        client = Client({KEY!r}, host={loopback.url!r}, flush_interval=60)
        client.capture("dropped", distinct_id="u")
        client = None
        gc.collect()
        """
    )
    assert [e["event"] for e in loopback.events()] == ["dropped"]


def test_a_dropped_clients_queued_events_are_delivered_at_exit(loopback: LoopbackServer) -> None:
    run_script(
        f"""
        client = Client({KEY!r}, host={loopback.url!r})
        client.capture("from the dropped client", distinct_id="u")
        client = Client({KEY!r}, host={loopback.url!r})
        gc.collect()  # the first client is gone; its worker still holds the queue
        client.capture("from the second client", distinct_id="u")
        """
    )
    assert sorted(e["event"] for e in loopback.events()) == [
        "from the dropped client",
        "from the second client",
    ]
