"""A real HTTP server on 127.0.0.1 for tests: it records every request and plays scripted replies.

No mocks: the SDK under test opens real sockets to this server. Reuse it for any endpoint.

    from httpserver import LoopbackServer, Reply

    with LoopbackServer() as server:               # or the `loopback` fixture in conftest.py
        server.script("/batch/", Reply(503), Reply(429, headers={"Retry-After": "0.2"}))
        client = Client("phc_test", host=server.url)
        ...
        assert server.wait_for(lambda s: len(s.events()) == 3)
        first = server.requests("/batch/")[0]
        first.json()["api_key"], first.headers["content-encoding"], first.reply.status

Replies (`Reply`):
- `Reply(status=200, body=b'{"status": 1}', headers={}, delay=0.0)`; `Reply.json(obj, status)`.
- `Reply.drop()`: read the request, then close the connection without answering.
- `Reply.reset()`: read the request, then close with a TCP reset (ECONNRESET on the client).
- `Reply.hang()`: read the request and never answer (until the server is closed).
`delay` sleeps before answering (a slow server); it is cut short when the server closes.

Faults (each one proven at the socket level in tests/test_httpserver_faults.py):
- `Reply.status_only(code)` for 500/502/503/400/413...; `Reply.too_many(retry_after)`: 429 with
  `Retry-After`; `Reply.redirect(307 or 308, "/other/")`: a redirect with `Location`.
- `Reply.trickle(nbytes, interval, part="body")`: a 200 answer written `nbytes` at a time,
  one write every `interval` seconds; `part` is "body", "headers" or "all" (the whole answer).
- `Reply.reset_mid_request(after=1024)`: read only `after` bytes of the body, then reset the
  connection while the client is still sending (a large body sees EPIPE/ECONNRESET on send).
- `Reply.reset_after_body()` (same as `Reply.reset()`): read the whole request, then reset.
- `Reply.garbage(data)`: read the request, answer with bytes that are not HTTP, then close.
- `Reply.stored_then_failed(status=500)`: the batch counts as stored (`events()` lists it)
  but the answer is an error, as when the server saved it and failed afterwards.
- `server.accept_then_close(count=None)`: the next `count` connections (all, with None) are
  accepted and closed at once, before a byte is read.

Choosing replies, per path (the URL path without its query string):
- `script(path, *replies, then=None)`: successive requests get the replies in order, then
  `then` (default: the server's default reply) for every later one. Calling it again replaces
  the script for that path.
- `handle(path, fn)`: `fn(request) -> Reply` decides every request to that path.
- `default`: the reply for paths with neither (200 `{"status": 1}`); assignable.

Reading what arrived: `requests(path=None)` (a copy, in arrival order), `events(path="/batch/")`
(the events of batches the server stored: a 2xx reply, or `stored_then_failed`, in order),
`attempted_events(path)` (every event in every complete batch, whatever the reply), `wait_for(predicate, timeout)`. A `Request` has `method`,
`path`, `query` (dict of lists), `headers` (lower-case names), `raw` (bytes as received),
`body` (gzip undone), `json()`, `time` (monotonic arrival), `peer` (the client's address and
port: equal ports mean a reused keep-alive connection), `complete` (False when the server
reset the connection before reading the whole body) and the `reply` it got.
Bodies are decoded only when read, so recording stays cheap under load.

`LoopbackServer(tls=(certfile, keyfile))` serves HTTPS instead; `self_signed(directory)` makes
such a pair, for 127.0.0.1, that no system trusts.

For servers that are not there at all: `unused_url()` is an address where nothing listens
(connection refused), and `SilentListener` accepts TCP connections but never reads or answers.
"""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SUCCESS_BODY = b'{"status": 1}'


