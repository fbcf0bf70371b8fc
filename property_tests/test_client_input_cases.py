"""Hostile arguments, case by case: every hostile value in every parameter of every method,
`debug=True`, and the regressions the property tests in test_client_inputs.py found.
"""

from __future__ import annotations

import asyncio
import math
import uuid as _uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hogkit.core.legacy_reads import FeatureFlagResult
from hogkit.core.normalize import unprintable_marker as unprintable
from hogkit.transport.async_client import AsyncClient
from hogkit.transport.client import Client
from hogkit.transport.evaluations import FlagEvaluations
from hostile import (
    BROKEN,
    DEFINITIONS,
    HANG_LIMIT,
    LONG_TEXT,
    SPECIAL,
    Boom,
    BrokenMapping,
    Harness,
    bounded,
    is_event_id,
    is_flag_table,
    is_flag_value,
    is_json,
    serving,
)
from httpserver import LoopbackServer

# The deprecated readers are part of the surface under test; their warnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore:.* is deprecated; use :DeprecationWarning")


@pytest.fixture
def garbage_harness() -> Iterator[Harness]:
    with serving("garbage") as h:
        yield h


def test_snapshot_reads_take_keys_that_are_not_text() -> None:
    """A key that is not text names no flag: an unhashable or hostile one neither raises nor
    is recorded as read, and `only` keeps the text keys of what it is given."""
    client = Client("phc_test", send=False, flag_definitions=DEFINITIONS)
    snap = client.evaluate_flags("u")
    for key in (["beta"], {"beta": 1}, None, 7, *BROKEN):
        assert snap.get_flag(key) is None
        assert snap.is_enabled(key, default_value=True) is True
        assert snap.get_flag_payload(key) is None and snap.result(key) is None
        assert snap.remote_record(key) is None and snap.local_result(key) is None
        assert (key in snap) is False
        assert len(snap.only(key)) == 0
    assert snap.accessed == ()
    assert snap.only(["variant", 3, None]).keys == ("variant",)
    assert snap.only(iter(["variant"])).keys == ("variant",)
    client.shutdown(1)


def test_evaluation_runtime_reads_take_anything() -> None:
    """posthog-python's runtime readers, given a key or runtime no flag can have: None and
    an empty list, not an exception (an unhashable key, an `__eq__` that raises)."""
    client = Client("phc_test", send=False, flag_definitions=DEFINITIONS)
    for odd in ({"beta": 1}, ["beta"], *BROKEN):
        assert client.get_feature_flag_evaluation_runtime(odd) is None
        assert client.get_feature_flag_keys_by_evaluation_runtime(odd) == []
    assert client.get_feature_flag_keys_by_evaluation_runtime("all") == [
        f["key"] for f in DEFINITIONS["flags"]
    ]
    client.shutdown(1)


def test_tags_named_by_anything_become_properties_as_keys_do() -> None:
    """A tag name that is not text (unhashable, None, a number, one whose `str()` raises)
    is kept under the property name the same key gets in `properties=`."""
    with LoopbackServer() as server:
        client = Client("phc_test", host=server.url)
        with client.new_context():
            for name in (["a"], None, 1, BROKEN[0]):
                client.tag(name, "v")
            assert set(client.get_tags()) == {"['a']", "null", "1", unprintable(BROKEN[0])}
            assert client.capture("tagged", distinct_id="u") is not None
        assert client.capture("keyed", distinct_id="u", properties={None: "v", 1: "v"})
        assert client.flush(10)
        tagged, keyed = server.events()
        assert tagged["properties"]["$context_tags"] == sorted(client_tags(tagged))
        assert {"null", "1"} <= set(keyed["properties"]) and {"null", "1"} <= set(
            tagged["properties"]
        )
        client.shutdown(1)


def client_tags(event: dict[str, Any]) -> list[str]:
    return [k for k, v in event["properties"].items() if v == "v"]


def test_an_unreadable_disable_geoip_is_refused_by_the_call_not_dropped_later() -> None:
    """The common capture call is built by the worker; an argument it could not read must
    make the call itself refuse the event (None, reported), not be accepted and lost."""
    reports: list[Exception] = []
    with LoopbackServer() as server:
        client = Client("phc_test", host=server.url, on_error=lambda e, _events: reports.append(e))
        for hostile in (BROKEN[4], BROKEN[7], BrokenMapping()):
            assert client.capture("e", distinct_id="u", disable_geoip=hostile) is None
        assert client.capture("e", distinct_id="u", disable_geoip=1) is not None
        assert client.flush(10)
        stats = client.stats()
        assert (stats.accepted, stats.delivered, dict(stats.dropped)) == (1, 1, {})
        assert len(reports) == 3 and all(isinstance(e, Boom) for e in reports)
        client.shutdown(1)


