"""`AsyncClient.evaluate_flags` (local) against posthog==7.91.1's `AsyncClient.evaluate_flags`.

Both clients see the same 40 definitions (bench_evaluate_flags' set) and the same people.
posthog's async client evaluates remotely only, so it asks a loopback `/flags` server,
which answers each request with what those definitions give that person (the server runs
in a child process, so its work does not share this process's GIL with the clients).
hogkit's async client loads the definitions (`flag_definitions=`) and answers on the loop.
Before timing, both are checked to give the same value for every flag of every person.

Two measures, each the best of several alternating rounds:
- latency: one task awaiting `evaluate_flags` for one person after another;
- throughput: 50 tasks evaluating concurrently, evaluations per second;
and, to compare the awaited request paths alone, the latency of hogkit's async client
without definitions (so it asks `/flags` too, over aiohttp) against posthog's.
Each prints posthog's figure, hogkit's and the ratio.

Run: .venv/bin/python benchmarks/bench_async.py [--quick]
"""

from __future__ import annotations

import asyncio
import datetime
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import posthog
from bench_evaluate_flags import definitions, person

from hogkit import AsyncClient, FlagSet

warnings.simplefilter("ignore", DeprecationWarning)

TASKS = 50


# ------------------------------------------------------------------ the loopback /flags server


def serve() -> None:
    """The child process: `/flags` answers computed from the definitions (v4 records)."""
    flagset = FlagSet.from_document(definitions())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            snap = flagset.evaluate(
                str(body["distinct_id"]),
                person_properties=body.get("person_properties") or {},
                groups=body.get("groups") or {},
                group_properties=body.get("group_properties") or {},
                now=datetime.datetime.now(datetime.timezone.utc),
            )
            flags = {}
            for key in snap.keys:
                value = snap.get_flag(key)
                payload = snap.get_flag_payload(key)
                flags[key] = {
                    "key": key,
                    "enabled": value is not False,
                    "variant": value if isinstance(value, str) else None,
                    "reason": {"code": "condition_match"},
                    "metadata": {
                        "id": 1,
                        "version": 1,
                        "payload": None if payload is None else json.dumps(payload),
                    },
                }
            data = json.dumps({"flags": flags, "requestId": "bench"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    class Server(ThreadingHTTPServer):
        request_queue_size = 256
        daemon_threads = True

    httpd = Server(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


# ------------------------------------------------------------------------------------ clients


def people(count: int) -> list[tuple[str, dict[str, Any]]]:
    everyone = []
    for i in range(count):
        props = person(i)
        everyone.append((str(props.get("distinct_id", f"user-{i}")), props))
    return everyone


async def check_same_answers(theirs: Any, ours: AsyncClient, who: list[Any]) -> None:
    for did, props in who:
        a = await theirs.evaluate_flags(did, person_properties=props)
        b = await ours.evaluate_flags(did, person_properties=props)
        values_a = {k: a.get_flag(k) for k in a.keys}
        values_b = dict(b.flag_values)
        assert values_a == values_b, (did, values_a, values_b)


async def latency(client: Any, who: list[Any]) -> float:
    started = time.perf_counter()
    for did, props in who:
        await client.evaluate_flags(did, person_properties=props)
    return (time.perf_counter() - started) / len(who)


async def throughput(client: Any, who: list[Any]) -> float:
    async def worker(part: list[Any]) -> None:
        for did, props in part:
            await client.evaluate_flags(did, person_properties=props)

    parts = [who[i::TASKS] for i in range(TASKS)]
    started = time.perf_counter()
    await asyncio.gather(*(worker(part) for part in parts))
    return len(who) / (time.perf_counter() - started)


async def best(
    measure: Callable[[Any, list[Any]], Awaitable[float]],
    theirs: Any,
    ours: Any,
    who: list[Any],
    rounds: int,
    higher_is_better: bool,
) -> tuple[float, float]:
    pick = max if higher_is_better else min
    results_theirs: list[float] = []
    results_ours: list[float] = []
    for _ in range(rounds):
        results_theirs.append(await measure(theirs, who))
        results_ours.append(await measure(ours, who))
    return pick(results_theirs), pick(results_ours)


async def main(port: int, quick: bool) -> None:
    url = f"http://127.0.0.1:{port}"
    theirs = posthog.AsyncClient(
        "phc_bench", host=url, send=False, feature_flags_request_timeout_seconds=30
    )
    ours = AsyncClient("phc_bench", host=url, send=False, flag_definitions=definitions())
    ours_remote = AsyncClient("phc_bench", host=url, send=False)
    who = people(200 if quick else 1000)
    rounds = 3 if quick else 5
    await check_same_answers(theirs, ours, who[:100])
    await check_same_answers(theirs, ours_remote, who[:20])
    lat = await best(latency, theirs, ours, who[:200], rounds, higher_is_better=False)
    remote = await best(latency, theirs, ours_remote, who[:200], rounds, higher_is_better=False)
    thr = await best(throughput, theirs, ours, who, rounds, higher_is_better=True)
    await theirs.shutdown()
    await ours.shutdown()
    await ours_remote.shutdown()

    print(f"AsyncClient.evaluate_flags, 40 definitions, loopback /flags ({len(who)} people)")
    print(f"{'measure':34} {'posthog 7.91.1':>16} {'hogkit':>14} {'ratio':>8}")
    print(
        f"{'latency, one task':34} {lat[0] * 1e6:14.1f}us {lat[1] * 1e6:12.1f}us "
        f"{lat[0] / lat[1]:7.1f}x"
    )
    print(
        f"{'latency, both remote (no defs)':34} {remote[0] * 1e6:14.1f}us "
        f"{remote[1] * 1e6:12.1f}us {remote[0] / remote[1]:7.1f}x"
    )
    print(
        f"{f'throughput, {TASKS} tasks':34} {thr[0]:12.0f}/s   {thr[1]:10.0f}/s   "
        f"{thr[1] / thr[0]:7.1f}x"
    )


if __name__ == "__main__":
    if "--serve" in sys.argv:
        serve()
    else:
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout is not None
            server_port = int(child.stdout.readline())
            asyncio.run(main(server_port, "--quick" in sys.argv))
        finally:
            child.terminate()
            child.wait(5)
