"""Process-wide connection settings: `set_socket_options`, `enable_keep_alive` and
`disable_connection_reuse` change the sockets of every later request, on real connections
to a real server: connections are counted by the client ports the server saw, and options
are read back with `getsockopt` from the very socket a request used."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import posthog.request
import pytest
from hogkit.transport import Client, http, sockets
from hogkit.transport import deadline as dl
from hogkit.transport.async_http import AiohttpTransport, ThreadedTransport
from httpserver import LoopbackServer, Reply

import hogkit

KEEPALIVE = (socket.SOL_SOCKET, socket.SO_KEEPALIVE)
NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY)


@pytest.fixture(autouse=True)
def default_settings() -> Iterator[None]:
    """Every test starts and ends with the library's own connection settings."""
    sockets.restore_defaults()
    yield
    sockets.restore_defaults()


def get(server: LoopbackServer, count: int = 1) -> None:
    for _ in range(count):
        assert http.request("GET", server.url + "/ping", timeout=10).status == 200


def peers(server: LoopbackServer, since: int = 0) -> list[tuple[str, int]]:
    """The client address and port of each request, in order (a port per connection)."""
    return [request.peer for request in server.requests()[since:]]


def client_socket(server: LoopbackServer, peer: tuple[str, int]) -> socket.socket | None:
    """The open socket of this process connected from `peer` to `server`: the client's end
    of the connection the server saw. Both ends are compared: the system reuses local ports,
    so a socket of another connection (to another server) may have the same local address."""
    for candidate in gc.get_objects():
        # type(), not isinstance(): a lazy proxy (Django's) would evaluate itself on __class__
        if not issubclass(type(candidate), socket.socket) or candidate.fileno() == -1:
            continue
        try:
            if candidate.getsockname() == peer and candidate.getpeername()[1] == server.port:
                return candidate
        except OSError:
            continue
    return None


def option(sock: socket.socket | None, level_and_name: tuple[int, int]) -> int:
    assert sock is not None, "the connection's socket is not open"
    return sock.getsockopt(*level_and_name)


def test_the_names_are_the_sockets_functions() -> None:
    assert hogkit.set_socket_options is sockets.set_socket_options
    assert hogkit.enable_keep_alive is sockets.enable_keep_alive
    assert hogkit.disable_connection_reuse is sockets.disable_connection_reuse


def test_by_default_requests_share_one_connection(loopback: LoopbackServer) -> None:
    get(loopback, 4)
    assert len(set(peers(loopback))) == 1
    assert option(client_socket(loopback, peers(loopback)[0]), NODELAY) != 0  # urllib3's default


def test_disable_connection_reuse_opens_a_connection_per_request(
    loopback: LoopbackServer,
) -> None:
    get(loopback)  # an idle pooled connection, opened before the call
    hogkit.disable_connection_reuse()
    get(loopback, 4)
    after = peers(loopback, since=1)
    assert len(set(after)) == 4
    assert peers(loopback)[0] not in after
    assert all(client_socket(loopback, peer) is None for peer in peers(loopback))  # each one closed


def test_restore_defaults_reuses_again(loopback: LoopbackServer) -> None:
    hogkit.disable_connection_reuse()
    sockets.restore_defaults()
    get(loopback, 3)
    assert len(set(peers(loopback))) == 1


def test_socket_options_are_set_on_the_requests_socket(loopback: LoopbackServer) -> None:
    hogkit.set_socket_options([(*KEEPALIVE, 1)])
    get(loopback)
    sock = client_socket(loopback, peers(loopback)[0])
    assert option(sock, KEEPALIVE) == 1
    assert option(sock, NODELAY) == 0  # the options replace the defaults, as in posthog

    hogkit.set_socket_options(None)
    get(loopback)
    first, second = peers(loopback)
    assert first != second  # the pool was rebuilt: nothing opened with the old options
    assert client_socket(loopback, first) is None  # and its idle connection closed
    assert option(client_socket(loopback, second), KEEPALIVE) == 0
    assert option(client_socket(loopback, second), NODELAY) != 0


def test_keep_alive_options_are_posthogs() -> None:
    assert list(sockets.KEEP_ALIVE_SOCKET_OPTIONS) == posthog.request.KEEP_ALIVE_SOCKET_OPTIONS


def test_enable_keep_alive_sets_every_option(loopback: LoopbackServer) -> None:
    hogkit.enable_keep_alive()
    get(loopback)
    sock = client_socket(loopback, peers(loopback)[0])
    for level, name, value in sockets.KEEP_ALIVE_SOCKET_OPTIONS:
        assert option(sock, (level, name)) == value, (level, name)


def test_setting_the_same_options_again_keeps_the_connection(loopback: LoopbackServer) -> None:
    hogkit.enable_keep_alive()
    get(loopback)
    hogkit.enable_keep_alive()
    get(loopback)
    assert len(set(peers(loopback))) == 1


@pytest.mark.parametrize("bad", ["SO_KEEPALIVE", [(1, 9)], [(1, 9, 1.5)], [("1", 9, 1)], 42])
def test_malformed_options_are_logged_and_ignored(
    loopback: LoopbackServer, caplog: pytest.LogCaptureFixture, bad: Any
) -> None:
    hogkit.enable_keep_alive()
    with caplog.at_level(logging.ERROR, logger="hogkit"):
        hogkit.set_socket_options(bad)
    assert sockets.current().socket_options == sockets.KEEP_ALIVE_SOCKET_OPTIONS
    assert any("set_socket_options" in r.getMessage() for r in caplog.records)
    get(loopback)  # requests still work


