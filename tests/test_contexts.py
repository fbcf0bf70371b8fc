"""Contexts: tags, identity and session reach events; nesting, fresh scopes and isolation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from hogkit.core.context import Bucket, ContextValues, apply_context, take_token
from hogkit.transport import Client, MemoryTransport, contexts
from hypothesis import given
from hypothesis import strategies as st


def make_client(**options: Any) -> tuple[Client, MemoryTransport]:
    memory = MemoryTransport()
    return Client("phc_test", sync_mode=True, transport=memory, **options), memory


def test_event_in_context_gets_tags_identity_session_and_device() -> None:
    client, memory = make_client()
    with client.new_context():
        client.tag("request_id", "r1")
        client.identify_context("user-1")
        client.set_context_session("s1")
        client.set_context_device_id("d1")
        client.capture("viewed", properties={"request_id": "mine"})
    client.capture("outside")
    inside, outside = memory.events
    assert inside["distinct_id"] == "user-1"
    props = inside["properties"]
    assert props["request_id"] == "mine"  # the caller's property wins over the tag
    assert props["$context_tags"] == ["request_id"]
    assert props["$session_id"] == "s1"
    assert props["$device_id"] == "d1"
    assert "$process_person_profile" not in props
    assert "$session_id" not in outside["properties"]
    assert "request_id" not in outside["properties"]
    assert outside["properties"]["$process_person_profile"] is False


def test_explicit_distinct_id_wins_and_nested_contexts_inherit_unless_fresh() -> None:
    client, memory = make_client()
    with client.new_context():
        client.identify_context("outer")
        client.tag("a", 1)
        with client.new_context():
            client.tag("b", 2)
            assert client.get_tags() == {"a": 1, "b": 2}
            client.capture("nested")
            client.capture("explicit", distinct_id="given")
        with client.new_context(fresh=True):
            assert client.get_tags() == {}
            client.capture("fresh")
        assert client.get_tags() == {"a": 1}
    nested, explicit, fresh = memory.events
    assert (nested["distinct_id"], nested["properties"]["b"]) == ("outer", 2)
    assert explicit["distinct_id"] == "given"
    assert fresh["distinct_id"] != "outer" and "a" not in fresh["properties"]


def test_exception_leaving_context_is_captured_once_and_reraised() -> None:
    client, memory = make_client()
    with pytest.raises(ValueError, match="boom"):  # noqa: SIM117
        with client.new_context(capture_exceptions=True):
            client.identify_context("u")
            client.tag("step", "outer")
            with client.new_context(capture_exceptions=True):
                raise ValueError("boom")
    (event,) = memory.events
    assert event["event"] == "$exception"
    assert event["distinct_id"] == "u"
    assert event["properties"]["step"] == "outer"
    assert event["properties"]["$exception_list"][0]["value"] == "boom"


def test_context_follows_autocapture_setting_by_default() -> None:
    client, memory = make_client()
    with pytest.raises(KeyError), client.new_context():
        raise KeyError("not captured")
    assert memory.events == []


def test_scoped_wraps_sync_and_async_functions() -> None:
    client, memory = make_client()

    @client.scoped(capture_exceptions=True)
    def sync_work(n: int) -> int:
        client.tag("n", n)
        client.capture("sync")
        return n * 2

    @client.scoped()
    async def async_work(n: int) -> int:
        client.tag("n", n)
        client.capture("async")
        return n + 1

    assert sync_work(3) == 6
    assert asyncio.run(async_work(4)) == 5
    assert [(e["event"], e["properties"]["n"]) for e in memory.events] == [
        ("sync", 3),
        ("async", 4),
    ]
    assert client.get_tags() == {}


def test_module_level_functions_use_the_default_client() -> None:
    client, memory = make_client()
    contexts.set_default_client(client)
    try:
        with pytest.raises(RuntimeError), contexts.new_context(capture_exceptions=True):
            contexts.tag("k", "v")
            raise RuntimeError("x")
    finally:
        contexts.set_default_client(None)
    (event,) = memory.events
    assert event["properties"]["k"] == "v"


def test_threads_start_outside_the_callers_context() -> None:
    client, memory = make_client()
    with client.new_context():
        client.identify_context("main")
        worker = threading.Thread(target=lambda: client.capture("thread"))
        worker.start()
        worker.join()
    (event,) = memory.events
    assert event["distinct_id"] != "main"


def test_concurrent_asyncio_requests_never_mix_ids() -> None:
    client, memory = make_client()

    async def request(i: int) -> None:
        with client.new_context():
            client.identify_context(f"user-{i}")
            client.tag("request", i)
            for _ in range(3):
                await asyncio.sleep(0)
                client.capture("step", properties={"i": i})

    async def main() -> None:
        await asyncio.gather(*(request(i) for i in range(100)))

    asyncio.run(main())
    events = memory.events
    assert len(events) == 300
    for event in events:
        i = event["properties"]["i"]
        assert event["distinct_id"] == f"user-{i}"
        assert event["properties"]["request"] == i


ids = st.one_of(st.none(), st.text(min_size=1, max_size=5))


@given(
    ids,
    ids,
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.none() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
)
def test_apply_context_rules(
    context_id: str | None, given_id: str | None, tags: dict[str, int], props: dict[str, int] | None
) -> None:
    values = ContextValues(distinct_id=context_id, session_id="s", tags=tuple(tags.items()))
    distinct_id, merged = apply_context(values, given_id, props)
    assert distinct_id == (given_id or context_id)
    assert merged is not None
    for key, value in (props or {}).items():
        assert merged[key] == value
    for key, value in tags.items():
        if key not in (props or {}) and not key.startswith("$"):
            assert merged[key] == value
    assert merged.get("$session_id") == (props or {}).get("$session_id", "s")


@given(st.lists(st.floats(min_value=0, max_value=100), max_size=200))
def test_token_bucket_never_exceeds_size_plus_refills(gaps: list[float]) -> None:
    bucket: Bucket | None = None
    now = 0.0
    allowed = 0
    for gap in gaps:
        now += gap
        ok, bucket = take_token(bucket, now, size=5, refill_rate=2, refill_interval=10)
        allowed += ok
        assert 0 <= bucket.tokens <= 5
    assert allowed <= 5 + 2 * int(now // 10)


SYSTEM = ("$lib", "$python", "$os", "$geoip", "$exception_list", "$is_server")


def comparable(event: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    props = {k: v for k, v in event["properties"].items() if not k.startswith(SYSTEM)}
    if "$context_tags" in props:
        props["$context_tags"] = sorted(props["$context_tags"])
    return event["event"], event["distinct_id"], props


@given(
    st.dictionaries(st.sampled_from("abcd"), st.integers(), max_size=3),
    st.dictionaries(st.sampled_from("cdef"), st.integers(), max_size=3),
    st.none() | st.dictionaries(st.sampled_from("aef"), st.integers(), max_size=2),
    st.none() | st.sampled_from(["outer", "inner"]),
    st.booleans(),
)
def test_contexts_match_the_reference(
    outer_tags: dict[str, int],
    inner_tags: dict[str, int],
    props: dict[str, int] | None,
    given_id: str | None,
    fresh: bool,
) -> None:
    from oracle import recording_clients

    client, memory = make_client()
    with recording_clients() as (make, sent):
        reference = make()
        for sdk in (reference, client):
            with sdk.new_context():
                sdk.identify_context("context-user")
                sdk.set_context_session("session-1")
                for key, value in outer_tags.items():
                    sdk.tag(key, value)
                with sdk.new_context(fresh=fresh):
                    for key, value in inner_tags.items():
                        sdk.tag(key, value)
                    sdk.capture("ev", distinct_id=given_id, properties=props)
                    try:
                        raise ValueError("boom")
                    except ValueError as exc:
                        sdk.capture_exception(exc, distinct_id=given_id)
        ours = [comparable(e) for e in memory.events]
        theirs = [comparable(e) for e in sent]
    if given_id is None and fresh:  # both personless: ids are random
        ours = [(n, "", p) for n, _, p in ours]
        theirs = [(n, "", p) for n, _, p in theirs]
    assert ours == theirs


def test_person_updates_in_a_context_match_the_reference() -> None:
    from oracle import recording_clients

    client, memory = make_client()
    with recording_clients() as (make, sent):
        reference = make()
        for sdk in (reference, client):
            with sdk.new_context():
                sdk.tag("b", 2)
                sdk.identify_context("u1")
                sdk.set_context_session("s1")
                sdk.set_context_device_id("d1")
                sdk.set(properties={"x": 1})
                sdk.set_once(properties={"y": 1})
                sdk.set(distinct_id="other", properties={"x": 2})

        def person(event: dict[str, Any]) -> tuple[Any, ...]:
            return (event["event"], event["distinct_id"], event.get("$set"), event.get("$set_once"))

        assert [person(e) for e in memory.events] == [person(e) for e in sent]
