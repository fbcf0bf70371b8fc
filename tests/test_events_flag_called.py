"""`$feature_flag_called` and its dedup key, pinned against posthog==7.91.1's flag reads.

Each reference read (single-flag local read, snapshot read, remote-style read) is made with
a recording `before_send`; hogkit builds the event from the same facts the read had.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import msgspec
import posthog
import pytest
from hogkit.core import Event, EventContext, encode_event, feature_flag_called
from hogkit.core.events import MINIMAL_FLAG_CALLED_PROPERTIES
from hogkit.core.flag_called import report_of
from hogkit.core.normalize import normalize_properties
from oracle import recording_clients
from posthog.types import FeatureFlag
from posthog.utils import system_context

pytestmark = pytest.mark.filterwarnings(
    "ignore:`get_feature_flag` is deprecated:DeprecationWarning"
)

TS = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
UUID = "5d1f6a7e-0c1b-4f2e-9a8b-7c6d5e4f3a2b"

DEFINITIONS = [
    {
        "id": 11,
        "version": 4,
        "key": "beta",
        "active": True,
        "filters": {
            "groups": [{"properties": [], "rollout_percentage": 100}],
            "payloads": {"true": '{"color": "red", "n": [1, 2]}'},
        },
    },
    {
        "id": 12,
        "key": "multi",
        "active": True,
        "filters": {
            "groups": [{"properties": [], "rollout_percentage": 100}],
            "multivariate": {"variants": [{"key": "blue", "rollout_percentage": 100}]},
        },
    },
    {
        "id": 13,
        "key": "org-flag",
        "active": True,
        "filters": {
            "aggregation_group_type_index": 0,
            "groups": [{"properties": [], "rollout_percentage": 100}],
        },
    },
]


@pytest.fixture
def reference(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[posthog.Client, list[dict[str, Any]]]]:
    monkeypatch.delenv("POSTHOG_RELEASE_ID", raising=False)
    with recording_clients() as (make, sent):
        client = make(super_properties={"app": "shop"})
        client.feature_flags = DEFINITIONS
        client.group_type_mapping = {"0": "organization"}
        yield client, sent


CTX = EventContext(system_properties=system_context(), super_properties={"app": "shop"})


def assert_same(ours: Any, theirs: dict[str, Any]) -> None:
    """Field by field; the reference's generated timestamp/uuid and `$lib*` are ignored."""
    mine = msgspec.json.decode(encode_event(ours))
    for msg in (mine, theirs):
        msg.pop("timestamp")
        msg.pop("uuid")
        msg["properties"].pop("$lib")
        msg["properties"].pop("$lib_version")
    assert set(mine["properties"]) == set(theirs["properties"])
    for key, value in theirs["properties"].items():
        assert mine["properties"][key] == value, key
    assert mine == theirs


def called_by_u1(**fields: Any) -> Event:
    """Our `$feature_flag_called` for "u1", at the tests' fixed time and uuid."""
    return feature_flag_called(CTX, distinct_id="u1", timestamp=TS, uuid=UUID, **fields)


def test_single_flag_local_read(reference: Any) -> None:
    client, sent = reference
    assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True
    ours = called_by_u1(
        key="beta",
        response=True,
        payload={"color": "red", "n": [1, 2]},
        locally_evaluated=True,
        flag_id=11,
        flag_version=4,
    )
    assert_same(ours, sent[0])
    assert ours.properties["$feature_flag_payload"] == {"color": "red", "n": [1, 2]}
    assert "$feature_flag_reason" not in ours.properties
    assert "$groups" not in ours.properties


def test_single_flag_local_miss_has_null_response_and_no_error(reference: Any) -> None:
    client, sent = reference
    assert client.get_feature_flag("nope", "u1", only_evaluate_locally=True) is None
    ours = called_by_u1(
        key="nope",
        response=None,
        locally_evaluated=False,
    )
    assert_same(ours, sent[0])
    assert ours.properties["$feature/nope"] is None


