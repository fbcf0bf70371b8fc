"""`AsyncClient` on real event loops against a real loopback PostHog: the loop is never
blocked by the network (a ticker task measures it), captures from many tasks arrive exactly
once, `shutdown` returns within its bound whatever the server does, and contexts follow
tasks. Flag evaluation has its own file (test_async_flags.py).
"""

from __future__ import annotations

import asyncio
import inspect
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

import posthog
import posthog.args
import pytest
from asyncloop import Ticker, run, slow
from httpserver import LoopbackServer, Reply
from test_client_flags import DEFS, DOCUMENT, FLAGS, REMOTE

from hogkit import AsyncClient, Client, MemoryTransport


@pytest.fixture
def server(loopback: LoopbackServer) -> Iterator[LoopbackServer]:
    loopback.script(DEFS, then=Reply.json(DOCUMENT, headers={"ETag": '"d1"'}))
    loopback.script(FLAGS, then=Reply.json(REMOTE))
    yield loopback


# ------------------------------------------------------------------------ the loop stays free


def test_the_loop_is_never_blocked_while_flags_requests_are_slow(server: LoopbackServer) -> None:
    """100 tasks evaluate remotely (no local definitions) and capture while /flags takes 2 s.

    The ticker's longest gap is the longest the loop was blocked. A client that waited on
    the network in the loop would block it for the whole 2 s of each request; the control
    at the end shows the ticker sees exactly that when the sync client is called from a
    coroutine. The bound asserted is a quarter of one request's delay. The client's own
    steps on the loop are short (local evaluation, encoding one request, handing it to
    aiohttp), but the gap measured here also holds what the test itself adds: the
    server's 100 threads in this process take the GIL from the loop, the 100 tasks start
    in one loop iteration, a full garbage collection may run, and a loaded 2-core machine
    deschedules the process; together that stays far under the bound. Any wait on the
    network is far over it, so the test cannot pass by blocking and does not flake when
    the machine is busy. `pytest -s` prints the gap measured.
    """
    server.script(FLAGS, then=slow(Reply.json(REMOTE), 2.0))

    async def scenario() -> tuple[float, float, list[Any]]:
        client = AsyncClient(
            "phc_project",
            host=server.url,
            feature_flags_request_timeout_seconds=15,
            max_queue_size=1000,
        )

        async def one(i: int) -> Any:
            flags = await client.evaluate_flags(f"user-{i}", person_properties={"plan": "pro"})
            client.capture("checkout", distinct_id=f"user-{i}", flags=flags)
            return flags

        async with Ticker() as ticker:
            started = time.perf_counter()
            snapshots = await asyncio.gather(*(one(i) for i in range(100)))
            elapsed = time.perf_counter() - started
            await client.shutdown(timeout=10)
        async with Ticker() as control:
            sync_client = Client("phc_project", host=server.url, send=False)
            sync_client.evaluate_flags("control-user")
            await asyncio.sleep(0.01)  # the ticker's next wake-up records the gap
            sync_client.shutdown(0)
        print(f"\nmax loop gap {ticker.max_gap * 1000:.1f} ms over {elapsed:.2f} s")
        return ticker.max_gap, control.max_gap, snapshots

    gap, control_gap, snapshots = run(scenario)
    assert control_gap >= 1.9  # the ticker does see a blocking call
    assert gap < 0.5
    assert len(server.requests(FLAGS)) == 101
    assert all(s.flag_values["server-only"] is True for s in snapshots)
    assert all(s.request_id == "req-123" and s.errors == () for s in snapshots)
    checkout = [e for e in server.events() if e["event"] == "checkout"]
    assert sorted(e["distinct_id"] for e in checkout) == sorted(f"user-{i}" for i in range(100))
    assert all(e["properties"]["$feature/server-only"] is True for e in checkout)


