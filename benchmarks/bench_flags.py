"""Local flag evaluation: hogkit's FlagSet vs posthog==7.91.1, side by side in one run.

The workload is 40 flags of the kinds real projects have (percentage rollouts, email /
plan / country targeting, numeric and regex conditions, multivariate experiments with
payloads, multi-condition flags) over a few thousand people. Before timing anything the
script checks that both give the same value for every flag and person (and the same
payloads, through the reference's `evaluate_flags`).

Rows:
- all flags: `FlagSet.evaluate(...)` vs `Client.get_all_flags(..., only_evaluate_locally=True)`,
  and (for information) vs `Client.evaluate_flags(...)`, the reference's snapshot API;
- snapshot read: `snap.get_flag(key)` vs the reference snapshot's
  `get_flag(key, send_feature_flag_events=False)` (a dictionary lookup on both sides);
- compile 1,000 flags from JSON vs what the reference does with a definitions response
  (json.loads, its canonical hash, publishing, classifying unresolvable flags).

Times are CPU time of this process (`time.process_time`), best of several runs, so that
other work on a shared machine disturbs both sides as little as possible.

Run: /work/venv/bin/python benchmarks/bench_flags.py [--quick]
The mixed workload (cohorts, dependencies, every operator family) and the Client's
single-flag read are in `bench_engine.py`.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import posthog.feature_flags as ph_flags
from bench_engine import reference_load
from hogkit.core import FlagSet
from posthog import Client

NOW = datetime.now(timezone.utc)
PLANS = ["free", "starter", "pro", "enterprise"]
COUNTRIES = ["US", "GB", "DE", "FR", "NZ", "BR", "IN", "JP"]
DOMAINS = ["acme.com", "globex.com", "initech.io", "gmail.com", "example.org"]


def prop(key: str, value: Any, operator: str = "exact") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": "person"}


def variants(*shares: tuple[str, int]) -> dict[str, Any]:
    return {"variants": [{"key": k, "name": k, "rollout_percentage": p} for k, p in shares]}


def workload_flags(count: int = 40, seed: int = 7) -> list[dict[str, Any]]:
    """`count` flags cycling through realistic shapes (deterministic for a seed)."""
    rng = random.Random(seed)
    flags: list[dict[str, Any]] = []
    for index in range(count):
        kind = index % 8
        key = f"flag-{index}-{['rollout', 'email', 'plan', 'country', 'numeric', 'regex', 'mv', 'multi'][kind]}"
        payloads: dict[str, Any] = {}
        multivariate = None
        if kind == 0:
            groups = [{"properties": [], "rollout_percentage": rng.choice([5, 20, 50, 80, 100])}]
            payloads = {"true": json.dumps({"enabled": True, "limit": rng.randint(1, 100)})}
        elif kind == 1:
            domain = rng.choice(DOMAINS)
            groups = [
                {
                    "properties": [prop("email", f"@{domain}", "icontains")],
                    "rollout_percentage": 100,
                },
                {"properties": [prop("email", ".io", "ends_with")], "rollout_percentage": 30},
            ]
        elif kind == 2:
            groups = [
                {
                    "properties": [prop("plan", rng.sample(PLANS, 2))],
                    "rollout_percentage": rng.choice([50, 100]),
                }
            ]
            payloads = {"true": '{"tier": "paid"}', "false": '{"tier": "free"}'}
        elif kind == 3:
            groups = [
                {
                    "properties": [
                        prop("country", rng.sample(COUNTRIES, 3)),
                        prop("plan", "free", "is_not"),
                    ],
                    "rollout_percentage": 100,
                }
            ]
        elif kind == 4:
            groups = [
                {
                    "properties": [
                        prop("age", rng.choice([18, 21, 30]), "gte"),
                        prop("orders", rng.choice([2, 5, 10]), "gt"),
                    ],
                    "rollout_percentage": 75,
                },
                {"properties": [prop("ltv", 1000, "gt")], "rollout_percentage": None},
            ]
        elif kind == 5:
            groups = [
                {
                    "properties": [prop("email", r"^[a-z]+\.[a-z]+@(acme|globex)\.com$", "regex")],
                    "rollout_percentage": 100,
                }
            ]
        elif kind == 6:
            multivariate = variants(("control", 50), ("test", 30), ("holdback", 20))
            groups = [
                {
                    "properties": [prop("plan", ["pro", "enterprise"])],
                    "rollout_percentage": rng.choice([60, 100]),
                },
                {
                    "properties": [prop("country", "US")],
                    "rollout_percentage": 20,
                    "variant": "test",
                },
            ]
            payloads = {
                "control": json.dumps({"color": "blue", "items": [1, 2, 3]}),
                "test": json.dumps({"color": "green", "items": [4, 5]}),
                "holdback": '"none"',
            }
        else:
            groups = [
                {"properties": [prop("plan", "enterprise")], "rollout_percentage": 100},
                {
                    "properties": [prop("country", "US"), prop("age", 40, "lt")],
                    "rollout_percentage": 50,
                },
                {
                    "properties": [prop("email", "@gmail.com", "not_icontains")],
                    "rollout_percentage": 10,
                },
            ]
        filters: dict[str, Any] = {"groups": groups, "payloads": payloads}
        if multivariate:
            filters["multivariate"] = multivariate
        flags.append(
            {
                "id": index + 1,
                "key": key,
                "name": key,
                "active": True,
                "version": 3,
                "filters": filters,
            }
        )
    return flags


def people(count: int, seed: int = 11) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    result = []
    for index in range(count):
        first = rng.choice(["ann", "bob", "cy", "dee", "eve"])
        last = rng.choice(["smith", "jones", "ng", "o"])
        result.append(
            (
                f"user-{index:05d}",
                {
                    "email": f"{first}.{last}@{rng.choice(DOMAINS)}",
                    "plan": rng.choice(PLANS),
                    "country": rng.choice(COUNTRIES),
                    "age": rng.randint(14, 80),
                    "orders": rng.randint(0, 30),
                    "ltv": round(rng.uniform(0, 3000), 2),
                },
            )
        )
    return result


def reference_client(flags: list[dict[str, Any]]) -> Client:
    client = Client(
        "phc_bench",
        host="http://127.0.0.1:9",
        secret_key="phs_bench",
        send=False,
        sync_mode=True,
        enable_local_evaluation=False,
    )
    client.feature_flags = flags
    client.group_type_mapping = {}
    client.cohorts = {}
    return client


def best_of(fn: Callable[[], Any], repeat: int = 5) -> float:
    """Seconds for one call of `fn` (which loops itself): the best of `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def check_agreement(
    fs: FlagSet, client: Client, population: list[tuple[str, dict[str, Any]]]
) -> int:
    checked = 0
    for distinct_id, props in population:
        expected = client.get_all_flags(
            distinct_id, person_properties=props, only_evaluate_locally=True
        )
        snap = fs.evaluate(distinct_id, person_properties=props, now=NOW)
        if dict(snap.flag_values) != expected:
            raise SystemExit(f"MISMATCH for {distinct_id}: {dict(snap.flag_values)} != {expected}")
        checked += len(expected)
    for distinct_id, props in population[:300]:
        ref = client.evaluate_flags(
            distinct_id, person_properties=props, only_evaluate_locally=True
        )
        snap = fs.evaluate(distinct_id, person_properties=props, now=NOW)
        for key in fs.keys:
            if ref.get_flag_payload(key) != snap.get_flag_payload(key):
                raise SystemExit(f"PAYLOAD MISMATCH for {distinct_id}/{key}")
    return checked


def main(quick: bool = False) -> None:
    logging.getLogger("posthog").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")
    population = people(500 if quick else 3000)
    flags = workload_flags(40)
    client = reference_client(flags)
    fs = FlagSet.from_document(flags)
    checked = check_agreement(fs, client, population)
    print(
        f"{len(flags)} flags x {len(population)} people: {checked} values identical, payloads identical"
    )

    rows: list[tuple[str, float, float]] = []

    def hog_all() -> None:
        for distinct_id, props in population:
            fs.evaluate(distinct_id, person_properties=props, now=NOW)

    def ref_all() -> None:
        for distinct_id, props in population:
            client.get_all_flags(distinct_id, person_properties=props, only_evaluate_locally=True)

    def ref_snapshot() -> None:
        for distinct_id, props in population:
            client.evaluate_flags(distinct_id, person_properties=props, only_evaluate_locally=True)

    n = len(population)
    hog_all_time = best_of(hog_all, 5) / n
    rows.append(("all 40 flags, per person", best_of(ref_all, 3) / n, hog_all_time))
    rows.append(("  the same vs evaluate_flags", best_of(ref_snapshot, 3) / n, hog_all_time))

    keys = [flag["key"] for flag in flags]
    distinct_id, props = population[0]
    snap = fs.evaluate(distinct_id, person_properties=props, now=NOW)
    ref_snap = client.evaluate_flags(
        distinct_id, person_properties=props, only_evaluate_locally=True
    )
    loops = 20_000

    def hog_read() -> None:
        get = snap.get_flag
        for i in range(loops):
            get(keys[i % 40])

    def ref_read() -> None:
        get = ref_snap.get_flag
        for i in range(loops):
            get(keys[i % 40], send_feature_flag_events=False)

    rows.append(
        (
            "snapshot read (a lookup on both sides)",
            best_of(ref_read) / loops,
            best_of(hog_read) / loops,
        )
    )

    big = workload_flags(1000, seed=3)
    body = json.dumps({"flags": big, "group_type_mapping": {}, "cohorts": {}}).encode()

    def hog_compile() -> None:
        FlagSet.from_json(body)

    loader = reference_client([])

    def ref_load() -> None:
        reference_load(loader, body)

    rows.append(("compile/load 1,000 flags", best_of(ref_load, 5), best_of(hog_compile, 5)))

    print(f"{'':32} {'posthog 7.91.1':>16} {'hogkit':>12} {'speed-up':>9}")
    for label, ref, hog in rows:
        print(f"{label:32} {_fmt(ref):>16} {_fmt(hog):>12} {ref / hog:>8.1f}x")
    assert ph_flags  # the reference module is what is being compared


def _fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} µs"


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
