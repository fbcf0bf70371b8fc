"""Bucketing spreads people as configured: shares within statistical bounds of the percentages.

The id set and the configurations are fixed, and the hash is deterministic, so these checks
give the same answer on every run; the bounds (about five standard deviations, or a
chi-square tail of one in a million) are what a uniform hash meets with room to spare.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import pytest
from hogkit.core import FlagSet

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
IDS = [f"person-{n}" for n in range(20_000)]
Z_BOUND = 5.0


def chi_square_critical(degrees: int, z: float = 4.753) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile at upper tail P(Z > z) (1e-6)."""
    k = float(degrees)
    return k * (1 - 2 / (9 * k) + z * math.sqrt(2 / (9 * k))) ** 3


def values_for(document: dict[str, object], key: str) -> Counter[object]:
    flag_set = FlagSet.from_document(document)
    return Counter(flag_set.evaluate(i, flag_keys=[key], now=NOW).get_flag(key) for i in IDS)


@pytest.mark.parametrize("percentage", [1, 12.5, 33.3, 50, 87.5, 99])
@pytest.mark.parametrize("key", ["rollout-a", "beta-checkout"])
def test_enabled_fraction_is_within_binomial_bounds(key: str, percentage: float) -> None:
    document = {
        "flags": [
            {
                "key": key,
                "active": True,
                "filters": {"groups": [{"properties": [], "rollout_percentage": percentage}]},
            }
        ]
    }
    counts = values_for(document, key)
    n, p = len(IDS), percentage / 100
    assert set(counts) <= {True, False}
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(counts[True] - n * p) <= Z_BOUND * sigma, (counts, n * p)


@pytest.mark.parametrize(
    "shares",
    [(50, 50), (34, 33, 33), (10, 20, 30, 40), (5, 90, 5), (10, 10)],
)
def test_variant_shares_pass_a_chi_square_test(shares: tuple[int, ...]) -> None:
    variants = [{"key": f"v{i}", "rollout_percentage": share} for i, share in enumerate(shares)]
    document = {
        "flags": [
            {
                "key": "experiment",
                "active": True,
                "filters": {
                    "groups": [{"properties": [], "rollout_percentage": 100}],
                    "multivariate": {"variants": variants},
                },
            }
        ]
    }
    counts = values_for(document, "experiment")
    n = len(IDS)
    expected = {f"v{i}": n * share / 100 for i, share in enumerate(shares)}
    remainder = 100 - sum(shares)
    if remainder:
        expected[True] = n * remainder / 100  # past the last variant the flag is plain True
    assert set(counts) == set(expected)
    statistic = sum((counts[k] - e) ** 2 / e for k, e in expected.items())
    assert statistic <= chi_square_critical(len(expected) - 1), (counts, expected)


def test_rollout_and_variant_hashes_are_independent() -> None:
    """Among people inside a 50% rollout, variants still split evenly (different salts)."""
    document = {
        "flags": [
            {
                "key": "combo",
                "active": True,
                "filters": {
                    "groups": [{"properties": [], "rollout_percentage": 50}],
                    "multivariate": {
                        "variants": [
                            {"key": "a", "rollout_percentage": 50},
                            {"key": "b", "rollout_percentage": 50},
                        ]
                    },
                },
            }
        ]
    }
    counts = values_for(document, "combo")
    enabled = counts["a"] + counts["b"]
    assert abs(enabled - len(IDS) / 2) <= Z_BOUND * math.sqrt(len(IDS) / 4)
    assert abs(counts["a"] - enabled / 2) <= Z_BOUND * math.sqrt(enabled / 4)


def test_holdout_excludes_its_share() -> None:
    document = {
        "flags": [
            {
                "key": "held",
                "active": True,
                "filters": {
                    "groups": [{"properties": [], "rollout_percentage": 100}],
                    "holdout": {"id": 3, "exclusion_percentage": 20},
                },
            }
        ]
    }
    counts = values_for(document, "held")
    n = len(IDS)
    assert set(counts) == {True, "holdout-3"}
    assert abs(counts["holdout-3"] - 0.2 * n) <= Z_BOUND * math.sqrt(n * 0.2 * 0.8)