def _client(server: LoopbackServer) -> Client:
    server.script("/flags/definitions", then=Reply.json({"flags": [], "group_type_mapping": {}}))
    server.script("/flags/", then=Reply.json({"flags": {}}))
    return Client("phc_test", host=server.url, secret_key="phs_secret", sync_mode=True)


def _use(client: Client) -> None:
    """One of each request a client makes: definitions, a batch, a remote flag."""
    client.load_feature_flags()
    client.capture("ping", distinct_id="user-1")
    client.evaluate_flags("user-1", flag_keys=["remote-only"])


def test_clients_built_before_follow_a_change(loopback: LoopbackServer) -> None:
    client = _client(loopback)
    try:
        _use(client)
        before = len(loopback.requests())
        hogkit.disable_connection_reuse()
        _use(client)
        _use(client)
    finally:
        client.shutdown()
    paths = {request.path for request in loopback.requests()[before:]}
    assert {"/flags/definitions", "/batch/", "/flags/"} <= paths
    after = peers(loopback, since=before)
    assert len(set(after)) == len(after) >= 6
    assert not set(after) & set(peers(loopback)[:before])


def test_clients_built_before_get_new_socket_options(loopback: LoopbackServer) -> None:
    client = _client(loopback)
    try:
        _use(client)
        before = len(loopback.requests())
        hogkit.enable_keep_alive()
        client.capture("ping", distinct_id="user-1")
        peer = peers(loopback, since=before)[0]
        assert option(client_socket(loopback, peer), KEEPALIVE) == 1
    finally:
        client.shutdown()


def test_requests_racing_a_change_all_complete(loopback: LoopbackServer) -> None:
    """Pools replaced while other threads send: every request gets its answer."""
    failures: list[BaseException] = []
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            try:
                get(loopback)
            except BaseException as exc:
                failures.append(exc)
                return

    senders = [threading.Thread(target=send) for _ in range(4)]
    for thread in senders:
        thread.start()
    try:
        for round_ in range(40):
            hogkit.set_socket_options(None if round_ % 2 else [(*KEEPALIVE, 1)])
            time.sleep(0.005)
    finally:
        stop.set()
        for thread in senders:
            thread.join(10)
    assert failures == []
    assert len(set(peers(loopback))) > 1


def test_a_closed_pool_is_reported_as_nothing_sent(loopback: LoopbackServer) -> None:
    """What lets `http.request` resend safely when pools were replaced under it."""
    manager = dl.pool_manager()
    manager.connection_from_url(loopback.url).close()
    with pytest.raises(dl.PoolClosed):
        dl.exchange(manager, "GET", loopback.url + "/ping", deadline=time.monotonic() + 5)
    assert loopback.requests() == []


# -- the async client's transports


async def _post_flags(transport: Any, count: int) -> None:
    try:
        for _ in range(count):
            assert (await transport.post_flags(b"{}", timeout=10)).status == 200
    finally:
        await transport.aclose()


@pytest.mark.parametrize("reuse", [True, False], ids=["default", "no-reuse"])
def test_aiohttp_follows_connection_reuse(loopback: LoopbackServer, reuse: bool) -> None:
    transport = AiohttpTransport("phc_test", loopback.url)  # built before the change
    if not reuse:
        hogkit.disable_connection_reuse()
    asyncio.run(_post_flags(transport, 3))
    assert len(set(peers(loopback))) == (1 if reuse else 3)


def test_aiohttp_sockets_get_the_options(loopback: LoopbackServer) -> None:
    transport = AiohttpTransport("phc_test", loopback.url)
    seen: list[int] = []

    async def run() -> None:
        try:
            await transport.post_flags(b"{}", timeout=10)
            hogkit.enable_keep_alive()
            await transport.post_flags(b"{}", timeout=10)
            seen.append(option(client_socket(loopback, peers(loopback)[1]), KEEPALIVE))
            hogkit.set_socket_options(None)
            await transport.post_flags(b"{}", timeout=10)
            seen.append(option(client_socket(loopback, peers(loopback)[2]), KEEPALIVE))
        finally:
            await transport.aclose()

    asyncio.run(run())
    assert seen == [1, 0]
    assert len(set(peers(loopback))) == 3  # each change: a new session, new connections


def test_threaded_transport_follows_connection_reuse(loopback: LoopbackServer) -> None:
    hogkit.disable_connection_reuse()
    asyncio.run(_post_flags(ThreadedTransport("phc_test", loopback.url), 3))
    assert len(set(peers(loopback))) == 3


def test_connections_to_a_proxy_get_the_options(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment's proxy (here the loopback server, asked for an absolute URL)."""
    monkeypatch.setenv("HTTP_PROXY", loopback.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    hogkit.enable_keep_alive()
    assert http.request("GET", "http://flags.example/ping", timeout=10).status == 200
    (request,) = loopback.requests()
    assert "flags.example" in request.target
    assert option(client_socket(loopback, request.peer), KEEPALIVE) == 1
    hogkit.disable_connection_reuse()
    answers = [http.request("GET", "http://flags.example/ping", timeout=10) for _ in range(2)]
    assert [answer.status for answer in answers] == [200, 200]
    assert len(set(peers(loopback))) == 3