def test_sync_mode_is_refused_so_a_capture_never_sends_on_the_loop(
    loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    loopback.script("/batch/", then=slow(Reply(), 2.0))

    async def scenario() -> tuple[float, bool]:
        client = AsyncClient("phc_project", host=loopback.url, sync_mode=True)
        started = time.perf_counter()
        client.capture("quick", distinct_id="user-1")
        returned_after = time.perf_counter() - started
        return returned_after, await client.shutdown(timeout=10)

    returned_after, delivered = run(scenario)
    assert returned_after < 1.0  # a sync send would have waited the server's 2 s
    assert delivered is True
    assert [e["event"] for e in loopback.events()] == ["quick"]
    assert "ignores sync_mode" in caplog.text


def test_block_when_full_is_refused_so_a_capture_never_waits_for_room(
    loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> str | None:
        async with AsyncClient("phc_project", host=loopback.url, block_when_full=5.0) as client:
            return client.capture("one", distinct_id="user-1")

    assert run(scenario) is not None
    assert "ignores block_when_full" in caplog.text
    assert [e["event"] for e in loopback.events()] == ["one"]


def test_ten_thousand_captures_from_a_hundred_tasks_arrive_exactly_once(
    loopback: LoopbackServer,
) -> None:
    problems: list[Exception] = []

    async def scenario() -> bool:
        client = AsyncClient(
            "phc_project",
            host=loopback.url,
            max_queue_size=20_000,
            on_error=lambda exc, events: problems.append(exc),
        )

        async def task(t: int) -> list[str | None]:
            ids = []
            for i in range(100):
                ids.append(client.capture("tick", distinct_id=f"task-{t}", properties={"i": i}))
                if i % 10 == 0:
                    await asyncio.sleep(0)
            return ids

        async with Ticker():
            accepted = await asyncio.gather(*(task(t) for t in range(100)))
            assert all(uuid is not None for ids in accepted for uuid in ids)
            delivered = await client.flush(timeout_seconds=30)
        await client.shutdown()
        return delivered

    assert run(scenario) is True
    assert problems == []
    events = loopback.events()
    assert len(events) == 10_000
    assert len({e["uuid"] for e in events}) == 10_000
    seen = Counter((e["distinct_id"], e["properties"]["i"]) for e in events)
    assert set(seen) == {(f"task-{t}", i) for t in range(100) for i in range(100)}
    assert set(seen.values()) == {1}


def test_shutdown_returns_within_its_bound_when_the_server_hangs(
    loopback: LoopbackServer,
) -> None:
    loopback.script("/batch/", then=Reply.hang())
    problems: list[Exception] = []

    async def scenario() -> tuple[bool, float, float, Any]:
        client = AsyncClient(
            "phc_project",
            host=loopback.url,
            flush_at=1,
            on_error=lambda exc, events: problems.append(exc),
        )
        client.capture("stuck", distinct_id="user-1")
        async with Ticker() as ticker:
            started = time.perf_counter()
            delivered = await client.shutdown(timeout=2.0)
            elapsed = time.perf_counter() - started
        return delivered, elapsed, ticker.max_gap, client.capture("late", distinct_id="u")

    delivered, elapsed, gap, late = run(scenario)
    assert delivered is False
    assert 1.9 < elapsed < 3.5
    assert gap < 0.5  # a shutdown that waited on the loop would block it for 2 s
    assert late is None  # closed: later captures are refused


def test_capture_immediate_returns_once_the_event_arrived(loopback: LoopbackServer) -> None:
    async def scenario() -> tuple[str | None, list[str]]:
        async with AsyncClient("phc_project", host=loopback.url) as client:
            event_id = await client.capture_immediate("now", distinct_id="user-1")
            return event_id, [e["uuid"] for e in loopback.events()]

    event_id, arrived = run(scenario)
    assert event_id is not None
    assert arrived == [event_id]


def test_async_with_flushes_and_closes(loopback: LoopbackServer) -> None:
    async def scenario() -> AsyncClient:
        async with AsyncClient("phc_project", host=loopback.url) as client:
            client.capture("one", distinct_id="user-1")
            client.set(distinct_id="user-1", properties={"plan": "pro"})
            client.alias("user-1", "user-2")
            client.group_identify("company", "acme", {"size": 5})
            try:
                raise ValueError("boom")
            except ValueError as exc:
                client.capture_exception(exc, distinct_id="user-1")
        return client

    client = run(scenario)
    assert client.closed
    names = sorted(e["event"] for e in loopback.events())
    assert names == sorted(["one", "$set", "$create_alias", "$groupidentify", "$exception"])


def test_super_properties_set_on_the_async_client_reach_later_events(
    loopback: LoopbackServer,
) -> None:
    async def scenario() -> Any:
        async with AsyncClient("phc_project", host=loopback.url) as client:
            client.capture("before", distinct_id="user-1")
            await client.flush()  # queued events are encoded with the properties then in force
            client.super_properties = {"service": "api"}
            client.capture("after", distinct_id="user-1")
            return client.super_properties

    shown = run(scenario)
    assert shown == {"service": "api"}
    by_name = {e["event"]: e["properties"] for e in loopback.events()}
    assert "service" not in by_name["before"]
    assert by_name["after"]["service"] == "api"


def test_one_client_serves_successive_event_loops(server: LoopbackServer) -> None:
    client = AsyncClient("phc_project", host=server.url, send=False)

    async def once() -> Any:
        return await client.evaluate_flags("user-1", flag_keys=["server-only"])

    first = asyncio.run(once())
    second = asyncio.run(once())
    assert first.flag_values == second.flag_values == {"server-only": True}
    asyncio.run(client.shutdown(timeout=1))


# ------------------------------------------------------------------------------------ contexts


def test_contexts_follow_each_task(server: LoopbackServer) -> None:
    """Concurrent tasks each open a context; events and evaluations see only their own."""

    async def scenario() -> list[Any]:
        client = AsyncClient("phc_project", host=server.url, secret_key="phs_secret")

        async def request(n: int) -> Any:
            with client.new_context(fresh=True):
                client.identify_context(f"person-{n}")
                client.tag("request", n)
                await asyncio.sleep(0.01 * (n % 3))  # interleave the tasks
                flags = await client.evaluate_flags(flag_keys=["local-on"])
                client.capture("handled", properties={"n": n})
                assert client.get_tags() == {"request": n}
                return flags

        snapshots = await asyncio.gather(*(request(n) for n in range(20)))
        client.capture("outside")
        await client.shutdown()
        return snapshots

    snapshots = run(scenario)
    assert [s.distinct_id for s in snapshots] == [f"person-{n}" for n in range(20)]
    assert all(s.flag_values == {"local-on": True} for s in snapshots)
    handled = [e for e in server.events() if e["event"] == "handled"]
    assert len(handled) == 20
    for event in handled:
        n = event["properties"]["n"]
        assert event["distinct_id"] == f"person-{n}"
        assert event["properties"]["request"] == n
    (outside,) = [e for e in server.events() if e["event"] == "outside"]
    assert "request" not in outside["properties"]
    assert outside["properties"]["$process_person_profile"] is False


# ---------------------------------------------------------------------------------- signatures


def _parameters(method: Any) -> set[str]:
    """Named parameters, with the keys of a `**kwargs: Unpack[TypedDict]` spelled out."""
    names = set()
    for param in inspect.signature(method).parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            annotation = str(param.annotation)
            for typed in ("OptionalCaptureArgs", "OptionalSetArgs"):
                if typed in annotation:
                    keys = getattr(posthog.args, typed).__annotations__
                    names.update(k for k in keys if not k.startswith("_"))
        elif param.name != "self":
            names.add(param.name)
    return names


@pytest.mark.parametrize(
    "name",
    [
        "capture",
        "capture_immediate",
        "set",
        "set_once",
        "group_identify",
        "alias",
        "capture_exception",
        "evaluate_flags",
        "get_remote_config_payload",
        "flush",
        "shutdown",
        "join",
    ],
)
def test_posthog_async_methods_have_the_same_names_and_parameters(name: str) -> None:
    theirs, ours = getattr(posthog.AsyncClient, name), getattr(AsyncClient, name)
    assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(theirs)
    assert _parameters(theirs) <= _parameters(ours)


def test_capture_exception_takes_local_flags_and_shows_the_callers_stack(
    server: LoopbackServer,
) -> None:
    memory = MemoryTransport()

    async def raise_nothing_and_report(client: AsyncClient) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            client.capture_exception(
                ValueError("never raised"), distinct_id="user-1", send_feature_flags=True
            )

    async def scenario() -> None:
        async with AsyncClient(
            "phc_project", host=server.url, secret_key="phs_secret", transport=memory
        ) as client:
            await client.load_feature_flags()
            await raise_nothing_and_report(client)

    run(scenario)
    assert server.requests(FLAGS) == []
    (event,) = [e for e in memory.events if e["event"] == "$exception"]
    assert event["properties"]["$feature/local-on"] is True
    frames = event["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    assert frames[-1]["function"] == "raise_nothing_and_report"


def test_send_feature_flags_warns_at_the_applications_line(server: LoopbackServer) -> None:
    from hogkit.transport import flag_reads

    flag_reads._warned.discard("send_feature_flags")  # warned once per process
    memory = MemoryTransport()
    caught: list[warnings.WarningMessage] = []

    async def scenario() -> None:
        async with AsyncClient(
            "phc_project", host=server.url, secret_key="phs_secret", transport=memory
        ) as client:
            await client.load_feature_flags()
            with warnings.catch_warnings(record=True) as found:
                warnings.simplefilter("always")
                client.capture("e", distinct_id="user-1", send_feature_flags=True)
            caught.extend(found)

    run(scenario)
    (warning,) = [w for w in caught if w.category is DeprecationWarning]
    assert "send_feature_flags" in str(warning.message)
    assert warning.filename == __file__


def test_options_given_by_position_mean_what_they_mean_in_posthogs_async_client(
    loopback: LoopbackServer,
) -> None:
    """posthog's `AsyncClient` takes its options by position too, in an order of its own;
    every one of them is passed here, as posthog's defaults, with two changed."""
    parameters = list(inspect.signature(posthog.AsyncClient.__init__).parameters.values())[3:]
    changed = {"disabled": True, "super_properties": {"service": "api"}}
    given = [changed.get(p.name, p.default) for p in parameters]

    async def scenario() -> tuple[bool, Any]:
        async with AsyncClient("phc_project", loopback.url, *given) as client:
            client.capture("ignored", distinct_id="user-1")
            return client.disabled, client.super_properties

    assert run(scenario) == (True, {"service": "api"})
    assert loopback.events() == []


def test_an_option_given_twice_or_too_many_positional_options_raise_as_python_does() -> None:
    with pytest.raises(TypeError, match="multiple values for argument 'debug'"):
        AsyncClient("phc_project", "http://127.0.0.1:9", True, debug=True)
    too_many = [None] * (len(inspect.signature(posthog.AsyncClient.__init__).parameters) - 2)
    with pytest.raises(TypeError, match="positional arguments"):
        AsyncClient("phc_project", "http://127.0.0.1:9", *too_many)


def test_send_feature_flags_lists_active_flags_in_evaluation_order(
    loopback: LoopbackServer,
) -> None:
    """As the sync client does for this deprecated option: definitions order, not sorted
    (a `flags=` snapshot is sorted)."""
    everyone = [{"properties": [], "rollout_percentage": 100}]
    document = {
        "flags": [
            {"id": 1, "key": "zeta", "active": True, "filters": {"groups": everyone}},
            {"id": 2, "key": "alpha", "active": True, "filters": {"groups": everyone}},
        ]
    }
    loopback.script(DEFS, then=Reply.json(document))
    memory = MemoryTransport()

    async def scenario() -> None:
        async with AsyncClient(
            "phc_project", host=loopback.url, secret_key="phs_secret", transport=memory
        ) as client:
            await client.load_feature_flags()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                client.capture("clicked", distinct_id="user-1", send_feature_flags=True)
                client.capture("viewed", distinct_id="user-1", flags={"zeta": True, "alpha": True})

    run(scenario)
    by_name = {e["event"]: e["properties"] for e in memory.events}
    assert by_name["clicked"]["$active_feature_flags"] == ["zeta", "alpha"]
    assert by_name["viewed"]["$active_feature_flags"] == ["alpha", "zeta"]
