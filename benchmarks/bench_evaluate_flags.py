"""One request's worth of flag work: `evaluate_flags` + three reads + `capture(flags=...)`.

hogkit's `Client.evaluate_flags` against posthog==7.91.1's `Client.evaluate_flags`, same run,
same 40 definitions, same people, both purely local (`only_evaluate_locally=True`; every flag
resolves locally, so neither would touch the network anyway). The three reads are
`is_enabled`, `get_flag` (both report `$feature_flag_called`) and `get_flag_payload`; the
capture attaches the snapshot. Both clients run with `send=False`, so each builds its events
and nothing leaves the process (hogkit also encodes them).

Two workloads:
- "new people": a fresh distinct id every iteration, so every read sends `$feature_flag_called`;
- "returning people": 2,000 ids in a loop, so after warm-up the dedup caches absorb the reads.

Before timing, both clients are checked to give the same values for every flag and person.

Run: /work/venv/bin/python benchmarks/bench_evaluate_flags.py [--quick]
Goal (issue 7): at least 10x on both workloads.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import posthog
from hogkit.transport import Client

warnings.simplefilter("ignore", DeprecationWarning)

COUNTRIES = ["NZ", "US", "DE", "FR", "GB", "JP", "BR", "IN"]
PLANS = ["free", "pro", "enterprise", "team"]


def _cond(
    props: list[dict[str, Any]], rollout: int = 100, variant: str | None = None
) -> dict[str, Any]:
    group: dict[str, Any] = {"properties": props, "rollout_percentage": rollout}
    if variant is not None:
        group["variant"] = variant
    return group


def _prop(key: str, operator: str, value: Any) -> dict[str, Any]:
    return {"key": key, "type": "person", "operator": operator, "value": value}


def definitions() -> dict[str, Any]:
    """40 flags in the shapes real projects use."""
    flags: list[dict[str, Any]] = []

    def add(key: str, groups: list[dict[str, Any]], **filters: Any) -> None:
        flags.append(
            {
                "id": len(flags) + 1,
                "key": key,
                "active": True,
                "version": 1,
                "filters": {"groups": groups, **filters},
            }
        )

    for i in range(8):
        add(f"rollout-{i}", [_cond([], rollout=10 + i * 10)])
    for i in range(6):
        add(
            f"email-{i}",
            [
                _cond([_prop("email", "icontains", f"@corp{i}.")]),
                _cond([_prop("email", "ends_with", ".org")], 30),
            ],
        )
    for i in range(6):
        add(f"plan-{i}", [_cond([_prop("plan", "exact", PLANS[: 1 + i % 4])])])
    for i in range(5):
        add(
            f"country-{i}",
            [
                _cond(
                    [
                        _prop("country", "exact", COUNTRIES[i : i + 3]),
                        _prop("plan", "is_not", "free"),
                    ]
                )
            ],
        )
    for i in range(5):
        add(
            f"numeric-{i}",
            [_cond([_prop("age", "gt", 20 + i * 5), _prop("logins", "lte", 50 + i)])],
        )
    for i in range(4):
        add(
            f"regex-{i}",
            [_cond([_prop("email", "regex", r"^[a-z]+\.[a-z]+@corp[0-3]\.com$")], 50 + i * 10)],
        )
    for i in range(6):
        add(
            f"experiment-{i}",
            [_cond([_prop("plan", "exact", ["pro", "enterprise", "team"])], 80)],
            multivariate={
                "variants": [
                    {"key": "control", "rollout_percentage": 50},
                    {"key": "test", "rollout_percentage": 30},
                    {"key": "holdout", "rollout_percentage": 20},
                ]
            },
            payloads={
                "control": json.dumps({"copy": "Buy now", "n": i}),
                "test": json.dumps({"copy": "Try it free", "n": i, "tiers": [1, 2, 3]}),
            },
        )
    flags[0]["filters"]["payloads"] = {"true": json.dumps({"layout": "grid", "widgets": 6})}
    assert len(flags) == 40
    return {"flags": flags, "group_type_mapping": {}, "cohorts": {}}


def person(i: int) -> dict[str, Any]:
    first, last = ["ann", "bob", "cat", "dan", "eve"][i % 5], ["lee", "kim", "ng", "ho"][i % 4]
    domain = f"corp{i % 7}.com" if i % 3 else "example.org"
    return {
        "email": f"{first}.{last}@{domain}",
        "plan": PLANS[i % 4],
        "country": COUNTRIES[i % 8],
        "age": 18 + i % 50,
        "logins": i % 90,
    }


def reference_client(document: dict[str, Any]) -> posthog.Client:
    ref = posthog.Client(
        "phc_bench",
        host="http://127.0.0.1:9",
        secret_key="phs_bench",
        send=False,
        sync_mode=True,
        enable_local_evaluation=False,
    )
    # Definitions as the reference's poller would publish them, without a network.
    ref.feature_flags = document["flags"]
    ref.group_type_mapping = document["group_type_mapping"]
    ref.cohorts = document["cohorts"]
    return ref


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
    number = 200 if quick else 1000
    document = definitions()
    ref = reference_client(document)
    ours = Client(
        "phc_bench",
        host="http://127.0.0.1:9",
        flag_definitions=document,
        send=False,
        sync_mode=True,
    )
    people = [person(i) for i in range(2000)]

    # Same answers first.
    for i in range(300):
        theirs_snap = ref.evaluate_flags(
            f"check-{i}", person_properties=people[i], only_evaluate_locally=True
        )
        our_snap = ours.evaluate_flags(
            f"check-{i}", person_properties=people[i], only_evaluate_locally=True
        )
        expected = {
            k: theirs_snap.get_flag(k, send_feature_flag_events=False) for k in theirs_snap.keys
        }
        assert dict(our_snap.flag_values) == expected, (i, expected, dict(our_snap.flag_values))
        assert not our_snap.unresolved and not theirs_snap.unresolved_flags
        assert our_snap.get_flag_payload("experiment-0") == theirs_snap.get_flag_payload(
            "experiment-0"
        )

    rows: list[tuple[str, float, float]] = []
    for label, ids in (
        ("new people (events sent)", (f"new-{i}" for i in itertools.count())),
        ("returning people (deduped)", itertools.cycle([f"back-{i}" for i in range(2000)])),
    ):
        ids_ref, ids_ours = itertools.tee(ids)
        counter = itertools.count()

        def reference_request(ids_ref: Any = ids_ref, counter: Any = counter) -> None:
            did = next(ids_ref)
            props = people[next(counter) % 2000]
            flags = ref.evaluate_flags(did, person_properties=props, only_evaluate_locally=True)
            flags.is_enabled("rollout-3")
            flags.get_flag("experiment-2")
            flags.get_flag_payload("experiment-2")
            ref.capture("checkout", distinct_id=did, flags=flags)

        def hogkit_request(ids_ours: Any = ids_ours, counter: Any = counter) -> None:
            did = next(ids_ours)
            props = people[next(counter) % 2000]
            flags = ours.evaluate_flags(did, person_properties=props, only_evaluate_locally=True)
            flags.is_enabled("rollout-3")
            flags.get_flag("experiment-2")
            flags.get_flag_payload("experiment-2")
            ours.capture("checkout", distinct_id=did, flags=flags)

        if label.startswith("returning"):  # warm both dedup caches
            for _ in range(2000):
                reference_request()
                hogkit_request()
        theirs = best_of(reference_request, number)
        mine = best_of(hogkit_request, number * 5)
        rows.append((label, theirs, mine))

    ref.shutdown()
    ours.shutdown()
    print(
        "evaluate_flags (40 flags, local) + is_enabled + get_flag + get_flag_payload + capture(flags=)"
    )
    print(f"{'workload':30} {'posthog 7.91.1':>15} {'hogkit':>10} {'ratio':>8}")
    for label, theirs, mine in rows:
        print(f"{label:30} {theirs * 1e6:13.1f}us {mine * 1e6:8.1f}us {theirs / mine:7.1f}x")
    worst = min(theirs / mine for _, theirs, mine in rows)
    print(f"goal >= 10x: {'met' if worst >= 10 else 'NOT met'} (worst {worst:.1f}x)")


if __name__ == "__main__":
    main()
