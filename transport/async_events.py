"""The AsyncClient's event methods: the Client's own, with posthog-python's AsyncClient's
differences, for `AsyncClient` to forward.

None of them waits: each is the Client's call, a list append on its queue. What differs
from the Client's is decided here: a caller's uuid is marked to be read as posthog-python's
AsyncClient reads it (canonical text through `str()`, see `stamps.CanonicalUuid`), and the
deprecated `send_feature_flags` attaches only what local evaluation decides now, since a
capture on the loop must never wait for a `/flags` answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hogkit.core.flag_properties import InEvaluationOrder

from .client import Client
from .evaluations import FlagEvaluations
from .exception_source import ExceptionArg
from .flag_reads import deprecated
from .flags import FlagService
from .problems import Problems
from .stamps import CallerTime, canonical_uuid

__all__ = ["AsyncEvents", "fail"]

Groups = Mapping[str, Any] | None


def fail(client: Client, name: str, exc: Exception) -> None:
    """The error path of an AsyncClient method, the Client's: raised under `debug`, else
    logged and handed to `on_error` (both read now: they are live settings)."""
    Problems(client.debug, client.on_error).fail(name, exc)


def _person_method(name: str, doc: str) -> Callable[..., str | None]:
    """posthog-python's AsyncClient `set` or `set_once`: the Client's, the uuid in canonical text."""

    def method(
        self: AsyncEvents,
        /,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: CallerTime = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
        **unknown: Any,
    ) -> str | None:
        send: Callable[..., str | None] = getattr(self.client, name)
        return send(
            distinct_id=distinct_id,
            properties=properties,
            timestamp=timestamp,
            uuid=canonical_uuid(uuid),
            disable_geoip=disable_geoip,
            **unknown,
        )

    method.__name__ = method.__qualname__ = name
    method.__doc__ = doc
    return method


class AsyncEvents:
    """`capture`, `capture_exception`, `set`, `set_once`, `alias` and `group_identify` for
    an AsyncClient (which forwards them) over the `Client` it composes."""

    def __init__(self, client: Client, flags: FlagService) -> None:
        self.client = client
        self._flags = flags

    set = _person_method("set", "Set person properties (see `Client.set`).")
    set_once = _person_method(
        "set_once", "Set person properties not set yet (see `Client.set_once`)."
    )

    def alias(
        self,
        previous_id: Any,
        distinct_id: Any,
        timestamp: CallerTime = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """`$create_alias` (see `Client.alias`)."""
        return self.client.alias(
            previous_id, distinct_id, timestamp, canonical_uuid(uuid), disable_geoip
        )

    def group_identify(
        self,
        group_type: str,
        group_key: str,
        properties: Mapping[str, Any] | None = None,
        timestamp: CallerTime = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
        distinct_id: Any = None,
    ) -> str | None:
        """`$groupidentify` (see `Client.group_identify`)."""
        return self.client.group_identify(
            group_type,
            group_key,
            properties,
            timestamp,
            canonical_uuid(uuid),
            disable_geoip,
            distinct_id,
        )

    def capture(
        self,
        /,
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
        """Queue an event (see `Client.capture`); its uuid, or None. Never waits: the deprecated
        `send_feature_flags` attaches what local evaluation decides now, never a `/flags` answer."""
        return self.client.capture(
            event,
            distinct_id=distinct_id,
            properties=properties,
            timestamp=timestamp,
            uuid=canonical_uuid(uuid),
            groups=groups,
            flags=self._flags_or_local(flags, distinct_id, groups, send_feature_flags),
            disable_geoip=disable_geoip,
            **unknown,
        )

    def capture_exception(
        self,
        /,
        exception: ExceptionArg | None = None,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        uuid: Any = None,
        groups: Mapping[str, Any] | None = None,
        flags: Any = None,
        disable_geoip: bool | None = None,
        send_feature_flags: Any = None,
        fingerprint: str | None = None,
        level: str | None = None,
        source: str | None = None,
        mechanism: Mapping[str, Any] | None = None,
        **unknown: Any,
    ) -> str | None:
        """`$exception` for an exception (see `Client.capture_exception`); like `capture`,
        `send_feature_flags` attaches only what local evaluation decides. Without a `level`
        there is no `$exception_level`, as posthog-python's AsyncClient sends none."""
        return self.client.capture_exception(
            exception,
            distinct_id=distinct_id,
            properties=properties,
            timestamp=timestamp,
            uuid=canonical_uuid(uuid),
            groups=groups,
            flags=self._flags_or_local(flags, distinct_id, groups, send_feature_flags),
            disable_geoip=disable_geoip,
            fingerprint=fingerprint,
            level=level,
            source=source,
            mechanism=mechanism,
            **unknown,
        )

    def _flags_or_local(
        self, flags: Any, distinct_id: Any, groups: Groups, send_feature_flags: Any
    ) -> Any:
        """The flags an event carries: those given, else, for `send_feature_flags`
        (deprecated), what local evaluation decides now."""
        if not send_feature_flags or flags is not None:
            return flags
        return self._flags_for_capture(distinct_id, groups, send_feature_flags)

    def _flags_for_capture(
        self, distinct_id: Any, groups: Groups, option: object
    ) -> InEvaluationOrder | None:
        """Local values only, listed active in evaluation order as the sync client lists
        them for this option."""
        deprecated("send_feature_flags", "capture(flags=await client.evaluate_flags(...))")
        settings: Mapping[str, Any] = option if isinstance(option, Mapping) else {}
        try:
            step = self._flags.plan(
                False,
                distinct_id,
                settings.get("person_properties"),
                groups,
                settings.get("group_properties"),
                settings.get("flag_keys_filter") or None,
                True,  # only_evaluate_locally: a capture never waits
                None,
                None,
            )
        except Exception as exc:
            fail(self.client, "capture", exc)
            return None
        return InEvaluationOrder(step.flag_values) if isinstance(step, FlagEvaluations) else None