class Reply:
    """What the server does with one request."""

    def __init__(
        self,
        status: int = 200,
        body: bytes | str = SUCCESS_BODY,
        headers: dict[str, str] | None = None,
        *,
        delay: float = 0.0,
        action: str = "answer",
        store: bool = False,
        trickle: tuple[int, float, str] | None = None,
        read_before_reset: int = 0,
    ) -> None:
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = dict(headers or {})
        self.delay = delay
        self.action = action
        self.store = store
        self.trickle_plan = trickle
        self.read_before_reset = read_before_reset

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        merged = {"Content-Type": "application/json", **(headers or {})}
        return cls(status, json.dumps(obj).encode(), merged)

    @classmethod
    def drop(cls) -> Reply:
        return cls(0, b"", action="drop")

    @classmethod
    def reset(cls) -> Reply:
        return cls(0, b"", action="reset")

    @classmethod
    def hang(cls) -> Reply:
        return cls(0, b"", action="hang")

    @classmethod
    def reset_after_body(cls) -> Reply:
        return cls.reset()

    @classmethod
    def reset_mid_request(cls, after: int = 1024) -> Reply:
        return cls(0, b"", action="reset_mid_request", read_before_reset=after)

    @classmethod
    def garbage(cls, data: bytes = b"\x00\xffSSH-2.0-not-http\r\n\x7f") -> Reply:
        return cls(0, data, action="garbage")

    @classmethod
    def status_only(cls, status: int) -> Reply:
        return cls(status, json.dumps({"error": status}).encode())

    @classmethod
    def too_many(cls, retry_after: float | str) -> Reply:
        return cls(429, b'{"error": 429}', {"Retry-After": str(retry_after)})

    @classmethod
    def redirect(cls, status: int, location: str) -> Reply:
        return cls(status, b"", {"Location": location})

    @classmethod
    def trickle(
        cls,
        nbytes: int = 1,
        interval: float = 0.2,
        part: str = "body",
        *,
        status: int = 200,
        body: bytes = SUCCESS_BODY,
    ) -> Reply:
        if part not in ("body", "headers", "all"):
            raise ValueError(f"part must be body, headers or all, not {part!r}")
        return cls(status, body, trickle=(nbytes, interval, part))

    @classmethod
    def stored_then_failed(cls, status: int = 500) -> Reply:
        return cls(status, json.dumps({"error": status}).encode(), store=True)

    @property
    def ok(self) -> bool:
        return self.action == "answer" and 200 <= self.status < 300

    @property
    def stored(self) -> bool:
        """The server kept the batch: a success, or a failure after storing it."""
        return self.ok or (self.action == "answer" and self.store)

    def __repr__(self) -> str:
        if self.action != "answer":
            return f"Reply.{self.action}()"
        if self.trickle_plan is not None:
            return f"Reply.trickle{self.trickle_plan}"
        return f"Reply({self.status})"


class Request:
    """One request as the server received it."""

    def __init__(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        raw: bytes,
        arrived: float,
        peer: tuple[str, int] = ("", 0),
    ) -> None:
        parts = urllib.parse.urlsplit(target)
        self.method = method
        self.target = target
        self.path = parts.path
        self.query = urllib.parse.parse_qs(parts.query)
        self.headers = headers
        self.raw = raw
        self.time = arrived
        self.peer = peer
        self.reply: Reply = Reply()
        self.complete = True
        self._body: bytes | None = None

    @property
    def body(self) -> bytes:
        if self._body is None:
            encoding = self.headers.get("content-encoding", "")
            self._body = gzip.decompress(self.raw) if encoding == "gzip" else self.raw
        return self._body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.target} -> {self.reply!r}>"


class _ThreadingServer(ThreadingHTTPServer):
    # socketserver's default backlog (5) makes a burst of concurrent connections wait for
    # SYN retransmits (1 s, 3 s, ...): a load test would measure the backlog, not the client.
    request_queue_size = 256


