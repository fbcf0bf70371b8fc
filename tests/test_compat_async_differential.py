"""posthog 7.91.1's AsyncClient beside hogkit's over one loopback server: the cases the async
client differential (property_tests/test_async_client_differential.py) found, each kept as
a focused comparison. Every expectation is what posthog's AsyncClient did in the same run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import posthog
import pytest
from httpserver import Reply
from odd_values import Label
from twin import FLAGS, KIT_KEY, REF_KEY, Twin, event_differences, flags_response, record

import hogkit

Action = Callable[[Any], Awaitable[Any]]


def run_both(twin: Twin, action: Action, **options: Any) -> tuple[Any, Any]:
    """`action(client)` on posthog's AsyncClient, then on hogkit's, each flushed and shut
    down on its own event loop; returns both results."""

    async def one(client: Any) -> Any:
        try:
            answer = await action(client)
            await client.flush()
            return answer
        finally:
            await client.shutdown()

    async def build_and_run(make: Callable[[], Any]) -> Any:
        return await one(make())

    common = {"host": twin.server.url, "feature_flags_request_max_retries": 0, **options}
    ref = asyncio.run(build_and_run(lambda: posthog.AsyncClient(REF_KEY, **common)))
    kit = asyncio.run(build_and_run(lambda: hogkit.AsyncClient(KIT_KEY, **common)))
    return ref, kit


def flags_bodies(twin: Twin, sdk: str) -> list[dict[str, Any]]:
    """The `/flags` bodies one SDK sent, without the fields naming the SDK and the time."""
    volatile = {"api_key", "token", "sent_at"}
    return [
        {k: v for k, v in r.json().items() if k not in volatile} for r in twin.requests(FLAGS, sdk)
    ]


def test_group_properties_are_sent_as_given() -> None:
    """posthog's AsyncClient sends the caller's `group_properties` untouched (its Client
    adds each group's `$group_key`), including types `groups` does not name."""

    async def read(client: Any) -> Any:
        flags = await client.evaluate_flags(
            "user-1",
            groups={"company": "acme", "project": 7},
            group_properties={"company": {"size": "big"}, "team": {"name": "x"}},
        )
        return flags.get_flag("beta")

    with Twin(local=False, remote=Reply.json(flags_response(record("beta", True)))) as twin:
        ref, kit = run_both(twin, read)
        assert kit == ref
        assert flags_bodies(twin, "kit") == flags_bodies(twin, "ref")


def test_flag_events_name_the_groups_as_text() -> None:
    """posthog's AsyncClient reports a snapshot read's `$feature_flag_called` (and its
    `$experiment_exposure`) with `$groups` keys as text, where its Client keeps them as given;
    the event a capture sends with `groups=` keeps them as given in both."""
    arm = record(
        "beta",
        "test",
        reason="experiment_split",
        config_version=2,
        rule_id="0f8b6c2e-4d0a-4c57-9a3e-2b8d7f1e6a90",
        rule_type="experiment",
        variant_key="test",
    )
    arm = {k: v for k, v in arm.items() if k not in ("enabled", "variant")} | {"value": "test"}
    groups = {"company": 7, "project": "p-1"}

    async def read(client: Any) -> Any:
        flags = await client.evaluate_flags("user-1", groups=groups)
        client.capture("bought", distinct_id="user-1", groups=groups, flags=flags)
        return flags.get_flag("beta"), flags.get_flag("beta")

    with Twin(local=False, remote=Reply.json(flags_response(arm))) as twin:
        ref, kit = run_both(twin, read)
        assert kit == ref
        ref_events, kit_events = twin.ref_events(), twin.kit_events()
        names = sorted(e["event"] for e in ref_events)
        assert names == ["$experiment_exposure", "$feature_flag_called", "bought"]
        assert kit_events == ref_events, event_differences(ref_events, kit_events)


@pytest.mark.parametrize("body", ["NaN", "-Infinity", "[1e400, 2]", '{"n": NaN}', "not json"])
def test_remote_config_bodies_are_read_as_python_reads_json(body: str) -> None:
    """posthog's AsyncClient reads a remote-config body with Python's json module: NaN and
    Infinity are numbers and a number beyond a double is infinite (text that is no JSON
    gives None in both)."""

    async def read(client: Any) -> Any:
        return json.dumps(await client.get_remote_config_payload("conf"))

    with Twin(local=False) as twin:
        twin.server.handle(
            "/api/projects/@current/feature_flags/conf/remote_config",
            lambda request: Reply(200, body.encode(), {"Content-Type": "application/json"}),
        )
        ref, kit = run_both(twin, read, secret_key="phs_secret")
        assert kit == ref


GIVEN_UUIDS = [
    "E3E70682-C209-4CAC-A29F-6FBED82C07CD",
    "{e3e70682-c209-4cac-a29f-6fbed82c07cd}",
    "urn:uuid:e3e70682-c209-4cac-a29f-6fbed82c07cd",
    "e3e70682c2094caca29f6fbed82c07cd",
]


@pytest.mark.parametrize("given", GIVEN_UUIDS)
def test_a_given_uuid_is_sent_and_returned_in_canonical_form(given: str) -> None:
    """posthog's AsyncClient sends and returns a caller's uuid as `str(UUID(...))` (its Client
    keeps the text as given), for every event method and `capture_immediate`."""

    async def send(client: Any) -> list[Any]:
        return [
            client.capture("bought", distinct_id="user-1", uuid=given),
            client.set(distinct_id="user-1", properties={"plan": "pro"}, uuid=given),
            client.set_once(distinct_id="user-1", properties={"plan": "pro"}, uuid=given),
            client.alias("user-0", "user-1", uuid=given),
            client.group_identify("company", "acme", {"size": 3}, uuid=given, distinct_id="u"),
            client.capture_exception(ValueError("no"), distinct_id="user-1", uuid=given),
            await client.capture_immediate("paid", distinct_id="user-1", uuid=given),
        ]

    with Twin(local=False) as twin:
        ref, kit = run_both(twin, send)
        assert kit == ref
        sent = [
            [e["uuid"] for r in twin.requests("/batch/", sdk) for e in r.json()["batch"]]
            for sdk in ("ref", "kit")
        ]
        assert sent[1] == sent[0] and len(sent[0]) == len(ref)


def test_an_exception_is_sent_without_a_level() -> None:
    """posthog's AsyncClient sends `$exception` with no `$exception_level` (its Client adds
    "error"); a level among the caller's properties is sent as given in both."""

    async def send(client: Any) -> list[bool]:
        return [
            client.capture_exception(ValueError("no"), distinct_id="user-1") is not None,
            client.capture_exception(
                KeyError("k"), distinct_id="user-1", properties={"$exception_level": "warning"}
            )
            is not None,
        ]

    with Twin(local=False) as twin:
        ref, kit = run_both(twin, send)
        assert kit == ref == [True, True]
        ref_levels, kit_levels = (
            [e["properties"].get("$exception_level", "<absent>") for e in events]
            for events in (twin.ref_events(), twin.kit_events())
        )
        assert kit_levels == ref_levels == ["<absent>", "warning"]


def test_a_shut_down_client_evaluates_nothing_and_asks_nothing() -> None:
    """posthog's AsyncClient, once shut down, answers `evaluate_flags` with an empty
    snapshot and sends no `/flags` request; hogkit's did both, as if still open."""

    async def read_after_shutdown(client: Any) -> Any:
        await client.shutdown()
        return (await client.evaluate_flags("user-1")).get_flag("beta")

    async def read_open(client: Any) -> Any:
        return (await client.evaluate_flags("user-1")).get_flag("beta")

    with Twin(local=False, remote=Reply.json(flags_response(record("beta", True)))) as twin:
        assert run_both(twin, read_open) == (True, True)
        asked = len(twin.requests(FLAGS, "ref")), len(twin.requests(FLAGS, "kit"))
        ref, kit = run_both(twin, read_after_shutdown)
        assert ref is None and kit is None
        assert (len(twin.requests(FLAGS, "ref")), len(twin.requests(FLAGS, "kit"))) == asked


def test_a_given_uuid_is_read_through_its_str() -> None:
    """posthog's AsyncClient reads a caller's uuid as `str(uuid)`: a str subclass whose
    `__str__` is not its text is no uuid there, and the event gets a new one; hogkit's
    AsyncClient kept the subclass's own text, as only posthog's Client reads it."""
    given = Label("e3e70682-c209-4cac-a29f-6fbed82c07cd")

    async def send(client: Any) -> Any:
        return client.capture("bought", distinct_id="user-1", uuid=given)

    with Twin(local=False) as twin:
        ref, kit = run_both(twin, send)
        sent = [
            [e["uuid"] for r in twin.requests("/batch/", sdk) for e in r.json()["batch"]]
            for sdk in ("ref", "kit")
        ]
        assert sent[0] == [ref] and sent[1] == [kit]
        assert ref != str.__str__(given) and kit != str.__str__(given)


class CountedUuid:
    """A uuid-like value that counts how often it is read as text."""

    def __init__(self) -> None:
        self.reads = 0

    def __str__(self) -> str:
        self.reads += 1
        return "e3e70682-c209-4cac-a29f-6fbed82c07cd"


def test_a_client_that_sends_nothing_does_not_read_a_given_uuid() -> None:
    """posthog's AsyncClient reads a caller's uuid only for an event it builds: a disabled
    or shut-down client never calls its `__str__`; hogkit's read it before handing the call
    to a client that then built nothing."""

    def send_all(client: Any, given: CountedUuid) -> list[Any]:
        return [
            client.capture("bought", distinct_id="user-1", uuid=given),
            client.set(distinct_id="user-1", properties={"plan": "pro"}, uuid=given),
            client.alias("user-0", "user-1", uuid=given),
            client.group_identify("company", "acme", {"size": 3}, uuid=given, distinct_id="u"),
            client.capture_exception(ValueError("no"), distinct_id="user-1", uuid=given),
        ]

    def reads_when(stopped: bool, **options: Any) -> tuple[Any, ...]:
        given = {"ref": CountedUuid(), "kit": CountedUuid()}

        async def send(client: Any) -> list[Any]:
            if stopped:
                await client.shutdown()
            sdk = "ref" if isinstance(client, posthog.AsyncClient) else "kit"
            return send_all(client, given[sdk])

        with Twin(local=False) as twin:
            ref, kit = run_both(twin, send, **options)
        return ref, given["ref"].reads, kit, given["kit"].reads

    disabled = reads_when(False, disabled=True)
    assert disabled[2:] == disabled[:2] == ([None] * 5, 0)
    stopped = reads_when(True)
    assert stopped[2:] == stopped[:2] == ([None] * 5, 0)
