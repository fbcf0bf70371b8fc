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

The service is also the snapshots' `FlagCalledSink`: it deduplicates `$feature_flag_called`
in a bounded cache and builds the event with the core before handing it to the client.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
import time
import uuid as _uuid
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from hogkit.core import FlagSet
from hogkit.core.errors import HogkitError
from hogkit.core.events import Event, EventContext, flag_called_event
from hogkit.core.remote import (
    FlagsResponse,
    FlagsResponseError,
    encode_flags_request,
    flags_request_body,
    parse_flags_response,
)

from .dedup import DEFAULT_CAPACITY, FlagCalledCache
from .evaluations import FlagCalled, FlagEvaluations, FlagMeta
from .flags_transport import FlagsTransport, HttpFlagsTransport
from .http import NetworkError
from .poller import DefinitionsPoller

__all__ = ["DEFAULT_REQUEST_TIMEOUT", "DefinitionsStatus", "FlagService", "load_definitions"]

log = logging.getLogger("hogkit.transport.flags")

DEFAULT_REQUEST_TIMEOUT = 3.0
"""`feature_flags_request_timeout_seconds`: the most one `evaluate` waits on the network."""

_RETRY_STATUSES = frozenset({502, 504})
_RETRY_DELAY = 0.3

_NOTHING: Mapping[str, Any] = MappingProxyType({})

Definitions = str | bytes | os.PathLike[str] | FlagSet | Mapping[str, Any] | Sequence[Any]


