"""The bucketing hash, gated by the cross-SDK consistency vectors.

Every PostHog SDK is checked against the same two lists of 1000 outcomes. They are read
here, as data, from the reference package's own test module (with `ast`), together with
the flag definitions they were produced from.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import pathlib
from datetime import datetime, timezone
from typing import Any

import posthog
import posthog.feature_flags as ph_flags
import pytest
from hogkit.core import FlagSet
from hogkit.core.hashing import (
    NEVER,
    above_cut,
    at_least_cut,
    bucket,
    bucket_prefix,
    fingerprint,
    first_above,
    first_at_least,
    hash_bucket,
    holdout_bucket,
)
from hypothesis import given
from hypothesis import strategies as st

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)


def _consistency_case(test_name: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """(flag definitions, expected outcomes) of one TestConsistency test, as literals."""
    source = pathlib.Path(posthog.__file__).parent / "test" / "test_feature_flags.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "TestConsistency":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == test_name:
                    flags = results = None
                    for statement in ast.walk(item):
                        if not isinstance(statement, ast.Assign):
                            continue
                        target = statement.targets[0]
                        if isinstance(target, ast.Attribute) and target.attr == "feature_flags":
                            flags = ast.literal_eval(statement.value)
                        elif isinstance(target, ast.Name) and target.id == "results":
                            results = ast.literal_eval(statement.value)
                    assert flags is not None and results is not None
                    return flags, results
    raise AssertionError(f"{test_name} not found in the reference tests")


def test_simple_flag_consistency_vectors() -> None:
    flags, expected = _consistency_case("test_simple_flag_consistency")
    assert len(expected) == 1000
    fs = FlagSet.from_document(flags)
    got = [fs.evaluate(f"distinct_id_{i}", now=NOW).is_enabled("simple-flag") for i in range(1000)]
    assert got == [bool(value) for value in expected]
    assert sum(got) == 446


def test_multivariate_flag_consistency_vectors() -> None:
    flags, expected = _consistency_case("test_multivariate_flag_consistency")
    assert len(expected) == 1000
    fs = FlagSet.from_document(flags)
    got = [
        fs.evaluate(f"distinct_id_{i}", now=NOW).get_flag("multivariate-flag") for i in range(1000)
    ]
    assert got == expected


def test_sanity_values() -> None:
    assert hash_bucket("simple-flag", "distinct_id_0") == 0.7836963764220432
    assert hash_bucket("simple-flag", "distinct_id_1") == 0.3397069926995401


def _by_definition(key: str, value: str, salt: str = "", separator: str = ".") -> float:
    """The hash as section 1.3 defines it: 15 hex digits of SHA-1 over 0xFFFFFFFFFFFFFFF."""
    text = f"{key}{separator}{value}{salt}".encode()
    return int(hashlib.sha1(text).hexdigest()[:15], 16) / float(0xFFFFFFFFFFFFFFF)


@given(st.text(), st.text(), st.sampled_from(["", "variant"]))
def test_hash_matches_definition_and_reference(key: str, value: str, salt: str) -> None:
    expected = _by_definition(key, value, salt)
    assert hash_bucket(key, value, salt) == expected
    assert bucket(bucket_prefix(key), value, salt.encode()) == expected
    assert ph_flags._hash(key, value, salt) == expected
    assert 0.0 <= expected < 1.0


@given(st.text())
def test_holdout_hash_joins_with_a_dash(value: str) -> None:
    assert holdout_bucket(value) == _by_definition("holdout", value, separator="-")
    assert holdout_bucket(value) == ph_flags._holdout_hash(value)


def test_int_bucketing_values_hash_as_their_decimal_text() -> None:
    assert hash_bucket("flag", 123) == hash_bucket("flag", "123")


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        (
            {"flags": [{"key": "a", "active": True}]},
            {"flags": [{"active": True, "key": "a"}]},
            True,
        ),
        (
            {"flags": [{"key": "a", "active": True}]},
            {"flags": [{"key": "a", "active": False}]},
            False,
        ),
        ({"flags": []}, {"flags": [], "group_type_mapping": {"0": "company"}}, False),
        ({"flags": [], "quotaLimited": []}, {"flags": []}, True),
    ],
)
def test_fingerprint_is_canonical(left: Any, right: Any, same: bool) -> None:
    assert (
        FlagSet.from_document(left).fingerprint == FlagSet.from_document(right).fingerprint
    ) is same
    assert (fingerprint(left) == fingerprint(right)) is (same and left.keys() == right.keys())


def test_fingerprint_of_text_is_the_texts_own() -> None:
    # JSON text is fingerprinted as it is (no re-encoding): the same text gives the same
    # fingerprint, as bytes or str; a decoded document is fingerprinted canonically.
    compact = b'{"flags":[{"key":"a","active":true}]}'
    spaced = b'{ "flags" : [ { "active" : true , "key" : "a" } ] }'
    assert FlagSet.from_json(compact).fingerprint == FlagSet.from_json(compact).fingerprint
    assert FlagSet.from_json(compact).fingerprint == FlagSet.from_json(compact.decode()).fingerprint
    assert FlagSet.from_json(compact).fingerprint == fingerprint(compact)
    assert FlagSet.from_json(compact).fingerprint != FlagSet.from_json(spaced).fingerprint
    assert (
        FlagSet.from_document(json.loads(compact)).fingerprint
        == FlagSet.from_document(json.loads(spaced)).fingerprint
    )
    changed = b'{"flags":[{"key":"a","active":false}]}'
    assert FlagSet.from_json(compact).fingerprint != FlagSet.from_json(changed).fingerprint


# --- digest cut-offs: the hot path compares digests instead of floats -----------------

TOP = 1 << 60


def _bucket_of(n: int) -> float:
    return n / float(0xFFFFFFFFFFFFFFF)


def _digest_for(n: int) -> bytes:
    """A 20-byte digest whose leading 60 bits are n (the other bits arbitrary)."""
    return ((n << 4) | 0xA).to_bytes(8, "big") + b"\x5a" * 12


# Where float(n) stops being n (2**53 over 2**60), its neighbours, and other powers of two:
# the cut-offs are worked out differently on either side.
_SWITCH = 2.0**-7
_EDGES = [_SWITCH, math.nextafter(_SWITCH, 0.0), math.nextafter(_SWITCH, 1.0)]
_EDGES += [2.0**-k for k in range(70)] + [1 - 2.0**-k for k in range(1, 60)]
BOUNDS = st.one_of(
    st.sampled_from([k / 100 for k in range(101)] + [0.0, -0.0, 1.0, 1e-300, 5e-324, -1.0, 2.0]),
    st.sampled_from(_EDGES),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(allow_nan=True, allow_infinity=True),
)


@given(BOUNDS, st.integers(0, TOP - 1))
def test_cuts_decide_like_float_comparisons(bound: float, n: int) -> None:
    above, at_least = first_above(bound), first_at_least(bound)
    for candidate in {n, above - 1, above, above + 1, at_least - 1, at_least, at_least + 1}:
        if not 0 <= candidate < TOP:
            continue
        bucket_value = _bucket_of(candidate)
        digest = _digest_for(candidate)
        assert (bucket_value > bound) is (digest >= above_cut(bound))
        assert (bucket_value >= bound) is (digest >= at_least_cut(bound))


def test_whole_percentage_cuts_decide_like_float_comparisons() -> None:
    # Every whole percentage as a share, each checked at both sides of both cut-offs.
    for percent in range(101):
        bound = percent / 100
        above, at_least = first_above(bound), first_at_least(bound)
        for candidate in (above - 1, above, at_least - 1, at_least):
            if not 0 <= candidate < TOP:
                continue
            bucket_value = _bucket_of(candidate)
            digest = _digest_for(candidate)
            assert (bucket_value > bound) is (digest >= above_cut(bound))
            assert (bucket_value >= bound) is (digest >= at_least_cut(bound))


def test_cut_edges() -> None:
    assert above_cut(1.0) == NEVER and above_cut(float("nan")) == NEVER
    assert above_cut(-0.5) == at_least_cut(0.0) == b"\x00" * 8
    # Near 2**60 doubles are 128 apart: the top buckets round up to exactly 1.0.
    assert first_at_least(1.0) == TOP - 64
    assert _bucket_of(TOP - 64) == 1.0 and _bucket_of(TOP - 65) < 1.0
    assert all(_digest_for(n) < NEVER for n in (0, TOP - 1))
