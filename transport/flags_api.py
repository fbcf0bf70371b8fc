"""The Client's feature-flag methods: `evaluate_flags` and the deprecated single-flag API.

A mixin so the flag surface lives next to the flag service instead of inside the capture
code. Every method, old or new, goes through the same path — one `evaluate_flags` snapshot —
so the deprecated calls get local-first evaluation, the single `/flags` fallback and
deduplicated `$feature_flag_called` for free, and cannot drift from the new API.
Like every public Client method, none of them raises into the caller unless `debug=True`.
"""

from __future__ import annotations

import functools
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from hogkit.core import FlagSet

from .dedup import DEFAULT_CAPACITY
from .evaluations import FlagEvaluations
from .flags import (
    DEFAULT_REQUEST_TIMEOUT,
    Definitions,
    DefinitionsStatus,
    FlagService,
    load_definitions,
)
from .flags_transport import FlagsTransport

if TYPE_CHECKING:
    from hogkit.core.events import Event, EventContext

    from .transports import Transport

__all__ = ["FlagsMixin"]

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _deprecated(name: str, instead: str) -> None:
    """One DeprecationWarning per method per process."""
    with _warned_lock:
        if name in _warned:
            return
        _warned.add(name)
    warnings.warn(
        f"`{name}` is deprecated; use {instead} instead (one evaluation, one request).",
        DeprecationWarning,
        stacklevel=3,
    )