def test_group_flag_read_carries_groups(reference: Any) -> None:
    client, sent = reference
    groups = {"organization": "acme"}
    assert client.get_feature_flag("org-flag", "u1", groups=groups, only_evaluate_locally=True)
    ours = called_by_u1(
        key="org-flag",
        response=True,
        locally_evaluated=True,
        flag_id=13,
        groups=groups,
    )
    assert_same(ours, sent[0])
    assert ours.properties["$groups"] == groups


def test_snapshot_reads(reference: Any) -> None:
    client, sent = reference
    snap = client.evaluate_flags("u1", only_evaluate_locally=True)
    assert snap.get_flag("multi") == "blue"
    assert snap.get_flag("missing") is None
    ours_multi = called_by_u1(
        key="multi",
        response="blue",
        locally_evaluated=True,
        flag_id=12,
        reason="Evaluated locally",
    )
    ours_missing = called_by_u1(
        key="missing",
        response=None,
        locally_evaluated=False,
        error=["flag_missing"],
    )
    assert_same(ours_multi, sent[0])
    assert_same(ours_missing, sent[1])
    assert ours_missing.properties["$feature_flag_error"] == "flag_missing"


def test_remote_style_read_with_every_optional_field(reference: Any) -> None:
    client, sent = reference
    details = FeatureFlag.from_json(
        {
            "key": "remote",
            "enabled": True,
            "variant": "v2",
            "reason": {"code": "condition_match", "description": "Matched condition set 1"},
            "metadata": {"id": 77, "version": 9, "payload": None},
        }
    )
    client._capture_feature_flag_called(
        "u9",
        "remote",
        "v2",
        [1, "two"],
        False,
        {"company": "c1"},
        False,
        "req-123",
        1767225600000,
        details,
        feature_flag_error="errors_while_computing_flags,quota_limited",
        has_experiment=True,
    )
    ours = feature_flag_called(
        CTX,
        distinct_id="u9",
        key="remote",
        response="v2",
        payload=[1, "two"],
        locally_evaluated=False,
        flag_id=77,
        flag_version=9,
        reason="Matched condition set 1",
        request_id="req-123",
        evaluated_at=1767225600000,
        error=["errors_while_computing_flags", "quota_limited"],
        has_experiment=True,
        groups={"company": "c1"},
        disable_geoip=False,
        timestamp=TS,
        uuid=UUID,
    )
    assert_same(ours, sent[0])
    assert "$geoip_disable" not in ours.properties


def test_falsy_optional_fields_are_left_out() -> None:
    ours = called_by_u1(
        key="k",
        response=False,
        payload=None,
        locally_evaluated=True,
        flag_id=0,
        flag_version=0,
        reason="",
        request_id="",
        evaluated_at=0,
        error=[],
        has_experiment=None,
    )
    optional = {
        "$feature_flag_payload",
        "$feature_flag_id",
        "$feature_flag_version",
        "$feature_flag_reason",
        "$feature_flag_request_id",
        "$feature_flag_evaluated_at",
        "$feature_flag_error",
        "$feature_flag_has_experiment",
    }
    assert not optional & set(ours.properties)
    assert ours.properties["$feature/k"] is False
    assert ours.properties["$feature_flag_response"] is False


def test_minimal_events_keep_only_the_allowlist() -> None:
    call: dict[str, Any] = {
        "key": "k",
        "response": True,
        "payload": {"big": "x" * 100},
        "locally_evaluated": True,
        "flag_id": 3,
        "has_experiment": False,
        "groups": {"org": "o"},
    }
    full = called_by_u1(**call)
    small = called_by_u1(**call, minimal=True)
    assert set(small.properties) <= MINIMAL_FLAG_CALLED_PROPERTIES
    assert "$feature/k" in full.properties and "$feature/k" not in small.properties
    assert "$feature_flag_payload" not in small.properties
    assert "app" in full.properties and "app" not in small.properties
    kept = {k: v for k, v in full.properties.items() if k in MINIMAL_FLAG_CALLED_PROPERTIES}
    assert small.properties == kept
    assert small.properties["$groups"] == {"org": "o"}


