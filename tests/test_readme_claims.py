"""README.md's promises that no other test pins, each proven against real parts: the loopback
server (HTTP and HTTPS), raw ASGI calls, and posthog 7.91.1 side by side where the sentence is
about what posthog-python does.

Each test names the README sentence it holds to; it fails if that sentence stops being true.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import posthog
import pytest
from hogkit.integrations.asgi import PosthogASGIMiddleware as KitASGIMiddleware
from hogkit.transport import MemoryTransport
from httpserver import LoopbackServer, Reply, self_signed
from oracle import recording_clients
from posthog.integrations.asgi import PosthogASGIMiddleware as RefASGIMiddleware
from twin import DEFS, FLAGS, definitions, flag

from hogkit import AsyncClient, Client

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_section(title: str) -> str:
    """The text of README.md's section headed `title`, up to the next heading of any level."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    following = re.search(r"^#{1,6} ", text[start + len(title) + 2 :], re.MULTILINE)
    end = start + len(title) + 2 + following.start() if following else len(text)
    return text[start:end]


# --- "### Delivery options": the table's Default column is the Client's. ---------------------

_DEFAULT_TEXT = {"64 MiB": 64 * 1024 * 1024, "10,000": 10_000, "`0`": 0, "`None`": None}


def _table_defaults() -> dict[str, Any]:
    """Option name -> stated default, from the Delivery options table (a row may name several
    options with as many comma-separated defaults)."""
    stated: dict[str, Any] = {}
    for line in readme_section("### Delivery options").splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`(\w+)`", cells[0])
        values = [v.strip() for v in cells[1].split(",")] if len(names) > 1 else [cells[1]]
        for name, value in zip(names, values, strict=True):
            stated[name] = _DEFAULT_TEXT.get(value, value)
    return stated


def test_the_delivery_options_table_states_the_clients_defaults() -> None:
    stated = _table_defaults()
    assert set(stated) == {
        "max_queue_bytes",
        "max_queue_size",
        "block_when_full",
        "spool_dir",
        "timeout",
        "max_retries",
        "retry_backoff",
        "retry_backoff_cap",
        "exit_timeout",
    }
    client = Client("phc_defaults", transport=MemoryTransport())
    try:
        for name, value in stated.items():
            expected = float(value) if isinstance(value, str) else value
            assert getattr(client, name) == expected, name
    finally:
        client.shutdown(0)


def test_the_defaults_stated_in_prose_are_the_clients() -> None:
    """ "`feature_flags_request_timeout_seconds` (default 3)", "every `poll_interval` seconds,
    30 by default", "`exit_timeout` seconds (1 by default)"."""
    text = README.read_text(encoding="utf-8")
    assert "`feature_flags_request_timeout_seconds` (default 3)" in text
    assert "every `poll_interval` seconds, 30 by default" in text
    client = Client("phc_defaults", transport=MemoryTransport())
    try:
        assert client.feature_flags_request_timeout_seconds == 3
        assert client.poll_interval == 30
    finally:
        client.shutdown(0)


# --- Redirects: "followed (at most three times) when it stays on the same host, or moves it
# from `http` to `https`: the batch carries your project key, so it is not sent to another
# host." ---------------------------------------------------------------------------------------


def _redirect_chain(server: LoopbackServer, hops: int) -> None:
    """`/batch/` redirects (307) to `/hop1/`, which redirects to `/hop2/`, ... `hops` times."""
    paths = ["/batch/", *(f"/hop{n}/" for n in range(1, hops + 1))]
    for here, there in itertools.pairwise(paths):
        server.script(here, then=Reply.redirect(307, there))


