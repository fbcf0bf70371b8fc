"""`capture(send_feature_flags=...)`: which flags a capture call evaluates for its event.

The option is deprecated (a `flags=client.evaluate_flags(...)` snapshot attaches the values
the code branched on, with no second evaluation), but applications written for
posthog-python still pass it, and its answers follow posthog-python's rules:

- `True`, or any mapping (`{}` included), asks for flags; `False` and None do not;
- a mapping's `only_evaluate_locally`: True evaluates the loaded definitions only; False
  takes the server's answer alone (`get_feature_variants`: no local evaluation, failed
  records left out); unset uses the definitions when some are loaded, else the server;
- its `person_properties`, `group_properties` and `flag_keys_filter` shape that evaluation,
  and the event's `groups` and `disable_geoip` go with it;
- the flags are those of the person the event is sent as: the distinct id's text (a number
  is asked for as "42", not 42);
- `$active_feature_flags` lists the active flags in the order they were evaluated, not
  sorted as for a `flags=` snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hogkit.core.event import FlagsArg
from hogkit.core.flag_properties import InEvaluationOrder, flag_values_of
from hogkit.core.timestamps import stringify_id

from .flag_decisions import FlagDecisions
from .flag_reads import deprecated
from .flags import FlagService

__all__ = ["CaptureFlags"]


class CaptureFlags:
    """Evaluates the flags of a `send_feature_flags` capture (see the module docstring)."""

    __slots__ = ("_decisions", "_service")

    def __init__(self, service: FlagService, decisions: FlagDecisions) -> None:
        self._service = service
        self._decisions = decisions

    def __call__(
        self,
        distinct_id: Any,
        groups: Mapping[str, Any] | None,
        option: object,
        disable_geoip: bool | None,
    ) -> FlagsArg:
        """The flags the event carries: local values, or the server's `{key: value}`
        answer, in the order they were evaluated."""
        deprecated("send_feature_flags", "capture(flags=client.evaluate_flags(...))")
        distinct_id = stringify_id(distinct_id) or distinct_id
        settings: Mapping[str, Any] = option if isinstance(option, Mapping) else {}
        local_only = settings.get("only_evaluate_locally")
        if local_only is not True and local_only is not False:
            loaded = self._service.flagset
            local_only = loaded is not None and bool(loaded.keys)
        keys = settings.get("flag_keys_filter") or None
        if local_only:
            flags: FlagsArg = self._service.evaluate(
                distinct_id,
                settings.get("person_properties"),
                groups,
                settings.get("group_properties"),
                keys,
                True,
                disable_geoip,
            )
        else:
            flags = self._decisions.get_feature_variants(
                distinct_id,
                groups,
                settings.get("person_properties"),
                settings.get("group_properties"),
                disable_geoip,
                keys,
            )
        values = flag_values_of(flags)
        return None if values is None else InEvaluationOrder(values)