class FlagsMixin:
    """Feature-flag methods of `Client` (see the module docstring)."""

    if TYPE_CHECKING:
        api_key: str
        host: str
        disabled: bool
        debug: bool
        transport: Transport
        _context: EventContext
        _on_fork: list[Callable[[], None]]
        _on_shutdown: list[Callable[[], None]]

        def _fail(self, name: str, exc: Exception) -> str | None: ...
        def _submit(self, ev: Event) -> str | None: ...

    _flags: FlagService

    def _init_flags(
        self,
        *,
        secret_key: str | None = None,
        personal_api_key: str | None = None,
        poll_interval: float = 30.0,
        feature_flags_request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT,
        flag_definitions: Definitions | None = None,
        enable_local_evaluation: bool = True,
        flags_transport: FlagsTransport | None = None,
        flag_called_cache_size: int = DEFAULT_CAPACITY,
    ) -> None:
        if personal_api_key:
            _deprecated("personal_api_key", "secret_key=")
            secret_key = secret_key or personal_api_key
        if flags_transport is None and isinstance(self.transport, FlagsTransport):
            flags_transport = self.transport
        # The capture path's clock (epoch seconds, formatted by the core's per-second memo)
        # and event ids.
        from .ids import new_uuid

        self._flags = FlagService(
            self.api_key,
            host=self.host or "http://127.0.0.1",
            secret_key=secret_key,
            flags_transport=flags_transport,
            poll_interval=poll_interval,
            request_timeout=feature_flags_request_timeout_seconds,
            flag_definitions=flag_definitions,
            enable_local_evaluation=enable_local_evaluation,
            disable_geoip=self._context.disable_geoip,
            disabled=self.disabled,
            emit=self._submit,  # the event's uuid when queued (or sent), else None
            context=self._context,
            dedup_capacity=flag_called_cache_size,
            event_time=time.time,
            new_uuid=new_uuid,
        )
        # Never joins the poller: `shutdown(timeout)` must return within its own deadline.
        self._on_shutdown.append(functools.partial(self._flags.shutdown, 0.0))
        poller = self._flags.poller
        if poller is not None:
            self._on_fork.append(poller.start)

    # ------------------------------------------------------------------ the snapshot API

    def evaluate_flags(
        self,
        distinct_id: Any = None,
        *,
        person_properties: Mapping[str, Any] | None = None,
        groups: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        flag_keys: Sequence[str] | None = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> FlagEvaluations:
        """Evaluate a person's flags once; read them from the snapshot and pass it to `capture`.

        Local evaluation first; flags it cannot decide (and requested keys it has no
        definition for) go to PostHog in one request unless `only_evaluate_locally`.
        Reading a flag with `is_enabled`/`get_flag` sends `$feature_flag_called` once per
        (distinct id, flag, value, groups). `flag_keys=[]` evaluates nothing.
        """
        try:
            return self._flags.evaluate(  # positional: the hot path (see FlagService.evaluate)
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
            self._fail("evaluate_flags", exc)
            return FlagEvaluations("")

    def load_feature_flags(self) -> bool:
        """Download the flag definitions now (the poller also does it every `poll_interval`)."""
        try:
            return self._flags.reload()
        except Exception as exc:
            self._fail("load_feature_flags", exc)
            return False

    def feature_flag_definitions(self) -> FlagSet | None:
        """The compiled definitions in force, or None when none are loaded."""
        return self._flags.flagset

    def pin_flag_definitions(self, definitions: Definitions | None) -> Callable[[], None]:
        """Evaluate flags from `definitions` alone (locally, no server) until the returned
        undo is called. Reads still send `$feature_flag_called`. For tests."""
        return self._flags.pin(None if definitions is None else load_definitions(definitions))

    def add_flag_definitions_listener(
        self, listener: Callable[[FlagSet | None, FlagSet | None], None]
    ) -> bool:
        """Call `listener(old, new)` (on the poller's thread) when the polled definitions
        change. False when this client does not poll."""
        return self._flags.add_listener(listener)

    def remove_flag_definitions_listener(
        self, listener: Callable[[FlagSet | None, FlagSet | None], None]
    ) -> None:
        self._flags.remove_listener(listener)

    def flag_definitions_status(self) -> DefinitionsStatus:
        """Whether definitions are loaded, their age in seconds, and a 401/402 refusal."""
        return self._flags.status()

    # ------------------------------------------------------------------ deprecated API

    def _single(
        self,
        name: str,
        key: str,
        distinct_id: Any,
        options: dict[str, Any],
    ) -> FlagEvaluations | None:
        try:
            return self._flags.evaluate(
                distinct_id,
                person_properties=options.get("person_properties"),
                groups=options.get("groups"),
                group_properties=options.get("group_properties"),
                flag_keys=[key],
                only_evaluate_locally=bool(options.get("only_evaluate_locally")),
                disable_geoip=options.get("disable_geoip"),
                device_id=options.get("device_id"),
            )
        except Exception as exc:
            self._fail(name, exc)
            return None

    def get_feature_flag(
        self,
        key: str,
        distinct_id: Any,
        *,
        groups: Mapping[str, Any] | None = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = True,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> bool | str | None:
        """Deprecated: `evaluate_flags(distinct_id, flag_keys=[key]).get_flag(key)`."""
        _deprecated("get_feature_flag", "evaluate_flags(...).get_flag(key)")
        snap = self._single("get_feature_flag", key, distinct_id, locals())
        if snap is None:
            return None
        return snap.get_flag(key, send_feature_flag_events=send_feature_flag_events)

    def feature_enabled(
        self,
        key: str,
        distinct_id: Any,
        *,
        groups: Mapping[str, Any] | None = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = True,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> bool | None:
        """Deprecated: `evaluate_flags(...).is_enabled(key)`; None when the flag has no value."""
        _deprecated("feature_enabled", "evaluate_flags(...).is_enabled(key)")
        return self._enabled("feature_enabled", key, distinct_id, locals())

    def is_feature_enabled(
        self,
        key: str,
        distinct_id: Any,
        *,
        groups: Mapping[str, Any] | None = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = True,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> bool | None:
        """Deprecated (the seed docs' name for `feature_enabled`)."""
        _deprecated("is_feature_enabled", "evaluate_flags(...).is_enabled(key)")
        return self._enabled("is_feature_enabled", key, distinct_id, locals())

    def _enabled(
        self, name: str, key: str, distinct_id: Any, options: dict[str, Any]
    ) -> bool | None:
        snap = self._single(name, key, distinct_id, options)
        if snap is None:
            return None
        value = snap.get_flag(key, send_feature_flag_events=options["send_feature_flag_events"])
        return None if value is None else value is not False

    def get_feature_flag_payload(
        self,
        key: str,
        distinct_id: Any,
        *,
        match_value: bool | str | None = None,
        groups: Mapping[str, Any] | None = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = False,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> Any:
        """Deprecated: `evaluate_flags(...).get_flag_payload(key)`.

        With `match_value`, the payload is returned only when the flag has that value.
        """
        _deprecated("get_feature_flag_payload", "evaluate_flags(...).get_flag_payload(key)")
        snap = self._single("get_feature_flag_payload", key, distinct_id, locals())
        if snap is None:
            return None
        if send_feature_flag_events or match_value is not None:
            value = snap.get_flag(key, send_feature_flag_events=send_feature_flag_events)
            if match_value is not None and value != match_value:
                return None
        return snap.get_flag_payload(key)

    def _bulk(self, name: str, distinct_id: Any, options: dict[str, Any]) -> FlagEvaluations | None:
        try:
            keys = options.get("flag_keys_to_evaluate")
            return self._flags.evaluate(
                distinct_id,
                person_properties=options.get("person_properties"),
                groups=options.get("groups"),
                group_properties=options.get("group_properties"),
                flag_keys=keys if keys else None,
                only_evaluate_locally=bool(options.get("only_evaluate_locally")),
                disable_geoip=options.get("disable_geoip"),
                device_id=options.get("device_id"),
            )
        except Exception as exc:
            self._fail(name, exc)
            return None

    def get_all_flags(
        self,
        distinct_id: Any,
        *,
        groups: Mapping[str, Any] | None = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
        flag_keys_to_evaluate: Sequence[str] | None = None,
        device_id: str | None = None,
    ) -> dict[str, bool | str] | None:
        """Deprecated: `evaluate_flags(...).flag_values`. Sends no `$feature_flag_called`."""
        _deprecated("get_all_flags", "evaluate_flags(...)")
        if self.disabled:
            return None
        snap = self._bulk("get_all_flags", distinct_id, locals())
        return None if snap is None else dict(snap.flag_values)

    def get_all_flags_and_payloads(
        self,
        distinct_id: Any,
        *,
        groups: Mapping[str, Any] | None = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Mapping[str, Any]] | None = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
        flag_keys_to_evaluate: Sequence[str] | None = None,
        device_id: str | None = None,
    ) -> dict[str, dict[str, Any] | None]:
        """Deprecated. `featureFlags` as `get_all_flags`; `featureFlagPayloads` holds the payload
        of each enabled flag as JSON text, the form the reference's bulk getters return."""
        _deprecated("get_all_flags_and_payloads", "evaluate_flags(...)")
        if self.disabled:
            return {"featureFlags": None, "featureFlagPayloads": None}
        snap = self._bulk("get_all_flags_and_payloads", distinct_id, locals())
        if snap is None:
            return {"featureFlags": {}, "featureFlagPayloads": {}}
        payloads: dict[str, Any] = {}
        for key, value in snap.flag_values.items():
            if value is False:
                continue
            payload = snap.get_flag_payload(key)
            if payload is not None:
                payloads[key] = msgspec.json.encode(payload).decode("utf-8")
        return {"featureFlags": dict(snap.flag_values), "featureFlagPayloads": payloads}

    def _flags_for_capture(
        self, distinct_id: Any, groups: Mapping[str, Any] | None, option: object
    ) -> FlagEvaluations | None:
        """`capture(send_feature_flags=...)`: the snapshot whose values the event carries."""
        _deprecated("send_feature_flags", "capture(flags=client.evaluate_flags(...))")
        settings: Mapping[str, Any] = option if isinstance(option, Mapping) else {}
        local_only = settings.get("only_evaluate_locally")
        if local_only is None:
            loaded = self._flags.flagset
            local_only = loaded is not None and bool(loaded.keys)
        keys = settings.get("flag_keys_filter")
        return self._flags.evaluate(
            distinct_id,
            person_properties=settings.get("person_properties"),
            groups=groups,
            group_properties=settings.get("group_properties"),
            flag_keys=keys if keys else None,
            only_evaluate_locally=bool(local_only),
        )
