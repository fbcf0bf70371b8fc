"""The provider against the OpenFeature specification's provider requirements.

Each test names the requirement it checks (specification sections 2: providers, 4: hooks,
5: events, 6: tracking). Clients are real hogkit clients delivering into a `CaptureSink`;
definitions come from `FlagBuilder`; polled definitions come from a loopback HTTP server.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hogkit.openfeature import HogkitProvider
from hogkit.testing import CaptureSink, FlagBuilder, document, prop
from hogkit.transport.client import Client
from httpserver import LoopbackServer, Reply
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent, ProviderEventDetails
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagEvaluationDetails, Reason
from openfeature.hook import Hook, HookContext
from openfeature.provider import ProviderStatus
from openfeature.track import TrackingEventDetails

DEFS = "/flags/definitions"
WAIT = 10.0  # the SDK runs event handlers on its own threads: the most a test waits for one


class Received:
    """Event details as the SDK's handler threads deliver them."""

    def __init__(self) -> None:
        self.items: queue.Queue[EventDetails] = queue.Queue()

    def __call__(self, details: EventDetails) -> None:
        self.items.put(details)

    def next(self) -> EventDetails:
        return self.items.get(timeout=WAIT)

    def drain(self) -> list[EventDetails]:
        found = []
        while not self.items.empty():
            found.append(self.items.get_nowait())
        return found


USER = EvaluationContext("user-1", {"plan": "pro"})

DOC = document(
    [
        FlagBuilder("static", flag_id=11, version=3).payload(True, {"n": 1}),
        FlagBuilder("targeted", flag_id=12).condition(prop("plan", "pro")),
        FlagBuilder("half", flag_id=13).rollout(50),
        FlagBuilder("off", flag_id=14).active(False),
        FlagBuilder("nobody", flag_id=15).condition(prop("plan", "free")),
        FlagBuilder("split", flag_id=16).variants({"a": 50, "b": 50}),
        FlagBuilder("fixed", flag_id=17)
        .variants({"a": 50, "b": 50})
        .condition(variant="b")
        .payload("b", 2.5),
        FlagBuilder("limit", flag_id=18).payload(True, 7),
        FlagBuilder("text", flag_id=19).payload(True, "seven"),
        FlagBuilder("numvariant", flag_id=20).variants({"42": 100}),
        FlagBuilder("needs", flag_id=21).condition(prop("age", 1, "is_not_set")),
    ]
)


@pytest.fixture
def sink() -> CaptureSink:
    return CaptureSink()


@pytest.fixture
def client(sink: CaptureSink) -> Iterator[Client]:
    hog = Client(
        "phc_test", "http://127.0.0.1:9", transport=sink, sync_mode=True, flag_definitions=DOC
    )
    yield hog
    hog.shutdown(0.0)


@pytest.fixture
def of(client: Client) -> Iterator[OpenFeatureClient]:
    api.set_provider_and_wait(HogkitProvider(client), "provider-tests")
    yield api.get_client("provider-tests")
    api.clear_providers()


def test_2_1_1_metadata_names_the_provider(client: Client) -> None:
    assert HogkitProvider(client).get_metadata().name == "hogkit"


def test_2_2_1_and_2_2_2_1_typed_resolvers(of: OpenFeatureClient) -> None:
    assert of.get_boolean_value("targeted", False, USER) is True
    assert of.get_string_value("split", "x", USER) in ("a", "b")
    assert of.get_integer_value("limit", 0, USER) == 7
    assert of.get_float_value("fixed", 0.0, USER) == 2.5
    assert of.get_object_value("static", {}, USER) == {"n": 1}


def test_2_2_3_value_equals_evaluate_flags(of: OpenFeatureClient, client: Client) -> None:
    snap = client.evaluate_flags("user-1", person_properties={"plan": "pro"})
    for key in ("static", "targeted", "half", "off", "nobody"):
        assert of.get_boolean_value(key, not snap.get_flag(key), USER) == snap.is_enabled(key)
    assert of.get_string_value("split", "x", USER) == snap.get_flag("split")


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("static", Reason.STATIC),
        ("targeted", Reason.TARGETING_MATCH),
        ("half", Reason.SPLIT),
        ("split", Reason.SPLIT),
        ("fixed", Reason.STATIC),
        ("off", Reason.DISABLED),
        ("nobody", Reason.DEFAULT),
    ],
)
def test_2_2_5_reason_says_what_decided(of: OpenFeatureClient, key: str, reason: Reason) -> None:
    assert of.get_boolean_details(key, False, USER).reason == reason


def test_2_2_4_variant_is_set(of: OpenFeatureClient) -> None:
    assert of.get_string_details("fixed", "x", USER).variant == "b"
    assert of.get_boolean_details("static", False, USER).variant == "true"
    assert of.get_boolean_details("off", True, USER).variant == "false"