def load_definitions(source: Definitions) -> FlagSet:
    """A `FlagSet` from an exported file: a path, JSON bytes/text, a decoded document or a set.

    Raises `DefinitionsError` (bad JSON or shape) or `OSError` (unreadable file).
    """
    if isinstance(source, FlagSet):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return FlagSet.from_json(bytes(source))
    if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
        return FlagSet.from_json(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return FlagSet.from_json(handle.read())
    return FlagSet.from_document(source)


class DefinitionsStatus(NamedTuple):
    """`loaded`: definitions are in force; `age`: seconds since the server last confirmed
    or replaced them (None for offline ones, or before any answer); `refused`: 401 or 402
    while the server refuses them."""

    loaded: bool
    age: float | None
    refused: int | None


def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


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
        flag_definitions: Definitions | None = None,
        enable_local_evaluation: bool = True,
        disable_geoip: bool = True,
        disabled: bool = False,
        emit: Callable[[Event], object] | None = None,
        context: EventContext | None = None,
        dedup_capacity: int = DEFAULT_CAPACITY,
        now: Callable[[], _dt.datetime] = _utc_now,
        event_time: Callable[[], _dt.datetime | str | float] | None = None,
        new_uuid: Callable[[], str] | None = None,
    ) -> None:
        """`now` is the evaluation clock (an aware datetime, as the core needs);
        `event_time` and `new_uuid` stamp `$feature_flag_called` the way the client's
        capture path stamps its events (both default to slower stdlib equivalents)."""
        self._api_key = api_key
        self._secret_key = secret_key or None
        self._transport: FlagsTransport = flags_transport or HttpFlagsTransport(
            api_key, host, secret_key=self._secret_key
        )
        self.request_timeout = max(0.0, float(request_timeout))
        self.disable_geoip = disable_geoip
        self.disabled = disabled
        self._emit = emit
        self._context = context or EventContext(disable_geoip=disable_geoip)
        self._now = now
        self._event_time = event_time or now
        self._new_uuid = new_uuid or (lambda: str(_uuid.uuid4()))
        self.reported = FlagCalledCache(dedup_capacity)
        self._offline: FlagSet | None = None
        self.offline = flag_definitions is not None
        self.poller: DefinitionsPoller | None = None
        self._logged: set[str] = set()
        self._log_lock = threading.Lock()
        # Per definitions in force: the `minimalFlagCalledEvents` gate and the memo of flag
        # metadata its snapshots share (see `FlagEvaluations`).
        self._per_set: tuple[FlagSet | None, bool, dict[str, FlagMeta]] = (None, False, {})
        if self.offline:
            assert flag_definitions is not None
            try:
                self._offline = load_definitions(flag_definitions)
            except (HogkitError, OSError, ValueError, TypeError) as exc:
                log.error("[hogkit] could not load flag_definitions: %s", _safe_text(exc))
        elif self._secret_key and not disabled:
            self.poller = DefinitionsPoller(
                self._transport,
                interval=poll_interval,
                refresh=enable_local_evaluation,
            )
            self.poller.start()

    # ------------------------------------------------------------------ definitions

    @property
    def flagset(self) -> FlagSet | None:
        """The definitions in force right now (never waits)."""
        if self.offline:
            return self._offline
        return self.poller.flagset if self.poller is not None else None

    def definitions(self) -> FlagSet | None:
        """The definitions for a flag call; the first call may wait for the first download."""
        if self.offline:
            return self._offline
        poller = self.poller
        if poller is None:
            return None
        return poller.current(self.request_timeout)

    def _for_set(self, fs: FlagSet | None) -> tuple[FlagSet | None, bool, dict[str, FlagMeta]]:
        """(fs, its `minimalFlagCalledEvents` gate, its metadata memo), made once per set."""
        seen = self._per_set
        if seen[0] is not fs:
            gate = bool(getattr(fs, "minimal_flag_called_events", False))
            seen = self._per_set = (fs, gate, {})
        return seen

    def pin(self, fs: FlagSet | None) -> Callable[[], None]:
        """Evaluate with `fs` only, locally, never asking the server, until the returned
        undo is called (what test overrides install). Reports still go through `send`."""
        saved = (self.offline, self._offline)
        self.offline, self._offline = True, fs

        def undo() -> None:
            self.offline, self._offline = saved

        return undo

    def add_listener(self, listener: Callable[[FlagSet | None, FlagSet | None], None]) -> bool:
        """Have `listener(old, new)` called when polled definitions change. False when
        nothing polls (offline definitions never change)."""
        if self.poller is None:
            return False
        self.poller.add_listener(listener)
        return True

    def remove_listener(self, listener: Callable[[FlagSet | None, FlagSet | None], None]) -> None:
        if self.poller is not None:
            self.poller.remove_listener(listener)

    def status(self) -> DefinitionsStatus:
        """How fresh the polled definitions are and whether the server refuses them."""
        poller = self.poller
        if self.offline or poller is None:
            return DefinitionsStatus(self.flagset is not None, None, None)
        confirmed = poller.confirmed_at
        age = None if confirmed is None else max(0.0, time.monotonic() - confirmed)
        return DefinitionsStatus(poller.flagset is not None, age, poller.refused_status)

    def reload(self) -> bool:
        """Fetch definitions now, on this thread. True when the server answered usefully."""
        if self.poller is None:
            return False
        return self.poller.poll_once()

    def shutdown(self, timeout: float = 1.0) -> None:
        if self.poller is not None:
            self.poller.stop(timeout)
        self.reported.clear()

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
        if distinct_id is None or distinct_id == "" or self.disabled:
            return FlagEvaluations("")
        did = distinct_id if type(distinct_id) is str else str(distinct_id)
        group_map: dict[str, Any] = dict(groups) if groups else {}
        if flag_keys is not None and not isinstance(flag_keys, (list, tuple)):
            flag_keys = list(flag_keys)
        if flag_keys is not None and len(flag_keys) == 0:
            return FlagEvaluations(did, groups=group_map, disable_geoip=disable_geoip, sink=self)

        fs = self._offline if self.offline else self.definitions()
        local = None
        if fs is not None and fs.keys:
            try:
                local = fs.evaluate(
                    did,
                    person_properties=person_properties,
                    groups=group_map,
                    group_properties=group_properties,
                    device_id=device_id,
                    flag_keys=flag_keys,
                    now=self._now(),
                )
            except Exception:  # the core promises not to raise; a bug must not reach callers
                log.exception("[hogkit] local flag evaluation failed")
                local = None
        _, minimal, meta = self._for_set(fs)

        if local is None:
            need_remote = True
            unresolved: Mapping[str, Any] = _NOTHING
        else:
            unresolved = local.unresolved
            need_remote = bool(unresolved) or (
                flag_keys is not None and any(local.get_flag(k) is None for k in flag_keys)
            )
        if not need_remote or self.offline or only_evaluate_locally:
            if local is None and not self.offline and not self._secret_key:
                self._once(
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
                group_map,
                disable_geoip,
                None,  # request_id
                None,  # evaluated_at
                (),  # errors
                minimal,
                self,  # sink
                (),  # accessed
                meta,
            )

        geoip = self.disable_geoip if disable_geoip is None else disable_geoip
        body = flags_request_body(
            api_key=self._api_key,
            distinct_id=distinct_id,
            groups=group_map,
            person_properties=person_properties,
            group_properties=group_properties,
            disable_geoip=geoip,
            device_id=device_id,
            flag_keys=flag_keys,
            sent_at=self._now(),
        )
        response, error = self._request(encode_flags_request(body))
        errors: tuple[str, ...] = ()
        remote: dict[str, Any] = {}
        request_id = evaluated_at = None
        if response is not None:
            request_id, evaluated_at = response.request_id, response.evaluated_at
            minimal = response.minimal_flag_called_events
            if response.errors_while_computing:
                errors = ("errors_while_computing_flags",)
            wanted = set(flag_keys) if flag_keys is not None else None
            for key, record in response.flags.items():
                if wanted is not None and key not in wanted:
                    continue
                if local is not None and local.get_flag(key) is not None:
                    continue
                remote[key] = record
        elif error is not None:
            errors = (error,)
        still = {k: r for k, r in unresolved.items() if k not in remote or remote[k].server_failed}
        return FlagEvaluations(
            did,
            local=local,
            remote=remote,
            unresolved=still,
            groups=group_map,
            disable_geoip=disable_geoip,
            request_id=request_id,
            evaluated_at=evaluated_at,
            errors=errors,
            minimal=minimal,
            sink=self,
            meta=meta,
        )

    def _request(self, encoded: bytes) -> tuple[FlagsResponse | None, str | None]:
        """One `/flags` exchange within `request_timeout` in total (one quick retry when
        a dropped connection or a 502/504 leaves time for it). (response, error code)."""
        deadline = time.monotonic() + self.request_timeout
        retried = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, self._failed("timeout", "timed out")
            try:
                reply = self._transport.post_flags(encoded, timeout=remaining)
            except NetworkError as exc:
                text = str(exc)
                if "timed out" in text:
                    return None, self._failed("timeout", text)
                if not retried and "ECONNREFUSED" not in text:
                    retried = True
                    continue
                return None, self._failed("connection_error", text)
            except Exception as exc:
                return None, self._failed("unknown_error", _safe_text(exc))
            status = reply.status
            if status == 200:
                try:
                    response = parse_flags_response(reply.body)
                except FlagsResponseError as exc:
                    return None, self._failed("unknown_error", str(exc))
                if response.quota_limited:
                    self._once(
                        "quota",
                        logging.WARNING,
                        "feature flags quota limited: remote evaluation returned no flags "
                        "(see https://posthog.com/docs/billing/limits-alerts)",
                    )
                    return None, "quota_limited"
                if response.untyped:
                    self._once(
                        "untyped",
                        logging.INFO,
                        "the /flags response has no typed values; the server may not "
                        "support /flags?v=4",
                    )
                self._logged.discard("remote")
                return response, None
            if status in _RETRY_STATUSES and not retried:
                wait = min(_RETRY_DELAY, deadline - time.monotonic())
                if wait > 0 and deadline - time.monotonic() > wait:
                    retried = True
                    time.sleep(wait)
                    continue
            return None, self._failed(f"api_error_{status}", f"HTTP {status}")

    def _failed(self, code: str, detail: str) -> str:
        self._once(
            "remote",
            logging.WARNING,
            f"remote flag evaluation failed ({detail}); using local values only",
        )
        return code

    def _once(self, kind: str, level: int, message: str) -> None:
        with self._log_lock:
            if kind in self._logged:
                return
            self._logged.add(kind)
        log.log(level, "[hogkit] %s", message)

    # ------------------------------------------------------------------ FlagCalledSink

    def claim(self, user: int, report: int) -> bool:
        return self._emit is not None and self.reported.reserve(user, report)

    def send(self, user: int, report: int, called: FlagCalled) -> None:
        queued = False
        try:
            # Positional (see `flag_called_event`): `FlagCalled`'s fields, in its order.
            event = flag_called_event(
                self._context,
                self._event_time(),  # timestamp
                self._new_uuid(),  # uuid
                called.distinct_id,
                called.key,
                called.response,
                called.payload,
                called.locally_evaluated,
                called.flag_id,
                called.flag_version,
                called.reason,
                called.request_id,
                called.evaluated_at,
                called.error or None,
                called.has_experiment,
                called.groups or None,
                called.disable_geoip,
                called.minimal,
                # A local read's payload is the snapshot's private copy of decoded JSON.
                called.locally_evaluated,  # payload_is_json
            )
            assert self._emit is not None
            queued = bool(self._emit(event))
        finally:
            if not queued:
                self.reported.release(user, report)


def _safe_text(exc: BaseException) -> str:
    """An exception's type and message, for logs (never a key: callers pass our own errors)."""
    return f"{type(exc).__name__}: {exc}"
