"""The Client's feature-flag methods: `evaluate_flags` and the deprecated read API.

Every read goes through the flag service's one snapshot path (see `flag_reads`), so the
old calls and the new API cannot drift apart. None of them raises into the caller unless
`debug=True`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hogkit.core import FlagSet

from .evaluations import FlagEvaluations
from .flag_reads import FlagReads, deprecated
from .flags import FlagService
from .poller import DefinitionsStatus
from .problems import Problems

__all__ = ["FlagAPI"]

Groups = Mapping[str, Any] | None
GroupProperties = Mapping[str, Mapping[str, Any]] | None


class FlagAPI:
    """The flag methods a Client forwards; see the module docstring."""

    def __init__(self, reads: FlagReads, problems: Problems, disabled: Callable[[], bool]) -> None:
        self._reads = reads
        self._flags: FlagService = reads.service
        self._problems = problems
        self._disabled = disabled

    def evaluate_flags(
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
        """Evaluate a person's flags once; read them from the snapshot and pass it to `capture`.

        Local evaluation first; flags it cannot decide (and requested keys it has no
        definition for) go to PostHog in one request unless `only_evaluate_locally`.
        Reading a flag with `is_enabled`/`get_flag` sends `$feature_flag_called` once per
        (distinct id, flag, value, groups). `flag_keys=[]` evaluates nothing.
        """
        snap = self._reads.evaluate(
            "evaluate_flags",
            distinct_id,
            person_properties,
            groups,
            group_properties,
            flag_keys,
            only_evaluate_locally,
            disable_geoip,
            device_id,
        )
        return snap if snap is not None else FlagEvaluations("")

    def load_feature_flags(self) -> bool:
        """Download the flag definitions now (the poller also does it every `poll_interval`)."""
        try:
            return self._flags.reload()
        except Exception as exc:
            self._problems.fail("load_feature_flags", exc)
            return False

    def feature_flag_definitions(self) -> FlagSet | None:
        """The compiled definitions in force, or None when none are loaded."""
        return self._flags.flagset

    def flag_definitions_status(self) -> DefinitionsStatus:
        """Where the definitions in force came from, their age, ETag and the last problem."""
        return self._flags.status()

    def get_feature_flag(
        self,
        key: str,
        distinct_id: Any,
        *,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = True,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> bool | str | None:
        """Deprecated: `evaluate_flags(distinct_id, flag_keys=[key]).get_flag(key)`."""
        deprecated("get_feature_flag", "evaluate_flags(...).get_flag(key)")
        try:  # `_flag_value`, inline: this is the deprecated API's hot path
            return self._flags.flag_value(
                key,
                distinct_id,
                person_properties,
                groups,
                group_properties,
                only_evaluate_locally,
                send_feature_flag_events,
                disable_geoip,
                device_id,
            )
        except Exception as exc:
            self._problems.fail("get_feature_flag", exc)
            return None

    def feature_enabled(
        self,
        key: str,
        distinct_id: Any,
        *,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = True,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> bool | None:
        """Deprecated: `evaluate_flags(...).is_enabled(key)`; None when the flag has no value."""
        deprecated("feature_enabled", "evaluate_flags(...).is_enabled(key)")
        value = self._flag_value(
            "feature_enabled",
            key,
            distinct_id,
            groups,
            person_properties,
            group_properties,
            only_evaluate_locally,
            send_feature_flag_events,
            disable_geoip,
            device_id,
        )
        return None if value is None else value is not False

    def is_feature_enabled(
        self,
        key: str,
        distinct_id: Any,
        *,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = True,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> bool | None:
        """Deprecated: another name for `feature_enabled`."""
        deprecated("is_feature_enabled", "evaluate_flags(...).is_enabled(key)")
        value = self._flag_value(
            "is_feature_enabled",
            key,
            distinct_id,
            groups,
            person_properties,
            group_properties,
            only_evaluate_locally,
            send_feature_flag_events,
            disable_geoip,
            device_id,
        )
        return None if value is None else value is not False

    def _flag_value(
        self,
        name: str,
        key: str,
        distinct_id: Any,
        groups: Groups,
        person_properties: Mapping[str, Any] | None,
        group_properties: GroupProperties,
        only_evaluate_locally: bool,
        send_events: bool,
        disable_geoip: bool | None,
        device_id: str | None,
    ) -> bool | str | None:
        try:
            return self._flags.flag_value(
                key,
                distinct_id,
                person_properties,
                groups,
                group_properties,
                only_evaluate_locally,
                send_events,
                disable_geoip,
                device_id,
            )
        except Exception as exc:
            self._problems.fail(name, exc)
            return None

    def get_feature_flag_payload(
        self,
        key: str,
        distinct_id: Any,
        *,
        match_value: bool | str | None = None,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = False,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> Any:
        """Deprecated: `evaluate_flags(...).get_flag_payload(key)`.

        With `match_value`, the payload is returned only when the flag has that value.
        """
        deprecated("get_feature_flag_payload", "evaluate_flags(...).get_flag_payload(key)")
        return self._reads.payload(
            key,
            distinct_id,
            match_value,
            groups,
            person_properties,
            group_properties,
            only_evaluate_locally,
            send_feature_flag_events,
            disable_geoip,
            device_id,
        )

    def get_all_flags(
        self,
        distinct_id: Any,
        *,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
        flag_keys_to_evaluate: Sequence[str] | None = None,
        device_id: str | None = None,
    ) -> dict[str, bool | str] | None:
        """Deprecated: `evaluate_flags(...).flag_values`. Sends no `$feature_flag_called`."""
        deprecated("get_all_flags", "evaluate_flags(...)")
        if self._disabled():
            return None
        snap = self._reads.evaluate(
            "get_all_flags",
            distinct_id,
            person_properties,
            groups,
            group_properties,
            flag_keys_to_evaluate or None,
            only_evaluate_locally,
            disable_geoip,
            device_id,
        )
        return None if snap is None else dict(snap.flag_values)

    def get_all_flags_and_payloads(
        self,
        distinct_id: Any,
        *,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
        flag_keys_to_evaluate: Sequence[str] | None = None,
        device_id: str | None = None,
    ) -> dict[str, dict[str, Any] | None]:
        """Deprecated. `featureFlags` as `get_all_flags`; `featureFlagPayloads` holds the payload
        of each enabled flag as JSON text, the form posthog-python's bulk getters return."""
        deprecated("get_all_flags_and_payloads", "evaluate_flags(...)")
        if self._disabled():
            return {"featureFlags": None, "featureFlagPayloads": None}
        snap = self._reads.evaluate(
            "get_all_flags_and_payloads",
            distinct_id,
            person_properties,
            groups,
            group_properties,
            flag_keys_to_evaluate or None,
            only_evaluate_locally,
            disable_geoip,
            device_id,
        )
        return FlagReads.with_payloads(snap)
