"""Event shapes the random event differential (property_tests/test_event_differential.py)
found hogkit sending differently from posthog 7.91.1, each pinned by running both.

Each test makes one call on an offline posthog client (its events recorded by `before_send`
as the JSON it would send) and on a hogkit client with an in-memory transport, and compares
the events minus what differs by construction (uuid, timestamp, `$lib`, `$lib_version`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from odd_values import Count, Exported, Label, Ratio
from oracle import local_zone, recording_clients
from twin import context_tags_in_order, normalized

from hogkit import Client as KitClient
from hogkit import MemoryTransport


@pytest.fixture(autouse=True)
def _no_release_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTHOG_RELEASE_ID", raising=False)


def events_of_both(
    call: Callable[[Any], Any], **options: Any
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """`call` made on posthog and on hogkit with `options`; each one's events, paired."""
    memory = MemoryTransport()
    with recording_clients() as (make, sent):
        reference = make(**options)
        kit = KitClient("phc_hogkit", sync_mode=True, transport=memory, **options)
        try:
            assert call(reference) is not None
            assert call(kit) is not None
            kit.flush()
        finally:
            kit.shutdown()
    theirs = [context_tags_in_order(normalized(e)) for e in sent]
    ours = [context_tags_in_order(normalized(e)) for e in memory.events]
    assert len(theirs) == len(ours) == 1
    return zip(theirs, ours, strict=True)


def assert_same_events(call: Callable[[Any], Any], **options: Any) -> None:
    for theirs, ours in events_of_both(call, **options):
        assert ours == theirs


# -- ids and names that are str subclasses ------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.capture(Label("signed up"), distinct_id=Label("user-1")),
        lambda c: c.set(distinct_id=Label("user-1"), properties={"plan": "pro"}),
        lambda c: c.set_once(distinct_id=Label("ünï"), properties={"plan": "pro"}),
        lambda c: c.alias(Label("anon-1"), Label("user-1")),
        lambda c: c.group_identify("company", "acme", {"n": 1}, distinct_id=Label("user-1")),
    ],
    ids=["capture", "set", "set_once", "alias", "group_identify"],
)
def test_a_str_subclass_id_is_sent_as_its_text_not_its_str(call: Callable[[Any], Any]) -> None:
    assert_same_events(call)


# -- property keys that are numbers -------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [float("nan"), float("inf"), float("-inf"), Count(3), Ratio(2.5), -0.0, 1e300],
    ids=["nan", "inf", "-inf", "int subclass", "float subclass", "-0.0", "1e300"],
)
@pytest.mark.parametrize("where", ["properties", "nested", "super_properties"])
def test_a_number_key_is_sent_as_json_spells_it(key: Any, where: str) -> None:
    if where == "super_properties":
        assert_same_events(lambda c: c.capture("x", distinct_id="u1"), super_properties={key: 1})
    else:
        props = {key: 1} if where == "properties" else {"outer": {key: [1]}}
        assert_same_events(lambda c: c.capture("x", distinct_id="u1", properties=props))


# -- calls without a person inside a context that names one -------------------------------------


def in_context(call: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`call` made inside a fresh context of the client's that names the person `ctx-user`."""

    def run(client: Any) -> Any:
        with client.new_context(fresh=True):
            client.identify_context("ctx-user")
            client.set_context_session("session-1")
            return call(client)

    return run


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.alias("anon-1", None),
        lambda c: c.alias("anon-1", ""),
        lambda c: c.group_identify("company", "acme", {"n": 1}, distinct_id=""),
    ],
    ids=["alias to None", "alias to ''", "group_identify as ''"],
)
def test_a_blank_id_in_a_context_is_the_contexts_person(call: Callable[[Any], Any]) -> None:
    assert_same_events(in_context(call))


# -- context tags on an exception ---------------------------------------------------------------


def raised() -> ValueError:
    """A fresh exception raised and caught at one place, so both SDKs see one traceback."""
    try:
        raise ValueError("boom")
    except ValueError as error:
        return error


