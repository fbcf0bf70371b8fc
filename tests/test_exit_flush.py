"""Events queued in a client the application dropped are still delivered at exit."""

from __future__ import annotations

import subprocess
import sys

from httpserver import LoopbackServer

PROGRAM = r"""
import gc, sys
from hogkit import Client

client = Client("phc_project", host=sys.argv[1])
client.capture("from the dropped client", distinct_id="user-1")
client = Client("phc_project", host=sys.argv[1])  # the first one is no longer referenced
client.capture("from the live client", distinct_id="user-1")
gc.collect()  # collects the dropped Client (and anything only it held)
"""


def test_a_dropped_clients_events_are_flushed_at_exit(loopback: LoopbackServer) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, loopback.url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    names = sorted(e["event"] for e in loopback.events())
    assert names == ["from the dropped client", "from the live client"]
