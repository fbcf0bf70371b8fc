"""`AsyncClient`: the Client's engine for asyncio applications, awaiting only the network.

Flag evaluation is local-first here too. An `AsyncClient` composes a plain `Client` (so the
event builders, the queue and its worker thread, the flag service, the definitions poller
and every option are the very same objects and code) and adds an `AsyncTransport` for the
two requests a coroutine has to wait for:

* `evaluate_flags` runs the flag service's `plan` synchronously on the loop (local
  evaluation takes microseconds; a thread hop would cost more than it saves) and awaits
  only the `/flags` request for what local evaluation could not decide, which the
  service's `complete` then merges, exactly as the blocking client does.
* `get_remote_config_payload` awaits one request.

Nothing else waits on the loop. Captures go to the same bounded queue as the sync client's
(a list append; it never blocks; the event methods are `async_events.py`'s), and the worker
thread sends batches. `flush` and
`shutdown` wait for that worker in a thread (`asyncio.to_thread`), bounded by their
timeout. Definitions come from the poller thread, the one the sync client runs: a thread
and not a task because it keeps refreshing while the loop is busy or blocked, serves every
loop the client is used from, compiles large definitions off the loop's own turns, and is
the same code (ETags, backoff, fork handling) the sync client relies on. Or they come from
`flag_definitions=` (a file, no network) or a definitions cache provider, as `Client` takes
them. The first evaluation awaits the first download (bounded by the flags timeout, once)
in a thread, instead of blocking the loop the way the sync client's first call blocks
its caller.

Context variables (contexts, tags) follow each task as they follow each thread: every
method reads them on the calling task, before anything is queued.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .async_events import AsyncEvents, fail
from .async_flags import AsyncFlags
from .async_http import AsyncTransport, default_async_transport
from .client import Client
from .contexts import ContextMethods
from .evaluations import FlagEvaluations
from .event_methods import EventMethods
from .flags import FlagService
from .flags_transport import FlagsTransport
from .forward import attribute, forward
from .lifecycle import wait_seconds
from .remote_flags import OnceLog

__all__ = ["AsyncClient"]

log = logging.getLogger("hogkit.transport.async")

Groups = Mapping[str, Any] | None
GroupProperties = Mapping[str, Mapping[str, Any]] | None

_CLOSE_TIMEOUT = 1.0
"""Seconds `shutdown` gives the async transport to close its connections."""


def _sync_flags_transport(options: Mapping[str, Any]) -> FlagsTransport | None:
    """The sync flags transport `Client` uses, if the caller supplied one (as
    `flags_transport`, or a `transport` that also serves flags)."""
    given = options.get("flags_transport")
    if given is None and isinstance(options.get("transport"), FlagsTransport):
        given = options["transport"]
    return given if isinstance(given, FlagsTransport) else None


# posthog-python's `AsyncClient` options after the key and host, in its positional order
# (which differs from its `Client`'s), so a positional call means what it means there.
_POSITIONAL_OPTIONS = (
    "debug",
    "max_queue_size",
    "send",
    "on_error",
    "flush_at",
    "flush_interval",
    "gzip",
    "max_retries",
    "timeout",
    "thread",
    "disabled",
    "disable_geoip",
    "is_server",
    "historical_migration",
    "super_properties",
    "before_send",
    "log_captured_exceptions",
    "project_root",
    "capture_exception_code_variables",
    "code_variables_mask_patterns",
    "code_variables_ignore_patterns",
    "code_variables_mask_url_credentials",
    "code_variables_detect_secrets",
    "in_app_modules",
    "capture_mode",
    "capture_compression",
    "capture_trace_context",
    "secret_key",
    "personal_api_key",
    "feature_flags_request_timeout_seconds",
    "feature_flags_request_max_retries",
    "app_host",
    "email_request_timeout_seconds",
    "email_request_max_retries",
    "migrated_from",
)


def _named(given: tuple[Any, ...], options: dict[str, Any]) -> dict[str, Any]:
    """`options` with the options `given` by position added under their names; a
    TypeError, as for any Python call, for too many or one given twice."""
    if len(given) > len(_POSITIONAL_OPTIONS):
        raise TypeError(
            f"AsyncClient takes at most {len(_POSITIONAL_OPTIONS) + 2} positional arguments"
        )
    for name, value in zip(_POSITIONAL_OPTIONS[: len(given)], given, strict=True):
        if name in options:
            raise TypeError(f"AsyncClient got multiple values for argument {name!r}")
        options[name] = value
    return options


class AsyncClient:
    """A PostHog client for asyncio code: `await client.evaluate_flags(...)`, `capture(...)`.

    Takes `Client`'s options, by name or in posthog's `AsyncClient` order, but not
    `sync_mode` or `block_when_full` (a capture must not wait); `async_transport` performs
    the awaited requests (aiohttp with the `async` extra, else threads). Reuse one per process.
    """

    def __init__(
        self,
        project_api_key: str,
        host: str | None = None,
        *given: Any,
        async_transport: AsyncTransport | None = None,
        **options: Any,
    ) -> None:
        options = _named(given, options)
        # Either would make a capture wait on the loop: for the network, or for queue room.
        if options.pop("sync_mode", False):
            log.warning("AsyncClient ignores sync_mode=True: captures never wait on the network")
        if options.pop("block_when_full", 0):
            log.warning("AsyncClient ignores block_when_full: a capture never waits for room")
        self._client = Client(project_api_key, host, **options)
        self._flags: FlagService = self._client.flag_service
        self._secret_key: str | None = self._client.options.secret
        self._transport = async_transport or default_async_transport(
            self._client.api_key,
            self._client.host or "http://127.0.0.1",
            secret_key=self._secret_key,
            flags_transport=_sync_flags_transport(options),
        )
        self._notes = OnceLog()
        self._evaluator = AsyncFlags(self._flags, self._transport)
        self._events = AsyncEvents(self._client, self._flags)

    def __repr__(self) -> str:
        return f"AsyncClient(host={self._client.host!r}, transport={self._transport!r})"

    log = Client.log
    """The `hogkit` logger, as `Client.log` (posthog-python's `AsyncClient.log`)."""

    # -- settings -------------------------------------------------------------------------------

    @property
    def client(self) -> Client:
        """The `Client` underneath: the same queue, worker, flag service and settings."""
        return self._client

    @property
    def async_transport(self) -> AsyncTransport:
        return self._transport

    @property
    def flag_service(self) -> FlagService:
        """The flag collaborator (see `Client.flag_service`)."""
        return self._flags

    disabled = attribute[bool]("_client", "disabled", "True when the client sends nothing.")
    super_properties = attribute[Mapping[str, Any] | None](
        "_client", "super_properties", "Properties every event carries (see the Client's)."
    )
    closed = attribute[bool]("_client", "closed", "True once shut down.", writable=False)

    # -- events: the Client's own methods (a list append each; none waits) ---------------------

    # The Client's, but a caller's uuid is read as posthog-python's AsyncClient reads it,
    # and `send_feature_flags` attaches only local values (see `async_events`).

    identify = forward("_client", EventMethods.identify)
    pageview = forward("_client", EventMethods.pageview)
    set = forward("_events", AsyncEvents.set)
    set_once = forward("_events", AsyncEvents.set_once)
    alias = forward("_events", AsyncEvents.alias)
    group_identify = forward("_events", AsyncEvents.group_identify)
    capture = forward("_events", AsyncEvents.capture)
    capture_exception = forward("_events", AsyncEvents.capture_exception)

    # -- contexts: each asyncio task sees its own (see `contexts.py`) --------------------------

    new_context = forward("_client", ContextMethods.new_context)
    scoped = forward("_client", ContextMethods.scoped)
    tag = forward("_client", ContextMethods.tag)
    get_tags = forward("_client", ContextMethods.get_tags)
    identify_context = forward("_client", ContextMethods.identify_context)
    set_context_session = forward("_client", ContextMethods.set_context_session)
    set_context_device_id = forward("_client", ContextMethods.set_context_device_id)

    async def capture_immediate(
        self,
        event: str,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        uuid: Any = None,
        groups: Mapping[str, Any] | None = None,
        flags: Any = None,
        disable_geoip: bool | None = None,
        send_feature_flags: Any = None,
        **unknown: Any,
    ) -> str | None:
        """`capture`, then await its delivery (and that of everything queued before it);
        its uuid once delivered, None if it was not accepted or not delivered in 10 s."""
        event_id = self.capture(
            event,
            distinct_id=distinct_id,
            properties=properties,
            timestamp=timestamp,
            uuid=uuid,
            groups=groups,
            flags=flags,
            disable_geoip=disable_geoip,
            send_feature_flags=send_feature_flags,
            **unknown,
        )
        if event_id is None or not await self.flush():
            return None
        return event_id

    # -- feature flags --------------------------------------------------------------------------

    async def evaluate_flags(
        self,
        distinct_id: Any = None,
        *,
        person_properties: Mapping[str, Any] | None = None,
        groups: Groups = None,
        group_properties: GroupProperties = None,
        flag_keys: Sequence[str] | None = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> FlagEvaluations:
        """Evaluate a person's flags once (see `Client.evaluate_flags`).

        Local evaluation runs on the loop; only flags it cannot decide are awaited from
        PostHog, in one request bounded by `feature_flags_request_timeout_seconds`. Without
        a `distinct_id` (or `device_id`), the current task's context supplies it. Once
        shut down it answers nothing and asks nothing, as posthog-python's AsyncClient.
        """
        if self._client.closed:
            return FlagEvaluations("")
        try:
            return await self._evaluator.evaluate(
                distinct_id,
                person_properties,
                groups,
                group_properties,
                flag_keys,
                only_evaluate_locally,
                disable_geoip,
                device_id,
            )
        except Exception as exc:
            fail(self._client, "evaluate_flags", exc)
            return FlagEvaluations("")

    async def get_remote_config_payload(self, key: str) -> Any:
        """The decrypted payload of remote-config flag `key` (needs `secret_key`), or None."""
        if self._client.disabled or self._client.closed:
            return None
        if not self._secret_key:
            self._notes.once(
                "remote-config",
                logging.WARNING,
                "get_remote_config_payload needs a secret_key; returning None",
            )
            return None
        try:
            return await self._evaluator.remote_config(key)
        except Exception as exc:
            fail(self._client, "get_remote_config_payload", exc)
            return None

    def feature_flag_definitions(self) -> Any:
        """The compiled definitions in force (a `FlagSet`), or None when none are loaded."""
        return self._flags.flagset

    async def load_feature_flags(self) -> bool:
        """Download the flag definitions now, in a thread; True when the server answered."""
        return await asyncio.to_thread(self._client.load_feature_flags)

    # -- lifecycle ------------------------------------------------------------------------------

    async def flush(self, timeout_seconds: float | None = 10.0) -> bool:
        """Wait (in a thread, never on the loop) until everything captured so far was sent;
        True when all of it was delivered within `timeout_seconds` (None: 10 s)."""
        timeout = wait_seconds(timeout_seconds, "flush")
        return await asyncio.to_thread(self._client.flush, timeout)

    async def shutdown(self, timeout: float = 10.0) -> bool:
        """Flush within `timeout` seconds, stop the worker and the poller, close connections.

        Returns whether everything captured was delivered. Idempotent; later captures are
        refused.
        """
        timeout = wait_seconds(timeout, "shutdown")
        deadline = time.monotonic() + timeout
        delivered = await asyncio.to_thread(self._client.shutdown, timeout)
        try:
            close_within = min(_CLOSE_TIMEOUT, max(0.0, deadline - time.monotonic()))
            await asyncio.wait_for(self._transport.aclose(), max(0.001, close_within))
        except Exception as exc:  # timed out or failed: its sockets go with the loop
            log.debug("closing the async transport failed: %s", type(exc).__name__)
        return delivered

    async def join(self) -> None:
        """posthog-python's name for `shutdown()`."""
        await self.shutdown()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()
