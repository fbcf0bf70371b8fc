"""Building and encoding an event: hogkit's core vs posthog==7.91.1's `capture()`, same run.

The reference runs with `send=False` (so nothing leaves the process) and in sync mode (no
consumer thread); its cost is the message construction `capture()` does on the caller's
thread. Its consumer later serialises each message once more to size it and again for the
body, so the "ref +dumps" column adds one `json.dumps` of the message it built.

hogkit's main column is `encode_capture`, the core function a client's worker runs per
captured event (arguments to wire bytes, every check included); "hogkit Event" is the
value path, `encode_event(capture(...))`, which gives the same bytes through an `Event`.
In the "caller's ts+uuid" rows both sides are handed the same timestamp and uuid (the
reference still validates and normalises them); in the "generated" row the reference makes
its own and hogkit's loop pays for the shell's own `new_uuid()` (hogkit.transport.ids) and
`time.time()`, as a real capture does.

Run: /work/venv/bin/python benchmarks/bench_events.py [--quick]
The goal is a ratio of at least 10x on the plain event.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import posthog
from hogkit.core import EventContext, capture, encode_capture, encode_event
from hogkit.core.timestamps import TimestampMemo
from hogkit.transport.ids import new_uuid
from posthog.request import DatetimeSerializer
from posthog.utils import system_context

UTC = dt.timezone.utc

PLAIN = {
    "plan": "pro",
    "seats": 12,
    "trial": False,
    "ratio": 0.75,
    "source": "web",
    "campaign": None,
    "country": "NZ",
    "path": "/pricing",
    "experiment": "b",
    "count": 3,
}
RICH = {
    **PLAIN,
    "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    "tags": ("a", "b", "c"),
    "cart": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-2", "qty": 1, "price": 20.0}],
    "meta": {"ua": "Mozilla/5.0", "ip": "127.0.0.1", "nested": {"x": [1, 2, 3]}},
}
GROUPS = {"company": "acme"}
CTX = EventContext(system_properties=system_context(), super_properties={"app": "bench"})
# The timestamp memo a client's worker holds (`DeferredEncoder.memo`) and passes in.
MEMO = TimestampMemo()


def hogkit_bytes(props: dict[str, Any], when: dt.datetime, ident: str) -> bytes:
    return encode_capture(
        CTX,
        "bench",
        distinct_id="user-1",
        properties=props,
        groups=GROUPS,
        timestamp=when,
        uuid=ident,
    )


def best_of(fn: Callable[[], Any], number: int, repeat: int = 5) -> float:
    """Seconds per call: the best of `repeat` timed loops of `number` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def main() -> None:
    quick = "--quick" in sys.argv
    number = 300 if quick else 2000

    last: list[dict[str, Any]] = []

    def keep(msg: dict[str, Any]) -> dict[str, Any]:
        last.clear()
        last.append(msg)
        return msg

    ref = posthog.Client(
        "phc_bench",
        host="http://127.0.0.1:9",
        send=False,
        sync_mode=True,
        enable_local_evaluation=False,
        super_properties={"app": "bench"},
    )
    ref_hooked = posthog.Client(
        "phc_bench",
        host="http://127.0.0.1:9",
        send=False,
        sync_mode=True,
        enable_local_evaluation=False,
        super_properties={"app": "bench"},
        before_send=keep,
    )
    ctx = CTX

    when = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    ident = "0b0e7bd4-6a3c-4a8d-9d7e-3f1b2c4d5e6f"
    cases: list[tuple[str, dict[str, Any], bool]] = [
        ("plain, caller's ts+uuid", PLAIN, False),
        ("rich, caller's ts+uuid", RICH, False),
        ("plain, generated ts+uuid", PLAIN, True),
    ]
    rows: list[tuple[str, float, float, float, float]] = []
    for label, props, generate in cases:
        ts: Any = None if generate else when
        uid: Any = None if generate else ident

        def reference_capture(props: dict[str, Any] = props, ts: Any = ts, uid: Any = uid) -> None:
            ref.capture(
                "bench",
                distinct_id="user-1",
                properties=props,
                groups=GROUPS,
                timestamp=ts,
                uuid=uid,
            )

        def reference_capture_dumps(
            props: dict[str, Any] = props, ts: Any = ts, uid: Any = uid
        ) -> None:
            ref_hooked.capture(
                "bench",
                distinct_id="user-1",
                properties=props,
                groups=GROUPS,
                timestamp=ts,
                uuid=uid,
            )
            json.dumps(last[0], cls=DatetimeSerializer)

        def hogkit_encode_capture(props: dict[str, Any] = props, generate: bool = generate) -> None:
            encode_capture(
                ctx,
                "bench",
                distinct_id="user-1",
                properties=props,
                groups=GROUPS,
                timestamp=time.time() if generate else when,
                uuid=new_uuid() if generate else ident,
                memo=MEMO,
            )

        def hogkit_event_path(props: dict[str, Any] = props, generate: bool = generate) -> None:
            encode_event(
                capture(
                    ctx,
                    "bench",
                    distinct_id="user-1",
                    properties=props,
                    groups=GROUPS,
                    timestamp=time.time() if generate else when,
                    uuid=new_uuid() if generate else ident,
                    memo=MEMO,
                )
            )

        assert hogkit_bytes(props, when, ident) == encode_event(
            capture(
                ctx,
                "bench",
                distinct_id="user-1",
                properties=props,
                groups=GROUPS,
                timestamp=when,
                uuid=ident,
            )
        )
        theirs = best_of(reference_capture, number)
        theirs_dumps = best_of(reference_capture_dumps, number)
        ours = best_of(hogkit_encode_capture, number * 5)
        ours_event = best_of(hogkit_event_path, number * 5)
        rows.append((label, theirs, theirs_dumps, ours, ours_event))

    ref.shutdown()
    ref_hooked.shutdown()

    print(
        f"{'case':26} {'ref capture':>11} {'ref +dumps':>11} {'hogkit':>9} {'ratio':>7}"
        f" {'ratio+dumps':>11} {'hogkit Event':>13} {'ratio':>7}"
    )
    for label, theirs, theirs_dumps, ours, ours_event in rows:
        print(
            f"{label:26} {theirs * 1e6:9.1f}us {theirs_dumps * 1e6:9.1f}us {ours * 1e6:7.2f}us"
            f" {theirs / ours:6.1f}x {theirs_dumps / ours:10.1f}x {ours_event * 1e6:11.2f}us"
            f" {theirs / ours_event:6.1f}x"
        )
    plain_ratio = rows[0][1] / rows[0][3]
    print(
        f"goal >= 10x on the plain event: {'met' if plain_ratio >= 10 else 'NOT met'} ({plain_ratio:.1f}x)"
    )


if __name__ == "__main__":
    main()
