"""The opt-in spool through the Client: what the queue has no room for goes to disk, is
sent when the queue is idle, and what a killed process left is sent by the next one, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from hogkit.transport import spool as sp
from hogkit.transport.client import Client
from hogkit.transport.transports import MemoryTransport, SendResult
from httpserver import LoopbackServer, Reply


class Gate:
    """A transport that holds every batch until `open` is set."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.sink = MemoryTransport()

    def send(self, events: Sequence[bytes], *, stop: threading.Event | None = None) -> SendResult:
        self.open.wait(30)
        return self.sink.send(events)


def spooled_records(directory: Path) -> list[bytes]:
    """The intact records the spool files hold (read as the spool itself frames them)."""
    found: list[bytes] = []
    for path in sorted(directory.glob("*.seg")):
        found.extend(p for p, _ in sp.parse(path.read_bytes()) if p is not None)
    return found


def test_overflow_goes_to_the_spool_and_is_sent_when_the_queue_is_idle(tmp_path: Path) -> None:
    gate = Gate()
    client = Client(
        "phc_spool",
        transport=gate,
        max_queue_size=1,
        max_queue_bytes=32 * 1024,
        flush_at=1,
        flush_interval=0.05,
        spool_dir=tmp_path,
    )
    pad = "x" * 1000
    uuids = [client.capture("e", distinct_id="u", properties={"p": pad}) for _ in range(8000)]
    assert None not in uuids
    assert client.stats().spooled > 0
    assert not client.flush(0.1)  # spooled events are not delivered yet
    gate.open.set()
    assert client.shutdown(30)
    stats = client.stats()
    assert (stats.delivered, stats.spooled, dict(stats.dropped)) == (8000, 0, {})
    assert Counter(e["uuid"] for e in gate.sink.events) == Counter(uuids)
    assert spooled_records(tmp_path) == []


def test_after_kill_9_the_next_process_delivers_what_was_spooled_once(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    spool_dir = tmp_path / "spool"
    with LoopbackServer() as stuck:
        stuck.handle("/batch/", lambda _request: Reply.hang())
        script = textwrap.dedent(
            f"""
            import sys
            from hogkit.transport.client import Client
            client = Client("phc_spool", host={stuck.url!r}, max_queue_size=1,
                            max_queue_bytes=32 * 1024, flush_at=1, spool_dir={str(spool_dir)!r})
            pad = "x" * 1000
            for i in range(6000):
                uuid = client.capture("e", distinct_id="u", properties={{"p": pad}})
                print(uuid, flush=True)
            print("done", flush=True)
            import time
            time.sleep(60)
            """
        )
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        accepted: list[str] = []
        for line in child.stdout:
            if line.strip() == "done":
                break
            accepted.append(line.strip())
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    on_disk = spooled_records(spool_dir)
    assert on_disk, "the child spooled its overflow"
    spooled_uuids = {
        record.split(b'"uuid":"', 1)[1].split(b'"', 1)[0].decode() for record in on_disk
    }
    assert spooled_uuids <= set(accepted)

    client = Client("phc_spool", host=loopback.url, flush_interval=0.05, spool_dir=spool_dir)
    assert loopback.wait_for(lambda s: len(s.events()) >= len(on_disk), timeout=30)
    assert client.shutdown(10)
    delivered = Counter(e["uuid"] for e in loopback.events())
    assert set(delivered) == spooled_uuids and max(delivered.values()) == 1
    assert client.stats().delivered == len(on_disk)
    assert spooled_records(spool_dir) == []


def test_a_torn_record_left_by_a_crash_is_skipped_and_reported(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    writer = sp.Spool(str(tmp_path))
    events = [
        b'{"event":"e","uuid":"u-%d","distinct_id":"d","properties":{}}' % i for i in range(3)
    ]
    assert writer.append(events) == 3
    writer.close()
    (segment,) = tmp_path.glob("*.seg")
    segment.write_bytes(segment.read_bytes()[:-5])  # the last record cut short
    reasons: list[object] = []
    client = Client(
        "phc_spool",
        host=loopback.url,
        flush_interval=0.05,
        spool_dir=tmp_path,
        on_error=lambda error, _events: reasons.append(getattr(error, "reason", None)),
    )
    assert loopback.wait_for(lambda s: len(s.events()) >= 2, timeout=30)
    client.shutdown(10)
    assert sorted(e["uuid"] for e in loopback.events()) == ["u-0", "u-1"]
    assert reasons == ["spool_torn"]
    assert client.stats().dropped == {"spool_torn": 1}
