"""`AsyncClient.evaluate_flags` and the other awaited flag calls, against a real loopback
PostHog: the sync client's snapshot from local definitions with no request, the same
`/flags` fallback, errors, timeout and fallback answers, over aiohttp and over threads.
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncloop import Ticker, run, slow
from compare import snapshot_outcome
from hogkit.transport.async_http import AiohttpTransport, ThreadedTransport
from hogkit.transport.http import Response
from httpserver import LoopbackServer, Reply, unused_url
from test_client_flags import DEFS, DOCUMENT, FLAGS, REMOTE
from test_fleet_provider import DictCache

from hogkit import AsyncClient, Client, MemoryTransport

CONFORMANCE = Path(__file__).parent / "conformance"
REMOTE_CONFIG = "/api/projects/@current/feature_flags/{key}/remote_config"


@pytest.fixture
def server(loopback: LoopbackServer) -> Iterator[LoopbackServer]:
    loopback.script(DEFS, then=Reply.json(DOCUMENT, headers={"ETag": '"d1"'}))
    loopback.script(FLAGS, then=Reply.json(REMOTE))
    yield loopback


# ----------------------------------------------------------------------------- local evaluation


def conformance_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CONFORMANCE.glob("*.json")):
        if path.name != "case.schema.json":
            cases.extend(json.loads(path.read_text())["cases"])
    return cases


def test_local_definitions_give_the_sync_snapshot_without_a_request(
    loopback: LoopbackServer,
) -> None:
    """Every conformance case, evaluated by both clients on the same definitions."""
    cases = conformance_cases()
    assert len(cases) > 500
    sync_client = Client("phc_project", host=loopback.url, transport=MemoryTransport())
    memory = MemoryTransport()

    async def scenario() -> list[tuple[str, Any, Any]]:
        client = AsyncClient(
            "phc_project", host=loopback.url, transport=memory, flag_definitions={"flags": []}
        )
        differing = []
        for case in cases:
            for each in (client.flag_service, sync_client.flag_service):
                each.replace_definitions(case["definitions"])
            call = case["call"]
            arguments = {
                "person_properties": call["person_properties"],
                "groups": call["groups"],
                "group_properties": call["group_properties"],
                "device_id": call["device_id"],
                "flag_keys": call["flag_keys"],
            }
            ours = await client.evaluate_flags(call["distinct_id"], **arguments)
            theirs = sync_client.evaluate_flags(call["distinct_id"], **arguments)
            pair = (snapshot_outcome(ours), ours.errors), (snapshot_outcome(theirs), theirs.errors)
            if pair[0] != pair[1]:
                differing.append((case["id"], pair[0], pair[1]))
        assert await client.flush()
        await client.shutdown()
        return differing

    assert run(scenario) == []
    sync_client.shutdown()
    assert loopback.requests() == []
    assert any(e["event"] == "$feature_flag_called" for e in memory.events)


def test_polled_definitions_are_awaited_once_then_evaluated_locally(
    server: LoopbackServer,
) -> None:
    server.script(DEFS, then=slow(Reply.json(DOCUMENT, headers={"ETag": '"d1"'}), 2.0))

    async def scenario() -> tuple[list[Any], float]:
        client = AsyncClient(
            "phc_project", host=server.url, secret_key="phs_secret", poll_interval=3600
        )
        async with Ticker() as ticker:
            snapshots = await asyncio.gather(
                *(
                    client.evaluate_flags(
                        f"user-{i}",
                        person_properties={"plan": "pro"},
                        flag_keys=["local-on", "pro-only", "multi"],
                    )
                    for i in range(20)
                )
            )
        await client.shutdown()
        return snapshots, ticker.max_gap

    snapshots, gap = run(scenario)
    # The 2 s download was awaited, not waited for on the loop (the bound is discussed in
    # test_async_client.py's first test).
    assert gap < 0.5
    assert len(server.requests(DEFS)) == 1
    assert server.requests(FLAGS) == []
    assert all(
        dict(s.flag_values) == {"local-on": True, "pro-only": True, "multi": "only"}
        for s in snapshots
    )


# ------------------------------------------------------------------------------ remote fallback


def make_transport(kind: str, url: str) -> Any:
    if kind == "aiohttp":
        return AiohttpTransport("phc_project", url, secret_key="phs_secret")
    return ThreadedTransport("phc_project", url, secret_key="phs_secret")


@pytest.mark.parametrize("kind", ["aiohttp", "threads"])
def test_remote_fallback_merges_as_the_sync_client_does(server: LoopbackServer, kind: str) -> None:
    async_transport = make_transport(kind, server.url)
    options = {"secret_key": "phs_secret", "poll_interval": 3600, "send": False}
    with Client("phc_project", host=server.url, **options) as sync_client:
        theirs = sync_client.evaluate_flags("user-1", flag_keys=["local-on", "server-only", "x"])

    async def scenario() -> Any:
        async with AsyncClient(
            "phc_project", host=server.url, async_transport=async_transport, **options
        ) as client:
            return await client.evaluate_flags("user-1", flag_keys=["local-on", "server-only", "x"])

    ours = run(scenario)
    sent = [r.json() for r in server.requests(FLAGS)]
    assert len(sent) == 2
    assert {k: v for k, v in sent[1].items() if k != "sent_at"} == {
        k: v for k, v in sent[0].items() if k != "sent_at"
    }
    assert snapshot_outcome(ours) == snapshot_outcome(theirs)
    assert dict(ours.flag_values) == {"local-on": True, "server-only": True}
    assert (ours.request_id, ours.evaluated_at) == (theirs.request_id, theirs.evaluated_at)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply.status_only(500), ("api_error_500",)),
        (Reply.json({"quotaLimited": ["feature_flags"], "flags": {}}), ("quota_limited",)),
        (Reply.garbage(), ("connection_error",)),
    ],
)
def test_failed_requests_report_what_the_sync_client_reports(
    server: LoopbackServer, reply: Reply, expected: tuple[str, ...]
) -> None:
    server.script(FLAGS, then=reply)
    with Client("phc_project", host=server.url, send=False) as sync_client:
        theirs = sync_client.evaluate_flags("user-1")

    async def scenario() -> Any:
        async with AsyncClient("phc_project", host=server.url, send=False) as client:
            return await client.evaluate_flags("user-1")

    ours = run(scenario)
    assert theirs.errors == expected
    assert ours.errors == theirs.errors
    assert snapshot_outcome(ours) == snapshot_outcome(theirs)


@pytest.mark.parametrize("kind", ["aiohttp", "threads"])
def test_a_refused_connection_reports_what_the_sync_client_reports(kind: str) -> None:
    url = unused_url()
    with Client("phc_project", host=url, send=False) as sync_client:
        theirs = sync_client.evaluate_flags("user-1")

    async def scenario() -> Any:
        async with AsyncClient(
            "phc_project", host=url, send=False, async_transport=make_transport(kind, url)
        ) as client:
            return await client.evaluate_flags("user-1")

    ours = run(scenario)
    assert theirs.errors == ("connection_error",)
    assert ours.errors == theirs.errors


def test_the_flags_timeout_bounds_an_evaluation(loopback: LoopbackServer) -> None:
    loopback.script(FLAGS, then=Reply.hang())

    async def scenario() -> tuple[Any, float]:
        client = AsyncClient(
            "phc_project", host=loopback.url, feature_flags_request_timeout_seconds=0.3
        )
        started = time.perf_counter()
        flags = await client.evaluate_flags("user-1")
        elapsed = time.perf_counter() - started
        await client.shutdown(timeout=1)
        return flags, elapsed

    flags, elapsed = run(scenario)
    assert flags.errors == ("timeout",)
    assert 0.25 < elapsed < 2.0


class CountingFlags:
    """A sync `FlagsTransport` double: the async client runs it in threads."""

    def __init__(self) -> None:
        self.calls = 0

    def fetch_definitions(self, *, etag: str | None, timeout: float) -> Response:
        return Response(404, {}, b"")

    def post_flags(self, body: bytes, *, timeout: float) -> Response:
        self.calls += 1
        payload = {"flags": {"beta": {"key": "beta", "enabled": True, "variant": None}}}
        return Response(200, {}, json.dumps(payload).encode())


def test_a_sync_flags_transport_runs_in_threads() -> None:
    flags = CountingFlags()

    async def scenario() -> tuple[Any, Any]:
        async with AsyncClient("phc_project", flags_transport=flags, send=False) as client:
            return client.async_transport, await client.evaluate_flags("user-1")

    transport, snapshot = run(scenario)
    assert isinstance(transport, ThreadedTransport)
    assert flags.calls == 1
    assert snapshot.get_flag("beta", send_feature_flag_events=False) is True


def test_send_feature_flags_never_waits_on_the_server(server: LoopbackServer) -> None:
    memory = MemoryTransport()

    async def scenario() -> None:
        async with AsyncClient(
            "phc_project", host=server.url, secret_key="phs_secret", transport=memory
        ) as client:
            await client.load_feature_flags()
            with warnings.catch_warnings():  # warned once per process: maybe already
                warnings.simplefilter("ignore", DeprecationWarning)
                client.capture("paid", distinct_id="user-1", send_feature_flags=True)

    run(scenario)
    assert server.requests(FLAGS) == []
    (event,) = [e for e in memory.events if e["event"] == "paid"]
    assert event["properties"]["$feature/local-on"] is True
    assert "$feature/pro-only" not in event["properties"]  # unresolved locally: not asked


# -------------------------------------------------------------------------------- remote config


def test_remote_config_payload_is_awaited_with_the_secret_key(loopback: LoopbackServer) -> None:
    path = REMOTE_CONFIG.format(key="banner%20text")
    loopback.script(path, then=Reply.json({"text": "hello"}))
    loopback.script(REMOTE_CONFIG.format(key="missing"), then=Reply.status_only(404))

    async def scenario() -> tuple[Any, Any, Any]:
        async with AsyncClient("phc_project", host=loopback.url, secret_key="phs_secret") as c:
            found = await c.get_remote_config_payload("banner text")
            missing = await c.get_remote_config_payload("missing")
        async with AsyncClient("phc_project", host=loopback.url) as keyless:
            without_key = await keyless.get_remote_config_payload("banner text")
        return found, missing, without_key

    found, missing, without_key = run(scenario)
    assert (found, missing, without_key) == ({"text": "hello"}, None, None)
    (request,) = loopback.requests(path)
    assert request.headers["authorization"] == "Bearer phs_secret"
    assert request.query == {"token": ["phc_project"]}


# --------------------------------------------------------------- shared definitions, fallback


def test_definitions_from_a_cache_provider_need_no_request(server: LoopbackServer) -> None:
    provider = DictCache({"data": DOCUMENT}, leader=False)

    async def scenario() -> Any:
        async with AsyncClient(
            "phc_project",
            host=server.url,
            send=False,
            flag_definition_cache_provider=provider,
            flag_definitions_follower_only=True,
        ) as client:
            return await client.evaluate_flags(
                "user-1", person_properties={"plan": "pro"}, flag_keys=["local-on", "pro-only"]
            )

    flags = run(scenario)
    assert dict(flags.flag_values) == {"local-on": True, "pro-only": True}
    assert server.requests() == []
    assert ("get", "hogkit-flag-poller") in provider.calls  # read on the poller's thread


def test_remembered_answers_fill_in_when_flags_fails(server: LoopbackServer) -> None:
    server.script(FLAGS, Reply.json(REMOTE), then=Reply.status_only(503))

    async def scenario() -> tuple[Any, Any]:
        async with AsyncClient(
            "phc_project",
            host=server.url,
            send=False,
            flag_fallback_cache_url="memory://local/?ttl=300",
        ) as client:
            first = await client.evaluate_flags("user-1", flag_keys=["server-only"])
            second = await client.evaluate_flags("user-1", flag_keys=["server-only"])
            return first, second

    first, second = run(scenario)
    assert first.errors == ()
    assert second.errors == ("api_error_503",)
    assert dict(first.flag_values) == dict(second.flag_values) == {"server-only": True}
