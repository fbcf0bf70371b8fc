"""How the flag code reaches PostHog: two calls, behind a protocol so tests and embedders swap them.

`fetch_definitions` is the local-evaluation download (`GET /flags/definitions`, Bearer secret
key, conditional on the last ETag) and `post_flags` is remote evaluation (`POST /flags`, the
project key in the body, no Authorization header). Both go through `http.request`, so they
share the process's connection pool, bounded DNS and credential-free error messages.
"""

from __future__ import annotations

import urllib.parse
from typing import Protocol, runtime_checkable

from hogkit.core.flags_request import FLAGS_PATH

from . import http
from .hosts import redacted

__all__ = ["DEFINITIONS_PATH", "FlagsTransport", "HttpFlagsTransport"]

DEFINITIONS_PATH = "/flags/definitions"


@runtime_checkable
class FlagsTransport(Protocol):
    """What the flag service needs from the network. Failures raise `http.NetworkError`."""

    def fetch_definitions(self, *, etag: str | None, timeout: float) -> http.Response:
        """The definitions document (200), or 304 when `etag` still matches; any status returns."""
        ...

    def post_flags(self, body: bytes, *, timeout: float) -> http.Response:
        """One remote evaluation; `body` is the encoded request. Any status returns."""
        ...


class HttpFlagsTransport:
    """`FlagsTransport` over HTTP(S) to a PostHog host."""

    __slots__ = ("_api_key", "_definitions_url", "_flags_url", "_secret_key")

    def __init__(self, api_key: str, host: str, *, secret_key: str | None = None) -> None:
        base = host.rstrip("/")
        self._api_key = api_key
        self._secret_key = secret_key
        token = urllib.parse.quote(api_key, safe="")
        # `send_cohorts` is a bare flag, as the server's other SDKs send it.
        self._definitions_url = f"{base}{DEFINITIONS_PATH}?token={token}&send_cohorts"
        self._flags_url = base + FLAGS_PATH

    def fetch_definitions(self, *, etag: str | None, timeout: float) -> http.Response:
        headers = {"Authorization": f"Bearer {self._secret_key or ''}"}
        if etag:
            headers["If-None-Match"] = etag
        return http.request("GET", self._definitions_url, headers=headers, timeout=timeout)

    def post_flags(self, body: bytes, *, timeout: float) -> http.Response:
        return http.request(
            "POST",
            self._flags_url,
            body=body,
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"HttpFlagsTransport({redacted(self._flags_url)!r})"
