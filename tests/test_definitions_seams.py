"""The client seams the provider and the testing kit stand on: a temporary replacement of
the definitions (local only while it lasts, the downloads back afterwards), change
listeners (off the poller's thread and locks, removable), the refusal in the definitions
status, and the core's public per-flag description and `Reason.decided_by`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from hogkit.core import FlagSet
from hogkit.testing import CaptureSink, FlagBuilder, document, prop
from hogkit.transport.client import Client
from httpserver import LoopbackServer, Reply

DEFS = "/flags/definitions"
FLAGS_PATH = "/flags/"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
POLLED = document([FlagBuilder("polled"), FlagBuilder("gated").condition(prop("plan", "pro"))])


def _polling_client(server: LoopbackServer) -> Client:
    return Client(
        "phc_test",
        server.url,
        transport=CaptureSink(),
        sync_mode=True,
        secret_key="phs_secret",
        poll_interval=3600,
    )


def _flags_requests(server: LoopbackServer) -> int:
    return len(server.requests(FLAGS_PATH))


def test_temporary_replacement_is_local_only_and_restores_the_downloads(
    loopback: LoopbackServer,
) -> None:
    loopback.handle(DEFS, lambda request: Reply.json(POLLED))
    loopback.handle(FLAGS_PATH, lambda request: Reply.json({"flags": {}}))
    client = _polling_client(loopback)
    try:
        assert client.load_feature_flags()
        service = client.flag_service
        restore = service.replace_definitions(
            document([FlagBuilder("only").condition(prop("plan", "pro"))]), temporary=True
        )
        # `only` needs a property nobody passed: left open, and still never asked of the
        # server; `polled` is not in force while replaced.
        snap = client.evaluate_flags("u", flag_keys=["only", "polled"])
        assert snap.flag_values == {} and set(snap.unresolved) == {"only"}
        assert _flags_requests(loopback) == 0
        assert client.flag_definitions_status().source == "file"
        assert client.load_feature_flags()  # the poller still refreshes behind it
        restore()
        assert client.flag_definitions_status().source == "fetched"
        assert client.evaluate_flags("u", flag_keys=["polled"]).get_flag("polled") is True
        # Back to the server for what local evaluation leaves open.
        client.evaluate_flags("u", flag_keys=["gated", "unknown"])
        assert _flags_requests(loopback) == 1
    finally:
        client.shutdown(0.0)


def test_listeners_run_on_the_evaluating_thread_outside_the_pollers_locks(
    loopback: LoopbackServer,
) -> None:
    loopback.handle(DEFS, lambda request: Reply.json(POLLED))
    client = _polling_client(loopback)
    heard: list[tuple[str, bool]] = []

    def listener(fs: FlagSet | None) -> None:
        # `reload` takes the poller's fetch lock: under it, this would never return.
        heard.append((threading.current_thread().name, client.flag_service.reload()))

    try:
        remove = client.flag_service.on_change(listener)
        assert client.load_feature_flags()
        worker = threading.Thread(
            target=lambda: client.evaluate_flags("u"), name="evaluating", daemon=True
        )
        worker.start()
        worker.join(10.0)
        assert not worker.is_alive()
        assert heard == [("evaluating", True)]
        remove()
        client.flag_service.replace_definitions(None, temporary=True)
        assert heard == [("evaluating", True)]  # removed: not told again
    finally:
        client.shutdown(0.0)


HANDED = document([FlagBuilder("handed")])


@pytest.fixture
def handed_over(loopback: LoopbackServer) -> Iterator[Client]:
    """A polling client (nothing downloaded yet) with definitions handed over until the
    next download, as posthog-python's `client.feature_flags = [...]` hands them over."""
    loopback.handle(DEFS, lambda request: Reply.json(POLLED))
    client = _polling_client(loopback)
    try:
        client.flag_service.replace_definitions(HANDED, until_download=True)
        yield client
    finally:
        client.shutdown(0.0)


def test_a_download_ends_a_handover_before_any_flag_is_read(handed_over: Client) -> None:
    client, service = handed_over, handed_over.flag_service
    assert service.offline and client.flag_definitions_status().source == "file"
    assert client.load_feature_flags()
    # No flag read in between: the download alone put the downloads back in force.
    assert not service.offline
    assert client.flag_definitions_status().source == "fetched"
    flagset = service.flagset
    assert flagset is not None and set(flagset.keys) == {"polled", "gated"}


def test_restoring_a_handover_a_download_came_behind_brings_back_the_downloads(
    handed_over: Client,
) -> None:
    client, service = handed_over, handed_over.flag_service
    restore = service.replace_definitions(None, temporary=True)
    assert client.load_feature_flags()  # came while the handed-over set was replaced
    assert service.offline  # the temporary replacement holds until restored
    restore()
    assert not service.offline
    assert client.flag_definitions_status().source == "fetched"
    assert client.evaluate_flags("u", flag_keys=["polled"]).get_flag("polled") is True


def test_status_names_a_refusal_until_the_server_answers_again(loopback: LoopbackServer) -> None:
    served = [Reply(402)]
    loopback.handle(DEFS, lambda request: served[0])
    client = _polling_client(loopback)
    try:
        seen = []
        for reply in (Reply(402), Reply(401), Reply.json(POLLED)):
            served[0] = reply
            client.load_feature_flags()
            status = client.flag_definitions_status()
            seen.append((status.refused, status.source))
        assert seen == [(402, None), (401, None), (None, "fetched")]
    finally:
        client.shutdown(0.0)


def test_reason_says_what_decided_a_match() -> None:
    fs = FlagSet.from_document(
        document(
            [
                FlagBuilder("everyone"),
                FlagBuilder("targeted").condition(prop("plan", "pro")),
                FlagBuilder("rollout").rollout(50),
                FlagBuilder("drawn").variants({"a": 50, "b": 50}),
                FlagBuilder("one-variant").variants({"a": 100, "b": 0}),
            ]
        )
    )
    results = fs.evaluate("user-1", person_properties={"plan": "pro"}, now=NOW).results
    decided = {key: r.reason.decided_by for key, r in results.items()}
    matched = {key for key, r in results.items() if r.reason.kind == "condition_match"}
    assert {"everyone", "targeted", "drawn", "one-variant"} <= matched
    assert decided["everyone"] == "everyone"
    assert decided["targeted"] == "filters"
    assert decided["drawn"] == "hash"
    assert decided["one-variant"] == "everyone"
    assert decided["rollout"] == ("hash" if "rollout" in matched else None)


def test_flag_description_changes_with_the_definition() -> None:
    first = FlagSet.from_document(document([FlagBuilder("a", flag_id=7, version=2)]))
    same = FlagSet.from_document(document([FlagBuilder("a", flag_id=7, version=2)]))
    edited = FlagSet.from_document(document([FlagBuilder("a", flag_id=7, version=2).rollout(5)]))
    info = first.flag("a")
    assert info is not None and (info.key, info.id, info.version, info.active) == ("a", 7, 2, True)
    assert same.flag("a") == info
    assert edited.flag("a") is not None and edited.flag("a") != info
    assert first.flag("missing") is None
