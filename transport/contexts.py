"""Live request contexts: which context is current, per thread and per asyncio task.

A context is opened with `new_context()` (or `scoped()`), collects tags and an identity
while it is open, and is closed by leaving the block. The current one lives in a
`ContextVar`, so threads start empty and asyncio tasks see a copy of their creator's, and
two concurrent requests never see each other's values. Events read the current values
through `context_values()` (or `with_context`, which merges them into a call's distinct id
and properties by the core's rules). `ContextMethods` puts these functions on a Client.

`set_default_client` names the client module-level contexts (and integrations given no
client) send escaping exceptions to; whatever sets up a process-wide default client calls it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, TypeVar, cast

import attrs
import msgspec
from hogkit.core.context import (
    NO_OVERRIDES,
    ContextValues,
    VariablesOverrides,
    apply_context,
    is_blank,
)
from hogkit.core.normalize import property_key

from .autocapture import HookedClient

__all__ = [
    "ContextMethods",
    "ExceptionSink",
    "context_values",
    "current_context",
    "default_autocapture",
    "default_client",
    "flag_identity",
    "get_context_device_id",
    "get_context_distinct_id",
    "get_context_session_id",
    "get_tags",
    "identify_context",
    "module_client",
    "new_context",
    "scoped",
    "set_capture_exception_code_variables_context",
    "set_code_variables_detect_secrets_context",
    "set_code_variables_ignore_patterns_context",
    "set_code_variables_mask_patterns_context",
    "set_code_variables_mask_url_credentials_context",
    "set_context_device_id",
    "set_context_session",
    "set_default_client",
    "tag",
    "variables_overrides",
    "with_context",
]

log = logging.getLogger("hogkit")

F = TypeVar("F", bound=Callable[..., Any])


class ExceptionSink(HookedClient, Protocol):
    """What a context needs from a client: where its escaping exceptions go
    (`capture_exception`), and whether they go there at all."""

    @property
    def enable_exception_autocapture(self) -> bool: ...


class _Scope:
    """One open context: its own values and the one it was opened inside."""

    __slots__ = (
        "capture_exceptions",
        "client",
        "device_id",
        "distinct_id",
        "fresh",
        "parent",
        "session_id",
        "tags",
        "variables",
    )

    def __init__(
        self,
        parent: _Scope | None,
        fresh: bool,
        capture_exceptions: bool,
        client: ExceptionSink | None,
    ) -> None:
        self.parent = None if fresh else parent
        self.fresh = fresh
        self.capture_exceptions = capture_exceptions
        self.client = client
        self.distinct_id: str | None = None
        self.session_id: str | None = None
        self.device_id: str | None = None
        self.tags: dict[str, Any] = {}
        self.variables = NO_OVERRIDES

    def values(self) -> ContextValues:
        """This scope's values with the unset ones taken from the scopes it inherits."""
        chain: list[_Scope] = []
        scope: _Scope | None = self
        while scope is not None:
            chain.append(scope)
            scope = scope.parent
        tags: dict[str, Any] = {}
        distinct_id = session_id = device_id = None
        for scope in reversed(chain):
            tags.update(scope.tags)
            # The setters store None for a blank value, so no value's `__bool__` runs here.
            if scope.distinct_id is not None:
                distinct_id = scope.distinct_id
            if scope.session_id is not None:
                session_id = scope.session_id
            if scope.device_id is not None:
                device_id = scope.device_id
        return ContextValues(distinct_id, session_id, device_id, tuple(tags.items()))


_current: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "hogkit_context", default=None
)
_default: list[ExceptionSink] = []


def set_default_client(client: ExceptionSink | None) -> None:
    """The client module-level contexts send escaping exceptions to when given none."""
    _default[:] = [] if client is None else [client]


current_context: Callable[[], object | None] = _current.get
"""The open context as an opaque value, or None: the cheapest test for "in a context"."""


def default_client() -> ExceptionSink | None:
    """The client for work that names none, if there is one yet: the one set with
    `set_default_client`, else `hogkit.default_client` (assigned by the application, or
    built by a module-level call)."""
    if _default:
        return _default[0]
    client = getattr(sys.modules.get("hogkit"), "default_client", None)
    return cast("ExceptionSink | None", client)


def module_client() -> ExceptionSink | None:
    """`default_client()`, built from the `hogkit.*` settings when there is none yet, as
    posthog-python's module-level calls build theirs: an exception escaping a context
    that names no client reaches the configured project even before any module call.
    Never raises (None when the client cannot be built)."""
    client = default_client()
    if client is not None or "hogkit" not in sys.modules:
        return client
    from .module_api import setup  # it imports this module

    try:
        return setup()
    except Exception:
        log.exception("building the default client failed")
        return None