def test_three_redirects_are_followed_and_a_fourth_is_not(loopback: LoopbackServer) -> None:
    _redirect_chain(loopback, 3)
    client = Client("phc_redirects", host=loopback.url, max_retries=0)
    uuid = client.capture("moved thrice", distinct_id="u")
    assert client.shutdown(5)
    assert [e["uuid"] for e in loopback.events("/hop3/")] == [uuid]

    with LoopbackServer() as server:
        _redirect_chain(server, 4)
        lost: list[Any] = []
        client = Client(
            "phc_redirects",
            host=server.url,
            max_retries=0,
            on_error=lambda error, events: lost.append(getattr(error, "reason", None)),
        )
        client.capture("moved four times", distinct_id="u")
        assert not client.shutdown(5)
        assert [len(server.requests(f"/hop{n}/")) for n in (1, 2, 3, 4)] == [1, 1, 1, 0]
        assert lost == ["server_rejected"]


@pytest.fixture
def https_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """An HTTPS loopback server whose certificate the client is told to trust."""
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    with LoopbackServer(tls=(cert, key)) as server:
        yield server


def test_a_redirect_from_http_to_https_on_the_same_host_is_followed(
    loopback: LoopbackServer, https_server: LoopbackServer
) -> None:
    loopback.script("/batch/", then=Reply.redirect(308, https_server.url + "/batch/"))
    client = Client("phc_upgrade", host=loopback.url, max_retries=0)
    uuid = client.capture("upgraded", distinct_id="u")
    assert client.shutdown(5)
    assert [e["uuid"] for e in https_server.events("/batch/")] == [uuid]


def test_a_redirect_from_https_to_plain_http_is_not_followed(
    loopback: LoopbackServer, https_server: LoopbackServer
) -> None:
    https_server.script("/batch/", then=Reply.redirect(308, loopback.url + "/batch/"))
    client = Client("phc_downgrade", host=https_server.url, max_retries=0)
    client.capture("downgraded", distinct_id="u")
    assert not client.shutdown(5)
    assert loopback.requests("/batch/") == []


# --- "`thread=N` | the same: `N` sender threads (at most 64)" ----------------------------------


def test_at_most_64_sender_threads_start() -> None:
    before = set(threading.enumerate())
    client = Client("phc_threads", transport=MemoryTransport(), thread=100)
    try:
        started = [t for t in threading.enumerate() if t not in before]
        assert len([t for t in started if t.name.startswith("hogkit-sender")]) == 64
    finally:
        client.shutdown(1)


# --- "`capture_mode="v1"`, `capture_compression="deflate"` | accepted; events go to `/batch/`
# (gzip when `gzip=True`), with one warning" -----------------------------------------------------


