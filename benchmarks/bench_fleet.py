"""Evaluation latency with a shared definitions cache configured, against the same without.

Sharing definitions must cost the evaluation path nothing: the cache is consulted only on
the poller's thread. Four clients per SDK, same run, same 40 definitions, same people:
hogkit and posthog==7.91.1, each without a cache and with a `RedisDefinitionCache`
(hogkit's store implements posthog-python's provider protocol, so the reference uses the
same one). The hogkit cache client is a follower: its definitions came from Redis.
A real redis-server (Debian's package; `.ci/services` installs it) runs on a free loopback
port and a loopback HTTP server plays `/flags/definitions`; both stop when the run ends.

Each row times `evaluate_flags(..., only_evaluate_locally=True)` plus one `get_flag` read
for a fresh person per call, in alternating loops keeping each side's best loop.

Run: python benchmarks/bench_fleet.py [--quick]
"""

from __future__ import annotations

import gc
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import posthog
from bench_evaluate_flags import definitions, person
from hogkit.fleet import RedisDefinitionCache
from hogkit.transport import Client

warnings.simplefilter("ignore", DeprecationWarning)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (run `bash .ci/services`)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    args += ["no", "--daemonize", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise SystemExit("redis-server did not start")


def serve_definitions(document: dict[str, Any]) -> ThreadingHTTPServer:
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", '"bench"')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def call(client: Any) -> Callable[[int], None]:
    def one(i: int) -> None:
        props = person(i)
        flags = client.evaluate_flags(f"u{i}", person_properties=props, only_evaluate_locally=True)
        flags.get_flag("email-0", send_feature_flag_events=False)

    return one


def best_loop(work: Callable[[int], None], start: int, n: int) -> float:
    gc.collect()
    began = time.perf_counter()
    for i in range(start, start + n):
        work(i)
    return (time.perf_counter() - began) / n


def main() -> None:
    quick = "--quick" in sys.argv
    loops, per_loop = (3, 300) if quick else (7, 2000)
    document = definitions()
    process, redis_url = start_redis()
    server = serve_definitions(document)
    host = f"http://127.0.0.1:{server.server_address[1]}"
    key = "phc_bench"
    try:
        leader = Client(
            key, host=host, send=False, secret_key="phs", flag_definition_cache_provider=(
                RedisDefinitionCache(redis_url, key)
            ),
        )  # fmt: skip
        leader.load_feature_flags()  # fills Redis
        clients: dict[str, Any] = {
            "hogkit, no cache": Client(key, host=host, send=False, secret_key="phs"),
            "hogkit, Redis cache (follower)": Client(
                key,
                host=host,
                send=False,
                flag_definition_cache_provider=RedisDefinitionCache(redis_url, key),
                flag_definitions_follower_only=True,
            ),
            "posthog 7.91.1, no cache": posthog.Client(
                key, host=host, send=False, secret_key="phs"
            ),
            "posthog 7.91.1, Redis cache": posthog.Client(
                key,
                host=host,
                send=False,
                secret_key="phs",
                flag_definition_cache_provider=RedisDefinitionCache(redis_url, key),
            ),
        }
        for name, client in clients.items():  # first load, and the same answers everywhere
            client.load_feature_flags()
            values = client.evaluate_flags("u1", person_properties=person(1),
                                           only_evaluate_locally=True)  # fmt: skip
            assert values.get_flag("email-0", send_feature_flag_events=False) is not None, name
        status = clients["hogkit, Redis cache (follower)"].flag_definitions_status()
        assert status.source == "cache", status
        best = dict.fromkeys(clients, float("inf"))
        for loop in range(loops):
            for name, client in clients.items():
                best[name] = min(best[name], best_loop(call(client), loop * per_loop, per_loop))
        base = {"hogkit": best["hogkit, no cache"], "posthog": best["posthog 7.91.1, no cache"]}
        print(f"{'client':34} {'µs/call':>9} {'vs no cache':>12} {'vs posthog':>11}")
        for name, seconds in best.items():
            own = base["hogkit" if name.startswith("hogkit") else "posthog"]
            peer = name.replace("hogkit", "posthog 7.91.1").replace(" (follower)", "")
            ratio = best.get(peer, seconds) / seconds if name.startswith("hogkit") else 1.0
            print(f"{name:34} {seconds * 1e6:9.2f} {seconds / own:11.2f}x {ratio:10.1f}x")
        for client in [leader, *clients.values()]:
            client.shutdown()
    finally:
        server.shutdown()
        process.kill()
        process.wait()


if __name__ == "__main__":
    main()
