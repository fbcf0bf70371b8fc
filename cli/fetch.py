"""`hogkit fetch`: one GET of `/flags/definitions` through the shell's HTTP layer.

It asks the host the Client would ask (`hosts.ingestion_host`), at the path the poller uses,
through the same `http.request`; unlike the poller it sends `token` only when given one, since
a project secret key alone identifies the project.

Every failure becomes a `CliError` worded for the person at the terminal. Messages name the
host and status, never the key: the HTTP layer already keeps credentials out of its own
errors, and anything quoted from the server's body is redacted here.
"""

from __future__ import annotations

import json
import urllib.parse

from hogkit.transport.flags_transport import DEFINITIONS_PATH
from hogkit.transport.hosts import InvalidHost, ingestion_host
from hogkit.transport.http import HttpError, Response, detail_of, request

from .input import CliError

__all__ = [
    "fetch_definitions",
    "server_host",
]


def server_host(host: str) -> str:
    """The host to ask, as the Client would choose it (app hosts map to ingestion hosts)."""
    try:
        base = ingestion_host(host)
    except InvalidHost:
        raise CliError(
            f"fetch: --host {host!r} must include the protocol, e.g. https://us.i.posthog.com"
        ) from None
    if not host.strip():
        raise CliError("fetch: --host is empty")
    return base


def fetch_definitions(
    host: str, *, secret_key: str, project_api_key: str | None, timeout: float
) -> bytes:
    """The project's definitions document, exactly as the server sent it."""
    base = server_host(host)
    shown = base + DEFINITIONS_PATH
    query = "send_cohorts"
    if project_api_key:
        query = urllib.parse.urlencode({"token": project_api_key}) + "&" + query
    try:
        response = request(
            "GET",
            f"{shown}?{query}",
            headers={"Authorization": f"Bearer {secret_key}", "Accept": "application/json"},
            timeout=timeout,
        )
    except HttpError as exc:
        raise CliError(f"fetch: {exc}") from None
    secrets = [secret_key, project_api_key or ""]
    if response.status != 200:
        raise CliError(_status_message(response, shown, secrets))
    _reject_quota_limited(response.body, shown)
    return response.body


def _status_message(response: Response, shown: str, secrets: list[str]) -> str:
    status = response.status
    if status == 401:
        return (
            f"fetch: {shown} rejected the secret key (HTTP 401); check that it is a project "
            "secret key or personal API key for this host"
        )
    if status == 402:
        return f"fetch: {shown} says the project's feature flag quota is used up (HTTP 402)"
    if status == 403:
        return (
            f"fetch: {shown} refused access (HTTP 403); a personal API key needs the "
            "feature flag read scope, and --project-api-key"
        )
    detail = detail_of(response, secrets)
    return f"fetch: {shown} answered HTTP {status}" + (f": {detail}" if detail else "")


def _reject_quota_limited(body: bytes, shown: str) -> None:
    """A 200 can still carry `quotaLimited: ["feature_flags"]` and no usable flags."""
    try:
        document = json.loads(body)
    except ValueError:
        return  # the caller's definitions check reports the invalid JSON
    if isinstance(document, dict):
        limited = document.get("quotaLimited")
        if isinstance(limited, list) and "feature_flags" in limited:
            raise CliError(f"fetch: {shown} says the project's feature flag quota is used up")
