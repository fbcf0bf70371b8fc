"""What every web integration does with a request: identity headers and request properties.

The frameworks differ only in how they expose headers, URL and method; each integration
passes those in and this module decides what goes into the request's context.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, overload

from hogkit.transport import contexts

T = TypeVar("T")

__all__ = [
    "DISTINCT_ID_HEADER",
    "SESSION_ID_HEADER",
    "captures_exceptions",
    "clean_header",
    "identify_request",
    "older_name",
    "report_exception",
    "request_properties",
    "tag_request",
    "tracing_headers_setting",
]

DISTINCT_ID_HEADER = "X-POSTHOG-DISTINCT-ID"
SESSION_ID_HEADER = "X-POSTHOG-SESSION-ID"
_MAX_HEADER = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_header(value: object, limit: int = _MAX_HEADER) -> str | None:
    """A header (or other client-sent) value safe to use as an id or property: text
    without control characters or surrounding blanks, at most `limit` characters."""
    if not isinstance(value, str):
        return None
    return _CONTROL.sub("", value).strip()[:limit] or None


def request_properties(
    url: str | None,
    method: str | None,
    path: str | None,
    forwarded_for: str | None = None,
    user_agent: str | None = None,
) -> dict[str, Any]:
    """The properties every event of a request carries."""
    props: dict[str, Any] = {}
    for key, value in (
        ("$current_url", url),
        ("$request_method", method),
        ("$request_path", path),
        ("$ip", forwarded_for),
        ("$user_agent", user_agent),
        ("$raw_user_agent", user_agent),
    ):
        if value:
            props[key] = value
    return props


def identify_request(
    header: Callable[[str], object],
    *,
    read_headers: bool = True,
    fallback_distinct_id: str | None = None,
) -> None:
    """Give the current (just opened) context the request's identity and session.

    The distinct id header wins over `fallback_distinct_id` (e.g. the logged-in user);
    `read_headers=False` ignores the headers for apps that do not trust their clients.
    Integrations call this before any application callback runs, so an error such a
    callback raises is still reported as the request's person's.
    """
    distinct_id = fallback_distinct_id
    if read_headers:
        distinct_id = clean_header(_get(header, DISTINCT_ID_HEADER)) or distinct_id
        session_id = clean_header(_get(header, SESSION_ID_HEADER))
        if session_id:
            contexts.set_context_session(session_id)
    if distinct_id:
        contexts.identify_context(distinct_id)


def tag_request(properties: Mapping[str, Any] | None) -> None:
    """Tag the current context with `properties` (nothing for None or an empty mapping)."""
    for key, value in (properties or {}).items():
        contexts.tag(key, value)


def _get(header: Callable[[str], object], name: str) -> object:
    try:
        return header(name)
    except Exception:
        return None


def tracing_headers_setting(capture: object, trust: object, names: tuple[str, str]) -> bool:
    """Whether identity headers are read: `capture` (the current name) when given, else
    `trust` (its older name, `names[1]`, which warns), else yes. A value that is not a
    bool reads as no: a misspelt setting must not start trusting client headers."""
    if trust is not None:
        warnings.warn(
            f"{names[1]} is deprecated; use {names[0]} instead.", DeprecationWarning, stacklevel=3
        )
    chosen = capture if capture is not None else trust
    if chosen is None:
        return True
    return chosen if isinstance(chosen, bool) else False


def captures_exceptions(capture_exceptions: bool | None, client: Any) -> bool:
    """Whether a framework hook captures the exceptions it sees: as the application said,
    else as the client (`client`, else the default client or setting) autocaptures."""
    if capture_exceptions is not None:
        return capture_exceptions
    if client is None:
        return contexts.default_autocapture()
    return bool(getattr(client, "enable_exception_autocapture", False))


def report_exception(
    client: Any, exc: BaseException, source: str, mechanism: str, *, handled: bool = False
) -> None:
    """Capture an exception a framework caught (`client`, else the module's client);
    `handled` says whether the framework answered it with a response of its own.

    The client captures an exception object once, so a framework hook and an enclosing
    context that both see it still send one event. Never raises into the framework.
    """
    target = client if client is not None else contexts.module_client()
    if target is None:
        return
    try:
        target.capture_exception(
            exc, source=source, mechanism={"type": mechanism, "handled": handled}
        )
    except Exception:
        contexts.log.exception("capturing a request's exception failed")


class older_name(Generic[T]):
    """`old = older_name[T]("new")` in a class body: an attribute's older name (posthog-python's
    name for the setting), read and written through to the current one, so applications
    that still use it keep working."""

    def __init__(self, current: str) -> None:
        self.current = current
        self.__doc__ = f"`{current}`'s older name."

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> older_name[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        return self if obj is None else getattr(obj, self.current)

    def __set__(self, obj: object, value: T) -> None:
        setattr(obj, self.current, value)
