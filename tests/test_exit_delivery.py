"""Events of a client the application dropped still reach the server at interpreter exit,
also when the garbage collector ran (and collected the client) before the exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from httpserver import LoopbackServer

KEY = "phc_exit_delivery"


def test_a_dropped_and_collected_client_still_delivers_at_exit(loopback: LoopbackServer) -> None:
    script = textwrap.dedent(
        f"""
        import gc
        from hogkit.transport import Client
        client = Client({KEY!r}, host={loopback.url!r}, flush_interval=60)
        client.capture("dropped", distinct_id="u")
        client = None
        gc.collect()
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    assert [e["event"] for e in loopback.events()] == ["dropped"]
