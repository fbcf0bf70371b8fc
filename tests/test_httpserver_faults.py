"""The loopback server's fault replies, proven with raw sockets and http.client (not hogkit).

Each test shows the fault as a client sees it on the wire, so the fault matrix and the
deadline tests can trust that a cell really is the fault it is named after.
"""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
from httpserver import LoopbackServer, Reply

BATCH = json.dumps({"api_key": "k", "batch": [{"uuid": "u1", "event": "e"}]}).encode()


def post(
    server: LoopbackServer, path: str = "/batch/", body: bytes = BATCH
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    return conn.getresponse()


def raw_exchange(server: LoopbackServer, body: bytes = BATCH) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    head = f"POST /batch/ HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    sock.sendall(head.encode() + body)
    return sock


def read_all(sock: socket.socket, until: bytes | None = None) -> tuple[bytes, int]:
    """Bytes until EOF (or until `until` has arrived) and the number of recv calls it took."""
    data, pieces = b"", 0
    while until is None or until not in data:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
        pieces += 1
    return data, pieces


@pytest.mark.parametrize("status", [400, 413, 500, 502, 503])
def test_error_statuses_are_plain_answers(loopback: LoopbackServer, status: int) -> None:
    loopback.script("/batch/", Reply.status_only(status))
    response = post(loopback)
    assert response.status == status
    assert json.loads(response.read()) == {"error": status}
    assert loopback.events() == []
    assert [e["uuid"] for e in loopback.attempted_events()] == ["u1"]


def test_429_carries_retry_after(loopback: LoopbackServer) -> None:
    loopback.script("/batch/", Reply.too_many(1.5))
    response = post(loopback)
    assert (response.status, response.getheader("Retry-After")) == (429, "1.5")


@pytest.mark.parametrize("status", [307, 308])
def test_redirects_name_another_path(loopback: LoopbackServer, status: int) -> None:
    loopback.script("/batch/", Reply.redirect(status, "/elsewhere/"))
    response = post(loopback)
    assert (response.status, response.getheader("Location")) == (status, "/elsewhere/")
    assert loopback.events() == []


def test_stored_then_failed_keeps_the_batch_but_answers_an_error(loopback: LoopbackServer) -> None:
    loopback.script("/batch/", Reply.stored_then_failed(500))
    assert post(loopback).status == 500
    assert [e["uuid"] for e in loopback.events()] == ["u1"]
    assert loopback.requests()[0].reply.stored and not loopback.requests()[0].reply.ok


def test_trickled_body_arrives_piece_by_piece(loopback: LoopbackServer) -> None:
    body = b'{"status": 1, "pad": "xxxxxxxx"}'
    loopback.script("/batch/", Reply.trickle(2, 0.05, "body", body=body))
    started = time.monotonic()
    with raw_exchange(loopback) as sock:
        data, pieces = read_all(sock, until=body)
    elapsed = time.monotonic() - started
    assert data.endswith(body) and data.startswith(b"HTTP/1.1 200")
    # The server sleeps between writes, so the whole answer cannot arrive sooner than this.
    assert elapsed >= (len(body) / 2 - 1) * 0.05
    assert pieces >= 2


def test_trickled_headers_hold_the_status_line_back(loopback: LoopbackServer) -> None:
    loopback.script("/batch/", Reply.trickle(1, 0.01, "headers"))
    started = time.monotonic()
    with raw_exchange(loopback) as sock:
        data, pieces = read_all(sock, until=b"\r\n\r\n")
    elapsed = time.monotonic() - started
    head_length = data.index(b"\r\n\r\n") + 4
    assert elapsed >= (head_length - 1) * 0.01
    assert pieces >= 2
    conn = http.client.HTTPConnection("127.0.0.1", loopback.port, timeout=10)
    loopback.script("/batch/", Reply.trickle(3, 0.001, "all"))
    conn.request("POST", "/batch/", body=BATCH)
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b'{"status": 1}')


def test_reset_mid_request_breaks_the_send(loopback: LoopbackServer) -> None:
    loopback.script("/batch/", Reply.reset_mid_request(after=1024))
    body = b"x" * (64 * 1024 * 1024)
    with pytest.raises((ConnectionResetError, BrokenPipeError)), raw_exchange(loopback, body):
        pass
    assert loopback.wait_for(lambda s: len(s.requests()) == 1)
    request = loopback.requests()[0]
    assert not request.complete and len(request.raw) == 1024
    assert loopback.attempted_events() == []


def test_reset_after_body_reads_everything_then_resets(loopback: LoopbackServer) -> None:
    loopback.script("/batch/", Reply.reset_after_body())
    with pytest.raises(ConnectionResetError):
        post(loopback)
    assert loopback.requests()[0].complete
    assert [e["uuid"] for e in loopback.attempted_events()] == ["u1"]


def test_garbage_is_not_http(loopback: LoopbackServer) -> None:
    noise = b"\x00\x01 definitely not http \xff"
    loopback.script("/batch/", Reply.garbage(noise))
    with raw_exchange(loopback) as sock:
        assert read_all(sock)[0] == noise
    loopback.script("/batch/", Reply.garbage())
    with pytest.raises(http.client.HTTPException):
        post(loopback)


def test_accept_then_close_sends_nothing_and_reads_nothing(loopback: LoopbackServer) -> None:
    loopback.accept_then_close(count=1)
    with raw_exchange(loopback) as sock:
        assert read_all(sock) == (b"", 0)
    assert loopback.requests() == []
    assert post(loopback).status == 200  # only the first connection was refused service
    loopback.accept_then_close()
    for _ in range(2):
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            post(loopback)


def test_hang_never_answers(loopback: LoopbackServer) -> None:
    loopback.script("/batch/", Reply.hang())
    with raw_exchange(loopback) as sock:
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)
    assert len(loopback.requests()) == 1