@pytest.mark.parametrize(
    "options", [{"capture_mode": "v1"}, {"capture_compression": "deflate"}], ids=lambda o: str(o)
)
def test_v1_capture_options_send_to_batch_with_one_warning(
    options: dict[str, str], loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hogkit")
    client = Client("phc_v1", host=loopback.url, **options)  # type: ignore[arg-type]
    uuid = client.capture("sent anyway", distinct_id="u")
    assert client.shutdown(5)
    assert [e["uuid"] for e in loopback.events("/batch/")] == [uuid]
    (request,) = loopback.requests("/batch/")
    assert request.headers.get("content-encoding") == "gzip"
    (option,) = options
    assert len([r for r in caplog.records if option in r.getMessage()]) == 1


# --- "other options read as attributes (`client.poll_interval`, ...) | the same values;
# setting one of them on a running client logs a warning" ---------------------------------------


def test_setting_a_build_time_option_on_a_running_client_logs_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = Client("phc_attributes", transport=MemoryTransport(), poll_interval=45)
    try:
        assert client.poll_interval == 45
        caplog.set_level(logging.WARNING, logger="hogkit")
        client.poll_interval = 5
        assert [r for r in caplog.records if "poll_interval" in r.getMessage()]
    finally:
        client.shutdown(0)


# --- "`load_feature_flags()` | the same download (none on a disabled client); returns whether
# the server answered, where posthog-python returns None" ---------------------------------------


def test_load_feature_flags_says_whether_the_server_answered(loopback: LoopbackServer) -> None:
    loopback.script(DEFS, Reply.json(definitions(flag("beta"))), then=Reply(500))
    client = Client("phc_load", host=loopback.url, secret_key="phs_load", poll_interval=3600)
    try:
        assert client.load_feature_flags() is True
        assert client.load_feature_flags() is False
    finally:
        client.shutdown(1)
    disabled = Client("phc_load", host=loopback.url, secret_key="phs_load", disabled=True)
    disabled.load_feature_flags()
    disabled.shutdown(1)
    assert len(loopback.requests(DEFS)) == 2


# --- "Nothing starts again after `shutdown()`." ------------------------------------------------


def test_nothing_starts_again_after_shutdown(loopback: LoopbackServer) -> None:
    """A flag read on a client shut down before it downloaded definitions asks `/flags` and
    downloads nothing; `capture(send_feature_flags=True)` on it asks nothing. posthog-python,
    run the same way, downloads the definitions."""
    loopback.script(DEFS, then=Reply.json(definitions(flag("beta"))))
    loopback.script(FLAGS, then=Reply.json({"featureFlags": {"beta": True}}))

    reference = posthog.Posthog("phc_reference", host=loopback.url, secret_key="phs_ref")
    reference.shutdown()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        reference.get_feature_flag("beta", "user-1")
        reference.shutdown()
        assert any(r.query.get("token") == ["phc_reference"] for r in loopback.requests(DEFS))
        # The read started a new poller that a second shutdown does not stop; stopped by
        # hand here, or it would poll whichever later test's server gets this port.
        assert reference.poller is not None and reference.poller.is_alive()
        reference.poller.stop()

        client = Client("phc_hogkit", host=loopback.url, secret_key="phs_kit")
        client.shutdown(1)
        threads = hogkit_threads()
        assert client.get_feature_flag("beta", "user-1") is True
        client.capture("after", distinct_id="user-1", send_feature_flags=True)
    assert not any(r.query.get("token") == ["phc_hogkit"] for r in loopback.requests(DEFS))
    asked = [r for r in loopback.requests(FLAGS) if r.json().get("api_key") == "phc_hogkit"]
    assert len(asked) == 1  # the read's, not the capture's
    assert hogkit_threads() <= threads


def hogkit_threads() -> set[threading.Thread]:
    """The threads a client starts for itself (the shared DNS and deadline helpers aside)."""
    own = ("hogkit-flag-poller", "hogkit-worker", "hogkit-sender")
    return {t for t in threading.enumerate() if t.name.startswith(own)}


# --- "What differs on purpose": the caller's dict, and a context id that is not text. ----------


def test_set_inside_a_context_leaves_the_callers_properties_alone() -> None:
    """ "The caller's `properties` dict is never changed. posthog-python's `set` and `set_once`
    inside a context write the context's tags into it." """
    memory = MemoryTransport()
    client = Client("phc_props", transport=memory, sync_mode=True)
    with recording_clients() as (make, _sent):
        reference = make()
        given: dict[str, dict[str, int]] = {}
        for name, sdk in (("reference", reference), ("hogkit", client)):
            for method in ("set", "set_once"):
                properties = {"plan": 1}
                with sdk.new_context():
                    sdk.tag("order_id", 7)
                    getattr(sdk, method)(distinct_id="u", properties=properties)
                given[f"{name}.{method}"] = properties
    client.shutdown(1)
    assert given["reference.set"] != {"plan": 1}  # posthog-python's behaviour, as stated
    assert given["hogkit.set"] == given["hogkit.set_once"] == {"plan": 1}
    assert [e["event"] for e in memory.events] == ["$set", "$set_once"]


def test_a_context_distinct_id_that_is_not_text_is_sent_as_its_text() -> None:
    memory = MemoryTransport()
    client = Client("phc_ids", transport=memory, sync_mode=True)
    with client.new_context():
        client.identify_context(42)  # type: ignore[arg-type]
        client.capture("numbered")
    client.shutdown(1)
    assert [e["distinct_id"] for e in memory.events] == ["42"]


# --- ASGI: "never reads or buffers bodies", and a scope without a `scheme`. --------------------

Message = dict[str, Any]


def _run_asgi(
    middleware: Callable[..., Any], client: Any, scope: Message, body_parts: list[bytes]
) -> tuple[list[bytes], int]:
    """Run an app that reads the request body itself, wrapped in `middleware`, for `scope`:
    (the body parts the app read, how many times anything called the server's `receive`)."""
    read: list[bytes] = []
    pending = [
        {"type": "http.request", "body": part, "more_body": i < len(body_parts) - 1}
        for i, part in enumerate(body_parts)
    ]
    calls = [0]

    async def receive() -> Message:
        calls[0] += 1
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        return None

    async def app(scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            while True:
                message = await receive()
                read.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            client.capture("seen", properties={"path": scope["path"]})
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        else:
            client.capture("seen", properties={"path": scope["path"]})
            await send({"type": "websocket.close"})

    asyncio.run(middleware(app, client=client)(scope, receive, send))
    return read, calls[0]


def _scope(kind: str) -> Message:
    """A scope as a server may give it: every key but `scheme`, which ASGI makes optional."""
    return {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/orders",
        "raw_path": b"/orders",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"shop.example"), (b"x-posthog-distinct-id", b"buyer")],
        "server": ("shop.example", 80),
        "client": ("127.0.0.1", 50000),
    }


