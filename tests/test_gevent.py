"""The Client under gevent's monkey-patching, as in gunicorn's gevent workers or Celery's
gevent pool: threads become greenlets and sockets cooperative, so every wait of the client
(its worker's queue, a flush, a `/flags` request, a retry's back-off) must yield to the
other greenlets instead of blocking the process.

Each test runs a fresh interpreter that patches everything before importing hogkit, against
the loopback server in this process, and prints what it saw as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

from httpserver import LoopbackServer, Reply

KEY = "phc_gevent_test"
DEFINITIONS = {
    "flags": [
        {
            "id": 1,
            "key": "beta",
            "active": True,
            "version": 1,
            "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]},
        }
    ],
    "group_type_mapping": {},
    "cohorts": {},
}


def run_patched(body: str) -> dict[str, Any]:
    """Run `body` under `monkey.patch_all()` (with `Client`, `gevent`, `json` and `time`
    imported) and return the JSON object it prints last. The timeout stands for "never
    hangs": every wait in the body has a deadline far below it."""
    script = (
        "from gevent import monkey\nmonkey.patch_all()\n"
        "import json, time\nimport gevent\nfrom hogkit import Client\n" + textwrap.dedent(body)
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_greenlets_capture_and_read_flags_and_every_event_arrives(
    loopback: LoopbackServer,
) -> None:
    loopback.script("/flags/definitions", then=Reply.json(DEFINITIONS))
    # One failed batch first: the retry's back-off is a wait too.
    loopback.script("/batch/", Reply(503), then=Reply(200))
    seen = run_patched(
        f"""
        client = Client({KEY!r}, host={loopback.url!r}, secret_key="phs_gevent",
                        flush_interval=0.05)

        def user(n):
            ids = [client.capture("page", distinct_id=f"user-{{n}}", properties={{"i": i}})
                   for i in range(50)]
            flags = client.evaluate_flags(f"user-{{n}}")
            return ids, flags.is_enabled("beta")

        greenlets = [gevent.spawn(user, n) for n in range(8)]
        gevent.joinall(greenlets, timeout=30)
        uuids = [u for g in greenlets for u in g.value[0]]
        flushed = client.flush(timeout=20)
        stats = client.stats()
        client.shutdown(timeout=5)
        print(json.dumps({{
            "uuids": uuids,
            "enabled": [g.value[1] for g in greenlets],
            "flushed": flushed,
            "accepted": stats.accepted,
            "delivered": stats.delivered,
        }}))
        """
    )
    assert seen["flushed"] is True
    assert seen["enabled"] == [True] * 8
    arrived = {event["uuid"] for event in loopback.events() if event["event"] == "page"}
    assert len(seen["uuids"]) == 400
    assert arrived == set(seen["uuids"])
    assert seen["accepted"] == seen["delivered"]
    assert loopback.requests("/batch/")[0].reply.status == 503


def test_a_server_that_never_answers_blocks_no_greenlet_and_no_call_past_its_deadline(
    loopback: LoopbackServer,
) -> None:
    for path in ("/flags/definitions", "/flags/", "/batch/"):
        loopback.script(path, then=Reply.hang())
    seen = run_patched(
        f"""
        client = Client({KEY!r}, host={loopback.url!r}, secret_key="phs_gevent",
                        feature_flags_request_timeout_seconds=0.5, timeout=0.5)
        ticks = []

        def ticker():
            while True:
                ticks.append(time.monotonic())
                gevent.sleep(0.01)

        gevent.spawn(ticker)
        ids = [client.capture("page", distinct_id="user-1") for _ in range(20)]
        value = client.get_feature_flag("beta", "user-1")
        before_flush = len(ticks)
        flushed = client.flush(timeout=1)
        during_flush = len(ticks) - before_flush
        closed = client.shutdown(timeout=1)
        stats = client.stats()
        print(json.dumps({{
            "accepted": len([i for i in ids if i]),
            "value": value,
            "flushed": flushed,
            "closed": closed,
            "during_flush": during_flush,
            "dropped": dict(stats.dropped),
            "in_flight": stats.in_flight,
        }}))
        """
    )
    assert seen["value"] is None
    assert seen["flushed"] is False
    assert seen["closed"] is False
    # The other greenlet kept running while the flush waited for the server.
    assert seen["during_flush"] > 0
    # Every event accepted and not delivered is reported lost, once.
    assert sum(seen["dropped"].values()) == seen["accepted"] + 1  # the flag read's event
    assert seen["in_flight"] == 0
