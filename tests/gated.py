"""`Gate`: a transport that holds every batch until the test opens it, standing in for a
sender stuck on the network."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from hogkit.transport.transports import MemoryTransport, SendResult


class Gate:
    """Holds every batch until `open` is set (30 s at most), then hands it to `sink`;
    `sending` is set once a batch waits."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.sending = threading.Event()
        self.sink = MemoryTransport()

    def send(self, events: Sequence[bytes], *, stop: threading.Event | None = None) -> SendResult:
        self.sending.set()
        self.open.wait(30)
        return self.sink.send(events)