def test_the_asgi_middleware_reads_no_body_itself() -> None:
    memory = MemoryTransport()
    client = Client("phc_asgi", transport=memory, sync_mode=True)
    parts = [b"first ", b"second ", b"third"]
    read, calls = _run_asgi(KitASGIMiddleware, client, _scope("http"), parts)
    client.shutdown(1)
    assert read == parts
    assert calls == len(parts)  # every receive was the app's own
    assert [e["distinct_id"] for e in memory.events] == ["buyer"]


@pytest.mark.parametrize(("kind", "scheme"), [("http", "http"), ("websocket", "ws")])
def test_a_scope_without_a_scheme_still_gets_the_current_url(kind: str, scheme: str) -> None:
    memory = MemoryTransport()
    client = Client("phc_asgi", transport=memory, sync_mode=True)
    _run_asgi(KitASGIMiddleware, client, _scope(kind), [b""])
    client.shutdown(1)
    (event,) = memory.events
    assert event["properties"]["$current_url"] == f"{scheme}://shop.example/orders"

    with recording_clients() as (make, sent):
        _run_asgi(RefASGIMiddleware, make(), _scope(kind), [b""])
    (reference_event,) = sent
    assert reference_event["distinct_id"] == "buyer"  # the same request, seen by posthog
    assert "$current_url" not in reference_event["properties"]


# --- "With the `async` extra, a remote-config request is sent once more after a connection
# reset (aiohttp does so; posthog-python's httpx client does not), so the read may get the
# server's answer where posthog-python's gives None." ------------------------------------------

REMOTE_CONFIG = "/api/projects/@current/feature_flags/banner/remote_config"


def _remote_config_after_a_reset(make: Callable[[str], Any]) -> tuple[Any, int]:
    """The payload an async client reads when its first request's connection is reset, and
    how many requests the server saw."""
    with LoopbackServer() as server:
        server.script(REMOTE_CONFIG, Reply.reset(), then=Reply.json({"text": "hello"}))

        async def read() -> Any:
            client = make(server.url)
            try:
                return await client.get_remote_config_payload("banner")
            finally:
                await client.shutdown()

        payload = asyncio.run(read())
        return payload, len(server.requests(REMOTE_CONFIG))


def test_a_remote_config_read_is_sent_again_after_a_connection_reset() -> None:
    kit = _remote_config_after_a_reset(
        lambda url: AsyncClient("phc_remote", host=url, secret_key="phs_remote")
    )
    reference = _remote_config_after_a_reset(
        lambda url: posthog.AsyncPosthog("phc_remote", host=url, secret_key="phs_remote")
    )
    assert kit == ({"text": "hello"}, 2)
    assert reference == (None, 1)
