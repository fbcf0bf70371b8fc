"""`/flags` responses: every shape read the way posthog 7.91.1 reads it into a snapshot.

The reference normalises a response into `FeatureFlag` records and its snapshot reads value,
payload, id, version, reason and the failure flags from them; the differential test drives the
same raw responses (valid, odd and malformed) through both and compares those readings.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
from typing import Any

import posthog
import pytest
from hogkit.core.flags_request import encode_flags_request, flags_request_body
from hogkit.core.remote import FlagsResponseError, decode_payload, parse_flags_response
from httpserver import LoopbackServer, Reply
from hypothesis import given
from hypothesis import strategies as st
from posthog.feature_flag_evaluations import _RemoteFlagRecord
from posthog.types import normalize_flags_response


def _oracle_view(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    resp = normalize_flags_response(copy.deepcopy(raw))
    out: dict[str, dict[str, Any]] = {}
    for key, detail in resp["flags"].items():
        rec = _RemoteFlagRecord(detail)
        failed = detail._server_marked_failed
        if not rec.enabled:
            value: Any = False
        else:
            value = rec.variant if rec.variant is not None else True
        out[key] = {
            "server_failed": failed,
            "malformed": detail._malformed_field,
            "value": None if failed else value,
            "payload": rec.payload,
            "id": rec.id,
            "version": rec.version,
            "reason": rec.reason,
            "has_experiment": rec.has_experiment,
            "code": rec.details.reason.code if rec.details.reason else None,
            # Records without a typed value come from servers of config version 1.
            "config_version": (
                1
                if _untyped(raw, key) and not detail._malformed_field
                else getattr(rec.details.metadata, "_config_version", None)
            ),
            **{
                name: getattr(rec.details.metadata, "_" + name, None)
                for name in ("rule_type", "rule_id", "variant_key")
            },
        }
    return out


def _untyped(raw: dict[str, Any], key: str) -> bool:
    if "flags" not in raw:
        return True
    record = raw["flags"].get(key)
    return isinstance(record, dict) and "value" not in record


def _our_view(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    resp = parse_flags_response(json.dumps(raw))
    return {
        key: {
            "server_failed": flag.server_failed,
            "malformed": flag.malformed,
            "value": None if flag.server_failed else flag.value,
            "payload": flag.payload,
            "id": flag.id,
            "version": flag.version,
            "reason": flag.reason_description,
            "has_experiment": flag.has_experiment,
            "code": flag.reason_code,
            "config_version": flag.config_version,
            "rule_type": flag.rule_type,
            "rule_id": flag.rule_id,
            "variant_key": flag.variant_key,
        }
        for key, flag in resp.flags.items()
    }


def test_v4_records_typed_values() -> None:
    raw = {
        "flags": {
            "bool-on": {
                "key": "bool-on",
                "value": True,
                "reason": {
                    "code": "condition_match",
                    "condition_index": 0,
                    "description": "Matched",
                },
                "metadata": {"id": 3, "version": 7, "payload": '{"a": 1}', "has_experiment": False},
            },
            "variant": {"key": "variant", "value": "test", "metadata": {"id": 4, "version": 1}},
            "off": {"key": "off", "value": False, "metadata": {"id": 5, "payload": '"ignored?"'}},
            "null": {"key": "null", "value": None},
            "number": {"key": "number", "value": 42.5, "metadata": {"payload": '"not used"'}},
            "object": {"key": "object", "value": {"color": "red"}},
            "failed": {
                "key": "failed",
                "value": True,
                "failed": True,
                "metadata": {"payload": "1"},
            },
            "bad-id": {"key": "bad-id", "value": True, "metadata": {"id": "seven"}},
            "float-id": {"key": "float-id", "value": True, "metadata": {"id": 2.0}},
            "bad-value": {"key": "bad-value", "value": [1, 2]},
            "not-object": 17,
        },
        "requestId": "req-1",
        "evaluatedAt": 1700000000000,
        "errorsWhileComputingFlags": True,
        "minimalFlagCalledEvents": True,
    }
    resp = parse_flags_response(json.dumps(raw).encode())
    flags = resp.flags
    assert flags["bool-on"].value is True
    assert flags["bool-on"].payload == {"a": 1}
    assert (flags["bool-on"].id, flags["bool-on"].version) == (3, 7)
    assert flags["bool-on"].reason_code == "condition_match"
    assert flags["bool-on"].reason_description == "Matched"
    assert flags["bool-on"].condition_index == 0
    assert flags["bool-on"].has_experiment is False
    assert flags["variant"].value == "test"
    assert flags["off"].value is False
    assert flags["null"].value is False
    assert flags["number"].value is True and flags["number"].payload == 42.5
    assert flags["object"].payload == {"color": "red"}
    assert flags["failed"].server_failed and flags["failed"].payload is None
    assert flags["bad-id"].malformed == "metadata.id" and flags["bad-id"].value is False
    assert not flags["bad-id"].server_failed
    assert flags["float-id"].id == 2
    assert flags["bad-value"].malformed == "value"
    assert flags["not-object"].malformed == "record"
    assert resp.request_id == "req-1"
    assert resp.evaluated_at == 1700000000000
    assert resp.errors_while_computing is True
    assert resp.minimal_flag_called_events is True
    assert resp.quota_limited is False
    assert resp.untyped is False
    assert _our_view(raw) == _oracle_view(raw)


def test_v2_records() -> None:
    raw = {
        "flags": {
            "a": {
                "key": "a",
                "enabled": True,
                "variant": None,
                "reason": {"code": "condition_match", "description": "Matched condition set 1"},
                "metadata": {"id": 1, "version": 2, "payload": "[1, 2]"},
            },
            "b": {"key": "b", "enabled": True, "variant": "blue", "metadata": {}},
            "c": {"key": "c", "enabled": False},
            "d": {"key": "d", "enabled": True, "failed": True, "metadata": {"payload": "1"}},
            "e": {"key": "e", "enabled": "yes"},
            "f": {"key": "f", "enabled": True, "metadata": {"payload": "{not json"}},
        },
        "errorsWhileComputingFlags": False,
    }
    resp = parse_flags_response(raw)
    assert resp.untyped is True
    assert resp.request_id is None
    assert resp.flags["a"].payload == [1, 2] and resp.flags["a"].config_version == 1
    assert resp.flags["b"].value == "blue"
    assert resp.flags["c"].value is False
    assert resp.flags["d"].server_failed and resp.flags["d"].payload is None
    assert resp.flags["e"].malformed == "enabled"
    assert resp.flags["f"].payload is None
    assert _our_view(raw) == _oracle_view(raw)


def test_v1_decide_shape() -> None:
    raw = {
        "featureFlags": {"on": True, "off": False, "multi": "control"},
        "featureFlagPayloads": {"on": '{"x": true}', "multi": '"hello"'},
        "requestId": "r",
    }
    resp = parse_flags_response(raw)
    assert {k: f.value for k, f in resp.flags.items()} == {
        "on": True,
        "off": False,
        "multi": "control",
    }
    assert resp.flags["on"].payload == {"x": True}
    assert resp.flags["multi"].payload == "hello"
    assert resp.untyped is True
    assert _our_view(raw) == _oracle_view(raw)


def test_quota_limited_is_reported() -> None:
    resp = parse_flags_response(b'{"flags": {}, "quotaLimited": ["feature_flags"]}')
    assert resp.quota_limited is True
    other = parse_flags_response(b'{"flags": {}, "quotaLimited": ["recordings"]}')
    assert other.quota_limited is False


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"flags": []}', "'flags' must be an object"),
        (b'{"featureFlags": "x"}', "'featureFlags' must be an object"),
    ],
)
def test_unreadable_responses_raise_one_error_type(body: bytes, needle: str) -> None:
    with pytest.raises(FlagsResponseError, match=needle):
        parse_flags_response(body)


def test_response_records_are_immutable() -> None:
    resp = parse_flags_response(b'{"flags": {"a": {"value": true}}}')
    with pytest.raises(TypeError):
        resp.flags["b"] = resp.flags["a"]  # type: ignore[index]


def test_decode_payload_rejects_non_strict_json() -> None:
    # A number beyond a double is still JSON: posthog-python's json.loads reads it as inf.
    assert decode_payload('{"big": 1e400}') == {"big": float("inf")}
    assert decode_payload("NaN") is None
    assert decode_payload('{"a": Infinity}') is None
    assert decode_payload('"text"') == "text"
    assert decode_payload({"already": "decoded"}) == {"already": "decoded"}
    assert decode_payload(None) is None


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([2.0, 1.5, "x", "", "control"]),
)
_payload_texts = st.sampled_from(['{"a": 1}', "[1, 2]", '"s"', "3", "nope", "", "null"])
_meta = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(_scalars, st.just(12)),
        "version": _scalars,
        "payload": st.one_of(_payload_texts, _scalars),
        "description": st.one_of(st.text(max_size=3), _scalars),
        "has_experiment": _scalars,
        "config_version": st.sampled_from([1, 2, "2", None]),
        "rule_id": _scalars,
        "forced_variant": _scalars,
        "experiment_id": _scalars,
    },
)
_reason = st.fixed_dictionaries(
    {},
    optional={
        "code": st.one_of(st.sampled_from(["condition_match", "no_condition_match"]), _scalars),
        "condition_index": _scalars,
        "description": st.one_of(st.sampled_from(["Matched", ""]), _scalars),
    },
)
_v4 = st.fixed_dictionaries(
    {"value": st.one_of(_scalars, st.just({"k": [1]}), st.just([1]))},
    optional={
        "key": st.one_of(st.just("k"), _scalars),
        "failed": _scalars,
        "reason": st.one_of(_reason, _scalars),
        "metadata": st.one_of(_meta, _scalars),
    },
)
_v2 = st.fixed_dictionaries(
    {},
    optional={
        "key": st.one_of(st.just("k"), _scalars),
        "enabled": _scalars,
        "variant": _scalars,
        "failed": _scalars,
        "reason": st.one_of(_reason, _scalars),
        "metadata": st.one_of(_meta, _scalars),
    },
)


@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.one_of(_v4, _v2, _scalars)))
def test_records_read_like_the_reference(records: dict[str, Any]) -> None:
    raw = {"flags": records}
    assert _our_view(raw) == _oracle_view(raw)


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.one_of(st.booleans(), st.sampled_from(["v1", "v2"]))
    ),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), _payload_texts),
)
def test_v1_reads_like_the_reference(values: dict[str, Any], payloads: dict[str, str]) -> None:
    raw = {"featureFlags": values, "featureFlagPayloads": payloads}
    assert _our_view(raw) == _oracle_view(raw)


# ------------------------------------------------------------------------------ request body


def _reference_body(server: LoopbackServer, **call: Any) -> dict[str, Any]:
    """What posthog 7.91.1 POSTs to /flags for an `evaluate_flags` call."""
    server.script("/flags/", Reply.json({"flags": {}}))
    ph = posthog.Client("phc_project", host=server.url, sync_mode=True, send=False)
    try:
        ph.evaluate_flags(**call)
    finally:
        ph.shutdown()
    sent = server.requests("/flags/")[-1]
    assert sent.query == {"v": ["4"]}
    assert "authorization" not in sent.headers
    assert sent.headers.get("content-encoding") is None
    return dict(sent.json())


def _our_body(**call: Any) -> dict[str, Any]:
    flag_keys = call.get("flag_keys")
    disable_geoip = call.get("disable_geoip")
    body = flags_request_body(
        api_key="phc_project",
        distinct_id=call["distinct_id"],
        groups=call.get("groups"),
        person_properties=call.get("person_properties"),
        group_properties=call.get("group_properties"),
        disable_geoip=True if disable_geoip is None else disable_geoip,
        device_id=call.get("device_id"),
        flag_keys=flag_keys,
        sent_at=_dt.datetime(2026, 6, 15, 12, 0, tzinfo=_dt.timezone.utc),
    )
    return dict(json.loads(encode_flags_request(body)))


_CALLS: list[dict[str, Any]] = [
    {"distinct_id": "user-1"},
    {
        "distinct_id": "user-2",
        "person_properties": {"plan": "pro", "$geoip_country_code": "DE", "n": 3.5},
        "groups": {"company": "acme", "project": 7},
        "group_properties": {"company": {"size": 10, "$group_key": "override"}, "other": {"x": 1}},
        "flag_keys": ["a", "b"],
        "disable_geoip": False,
        "device_id": "dev-9",
    },
    {
        "distinct_id": 12345,
        "person_properties": {"when": _dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=_dt.timezone.utc)},
        "groups": {},
        "disable_geoip": True,
    },
]


@pytest.mark.parametrize("call", _CALLS)
def test_request_body_matches_what_the_reference_sends(
    loopback: LoopbackServer, call: dict[str, Any]
) -> None:
    theirs = _reference_body(loopback, **call)
    ours = _our_body(**call)
    assert list(ours) == list(theirs)  # same keys in the same order
    assert _dt.datetime.fromisoformat(str(theirs.pop("sent_at"))).tzinfo is not None
    assert ours.pop("sent_at") == "2026-06-15T12:00:00+00:00"
    assert ours == theirs


def test_request_body_survives_values_json_cannot_hold() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    body = flags_request_body(
        api_key="k",
        distinct_id="d",
        groups=None,
        person_properties={"nan": float("nan"), "obj": Odd(), "nested": {1: (1, 2)}},
        group_properties=None,
        disable_geoip=None,
        device_id=None,
        flag_keys=[],
        sent_at=_dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc),
    )
    decoded = json.loads(encode_flags_request(body))
    assert decoded["person_properties"] == {"nan": None, "obj": "odd", "nested": {"1": [1, 2]}}
    assert "flag_keys_to_evaluate" not in decoded
    assert decoded["groups"] == {} and decoded["group_properties"] == {}


def test_v4_records_carry_experiment_attribution() -> None:
    raw = {
        "flags": {
            "exp": {
                "key": "exp",
                "value": "test",
                "reason": {"code": "experiment_split", "description": "In the experiment"},
                "metadata": {
                    "id": 11,
                    "version": 3,
                    "config_version": 2,
                    "has_experiment": True,
                    "rule_type": "experiment",
                    "rule_id": "rule-7",
                    "experiment_id": 42.0,
                    "variant_key": "test",
                    "payload": '{"x": 1}',
                },
            },
            "bad-rule": {"key": "bad-rule", "value": True, "metadata": {"experiment_id": "42"}},
        },
        "requestId": "req-9",
        "evaluatedAt": 1767225600,
    }
    response = parse_flags_response(json.dumps(raw))
    flag = response.flags["exp"]
    assert (flag.reason_code, flag.reason_description) == ("experiment_split", "In the experiment")
    assert (flag.id, flag.version, flag.config_version, flag.has_experiment) == (11, 3, 2, True)
    assert (flag.rule_type, flag.rule_id, flag.experiment_id, flag.variant_key) == (
        "experiment",
        "rule-7",
        42,
        "test",
    )
    assert flag.payload == {"x": 1} and flag.value == "test"
    assert (response.request_id, response.evaluated_at) == ("req-9", 1767225600)
    assert response.flags["bad-rule"].malformed == "metadata.experiment_id"
    assert _our_view(raw)["bad-rule"] == _oracle_view(raw)["bad-rule"]
