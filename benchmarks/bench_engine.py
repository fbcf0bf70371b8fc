"""The flag engine on a mixed workload, side by side with posthog==7.91.1 in one process.

The workload (`flag_workload.py`) cycles through thirteen kinds of flags: rollouts,
every operator family, multivariate experiments with payloads, multi-condition flags,
cohorts of nested AND/OR groups, and dependency chains; every person property is present,
so every flag resolves locally on both sides. Before timing, the script checks that both
sides give the same value for every flag and person, and that nothing is left to the
server.

Rows (like against like):
- all flags, 40 and 1,000: `FlagSet.evaluate` vs the reference's `get_all_flags(...,
  only_evaluate_locally=True)`;
- cohort flags alone and dependency flags alone (40 each): the same calls on documents
  holding only that kind;
- compile 10, 40 and 1,000 flags: `FlagSet.from_json(body)` vs what the reference does
  with the same response body (decode, hash, publish, classify unresolvable flags), on
  one reference client built before timing;
- `Client.get_feature_flag` with 1,000 flags loaded: hogkit's Client vs the reference's,
  both local only, 11 flags (one of each of most kinds) for 400 people per timed loop (a
  loop long enough that a scheduling hiccup does not decide the row);
- for information, the hashing floor: one SHA-1 of the bucketing text and a dict store
  per flag, against hogkit's all-flags time.

Times are CPU time of this process (`time.process_time`), best of several runs.

Run: python benchmarks/bench_engine.py [--quick]
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import posthog
from flag_workload import KINDS, document, people
from hogkit.core import FlagSet
from hogkit.transport import Client

NOW = datetime.now(timezone.utc)


def reference_client(doc: dict[str, Any]) -> posthog.Client:
    client = posthog.Client(
        "phc_bench",
        host="http://127.0.0.1:9",
        secret_key="phs_bench",
        send=False,
        sync_mode=True,
        enable_local_evaluation=False,
    )
    # Definitions as the reference's poller would publish them, without a network.
    client.feature_flags = doc["flags"]
    client.group_type_mapping = doc["group_type_mapping"]
    client.cohorts = doc["cohorts"]
    return client


def reference_load(loader: posthog.Client, body: bytes) -> None:
    """What posthog-python does with a definitions response it has not seen before:
    parse, fingerprint, publish, and classify the flags it can never resolve. The loader
    first forgets the fingerprints of its previous load, which would otherwise skip the
    classification; one loader serves every load, so its constructor is not timed."""
    loader._flag_definition_fingerprint = None
    loader._unresolvable_flags_fingerprint = None
    data = json.loads(body)
    fingerprint = loader._hash_flag_definitions(data)
    loader._update_flag_state(data, _fingerprint=fingerprint)
    loader._warn_unresolvable_flags()


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Seconds for one call of `fn` (which loops itself): the best of `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def check(fs: FlagSet, ref: posthog.Client, population: list[tuple[str, dict[str, Any]]]) -> None:
    for distinct_id, props in population:
        expected = ref.get_all_flags(
            distinct_id, person_properties=props, only_evaluate_locally=True
        )
        snap = fs.evaluate(distinct_id, person_properties=props, now=NOW)
        if snap.unresolved or len(snap.keys) != len(fs.keys):
            raise SystemExit(f"not every flag resolved locally: {dict(snap.unresolved)}")
        if dict(snap.flag_values) != expected:
            raise SystemExit(f"MISMATCH for {distinct_id}")


def all_flags_row(
    label: str, doc: dict[str, Any], population: list[tuple[str, dict[str, Any]]], repeat: int
) -> tuple[str, float, float]:
    fs = FlagSet.from_document(doc)
    ref = reference_client(doc)
    check(fs, ref, population[:200])

    def hog() -> None:
        evaluate = fs.evaluate
        for distinct_id, props in population:
            evaluate(distinct_id, person_properties=props, now=NOW)

    def reference() -> None:
        get_all = ref.get_all_flags
        for distinct_id, props in population:
            get_all(distinct_id, person_properties=props, only_evaluate_locally=True)

    count = len(population)
    return label, best_of(reference, repeat) / count, best_of(hog, repeat + 2) / count


def compile_row(count: int, repeat: int) -> tuple[str, float, float]:
    body = json.dumps(document(count, seed=3)).encode()
    loops = max(1, 2000 // count)

    def hog() -> None:
        for _ in range(loops):
            FlagSet.from_json(body)

    loader = reference_client({"flags": [], "group_type_mapping": {}, "cohorts": {}})

    def reference() -> None:
        for _ in range(loops):
            reference_load(loader, body)

    return (
        f"compile {count:,} flags",
        best_of(reference, repeat) / loops,
        best_of(hog, repeat) / loops,
    )


def client_row(
    doc: dict[str, Any], population: list[tuple[str, dict[str, Any]]], repeat: int
) -> tuple[str, float, float]:
    hog = Client(
        "phc_bench", host="http://127.0.0.1:9", flag_definitions=doc, send=False, sync_mode=True
    )
    ref = reference_client(doc)
    keys = [flag["key"] for flag in doc["flags"]][::97]
    for key in keys:
        for distinct_id, props in population[:50]:
            args = {"person_properties": props, "only_evaluate_locally": True}
            expected = ref.get_feature_flag(
                key, distinct_id, send_feature_flag_events=False, **args
            )
            got = hog.get_feature_flag(key, distinct_id, send_feature_flag_events=False, **args)
            if got != expected:
                raise SystemExit(f"Client MISMATCH for {key}/{distinct_id}: {got} != {expected}")

    def run(client: Any) -> Callable[[], None]:
        def loop() -> None:
            get = client.get_feature_flag
            for key in keys:
                for distinct_id, props in population:
                    get(
                        key,
                        distinct_id,
                        person_properties=props,
                        only_evaluate_locally=True,
                        send_feature_flag_events=False,
                    )

        return loop

    count = len(keys) * len(population)
    try:
        return (
            "Client.get_feature_flag, 1,000 loaded",
            best_of(run(ref), repeat) / count,
            best_of(run(hog), repeat) / count,
        )
    finally:
        hog.shutdown()
        ref.shutdown()


def floor_row(
    doc: dict[str, Any], population: list[tuple[str, dict[str, Any]]], hog: float
) -> tuple[str, float, float]:
    prefixes = [f"{flag['key']}.".encode() for flag in doc["flags"]]

    def floor() -> None:
        sha1 = hashlib.sha1
        for distinct_id, _ in population:
            found = {}
            raw = distinct_id.encode()
            for prefix in prefixes:
                found[prefix] = sha1(prefix + raw).digest()

    return "  hashing floor, 1,000 flags (vs hogkit)", best_of(floor, 3) / len(population), hog


def main(quick: bool = False) -> None:
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    small = people(300 if quick else 2000)
    few = small[: 30 if quick else 150]
    repeat = 2 if quick else 4
    big = document(1000)
    rows = [
        all_flags_row("all flags, 40", document(40), small, repeat),
        all_flags_row("all flags, 1,000", big, few, repeat),
        all_flags_row("cohort flags alone, 40", document(40, ("cohort",)), small, repeat),
        all_flags_row("dependency flags alone, 40", document(40, ("dependency",)), small, repeat),
    ]
    rows.append(floor_row(big, few, rows[1][2]))
    rows += [compile_row(count, repeat) for count in (10, 40, 1000)]
    rows.append(client_row(big, small[:400], repeat))
    print(
        f"mixed workload: {len(KINDS)} kinds of flags; {len(small):,} people (1,000 flags: {len(few)})"
    )
    print(f"{'':42} {'posthog 7.91.1':>15} {'hogkit':>11} {'ratio':>7}")
    for label, ref, hog in rows:
        print(f"{label:42} {_fmt(ref):>15} {_fmt(hog):>11} {ref / hog:>6.1f}x")


def _fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} µs"


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