def default_autocapture() -> bool:
    """Whether work that names no client captures the exceptions escaping it: as the
    default client says, else as the `hogkit.enable_exception_autocapture` setting says."""
    client = default_client()
    if client is not None:
        return bool(getattr(client, "enable_exception_autocapture", False))
    return bool(getattr(sys.modules.get("hogkit"), "enable_exception_autocapture", False))


def _reset_after_fork() -> None:
    """A forked child starts outside any context: the parent's request is not its own."""
    _current.set(None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def context_values() -> ContextValues | None:
    """The current context's values, or None outside any context (the common case, cheap)."""
    scope = _current.get()
    return None if scope is None else scope.values()


def flag_identity(distinct_id: Any, device_id: str | None) -> tuple[Any, str | None]:
    """A flag read's distinct id and device id, the current context's filling whichever the
    call left None: a read inside a request context is about the same person and device as
    the events captured there (device-bucketed flags need the device id to decide)."""
    scope = _current.get()
    if scope is None or (distinct_id is not None and device_id is not None):
        return distinct_id, device_id
    values = scope.values()
    return (
        values.distinct_id if distinct_id is None else distinct_id,
        values.device_id if device_id is None else device_id,
    )


def _sink_for(scope: _Scope) -> ExceptionSink | None:
    """The client the innermost scope that names one names, if any."""
    node: _Scope | None = scope
    while node is not None:
        if node.client is not None:
            return node.client
        node = node.parent
    return None


@contextmanager
def new_context(
    fresh: bool = False,
    capture_exceptions: bool | None = None,
    client: ExceptionSink | None = None,
) -> Iterator[None]:
    """Open a context for the `with` block; nested ones inherit unless `fresh=True`.

    With `capture_exceptions` (by default: the client's `enable_exception_autocapture`),
    an exception leaving the block is captured and then re-raised unchanged; clients
    capture an exception object once, so nested contexts do not repeat it.
    """
    parent = _current.get()
    if capture_exceptions is None:
        sink = client or (_sink_for(parent) if parent is not None else None)
        capture_exceptions = (
            default_autocapture()
            if sink is None
            else bool(getattr(sink, "enable_exception_autocapture", False))
        )
    scope = _Scope(parent, fresh, capture_exceptions, client)
    token = _current.set(scope)
    try:
        yield
    except Exception as exc:
        if scope.capture_exceptions:
            try:
                sink = _sink_for(scope) or module_client()
                if sink is not None:
                    sink.capture_exception(exc)
            except Exception:
                log.exception("capturing a context's exception failed")
        raise
    finally:
        try:
            _current.reset(token)
        except ValueError:  # left in another contextvars.Context (e.g. a generator)
            _current.set(parent)


def scoped(
    fresh: bool = False,
    capture_exceptions: bool | None = None,
    client: ExceptionSink | None = None,
) -> Callable[[F], F]:
    """A decorator running each call of a function (sync or async) in its own context."""

    def decorate(func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with new_context(fresh, capture_exceptions, client):
                    return await func(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with new_context(fresh, capture_exceptions, client):
                return func(*args, **kwargs)

        return cast(F, run)

    return decorate


def tag(name: str, value: Any) -> None:
    """Add a tag (an event property) to the current context; outside one it does nothing.

    The tag is kept under the property name it becomes (see `property_key`), so a name that
    is not text (a number, None, even an unhashable list) is kept, and merged into events,
    exactly as the same key in `properties=` would be.
    """
    scope = _current.get()
    if scope is not None:
        scope.tags[property_key(name)] = value


def get_tags() -> dict[str, Any]:
    """A copy of the current context's tags, inherited ones included."""
    values = context_values()
    return {} if values is None else dict(values.tags)


def identify_context(distinct_id: str) -> None:
    """Events in this context (and its children) without a distinct id get this one."""
    scope = _current.get()
    if scope is not None:
        scope.distinct_id = None if is_blank(distinct_id) else distinct_id


def set_context_session(session_id: str) -> None:
    """Events in this context (and its children) get this `$session_id`."""
    scope = _current.get()
    if scope is not None:
        scope.session_id = None if is_blank(session_id) else session_id


def set_context_device_id(device_id: str) -> None:
    """Events in this context (and its children) get this `$device_id`."""
    scope = _current.get()
    if scope is not None:
        scope.device_id = None if is_blank(device_id) else device_id


def get_context_distinct_id() -> str | None:
    """The distinct id the current context gives events, if any."""
    values = context_values()
    return None if values is None else values.distinct_id


def get_context_session_id() -> str | None:
    """The session id the current context gives events, if any."""
    values = context_values()
    return None if values is None else values.session_id


def get_context_device_id() -> str | None:
    """The device id the current context gives events, if any."""
    values = context_values()
    return None if values is None else values.device_id


def variables_overrides() -> VariablesOverrides | None:
    """The current context's code-variable settings (inherited ones included), or None
    outside any context."""
    scope: _Scope | None = _current.get()
    if scope is None:
        return None
    found = NO_OVERRIDES
    while scope is not None:
        found = found.under(scope.variables)
        scope = scope.parent
    return found


def _override(**changes: Any) -> None:
    scope = _current.get()
    if scope is not None:
        scope.variables = msgspec.structs.replace(scope.variables, **changes)


def set_capture_exception_code_variables_context(enabled: bool) -> None:
    """Whether exceptions captured in this context (and its children) carry the local
    variables of their in-app frames, whatever the client's setting."""
    _override(enabled=bool(enabled))


def set_code_variables_mask_patterns_context(mask_patterns: Iterable[str] | None) -> None:
    """Variable names (and text) matching these patterns are masked in this context,
    in place of the client's `code_variables_mask_patterns`."""
    _override(mask_patterns=None if mask_patterns is None else tuple(mask_patterns))


def set_code_variables_ignore_patterns_context(ignore_patterns: Iterable[str] | None) -> None:
    """Variables whose names match these patterns are left out in this context, in place
    of the client's `code_variables_ignore_patterns`."""
    _override(ignore_patterns=None if ignore_patterns is None else tuple(ignore_patterns))


def set_code_variables_mask_url_credentials_context(enabled: bool) -> None:
    """Whether `user:password@` in URLs is masked in this context's variables."""
    _override(mask_url_credentials=bool(enabled))


def set_code_variables_detect_secrets_context(enabled: bool) -> None:
    """Whether random-looking tokens in this context's variables are masked."""
    _override(detect_secrets=bool(enabled))


def with_context(
    distinct_id: Any, properties: Mapping[str, Any] | None, *, person: bool = False
) -> tuple[Any, Mapping[str, Any] | None]:
    """A call's distinct id and properties with the current context's values merged in.

    Outside any context they come back unchanged. `person=True` is for person updates
    (`$set`, `$set_once`): the device id describes a browser, not the person, so it stays out.
    """
    scope = _current.get()
    if scope is None:
        return distinct_id, properties
    values = scope.values()
    if person:
        values = attrs.evolve(values, device_id=None)
    try:
        return apply_context(values, distinct_id, properties)
    except Exception:
        # `properties` cannot be read (a mapping whose iteration raises): the call's own
        # event builder meets the same failure inside the method's error path, which
        # reports it (or raises it with debug); merging here must not raise past that path.
        return distinct_id, properties


class ContextMethods:
    """The context functions as a Client's methods: contexts it opens send their escaping
    exceptions to `sink` (the client's exception capture)."""

    def __init__(self, sink: ExceptionSink) -> None:
        self._sink = sink

    def new_context(
        self, fresh: bool = False, capture_exceptions: bool | None = None
    ) -> AbstractContextManager[None]:
        """A context whose escaping exceptions this client captures (see `new_context`)."""
        return new_context(fresh, capture_exceptions, self._sink)

    def scoped(
        self, fresh: bool = False, capture_exceptions: bool | None = None
    ) -> Callable[[F], F]:
        """Run each call of the decorated function in a `new_context` of this client."""
        return scoped(fresh, capture_exceptions, self._sink)

    def tag(self, name: str, value: Any) -> None:
        """Tag the current context: events captured in it get `name` as a property."""
        tag(name, value)

    def get_tags(self) -> dict[str, Any]:
        """The current context's tags (a copy)."""
        return get_tags()

    def identify_context(self, distinct_id: str) -> None:
        """The distinct id for events in the current context that name none."""
        identify_context(distinct_id)

    def set_context_session(self, session_id: str) -> None:
        """The `$session_id` for events in the current context."""
        set_context_session(session_id)

    def set_context_device_id(self, device_id: str) -> None:
        """The `$device_id` for events in the current context."""
        set_context_device_id(device_id)
