"""A single flag read through the Client, 1,000 flags loaded: hogkit vs posthog==7.91.1.

`Client.get_feature_flag(key, distinct_id, person_properties=..., only_evaluate_locally=True,
send_feature_flag_events=False)` on both sides, side by side in one process, CPU time, best
of several runs. The read must cost the same whatever the number of flags loaded (only the
requested flag is evaluated), so the row for 40 flags is printed beside the one for 1,000.

Run: python benchmarks/bench_client_flags.py
Goal: >= 5x with 1,000 flags loaded.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from bench_flags import NOW, best_of, people, reference_client, workload_flags

from hogkit import Client, FlagSet

READS = 20_000


def hogkit_client(flags: list[dict[str, object]]) -> Client:
    definitions = FlagSet.from_document({"flags": flags, "group_type_mapping": {}, "cohorts": {}})
    return Client("phc_bench", send=False, flag_definitions=definitions)


def read_all(client: Any, reads: list[tuple[str, str, dict[str, Any]]]) -> None:
    """One `get_feature_flag` per read, the same call on either client."""
    get = client.get_feature_flag
    for key, distinct_id, props in reads:
        get(
            key,
            distinct_id,
            person_properties=props,
            only_evaluate_locally=True,
            send_feature_flag_events=False,
        )


def main() -> None:
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    population = people(500)
    print(f"{'flags loaded':>12} {'posthog 7.91.1':>16} {'hogkit':>10} {'speed-up':>9}")
    for count in (40, 1000):
        flags = workload_flags(count, seed=3)
        keys = [str(flag["key"]) for flag in flags]
        reads = [(keys[i % len(keys)], *population[i % len(population)]) for i in range(READS)]
        ours, theirs = hogkit_client(flags), reference_client(flags)

        hog_time = best_of(lambda c=ours, r=reads: read_all(c, r), 5) / READS
        ref_time = best_of(lambda c=theirs, r=reads: read_all(c, r), 3) / READS
        print(
            f"{count:>12} {ref_time * 1e6:>13.2f} µs {hog_time * 1e6:>7.2f} µs"
            f" {ref_time / hog_time:>8.1f}x"
        )
        ours.shutdown()
        theirs.shutdown()
    assert NOW is not None


if __name__ == "__main__":
    main()