def test_2_2_6_normal_execution_has_no_error(of: OpenFeatureClient) -> None:
    details = of.get_boolean_details("targeted", False, USER)
    assert (details.error_code, details.error_message) == (None, None)


def _error(details: FlagEvaluationDetails[Any]) -> tuple[Any, Any]:
    return details.error_code, details.reason


def test_2_2_7_unknown_flag_is_flag_not_found(of: OpenFeatureClient) -> None:
    details = of.get_boolean_details("missing", True, USER)
    assert details.value is True
    assert _error(details) == (ErrorCode.FLAG_NOT_FOUND, Reason.ERROR)
    assert details.error_message


def test_2_2_7_wrong_type_is_type_mismatch(of: OpenFeatureClient) -> None:
    assert _error(of.get_string_details("static", "d", USER)) == (
        ErrorCode.TYPE_MISMATCH,
        Reason.ERROR,
    )
    details = of.get_integer_details("text", 3, USER)
    assert (details.value, details.error_code) == (3, ErrorCode.TYPE_MISMATCH)
    assert of.get_object_details("limit", {}, USER).error_code == ErrorCode.TYPE_MISMATCH


def test_2_2_7_no_targeting_key(of: OpenFeatureClient) -> None:
    details = of.get_boolean_details("static", False, EvaluationContext(None, {"plan": "pro"}))
    assert (details.value, details.error_code) == (False, ErrorCode.TARGETING_KEY_MISSING)


def test_2_2_7_undecidable_without_a_server(of: OpenFeatureClient) -> None:
    details = of.get_boolean_details("needs", False, EvaluationContext("user-1", {}))
    assert (details.value, details.error_code, details.reason) == (
        False,
        ErrorCode.INVALID_CONTEXT,
        Reason.ERROR,
    )


def test_numbers_from_the_variant_with_parse_variant(client: Client) -> None:
    api.set_provider_and_wait(HogkitProvider(client, parse_variant=True), "parse")
    try:
        of = api.get_client("parse")
        assert of.get_integer_value("numvariant", 0, USER) == 42
        assert of.get_float_value("numvariant", 0.0, USER) == 42.0
        assert of.get_integer_details("split", 0, USER).error_code == ErrorCode.PARSE_ERROR
    finally:
        api.clear_providers()


def test_2_2_9_and_2_2_10_flag_metadata(of: OpenFeatureClient) -> None:
    meta = of.get_boolean_details("static", False, USER).flag_metadata
    assert meta["flag_id"] == 11 and meta["flag_version"] == 3
    assert meta["condition_index"] == 0 and meta["evaluated_locally"] is True
    assert all(
        isinstance(k, str) and isinstance(v, (bool, int, float, str)) for k, v in meta.items()
    )


def test_context_mapping_matches_posthogs_provider(
    of: OpenFeatureClient, sink: CaptureSink
) -> None:
    context = EvaluationContext(
        "user-9", {"plan": "pro", "groups": {"company": "acme"}, "group_properties": {}}
    )
    assert of.get_boolean_value("targeted", False, context) is True
    call = sink.assert_captured("$feature_flag_called", "user-9", **{"$feature_flag": "targeted"})
    assert call["properties"]["$groups"] == {"company": "acme"}


def test_async_twins_resolve_like_the_sync_ones(of: OpenFeatureClient) -> None:
    async def both() -> tuple[Any, ...]:
        return (
            await of.get_boolean_value_async("targeted", False, USER),
            await of.get_string_value_async("fixed", "x", USER),
            await of.get_integer_value_async("limit", 0, USER),
            await of.get_float_value_async("fixed", 0.0, USER),
            await of.get_object_value_async("static", {}, USER),
        )

    assert asyncio.run(both()) == (True, "b", 7, 2.5, {"n": 1})


class Recorder(Hook):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []

    def after(
        self, hook_context: HookContext, details: FlagEvaluationDetails[Any], hints: Any
    ) -> None:
        self.seen.append(("after", hook_context.flag_key, details.reason))


def test_2_3_1_provider_hooks_run(client: Client) -> None:
    hook = Recorder()
    api.set_provider_and_wait(HogkitProvider(client, hooks=[hook]), "hooks")
    try:
        api.get_client("hooks").get_boolean_value("off", True, USER)
    finally:
        api.clear_providers()
    assert hook.seen == [("after", "off", Reason.DISABLED)]


def test_2_7_1_track_captures_an_event(of: OpenFeatureClient, sink: CaptureSink) -> None:
    of.track("checkout", USER, TrackingEventDetails(9.5, {"currency": "EUR"}))
    event = sink.assert_captured("checkout", "user-1", currency="EUR")
    assert event["properties"]["$value"] == 9.5


