"""The Client's flag reads: `evaluate_flags` and the deprecated single-flag API on top of it.

Every read, old or new, goes through one `FlagService.evaluate` snapshot, so the deprecated
calls get local-first evaluation, the single `/flags` fallback and deduplicated
`$feature_flag_called` for free, and cannot drift from the new API. Like every public
Client method, none of them raises into the caller unless `debug=True`.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from .evaluations import FlagEvaluations
from .flags import FlagService
from .problems import Problems

__all__ = ["FlagReads", "deprecated"]

_warned: set[str] = set()
_warned_lock = threading.Lock()


def deprecated(name: str, instead: str) -> None:
    """One DeprecationWarning per method per process."""
    if name in _warned:  # the common case, without the lock
        return
    with _warned_lock:
        if name in _warned:
            return
        _warned.add(name)
    warnings.warn(
        f"`{name}` is deprecated; use {instead} instead (one evaluation, one request).",
        DeprecationWarning,
        stacklevel=3,
    )


Groups = Mapping[str, Any] | None
GroupProperties = Mapping[str, Mapping[str, Any]] | None


class FlagReads:
    """Flag reads for a Client: a `FlagService` plus the never-raise error path."""

    __slots__ = ("_problems", "service")

    def __init__(self, service: FlagService, problems: Problems) -> None:
        self.service = service
        self._problems = problems

    def evaluate(
        self,
        name: str,
        distinct_id: Any,
        person_properties: Mapping[str, Any] | None,
        groups: Groups,
        group_properties: GroupProperties,
        flag_keys: Sequence[str] | None,
        only_evaluate_locally: bool,
        disable_geoip: bool | None,
        device_id: str | None,
    ) -> FlagEvaluations | None:
        """One snapshot, or None (after the error path) when evaluation failed."""
        try:
            return self.service.evaluate(
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
            self._problems.fail(name, exc)
            return None

    def payload(
        self,
        key: str,
        distinct_id: Any,
        match_value: bool | str | None,
        groups: Groups,
        person_properties: Mapping[str, Any] | None,
        group_properties: GroupProperties,
        only_evaluate_locally: bool,
        send_events: bool,
        disable_geoip: bool | None,
        device_id: str | None,
    ) -> Any:
        """`get_feature_flag_payload`: the payload, only when the flag has `match_value` if given."""
        snap = self.evaluate(
            "get_feature_flag_payload",
            distinct_id,
            person_properties,
            groups,
            group_properties,
            [key],
            only_evaluate_locally,
            disable_geoip,
            device_id,
        )
        if snap is None:
            return None
        if send_events or match_value is not None:
            value = snap.get_flag(key, send_feature_flag_events=send_events)
            if match_value is not None and value != match_value:
                return None
        return snap.get_flag_payload(key)

    def for_capture(
        self, distinct_id: Any, groups: Mapping[str, Any] | None, option: object
    ) -> FlagEvaluations | None:
        """`capture(send_feature_flags=...)`: the snapshot whose values the event carries."""
        deprecated("send_feature_flags", "capture(flags=client.evaluate_flags(...))")
        settings: Mapping[str, Any] = option if isinstance(option, Mapping) else {}
        local_only = settings.get("only_evaluate_locally")
        if local_only is None:
            loaded = self.service.flagset
            local_only = loaded is not None and bool(loaded.keys)
        keys = settings.get("flag_keys_filter")
        return self.service.evaluate(
            distinct_id,
            settings.get("person_properties"),
            groups,
            settings.get("group_properties"),
            keys if keys else None,
            bool(local_only),
        )