def test_a_queued_call_too_large_to_send_is_reported_with_its_uuid() -> None:
    """The common capture call is accepted before it is built; when the worker finds the
    event too large, `on_error` gets the call's event name, distinct id and uuid."""
    reports: list[tuple[Exception, list[dict[str, Any]]]] = []
    with LoopbackServer() as server:
        client = Client("phc_test", host=server.url, on_error=lambda e, ev: reports.append((e, ev)))
        event_id = client.capture("big", distinct_id="u", properties={"text": LONG_TEXT})
        assert event_id is not None
        assert client.flush(10) is False
        ((error, events),) = reports
        assert getattr(error, "reason", None) == "too_large"
        assert events == [{"event": "big", "distinct_id": "u", "uuid": event_id}]
        assert dict(client.stats().dropped) == {"too_large": 1}
        client.shutdown(1)


# -- every hostile value in every parameter ---------------------------------------------------

SWEEP_VALUES = (
    *SPECIAL,
    BrokenMapping(),
    {"company": BrokenMapping()},
    {"company": BROKEN[0]},
    {BROKEN[0]: 1},
)
# method: (its positional parameters, a well-formed call by keyword)
SWEEP_CALLS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "capture": (
        ("event",),
        {
            "event": "e",
            "distinct_id": "u",
            "properties": {"a": 1},
            "timestamp": None,
            "uuid": None,
            "groups": None,
            "flags": None,
            "disable_geoip": None,
            "send_feature_flags": None,
        },
    ),
    "set": ((), {"distinct_id": "u", "properties": {"a": 1}, "timestamp": None, "uuid": None}),
    "set_once": ((), {"distinct_id": "u", "properties": {"a": 1}, "disable_geoip": None}),
    "identify": (
        ("distinct_id",),
        {"distinct_id": "u", "properties": {}, "anon_distinct_id": None},
    ),
    "alias": (("previous_id", "distinct_id"), {"previous_id": "a", "distinct_id": "b"}),
    "group_identify": (
        ("group_type", "group_key"),
        {"group_type": "company", "group_key": "k", "properties": {}, "distinct_id": None},
    ),
    "pageview": (("url",), {"url": "https://example.com", "distinct_id": "u"}),
    "capture_exception": (
        ("exception",),
        {
            "exception": ValueError("x"),
            "distinct_id": "u",
            "properties": None,
            "groups": None,
            "fingerprint": None,
            "level": "error",
            "source": None,
            "mechanism": None,
            "flags": None,
        },
    ),
    "get_feature_flag": (
        ("key", "distinct_id"),
        {
            "key": "beta",
            "distinct_id": "u",
            "groups": None,
            "person_properties": None,
            "group_properties": None,
            "only_evaluate_locally": False,
            "send_feature_flag_events": True,
            "disable_geoip": None,
            "device_id": None,
        },
    ),
    "is_feature_enabled": (
        ("key", "distinct_id"),
        {"key": "needs-server", "distinct_id": "u", "groups": None, "person_properties": None},
    ),
    "get_feature_flag_payload": (
        ("key", "distinct_id"),
        {"key": "variant", "distinct_id": "u", "match_value": None, "group_properties": None},
    ),
    "get_feature_flag_result": (
        ("key", "distinct_id"),
        {"key": "variant", "distinct_id": "u", "groups": None, "only_evaluate_locally": False},
    ),
    "get_all_flags": (
        ("distinct_id",),
        {"distinct_id": "u", "groups": None, "flag_keys_to_evaluate": None, "device_id": None},
    ),
    "get_all_flags_and_payloads": (
        ("distinct_id",),
        {"distinct_id": "u", "person_properties": None, "group_properties": None},
    ),
    "evaluate_flags": (
        ("distinct_id",),
        {
            "distinct_id": "u",
            "person_properties": None,
            "groups": None,
            "group_properties": None,
            "flag_keys": None,
            "only_evaluate_locally": False,
            "disable_geoip": None,
            "device_id": None,
        },
    ),
    "flush": ((), {"timeout": 1.0}),
}
RESULT_CHECKS: dict[str, Callable[[Any], bool]] = {
    "get_feature_flag": is_flag_value,
    "is_feature_enabled": lambda r: r in (None, True, False),
    "get_feature_flag_payload": is_json,
    "get_feature_flag_result": lambda r: r is None or isinstance(r, FeatureFlagResult),
    "get_all_flags": lambda r: r is None or is_flag_table(r),
    "get_all_flags_and_payloads": lambda r: set(r) == {"featureFlags", "featureFlagPayloads"},
    "evaluate_flags": lambda r: isinstance(r, FlagEvaluations),
    "flush": lambda r: r in (True, False),
}


