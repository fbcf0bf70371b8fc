"""Building a `capture` call off the fast path.

The pipeline's fast path queues plain calls unbuilt; every other capture call (an explicit
time or uuid, nested properties, flags to attach, a `before_send` hook, ...) is built here
on the caller's thread, as do the other capture-shaped events (`pageview`). Flags come
from the call's `flags`, or are evaluated for it when it asks with the deprecated
`send_feature_flags` (`flags_for`). With flags and no hook to show an `Event` to, a call
goes straight to wire bytes (`wire`), where the snapshot's `$feature/...` properties are
spliced in as one fragment; otherwise it becomes an `Event` (`event`) for the pipeline to
submit.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from typing import Any

from hogkit.core import events as core
from hogkit.core.encoding import encode_capture_call
from hogkit.core.event import Event, FlagsArg

from . import stamps
from .deferred import DeferredEncoder
from .ids import new_uuid
from .problems import log
from .stamps import clock

__all__ = ["CaptureBuilder", "FlagsForCapture"]

FlagsForCapture = Callable[[Any, Mapping[str, Any] | None, Any, bool | None], FlagsArg]
"""(distinct id, groups, the `send_feature_flags` option, the call's `disable_geoip`) ->
the flags an event carries (see `capture_flags`)."""


def _wants_flags(option: object) -> bool:
    """Whether a `send_feature_flags` value asks for flags: any mapping (even `{}`), or a
    true value (see `capture_flags`)."""
    return isinstance(option, Mapping) or bool(option)


class CaptureBuilder:
    """Builds capture calls with the pipeline's encoder (its context, timestamp memo and
    flag layouts)."""

    def __init__(self, encoder: DeferredEncoder) -> None:
        self._encoder = encoder
        # Evaluates flags for `capture(send_feature_flags=...)`; the Client wires it up.
        self.flags_for_capture: FlagsForCapture | None = None

    def flags_for(
        self,
        distinct_id: Any,
        groups: Mapping[str, Any] | None,
        flags: FlagsArg,
        option: Any,
        disable_geoip: bool | None = None,
    ) -> tuple[FlagsArg, str | None]:
        """`capture(send_feature_flags=...)`: the flags to attach, through `flags_for_capture`
        (`flags` as given when the option asks for none, see `_wants_flags`), and the id a
        personless event stands under when flags are evaluated for one: drawn here, so the
        flags are those of the id the event is sent with (None otherwise: drawn when built)."""
        if not _wants_flags(option):
            return flags, None
        if flags is not None:
            log.warning("capture: both flags and send_feature_flags given; using flags")
            return flags, None
        anonymous = stamps.anonymous_id(distinct_id)
        if self.flags_for_capture is None:
            return None, anonymous
        person = distinct_id if anonymous is None else anonymous
        return self.flags_for_capture(person, groups, option, disable_geoip), anonymous

    def wire(
        self,
        event: str,
        distinct_id: Any,
        properties: Mapping[str, Any] | None,
        groups: Mapping[str, Any] | None,
        flags: FlagsArg,
        disable_geoip: bool | None,
        anonymous_id: str | None = None,
    ) -> tuple[bytes, str]:
        """(wire bytes, uuid) of a call with flags that no hook sees, stamped now; a
        personless one under `anonymous_id` when given (see `flags_for`)."""
        encoder = self._encoder
        event_id = new_uuid()
        data = encode_capture_call(
            encoder.context,
            event,
            distinct_id,
            properties,
            groups,
            clock(),
            event_id,
            flags,
            anonymous_id or stamps.anonymous_id(distinct_id),
            disable_geoip,
            False,  # plain: not checked here
            encoder.memo,
            encoder.layouts,
        )
        return data, event_id

    def event(
        self,
        event: str,
        distinct_id: Any,
        properties: Mapping[str, Any] | None,
        timestamp: _dt.datetime | str | None,
        uuid: Any,
        groups: Mapping[str, Any] | None,
        flags: FlagsArg,
        disable_geoip: bool | None,
        anonymous_id: str | None = None,
    ) -> Event:
        """A capture-shaped `Event`: the call's time and uuid, or the clock's and fresh ones
        (a personless one under `anonymous_id` when given). Raises on a call that cannot be
        built."""
        encoder = self._encoder
        return core.capture(
            encoder.context,
            event,
            distinct_id=distinct_id,
            properties=properties,
            groups=groups,
            timestamp=stamps.when(timestamp),
            uuid=stamps.event_id(uuid),
            flags=flags,
            anonymous_id=anonymous_id or stamps.anonymous_id(distinct_id),
            disable_geoip=disable_geoip,
            memo=encoder.memo,
        )
