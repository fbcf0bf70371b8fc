"""`capture(send_feature_flags=...)` and `capture_exception(send_feature_flags=...)` side by
side with posthog 7.91.1: the same `/flags` requests and the same flag properties on the
event. Every expectation is the reference's, run in the same test.

For this deprecated option both list `$active_feature_flags` in evaluation order (the
definitions' order, or the server's answer's), not sorted as for a `flags=` snapshot; the
documents here are in no sorted order, so a sorted list fails the comparison."""

from __future__ import annotations

from typing import Any

import pytest
from httpserver import Reply
from twin import Twin, definitions, event_differences, flag, flags_response, person_rule, record

DOC = definitions(
    flag("on", 1),
    flag(
        "gated", 2, groups=[{"properties": [person_rule("plan", "pro")], "rollout_percentage": 100}]
    ),
    flag("zeta", 3),
)
ANSWER = flags_response(
    record("on", True, fid=1),
    record("gated", "arm", fid=2),
    record("remote", "v", fid=5),
    record("off", False, fid=6),
)

OPTIONS: list[Any] = [
    True,
    {},
    {"only_evaluate_locally": True},
    {"only_evaluate_locally": False},
    {"person_properties": {"plan": "pro"}},
    {"only_evaluate_locally": True, "person_properties": {"plan": "pro"}},
    {"only_evaluate_locally": False, "flag_keys_filter": ["on"]},
    {"only_evaluate_locally": True, "flag_keys_filter": ["zeta", "on"]},
]


def _events(twin: Twin) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    out = []
    for events in (twin.ref_events(), twin.kit_events()):
        for event in events:
            props = event["properties"]
            props.pop("$exception_list", None)  # frames name the calling line
        out.append(events)
    return out[0], out[1]


def _flags_bodies(twin: Twin, sdk: str) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in r.json().items() if k not in ("api_key", "sent_at")}
        for r in twin.requests("/flags/", sdk)
    ]


def _compare(twin: Twin) -> None:
    assert _flags_bodies(twin, "kit") == _flags_bodies(twin, "ref")
    ref, kit = _events(twin)
    assert kit == ref, event_differences(ref, kit)


@pytest.mark.parametrize("local", [True, False], ids=["definitions", "no-definitions"])
@pytest.mark.parametrize("option", OPTIONS, ids=[repr(o) for o in OPTIONS])
def test_capture_with_send_feature_flags(option: Any, local: bool) -> None:
    with Twin(DOC, [Reply.json(ANSWER)], local=local) as twin:
        twin.run(lambda c: c.load_feature_flags())
        ref, kit = twin.run(
            lambda c: c.capture("clicked", distinct_id="user-1", send_feature_flags=option)
        )
        assert isinstance(ref, str) and isinstance(kit, str)
        _compare(twin)


@pytest.mark.parametrize("option", [True, {"only_evaluate_locally": False}])
def test_send_feature_flags_asks_with_the_events_geoip_setting(option: Any) -> None:
    with Twin(DOC, [Reply.json(ANSWER)], local=False) as twin:
        twin.run(
            lambda c: c.capture(
                "clicked", distinct_id="user-1", disable_geoip=False, send_feature_flags=option
            )
        )
        assert len(twin.requests("/flags/", "ref")) == 1
        _compare(twin)


@pytest.mark.parametrize("local", [True, False], ids=["definitions", "no-definitions"])
@pytest.mark.parametrize("option", [True, {"only_evaluate_locally": False}])
def test_capture_exception_with_send_feature_flags(option: Any, local: bool) -> None:
    with Twin(DOC, [Reply.json(ANSWER)], local=local) as twin:
        twin.run(lambda c: c.load_feature_flags())
        ref, kit = twin.run(
            lambda c: c.capture_exception(
                ValueError("boom"), distinct_id="user-1", send_feature_flags=option
            )
        )
        assert isinstance(ref, str) and isinstance(kit, str)
        _compare(twin)
