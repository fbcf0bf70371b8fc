"""Capture throughput: hogkit's Client against posthog==7.91.1, same events, same server.

Both clients, with their default settings, capture the same burst of events as fast as a
loop can go to one loopback HTTP server (in its own process, so the clients' process only
runs the clients), then flush. Two scenarios: the server answers at once, and the server
answers after 20 ms (about the round trip to a nearby PostHog region). Reported per client,
median of the rounds (after one unmeasured warm-up round each):

* enqueue µs/event: the capture loop alone;
* end-to-end µs/event: capture loop plus flush, until the server has everything it will get;
* delivered: events the server received (the reference's 10,000-event queue overflows).

Run: /work/venv/bin/python benchmarks/bench_client.py [--events 20000] [--rounds 9]
     [--latency-ms 0 20]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import logging
import multiprocessing
import re
import statistics
import time
import urllib.request
from collections.abc import Callable
from typing import Any

SERVER_CODE_KEY = "phc_benchmark"
LIB_PATTERN = re.compile(rb'"\$lib": ?"([^"]+)"')


def serve(port_out: Any, latency: float = 0.0) -> None:
    """The server process: counts events per `$lib`, answers 200 like PostHog does.

    `latency` seconds pass before each answer, standing in for the round trip to a
    PostHog region (each request waits on its own thread, as a real server's would).
    """
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    counts: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once, no delayed-ACK stall

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            # Counting without parsing keeps the server far faster than either client, so
            # it never limits the measurement (each event carries `$lib` exactly once).
            lib = LIB_PATTERN.search(raw)
            name = lib.group(1).decode() if lib else "?"
            counts[name] = counts.get(name, 0) + raw.count(b'"$lib"')
            if latency:
                time.sleep(latency)
            self._answer(b'{"status": 1}')

        def do_GET(self) -> None:
            if self.path == "/reset":
                counts.clear()
            self._answer(json.dumps(counts).encode())

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    server.serve_forever()


def server_counts(url: str, path: str = "/stats") -> dict[str, int]:
    with urllib.request.urlopen(url + path, timeout=10) as response:
        counts: dict[str, int] = json.loads(response.read())
        return counts


def wait_settled(url: str, lib: str, expected: int, quiet: float = 0.5) -> int:
    """What the server received for `lib`, once the count reaches `expected` or stops moving."""
    last, since = -1, time.perf_counter()
    while True:
        count = server_counts(url).get(lib, 0)
        if count >= expected:
            return count
        if count != last:
            last, since = count, time.perf_counter()
        elif time.perf_counter() - since > quiet:
            return count
        time.sleep(0.02)


def burst(n: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("page viewed", f"user-{i % 500}", {"path": f"/docs/{i % 50}", "n": i, "plan": "pro"})
        for i in range(n)
    ]


def run_hogkit(url: str, events: list[tuple[str, str, dict[str, Any]]]) -> tuple[float, float]:
    from hogkit.transport import Client

    client = Client(SERVER_CODE_KEY, host=url)
    capture = client.capture
    start = time.perf_counter()
    for name, distinct_id, properties in events:
        capture(name, distinct_id=distinct_id, properties=properties)
    enqueued = time.perf_counter()
    client.flush(timeout=120)
    done = time.perf_counter()
    client.shutdown(timeout=5)
    return enqueued - start, done - start


def run_reference(url: str, events: list[tuple[str, str, dict[str, Any]]]) -> tuple[float, float]:
    import posthog

    client = posthog.Client(SERVER_CODE_KEY, host=url)
    capture = client.capture
    start = time.perf_counter()
    for name, distinct_id, properties in events:
        capture(name, distinct_id=distinct_id, properties=properties)
    enqueued = time.perf_counter()
    client.flush(timeout_seconds=120)
    done = time.perf_counter()
    client.shutdown()
    return enqueued - start, done - start


def measure(
    url: str,
    lib: str,
    runner: Callable[[str, list[tuple[str, str, dict[str, Any]]]], tuple[float, float]],
    events: list[tuple[str, str, dict[str, Any]]],
) -> tuple[float, float, int]:
    server_counts(url, "/reset")
    # Each client starts with no garbage of the other's pending: the two share a process,
    # and a full collection set off by one client's leftovers would land in the other's
    # loop. Collection stays on, so each client still pays for its own garbage.
    gc.collect()
    enqueue, total = runner(url, events)
    received = wait_settled(url, lib, len(events))
    return enqueue, total, received


def run_scenario(
    latency_ms: float, events: list[tuple[str, str, dict[str, Any]]], rounds: int
) -> None:
    context = multiprocessing.get_context("spawn")
    port_queue = context.Queue()
    server = context.Process(target=serve, args=(port_queue, latency_ms / 1000), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port_queue.get(timeout=30)}"
    results: dict[str, list[tuple[float, float, int]]] = {"hogkit": [], "posthog-python": []}
    clients = [("posthog-python", run_reference), ("hogkit", run_hogkit)]
    try:
        # One unmeasured round each first (imports, the process's first allocations of this
        # size, connections), then the measured rounds, each client going first in turn.
        for lib, runner in clients:
            measure(url, lib, runner, events)
        for round_number in range(rounds):
            for lib, runner in clients[:: 1 if round_number % 2 == 0 else -1]:
                results[lib].append(measure(url, lib, runner, events))
    finally:
        server.terminate()
        server.join(5)

    n = len(events)
    summary: dict[str, tuple[float, float, int]] = {}
    for lib, measured in results.items():
        summary[lib] = (
            statistics.median(r[0] for r in measured) / n * 1e6,
            statistics.median(r[1] for r in measured) / n * 1e6,
            min(r[2] for r in measured),
        )
    print(f"\nserver latency {latency_ms:g} ms per request; {n} events, median of {rounds} rounds")
    print(f"{'client':<16}{'enqueue µs/ev':>15}{'end-to-end µs/ev':>19}{'delivered (min)':>18}")
    for lib, (enqueue, total, received) in summary.items():
        print(f"{lib:<16}{enqueue:>15.2f}{total:>19.2f}{received:>12} / {n}")
    for lib, measured in results.items():
        rounds_text = " ".join(f"{r[0] / n * 1e6:.2f}" for r in measured)
        print(f"  {lib} enqueue µs/ev by round: {rounds_text}")
    ours, theirs = summary["hogkit"], summary["posthog-python"]
    print(f"enqueue speedup: {theirs[0] / ours[0]:.1f}x (goal >= 20x)")
    print(f"end-to-end speedup: {theirs[1] / ours[1]:.1f}x (goal >= 10x)")
    print(f"hogkit delivered every event: {ours[2] == n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument(
        "--latency-ms",
        type=float,
        nargs="*",
        default=[0.0, 20.0],
        help="server latency scenarios, in ms per request (default: 0 and 20)",
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the reference logs every dropped event
    events = burst(args.events)
    print("default client settings; the server runs in its own process")
    for latency in args.latency_ms:
        run_scenario(latency, events, args.rounds)


if __name__ == "__main__":
    main()
