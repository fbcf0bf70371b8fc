"""The Client's feature-flag service: local evaluation first, one `/flags` request for the rest.

Order of business for `evaluate`:
1. the definitions in force (offline file, or the poller's latest; the very first call may
   wait for the first download, bounded by the flags timeout, once);
2. the core evaluates every (requested) flag locally;
3. flags the core left unresolved, and requested keys it has no definition for, go to the
   server in ONE request — unless `only_evaluate_locally`, or the client is offline;
4. server records fill only the gaps: a local value is never replaced by a remote one.
A failed, slow (bounded by `request_timeout`) or quota-limited request leaves what local
evaluation gave, and the snapshot's reads report the problem in `$feature_flag_error`.

The service is also the snapshots' `FlagCalledSink`, through its `FlagReporter`
(see `flag_reporting`), which deduplicates and emits the flag events.
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
import uuid as _uuid
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from hogkit.core import FlagSet
from hogkit.core.call_inputs import groups_as_text
from hogkit.core.context import is_blank
from hogkit.core.event import Event, EventContext
from hogkit.core.flag_requests import needs_remote
from hogkit.core.flags_request import encode_flags_request

from .contexts import current_context, flag_identity
from .dedup import DEFAULT_CAPACITY
from .evaluations import FlagEvaluations
from .fallback_cache import open_fallback
from .flag_lookups import FlagLookups
from .flag_reporting import FlagReporter
from .flags_transport import FlagsTransport, HttpFlagsTransport
from .local_definitions import Definitions, load_definitions, open_definitions
from .poller import DefinitionsPoller
from .remote_flags import FlagsRequest, OnceLog, RemoteFlags

__all__ = ["DEFAULT_REQUEST_TIMEOUT", "Definitions", "FlagService", "load_definitions"]

log = logging.getLogger("hogkit.transport.flags")

DEFAULT_REQUEST_TIMEOUT = 3.0
"""`feature_flags_request_timeout_seconds`: the most one `evaluate` waits on the network."""

_NOTHING: Mapping[str, Any] = MappingProxyType({})

# A C-level callable: a flag read asks for the time once, and a Python frame costs more.
_utc_now: Callable[[], _dt.datetime] = functools.partial(_dt.datetime.now, _dt.timezone.utc)


class FlagService:
    """Definitions, local evaluation, the remote fallback and flag-called reporting."""

    def __init__(
        self,
        api_key: str,
        *,
        host: str,
        secret_key: str | None = None,
        flags_transport: FlagsTransport | None = None,
        poll_interval: float = 30.0,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        request_retries: int = 1,
        flag_definitions: Definitions | None = None,
        enable_local_evaluation: bool = True,
        disable_geoip: bool = True,
        disabled: Callable[[], bool] = lambda: False,
        emit: Callable[[Event], object] | None = None,
        context: EventContext | None = None,
        dedup_capacity: int = DEFAULT_CAPACITY,
        now: Callable[[], _dt.datetime] = _utc_now,
        event_time: Callable[[], _dt.datetime | str | float] | None = None,
        new_uuid: Callable[[], str] | None = None,
        definitions_cache: Any = None,
        follower_only: bool = False,
        fallback_cache_url: str | None = None,
    ) -> None:
        """`now` is the evaluation clock (an aware datetime, as the core needs);
        `event_time` and `new_uuid` stamp `$feature_flag_called` the way the client's
        capture path stamps its events (both default to slower stdlib equivalents).
        `emit(event)` is truthy when the event is settled (queued, or dropped by the
        application's `before_send`); a falsy answer frees its dedup key for a later read.
        `definitions_cache` shares downloaded definitions between processes (a provider
        object, see `definitions_cache`); with `follower_only` this process never downloads
        them itself. `fallback_cache_url` names where `/flags` answers are remembered for
        when the server fails (see `fallback_cache`)."""
        self._api_key = api_key
        self._secret_key = secret_key or None
        self._transport: FlagsTransport = flags_transport or HttpFlagsTransport(
            api_key, host, secret_key=self._secret_key
        )
        self.request_timeout = max(0.0, float(request_timeout))
        self.disable_geoip = disable_geoip
        # The client's switch, read on every call: `client.disabled = True` stops reads at once.
        self._disabled = disabled
        self._now = now
        self.reporter = FlagReporter(
            emit,
            context or EventContext(disable_geoip=disable_geoip),
            event_time or now,
            new_uuid or (lambda: str(_uuid.uuid4())),
            dedup_capacity,
        )
        # The snapshots' `FlagCalledSink` parts, bound once (read on every reported flag).
        self.reported = self.reporter.reported
        self.exposed = self.reporter.exposed
        self.report = self.reporter.report
        self.claim = self.reporter.claim
        self.send = self.reporter.send
        self.expose = self.reporter.expose
        self._notes = OnceLog()
        self.remote = RemoteFlags(
            self._transport,
            self.request_timeout,
            self._notes,
            max(0, int(request_retries)),
            open_fallback(fallback_cache_url, api_key),
        )
        if follower_only and definitions_cache is None:
            log.warning("flag_definitions_follower_only needs a cache provider; ignored")
        self.local = open_definitions(
            self._transport,
            self.request_timeout,
            flag_definitions,
            # Built also while disabled: the poller starts only at the first read or load,
            # which a disabled client never makes, so enabling it later loads definitions.
            poller=bool(self._secret_key or (definitions_cache is not None and follower_only)),
            poll_interval=poll_interval,
            refresh=enable_local_evaluation,
            definitions_cache=definitions_cache,
            follower_only=follower_only,
        )
        # The one seam where the local definitions are read (`flagset`, `definitions`) and
        # replaced (`replace_definitions`); `on_change` listeners hear of every new set.
        self.definitions = self.local.definitions
        self.replace_definitions = self.local.replace_definitions
        self.on_change = self.local.on_change
        self.after_fork = self.local.after_fork
        self.status = self.local.status
        self.lookups = FlagLookups(api_key, self.local, self.remote, now, disable_geoip, self)
        self.complete = self.lookups.complete
        self.local_value = self.lookups.local_value
        self.evaluate_locally = self.lookups.evaluate_locally
        self.ask = self.lookups.ask
        self.remembered = self.lookups.remembered

    @property
    def trace_context(self) -> bool:
        """`capture_trace_context`: flag events carry the active span's ids."""
        return self.reporter.trace_context

    @trace_context.setter
    def trace_context(self, value: bool) -> None:
        self.reporter.trace_context = value

    @property
    def event_context(self) -> EventContext:
        """What every flag event shares (super properties, system properties, GeoIP)."""
        return self.reporter.context

    @event_context.setter
    def event_context(self, context: EventContext) -> None:
        self.reporter.context = context

    # ------------------------------------------------------------------ definitions

    @property
    def flagset(self) -> FlagSet | None:
        """The definitions in force right now (never waits)."""
        return self.local.flagset

    @property
    def offline(self) -> bool:
        """True when flags are never asked of the server (definitions given, not downloaded)."""
        return self.local.local_only

    @property
    def poller(self) -> DefinitionsPoller | None:
        """The poller downloading definitions, if any."""
        return self.local.poller

    @property
    def loads_nothing(self) -> bool:
        """True when `load_feature_flags` has nothing to download from: the client is
        disabled or has no personal API key, and was given no definitions."""
        return not self.offline and (self._disabled() or self.poller is None)

    def reload(self) -> bool:
        """Download the definitions now (`load_feature_flags`); nothing while the client is
        disabled, since a disabled client makes no requests. True when the server answered."""
        return False if self._disabled() else self.local.reload()

    def shutdown(self, timeout: float = 1.0) -> None:
        self.local.stop(timeout)
        self.reporter.clear()

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self,
        distinct_id: object,
        person_properties: Mapping[str, Any] | None = None,
        groups: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        flag_keys: Sequence[str] | None = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> FlagEvaluations:
        """See the module docstring. Never raises; never waits longer than the flags timeout
        (plus, once per process, the first definitions download's wait).

        Positional parameters (in `Client.evaluate_flags`' order) because this is the hot
        path: a keyword call of this size costs about as much as the rest of the shell's work.
        """
        step = self.plan(
            True,
            distinct_id,
            person_properties,
            groups,
            group_properties,
            flag_keys,
            only_evaluate_locally,
            disable_geoip,
            device_id,
        )
        if type(step) is FlagsRequest:
            return self.complete(step, self.remote.request(step.body))
        return step  # type: ignore[return-value]

    def plan(
        self,
        wait: bool,
        distinct_id: object,
        person_properties: Mapping[str, Any] | None,
        groups: Mapping[str, Any] | None,
        group_properties: Mapping[str, Mapping[str, Any]] | None,
        flag_keys: Sequence[str] | None,
        only_evaluate_locally: bool,
        disable_geoip: bool | None,
        device_id: str | None,
        *,
        group_keys: bool = True,
        text_groups: bool = False,
    ) -> FlagEvaluations | FlagsRequest:
        """Steps 1-3 of `evaluate`: the snapshot when local evaluation settles the call, or
        the `/flags` request still to perform (then `complete` merges its outcome).

        `wait` lets the first call wait for the first definitions download; an event loop
        passes False (it never blocks) and awaits that download itself. Performing the
        request is the caller's part, so a blocking and an awaiting client share the rest.
        `group_keys=False` sends `group_properties` as given, without each group's
        `$group_key` (the body posthog-python's AsyncClient sends); `text_groups=True` gives
        the snapshot's flag events `$groups` with every key as text (as that client reports
        them), while evaluation and the request see the groups as given.
        """
        if (distinct_id is None or device_id is None) and current_context() is not None:
            distinct_id, device_id = flag_identity(distinct_id, device_id)
        if is_blank(distinct_id) or self._disabled():
            return FlagEvaluations("")
        did = distinct_id if type(distinct_id) is str else str(distinct_id)
        group_map: dict[str, Any] = dict(groups) if groups else {}
        if flag_keys is not None and not isinstance(flag_keys, (list, tuple)):
            flag_keys = list(flag_keys)
        reported = groups_as_text(group_map) if text_groups and group_map else group_map
        if flag_keys is not None and len(flag_keys) == 0:
            return FlagEvaluations(did, groups=reported, disable_geoip=disable_geoip, sink=self)

        fs = self.local.definitions() if wait else self.local.flagset
        local = self.lookups.snapshot(
            fs, did, person_properties, group_map, group_properties, device_id, flag_keys
        )
        _, minimal, meta = self.local.for_set(fs)
        unresolved: Mapping[str, Any] = local.unresolved if local is not None else _NOTHING
        if self.offline or only_evaluate_locally or not needs_remote(local, flag_keys):
            if local is None and not self.offline and not self._secret_key:
                self._notes.once(
                    "no-secret",
                    logging.INFO,
                    "no secret_key: flags can only be evaluated remotely",
                )
            # Positional: a keyword call costs more than building the snapshot.
            return FlagEvaluations(
                did,
                local,
                None,  # remote
                unresolved,
                reported,
                disable_geoip,
                None,  # request_id
                None,  # evaluated_at
                (),  # errors
                minimal,
                self,  # sink
                (),  # accessed
                meta,
            )

        body = self.lookups.request_body(
            distinct_id, group_map, person_properties, group_properties, disable_geoip, device_id,
            flag_keys, group_keys,
        )  # fmt: skip
        return FlagsRequest(
            encode_flags_request(body),
            did,
            local,
            unresolved,
            reported,
            disable_geoip,
            flag_keys,
            minimal,
            meta,
        )