def test_dedup_key() -> None:
    a = report_of("u1", "k", "blue", {"org": "o", "team": 5})
    b = report_of("u1", "k", "blue", {"team": "5", "org": "o"})
    assert a == b and hash(a) == hash(b)
    assert a != report_of("u1", "k", "blue", {"org": "other", "team": 5})
    assert a != report_of("u1", "k", "red", {"org": "o", "team": 5})
    assert a != report_of("u2", "k", "blue", {"org": "o", "team": 5})
    assert report_of("u1", "k", True, None) == report_of("u1", "k", True, {})
    assert report_of("u1", "k", True, None) != report_of("u1", "k", False, None)
    assert report_of("u1", "k", None, None) != report_of("u1", "k", False, None)
    assert len({a, b}) == 1


FAST_AND_SLOW_CASES: list[dict[str, Any]] = [
    # (the shell's types: the fast path)
    {"key": "k", "response": "control", "flag_id": 3, "flag_version": 2, "reason": "r"},
    {"key": "k", "response": True, "request_id": "req-1", "evaluated_at": 1700000000},
    {"key": "k", "response": None, "error": ("flag_missing", "timeout")},
    {"key": "k", "response": False, "error": "quota_limited", "has_experiment": True},
    {"key": "k", "response": "v", "groups": {"org": "o", "n": 5}},
    # (anything else: normalised the general way)
    {"key": "ключ", "response": "значение"},
    {"key": "k", "response": "v", "reason": "bad \ud800 text"},
    {"key": "k", "response": "v", "flag_id": 3.0, "flag_version": True},
    {"key": "k", "response": "v", "error": type("Code", (str,), {})("subclassed")},
    {"key": "k", "response": "v", "request_id": 1234},
]
PAYLOADS: list[Any] = [
    None,
    {"copy": "Buy now", "tiers": [1, 2, {"x": None}]},
    [1, "two"],
    "text",
    7,
    float("nan"),
]


@pytest.mark.parametrize("case", FAST_AND_SLOW_CASES, ids=range(len(FAST_AND_SLOW_CASES)))
@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_the_direct_build_gives_the_normalised_event(case: dict[str, Any], payload: Any) -> None:
    """Whichever way the properties are built, the event is the one normalising gives."""
    ev = feature_flag_called(
        CTX,
        distinct_id="u1",
        payload=payload,
        locally_evaluated=True,
        timestamp=TS,
        uuid=UUID,
        **case,
    )
    props = dict(ev.properties)
    # What normalising the same layers gives, built independently of the builder.
    expected_flag = normalize_properties(
        {
            "$feature_flag": case["key"],
            "$feature_flag_response": case["response"],
            "locally_evaluated": True,
            f"$feature/{case['key']}": case["response"],
        }
    )
    for name, value in expected_flag.items():
        assert props[name] == value and type(props[name]) is type(value)
    if payload is None:
        assert "$feature_flag_payload" not in props
    else:
        assert encode_event(ev) == encode_event(
            msgspec.structs.replace(ev, properties=normalize_properties(props))
        )
    error = case.get("error")
    if error:
        text = error if isinstance(error, str) else ",".join(error)
        assert props["$feature_flag_error"] == text and type(props["$feature_flag_error"]) is str
    assert ev.properties == normalize_properties(ev.properties)  # already JSON-safe


def test_a_json_payload_is_kept_as_decoded() -> None:
    decoded = msgspec.json.decode(b'{"copy": "Buy now", "tiers": [1, 2, 3], "on": true}')
    shared = called_by_u1(
        key="k",
        response="v",
        payload=decoded,
        payload_is_json=True,
        locally_evaluated=True,
    )
    copied = called_by_u1(
        key="k",
        response="v",
        payload=decoded,
        locally_evaluated=True,
    )
    assert shared.properties["$feature_flag_payload"] is decoded  # no second copy
    assert copied.properties["$feature_flag_payload"] is not decoded  # normalised copy
    assert encode_event(shared) == encode_event(copied)
