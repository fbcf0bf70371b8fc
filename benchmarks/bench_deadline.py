"""The cost of a total deadline: `deadline.exchange()` against a plain urllib3 request.

Both sides POST the same small JSON body over one keep-alive connection to a loopback
server in its own process and read the whole answer. The plain side uses urllib3's
per-operation timeouts only; the deadline side arms the watchdog, registers the socket and
reads the body in chunks. Reported: median µs per request over the rounds, and the ratio.

Run: /work/wt/faults/.venv/bin/python benchmarks/bench_deadline.py [--requests 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Callable
from typing import Any

import urllib3

BODY = b'{"api_key": "phc_benchmark", "batch": [' + b'{"event": "e"},' * 40 + b'{"event": "e"}]}'


def serve(port_out: Any) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b'{"status": 1}')

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.put(httpd.server_address[1])
    httpd.serve_forever()


def plain(manager: urllib3.PoolManager, url: str) -> None:
    response = manager.request(
        "POST", url, body=BODY, timeout=urllib3.Timeout(connect=10, read=10), retries=False
    )
    assert response.status == 200


def bounded(manager: urllib3.PoolManager, url: str) -> None:
    from hogkit.transport import deadline

    answer = deadline.exchange(manager, "POST", url, body=BODY, deadline=time.monotonic() + 10)
    assert answer.status == 200


def measure(
    fn: Callable[[urllib3.PoolManager, str], None], manager: Any, url: str, n: int
) -> float:
    fn(manager, url)  # warm the connection
    started = time.perf_counter()
    for _ in range(n):
        fn(manager, url)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    from hogkit.transport import deadline

    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=10)}/batch/"
    plain_manager = urllib3.PoolManager(retries=False)
    bounded_manager = deadline.pool_manager()
    plain_us, bounded_us = [], []
    try:
        for _ in range(args.rounds):  # interleaved, so drift in machine load hits both sides
            plain_us.append(measure(plain, plain_manager, url, args.requests))
            bounded_us.append(measure(bounded, bounded_manager, url, args.requests))
    finally:
        server.terminate()
    p, b = statistics.median(plain_us), statistics.median(bounded_us)
    print(f"requests per round: {args.requests}, rounds: {args.rounds}")
    print(f"plain urllib3     : {p:8.1f} µs/request")
    print(f"deadline.exchange : {b:8.1f} µs/request")
    print(f"ratio (deadline / plain): {b / p:.3f}")


if __name__ == "__main__":
    main()