class LoopbackServer:
    """A threaded HTTP/1.1 server (keep-alive) on 127.0.0.1 with an ephemeral port."""

    def __init__(self, *, tls: tuple[str, str] | None = None) -> None:
        """`tls=(certfile, keyfile)` serves HTTPS with that certificate instead of HTTP."""
        self.default = Reply()
        self._lock = threading.Condition()
        self._requests: list[Request] = []
        self._scripts: dict[str, tuple[list[Reply], Reply | None]] = {}
        self._handlers: dict[str, Callable[[Request], Reply]] = {}
        self._closing = threading.Event()
        self._close_on_accept: int | None = 0
        self._httpd = _ThreadingServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    # -- scripting ------------------------------------------------------------------------------

    def script(self, path: str, *replies: Reply, then: Reply | None = None) -> None:
        with self._lock:
            self._scripts[path] = (list(replies), then)
            self._handlers.pop(path, None)

    def handle(self, path: str, fn: Callable[[Request], Reply]) -> None:
        with self._lock:
            self._handlers[path] = fn
            self._scripts.pop(path, None)

    def accept_then_close(self, count: int | None = None) -> None:
        """Close the next `count` connections (every one, with None) as soon as accepted."""
        with self._lock:
            self._close_on_accept = count

    def _take_close_on_accept(self) -> bool:
        with self._lock:
            if self._close_on_accept is None:
                return True
            if self._close_on_accept > 0:
                self._close_on_accept -= 1
                return True
            return False

    def _scripted(self, path: str) -> Reply | None:
        """The next reply for `path` when no handler decides it (scripts ignore the body,
        so the reply is known before the body is read)."""
        with self._lock:
            if path in self._handlers:
                return None
            queued, then = self._scripts.get(path, ([], None))
            return queued.pop(0) if queued else (then or self.default)

    def _choose(self, request: Request) -> Reply:
        with self._lock:
            handler = self._handlers.get(request.path)
        if handler is None:
            return self._scripted(request.path) or self.default
        return handler(request)

    def _record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    # -- reading --------------------------------------------------------------------------------

    def requests(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def attempted_events(self, path: str = "/batch/") -> list[dict[str, Any]]:
        return [event for r in self.requests(path) if r.complete for event in r.json()["batch"]]

    def events(self, path: str = "/batch/") -> list[dict[str, Any]]:
        return [event for r in self.requests(path) if r.reply.stored for event in r.json()["batch"]]

    def wait_for(self, predicate: Callable[[LoopbackServer], bool], timeout: float = 10.0) -> bool:
        """Wait until `predicate(self)` holds (re-checked on every request); False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._lock:
                self._lock.wait(min(remaining, 0.05))

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once, no delayed-ACK stall
        timeout = 30  # an idle keep-alive connection does not hold its thread forever

        def handle(self) -> None:
            if server._take_close_on_accept():
                self.close_connection = True
                return
            super().handle()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            path = urllib.parse.urlsplit(self.path).path
            early = server._scripted(path)
            if early is not None and early.action == "reset_mid_request":
                self._reset_mid_request(early, length)
                return
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            peer = (str(self.client_address[0]), int(self.client_address[1]))
            request = Request(self.command, self.path, headers, raw, time.monotonic(), peer)
            reply = early if early is not None else server._choose(request)
            request.reply = reply
            server._record(request)
            if reply.delay and server._closing.wait(reply.delay):
                self.close_connection = True
                return
            if reply.action == "answer":
                self._answer(reply)
                return
            self.close_connection = True
            if reply.action == "hang":
                server._closing.wait()
            elif reply.action == "reset":
                self._reset()
            elif reply.action == "garbage":
                self.wfile.write(reply.body)
                self.wfile.flush()

        def _reset(self) -> None:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        def _reset_mid_request(self, reply: Reply, length: int) -> None:
            raw = self.rfile.read(min(length, reply.read_before_reset))
            headers = {k.lower(): v for k, v in self.headers.items()}
            peer = (str(self.client_address[0]), int(self.client_address[1]))
            request = Request(self.command, self.path, headers, raw, time.monotonic(), peer)
            request.reply = reply
            request.complete = len(raw) >= length
            server._record(request)
            self._reset()
            self.close_connection = True

        def _answer(self, reply: Reply) -> None:
            lines = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
            lines += [f"{name}: {value}" for name, value in reply.headers.items()]
            lines.append(f"Content-Length: {len(reply.body)}")
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            if reply.trickle_plan is None:
                self.wfile.write(head + reply.body)
                return
            nbytes, interval, part = reply.trickle_plan
            slow = {"body": reply.body, "headers": head, "all": head + reply.body}[part]
            if part == "body":
                self.wfile.write(head)
            try:
                for at in range(0, len(slow), nbytes):
                    self.wfile.write(slow[at : at + nbytes])
                    self.wfile.flush()
                    if server._closing.wait(interval):
                        break
                if part == "headers":
                    self.wfile.write(reply.body)
            except OSError:  # the client gave up: that is what a trickle is for
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def self_signed(directory: Path) -> tuple[str, str]:
    """(certificate file, key file) of a fresh self-signed certificate for 127.0.0.1."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"),
            *("ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert)),
            *("-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return str(cert), str(key)


def unused_url() -> str:
    """An http URL on 127.0.0.1 where nothing is listening (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class SilentListener:
    """A TCP port that completes handshakes (via the listen backlog) and never answers."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> SilentListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def uuids(events: Iterable[dict[str, Any]]) -> list[str]:
    return [event["uuid"] for event in events]