def tagged(call: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(client: Any) -> Any:
        with client.new_context(fresh=True):
            client.tag("$exception_level", "tagged")
            client.tag("$exception_list", "tagged")
            client.tag("plain", 1)
            return call(client)

    return run


@pytest.mark.filterwarnings("ignore:Reserved exception properties:DeprecationWarning")
@pytest.mark.parametrize(
    "properties",
    [None, {"$exception_level": "warning"}, {"plain": 2}],
    ids=["no properties", "caller's level", "caller's plain"],
)
def test_a_context_tag_does_not_replace_what_describes_an_exception(
    properties: dict[str, Any] | None,
) -> None:
    assert_same_events(
        tagged(lambda c: c.capture_exception(raised(), distinct_id="u1", properties=properties))
    )


# -- event names given as bytes ------------------------------------------------------------------


@pytest.mark.parametrize("name", [b"signed up", "ünï".encode()], ids=["ascii", "utf-8"])
def test_an_event_name_given_as_bytes_is_sent_decoded(name: bytes) -> None:
    """posthog-python sends a bytes event name decoded as UTF-8; hogkit sent its `str()`
    (`b'signed up'`). An empty one is refused, as an empty text name is."""
    assert_same_events(lambda c: c.capture(name, distinct_id="d"))
    memory = MemoryTransport()
    kit = KitClient("phc_hogkit", sync_mode=True, transport=memory)
    try:
        assert kit.capture(b"", distinct_id="d") is None
        kit.flush()
    finally:
        kit.shutdown()
    assert memory.events == []


# -- objects with a dict() of their own ---------------------------------------------------------


@pytest.mark.parametrize("where", ["properties", "nested", "super_properties"])
def test_an_object_with_a_dict_method_is_sent_as_that_dict(where: str) -> None:
    """posthog-python sends what an object's `dict()` returns, pydantic model or not;
    hogkit called it only on pydantic v1 models and sent any other object's `str()`."""
    if where == "super_properties":
        assert_same_events(
            lambda c: c.capture("e", distinct_id="d"), super_properties={"v": Exported()}
        )
        return
    value: Any = Exported() if where == "properties" else [{"inner": Exported()}]
    assert_same_events(lambda c: c.capture("e", distinct_id="d", properties={"v": value}))


# -- naive times read as local time ------------------------------------------------------------


@pytest.fixture
def zone_off_utc() -> Iterator[None]:
    """The process's local zone 5:30 from UTC, so local and UTC readings differ."""
    with local_zone("Asia/Kolkata"):
        yield


@pytest.mark.parametrize(
    "seconds", [0, -2, 2, -3600], ids=["now", "2 s ago", "2 s ahead", "1 h ago"]
)
@pytest.mark.parametrize("spelling", ["datetime", "iso", "iso with a space"])
def test_a_naive_time_from_the_clock_is_read_as_local_time(
    zone_off_utc: None, seconds: int, spelling: str
) -> None:
    """posthog-python reads a naive time of the last 5 s (a datetime, or text naming no
    offset) as local time and any other as UTC; hogkit read text as UTC whenever it was
    taken, and a naive datetime a little ahead of the clock as local time."""
    moment = dt.datetime.now() + dt.timedelta(seconds=seconds)
    given: Any = {
        "datetime": moment,
        "iso": moment.isoformat(),
        "iso with a space": moment.isoformat(" "),
    }[spelling]
    memory = MemoryTransport()
    with recording_clients() as (make, sent):
        reference = make()
        kit = KitClient("phc_hogkit", sync_mode=True, transport=memory)
        try:
            reference.capture("e", distinct_id="d", timestamp=given)
            kit.capture("e", distinct_id="d", timestamp=given)
            kit.flush()
        finally:
            kit.shutdown()
    assert [e["timestamp"] for e in memory.events] == [e["timestamp"] for e in sent]
