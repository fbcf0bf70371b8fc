"""Which server events go to, from the host a user configured.

Users often paste the address of PostHog's web app; events must go to the ingestion host
instead, so the Cloud app hosts map to their ingestion hosts as posthog-python 7.91.1 maps
them. Any other host is used as given and must include its protocol.
"""

from __future__ import annotations

from hogkit.core.errors import HogkitError

__all__ = [
    "DEFAULT_HOST",
    "EU_INGESTION",
    "US_INGESTION",
    "InvalidHost",
    "ingestion_host",
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
    """A host without `http://` or `https://` (posthog-python fails on every send instead)."""


def ingestion_host(host: str | None) -> str:
    """The base URL to send to, without a trailing slash. Blank means PostHog US Cloud."""
    text = (host or "").strip().rstrip("/")
    if not text:
        return DEFAULT_HOST
    if not text.lower().startswith(("http://", "https://")):
        raise InvalidHost(f"host {text!r} must include the protocol, e.g. 'https://{text}'")
    return _APP_TO_INGESTION.get(text, text)