@pytest.mark.parametrize("method", sorted(SWEEP_CALLS))
def test_every_hostile_value_in_every_parameter(method: str, garbage_harness: Harness) -> None:
    """Each parameter of each method, in turn, gets each hostile value (the rest stay
    well-formed): the call answers its documented type, and the books balance."""
    harness = garbage_harness
    positional, base = SWEEP_CALLS[method]
    check = RESULT_CHECKS.get(method, is_event_id)
    for param in base:
        for value in SWEEP_VALUES:
            kwargs = {**base, param: value}
            args = [kwargs.pop(name) for name in positional]
            result = harness.call(method, *args, **kwargs)
            assert check(result), (param, type(value).__name__)
            if isinstance(result, FlagEvaluations):
                assert is_flag_value(bounded(result.get_flag, "needs-server"))
                assert is_event_id(harness.call("capture", "e", distinct_id="u", flags=result))
    harness.settle_and_check_books()


# -- debug=True -------------------------------------------------------------------------------


def test_with_debug_a_distinct_id_that_cannot_be_text_raises() -> None:
    """`debug=True` is for developers: the same bad argument the default client reports to
    `on_error` reaches the caller. A distinct id whose `str()` raises has no text to send."""
    from hogkit.core.errors import InvalidEvent

    quiet_reports: list[Exception] = []
    quiet = Client("phc_test", send=False, on_error=lambda e, _ev: quiet_reports.append(e))
    loud = Client("phc_test", send=False, debug=True)
    unprintable_id = BROKEN[0]
    calls: list[Callable[[Client], Any]] = [
        lambda c: c.capture("e", distinct_id=unprintable_id),
        lambda c: c.set(distinct_id=unprintable_id, properties={"a": 1}),
        lambda c: c.set_once(distinct_id=unprintable_id, properties={"a": 1}),
        lambda c: c.identify(unprintable_id, {"a": 1}),
        lambda c: c.alias("before", unprintable_id),
        lambda c: c.group_identify("company", "k", {"a": 1}, distinct_id=unprintable_id),
        lambda c: c.capture_exception(ValueError("x"), distinct_id=unprintable_id),
    ]
    for call in calls:
        assert call(quiet) is None
        with pytest.raises(InvalidEvent, match="distinct_id"):
            call(loud)
    assert [type(e) for e in quiet_reports] == [InvalidEvent] * len(calls)
    # A value that is merely odd is no error: it is sent as its text, debug or not.
    assert loud.capture("e", distinct_id=_uuid.UUID(int=5)) is not None
    quiet.shutdown(1)
    loud.shutdown(1)


def test_a_timeout_that_is_no_number_still_flushes_and_shuts_down() -> None:
    """flush and shutdown, given a timeout that is no finite number, wait the default
    bounded time instead of raising (AsyncClient) or skipping the shutdown (Client)."""
    with LoopbackServer() as server:
        client = Client("phc_test", host=server.url)
        assert client.capture("e", distinct_id="u") is not None
        assert client.flush([]) is True  # type: ignore[arg-type]
        assert client.capture("e", distinct_id="u") is not None
        assert client.shutdown("soon") is True  # type: ignore[arg-type]
        assert client.closed and len(server.events()) == 2

        async def run() -> tuple[bool, bool, bool]:
            aclient = AsyncClient("phc_test", server.url)
            aclient.capture("async", distinct_id="u")
            flushed = await aclient.flush([])  # type: ignore[arg-type]
            nan_flushed = await aclient.flush(math.nan)
            return flushed, nan_flushed, await aclient.shutdown(BROKEN[4])  # type: ignore[arg-type]

        assert asyncio.run(asyncio.wait_for(run(), HANG_LIMIT)) == (True, True, True)


def test_an_id_whose_eq_raises_is_still_an_id() -> None:
    """A distinct id is blank only when it is None or "": an id object whose `__eq__`
    raises is evaluated and captured like any other (as `capture` already did), not
    failed over the comparison with ""."""
    client = Client("phc_test", send=False, flag_definitions=DEFINITIONS)
    odd_id = BROKEN[2]
    expected = client.get_feature_flag("variant", str(odd_id), send_feature_flag_events=False)
    assert expected in ("control", "test")
    snap = client.evaluate_flags(odd_id)
    assert snap.distinct_id == str(odd_id)
    assert snap.get_flag("variant", send_feature_flag_events=False) == expected
    assert client.capture_exception(ValueError("x"), distinct_id=odd_id) is not None
    client.shutdown(1)
