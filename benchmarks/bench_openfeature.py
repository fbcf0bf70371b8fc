"""One boolean flag read through OpenFeature: the hogkit provider vs the direct Client call.

Rows (40 boolean-valued flags of the usual shapes loaded, 500 people, every read a local
decision that reports `$feature_flag_called`, CPU time, best of several runs):
- `OpenFeatureClient.get_boolean_details(key, False, context)` with `HogkitProvider`;
- `HogkitProvider.resolve_boolean_details(...)` alone (what the provider itself costs);
- `Client.evaluate_flags(id, person_properties=..., flag_keys=[key]).get_flag(key)`, the
  direct path the provider takes;
- the OpenFeature SDK around a provider that returns a constant (the SDK's own share);
- posthog 7.91.1 `get_feature_flag(..., only_evaluate_locally=True)`, for context.
The ratio printed is provider (through the SDK) / direct.

Run: python benchmarks/bench_openfeature.py
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

from bench_flags import best_of, people, reference_client, workload_flags
from hogkit.openfeature import HogkitProvider
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from hogkit import Client, FlagSet

READS = 20_000


class ConstantProvider(AbstractProvider):
    """The least a provider can do: the SDK's own cost per read."""

    def get_metadata(self) -> Metadata:
        return Metadata(name="constant")

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: Any = None
    ) -> Any:
        return FlagResolutionDetails(True, reason=Reason.STATIC)

    def resolve_string_details(self, *args: Any) -> Any:
        raise NotImplementedError

    def resolve_integer_details(self, *args: Any) -> Any:
        raise NotImplementedError

    def resolve_float_details(self, *args: Any) -> Any:
        raise NotImplementedError

    def resolve_object_details(self, *args: Any) -> Any:
        raise NotImplementedError


def boolean_flags() -> list[dict[str, Any]]:
    """The workload's flags without variants, so every read is a boolean."""
    flags = workload_flags(60, seed=3)
    return [f for f in flags if not (f.get("filters") or {}).get("multivariate")][:40]


def timed(fn: Callable[[str, str, Any, dict[str, Any]], Any], reads: list[Any]) -> float:
    def run() -> None:
        for key, distinct_id, context, props in reads:
            fn(key, distinct_id, context, props)

    return best_of(run, 5) / len(reads)


def main() -> None:
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    flags = boolean_flags()
    keys = [str(flag["key"]) for flag in flags]
    population = [(did, EvaluationContext(did, props), props) for did, props in people(500)]
    reads = [(keys[i % len(keys)], *population[i % len(population)]) for i in range(READS)]

    definitions = FlagSet.from_document({"flags": flags, "group_type_mapping": {}, "cohorts": {}})
    client = Client("phc_bench", send=False, flag_definitions=definitions)
    provider = HogkitProvider(client)
    api.set_provider_and_wait(provider, "hogkit")
    api.set_provider_and_wait(ConstantProvider(), "constant")
    of, floor = api.get_client("hogkit"), api.get_client("constant")
    theirs = reference_client(flags)

    for key, distinct_id, context, props in reads[:2000]:  # the same answers both ways
        direct = client.evaluate_flags(distinct_id, person_properties=props, flag_keys=[key])
        details = of.get_boolean_details(key, False, context)
        assert details.error_code is None and details.value is direct.get_flag(key), key

    rows = {
        "OpenFeature + HogkitProvider": timed(
            lambda k, d, c, p: of.get_boolean_details(k, False, c), reads
        ),
        "HogkitProvider.resolve_boolean_details": timed(
            lambda k, d, c, p: provider.resolve_boolean_details(k, False, c), reads
        ),
        "Client.evaluate_flags + get_flag": timed(
            lambda k, d, c, p: client.evaluate_flags(
                d, person_properties=p, flag_keys=[k]
            ).get_flag(k),
            reads,
        ),
        "OpenFeature + constant provider": timed(
            lambda k, d, c, p: floor.get_boolean_details(k, False, c), reads
        ),
        "posthog 7.91.1 get_feature_flag": timed(
            lambda k, d, c, p: theirs.get_feature_flag(
                k, d, person_properties=p, only_evaluate_locally=True
            ),
            reads,
        ),
    }
    for name, seconds in rows.items():
        print(f"{name:<42} {seconds * 1e6:>8.2f} µs")
    ratio = rows["OpenFeature + HogkitProvider"] / rows["Client.evaluate_flags + get_flag"]
    print(f"{'provider through OpenFeature / direct':<42} {ratio:>8.2f}x")
    api.clear_providers()
    client.shutdown()
    theirs.shutdown()


if __name__ == "__main__":
    main()
