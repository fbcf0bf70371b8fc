"""Which server events go to, from the host a user configured.

Users often paste the address of PostHog's web app; events must go to the ingestion host
instead, so the Cloud app hosts map to their ingestion hosts as posthog-python 7.91.1 maps
them. Any other host is used as given and must include its protocol.
"""

from __future__ import annotations

import urllib.parse

from hogkit.core.errors import HogkitError

__all__ = [
    "DEFAULT_HOST",
    "EU_INGESTION",
    "US_INGESTION",
    "InvalidHost",
    "ingestion_host",
    "redacted",
]

DEFAULT_HOST = "https://us.i.posthog.com"
US_INGESTION = "https://us.i.posthog.com"
EU_INGESTION = "https://eu.i.posthog.com"

_APP_TO_INGESTION = {
    "https://app.posthog.com": US_INGESTION,
    "https://us.posthog.com": US_INGESTION,
    "https://eu.posthog.com": EU_INGESTION,
}


class InvalidHost(HogkitError, ValueError):
    """A host that is not an `http://` or `https://` URL with a host name and a valid port
    (posthog-python accepts it and then fails on every send instead)."""


def ingestion_host(host: str | None) -> str:
    """The base URL to send to, without a trailing slash. Blank means PostHog US Cloud.

    Checked here, once, so a typo is one clear message at construction rather than a
    traceback per batch. Messages never show a password the URL carries.
    """
    given = (host or "").strip()
    text = given.rstrip("/")
    if not text:
        return DEFAULT_HOST
    shown = redacted(text)
    scheme, separator, _rest = given.partition("://")
    if not separator:
        raise InvalidHost(f"host {shown!r} must include the protocol, e.g. 'https://{shown}'")
    if scheme.lower() not in ("http", "https"):
        raise InvalidHost(f"host {shown!r}: the protocol must be http:// or https://")
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018  # raises ValueError for a port out of range or not a number
    except ValueError:
        raise InvalidHost(f"host {shown!r} is not a valid URL (address or port)") from None
    if not parts.hostname:
        raise InvalidHost(f"host {shown!r} has no host name")
    return _APP_TO_INGESTION.get(text, text)


def redacted(url: str) -> str:
    """`url` with any password in it masked, for reprs and messages."""
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        password = None
        parts = None
    if parts is None or password is None:
        at = url.rfind("@")
        scheme_end = url.find("://")
        if at > scheme_end >= 0 and ":" in url[scheme_end + 3 : at]:
            user = url[scheme_end + 3 : at].split(":", 1)[0]
            return f"{url[: scheme_end + 3]}{user}:***{url[at:]}"
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urllib.parse.urlunsplit(parts._replace(netloc=user + netloc))