def test_5_3_1_ready_after_initialize(client: Client) -> None:
    got = threading.Event()
    api.add_handler(ProviderEvent.PROVIDER_READY, lambda d: got.set())
    try:
        api.set_provider_and_wait(HogkitProvider(client), "ready")
        assert got.is_set()
        assert api.get_client("ready").get_provider_status() == ProviderStatus.READY
    finally:
        api.clear_providers()


def _polling_client(server: LoopbackServer, sink: CaptureSink) -> Client:
    return Client(
        "phc_test",
        server.url,
        transport=sink,
        sync_mode=True,
        secret_key="phs_secret",
        poll_interval=3600,
    )


def test_5_1_configuration_changed_names_changed_keys(
    loopback: LoopbackServer, sink: CaptureSink
) -> None:
    first = document([FlagBuilder("a", flag_id=1), FlagBuilder("b", flag_id=2)])
    second = document(
        [
            FlagBuilder("a", flag_id=1),
            FlagBuilder("b", flag_id=2, version=2).rollout(10),
            FlagBuilder("c", flag_id=3),
        ]
    )
    served = [first]
    loopback.handle(DEFS, lambda request: Reply.json(served[0]))
    client = _polling_client(loopback, sink)
    provider = HogkitProvider(client, check_interval=3600)
    changes = Received()
    try:
        api.set_provider_and_wait(provider, "changes")
        of = api.get_client("changes")
        of.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, changes)
        assert client.load_feature_flags()  # the same definitions: no event
        assert of.get_boolean_value("a", False, USER) is True
        served[0] = second
        assert client.load_feature_flags()
        # The new set is told of where it is first used: this evaluation.
        assert of.get_boolean_details("b", True, USER).reason == Reason.SPLIT
        assert changes.next().flags_changed == ["b", "c"]
        served[0] = first
        assert client.load_feature_flags()
        provider.watch.check()  # nothing evaluated: the watch's own pass notices it
        assert changes.next().flags_changed == ["b", "c"]
        assert changes.drain() == []
    finally:
        api.clear_providers()
        client.shutdown(0.0)


@pytest.mark.parametrize("status", [401, 402])
def test_5_3_2_refused_definitions_are_an_error(
    loopback: LoopbackServer, sink: CaptureSink, status: int
) -> None:
    loopback.script(DEFS, then=Reply(status))
    client = _polling_client(loopback, sink)
    errors = Received()
    api.add_handler(ProviderEvent.PROVIDER_ERROR, errors)
    try:
        with pytest.raises(Exception, match=str(status)):
            api.set_provider_and_wait(HogkitProvider(client), f"refused{status}")
        assert api.get_client(f"refused{status}").get_provider_status() == ProviderStatus.ERROR
        assert str(status) in (errors.next().message or "")
    finally:
        api.remove_handler(ProviderEvent.PROVIDER_ERROR, errors)
        api.clear_providers()
        client.shutdown(0.0)


def test_5_1_stale_then_ready_again(loopback: LoopbackServer, sink: CaptureSink) -> None:
    loopback.script(DEFS, then=Reply.json(DOC))
    client = _polling_client(loopback, sink)
    provider = HogkitProvider(client, stale_after=0.0, check_interval=3600)
    stale, ready = Received(), Received()
    try:
        api.set_provider_and_wait(provider, "stale")
        of = api.get_client("stale")
        of.add_handler(ProviderEvent.PROVIDER_STALE, stale)
        of.add_handler(ProviderEvent.PROVIDER_READY, ready)
        ready.next()  # a READY handler added to a ready provider runs at once
        provider.watch.check()
        assert "not confirmed" in (stale.next().message or "")
        assert of.get_provider_status() == ProviderStatus.STALE
        provider.watch.check()  # still stale: told once
        provider.watch.stale_after = 3600.0
        provider.watch.check()
        ready.next()
        assert of.get_provider_status() == ProviderStatus.READY
        assert stale.drain() == [] and ready.drain() == []
    finally:
        api.clear_providers()
        client.shutdown(0.0)


def test_2_5_1_shutdown_stops_listening(loopback: LoopbackServer, sink: CaptureSink) -> None:
    served = [DOC]
    loopback.handle(DEFS, lambda request: Reply.json(served[0]))
    client = _polling_client(loopback, sink)
    provider = HogkitProvider(client)
    emitted = Received()
    try:
        api.set_provider_and_wait(provider, "down")
        api.get_client("down").add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, emitted)
        provider.shutdown()
        served[0] = document([FlagBuilder("z")])
        assert client.load_feature_flags()
        assert client.flag_service.flagset.keys == ("z",)  # type: ignore[union-attr]
        # A handler dispatch would be queued by now; a marker event proves the queue ran.
        provider.emit(
            ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, ProviderEventDetails(["marker"])
        )
        assert emitted.next().flags_changed == ["marker"]
    finally:
        api.clear_providers()
        client.shutdown(0.0)
