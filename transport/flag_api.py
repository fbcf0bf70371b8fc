"""The Client's feature-flag methods: `evaluate_flags` and the deprecated read API.

Every read goes through the flag service's one snapshot path (see `flag_reads`), so the
old calls and the new API cannot drift apart. None of them raises into the caller unless
`debug=True`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hogkit.core.legacy_reads import FeatureFlagResult

from .evaluations import FlagEvaluations
from .flag_query import FlagQuery, GroupProperties, Groups
from .flag_reads import FlagReads, deprecated
from .flags import FlagService
from .legacy_flags import LegacyFlags
from .poller import DefinitionsStatus
from .problems import Problems

__all__ = ["FlagAPI", "loaded_definitions"]


def loaded_definitions(service: FlagService, name: str) -> Any:
    """`name` ("flags", "group_type_mapping" or "cohorts") of the definitions in force, as
    posthog-python keeps them: None before any download, empty once the server refused
    them (or for definitions handed over in place of downloads), else decoded afresh."""
    poller = service.poller
    state = poller.state if poller is not None and not service.offline else None
    empty: Any = [] if name == "flags" else {}
    if state is None:
        return None if service.flagset is None else empty
    if state.flagset is None:
        return empty if state.refused is not None else None
    return state.document_part(name)


class FlagAPI:
    """The flag methods a Client forwards; see the module docstring."""

    def __init__(self, reads: FlagReads, problems: Problems, legacy: LegacyFlags) -> None:
        self._reads = reads
        self._flags: FlagService = reads.service
        self._problems = problems
        self._legacy = legacy

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
        # By position, like `get_feature_flag`: the snapshot read is the hot path.
        query = FlagQuery(
            distinct_id,
            groups,
            person_properties,
            group_properties,
            only_evaluate_locally,
            True,
            disable_geoip,
            device_id,
            flag_keys,
        )
        snap = self._reads.evaluate("evaluate_flags", query)
        return snap if snap is not None else FlagEvaluations("")

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
        # The busiest read: arguments go by position (no dict of the frame, no query
        # object) to the local answer, and only a read the core cannot settle alone, or
        # that reports, becomes a full read.
        legacy = self._legacy
        try:
            if not send_feature_flag_events:
                found = legacy.local_value(
                    key, distinct_id, person_properties, groups, group_properties, device_id
                )
                if found is not None:
                    return found
            query = FlagQuery(
                distinct_id,
                groups,
                person_properties,
                group_properties,
                only_evaluate_locally,
                send_feature_flag_events,
                disable_geoip,
                device_id,
            )
            result = legacy.read(key, None, query, True)
            return None if result is None else result.get_value()
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
        query = FlagQuery(
            distinct_id=distinct_id,
            groups=groups,
            person_properties=person_properties,
            group_properties=group_properties,
            only_evaluate_locally=only_evaluate_locally,
            send_events=send_feature_flag_events,
            disable_geoip=disable_geoip,
            device_id=device_id,
        )
        return self._enabled("feature_enabled", key, query)

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
        query = FlagQuery(
            distinct_id=distinct_id,
            groups=groups,
            person_properties=person_properties,
            group_properties=group_properties,
            only_evaluate_locally=only_evaluate_locally,
            send_events=send_feature_flag_events,
            disable_geoip=disable_geoip,
            device_id=device_id,
        )
        return self._enabled("is_feature_enabled", key, query)

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

        With `match_value`, the payload stored for that value, whatever the flag evaluates
        to (when it has a value at all).
        """
        query = FlagQuery(
            distinct_id=distinct_id,
            groups=groups,
            person_properties=person_properties,
            group_properties=group_properties,
            only_evaluate_locally=only_evaluate_locally,
            send_events=send_feature_flag_events,
            disable_geoip=disable_geoip,
            device_id=device_id,
        )
        return self._payload(key, match_value, query)

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
        """Every flag's value for `distinct_id`. Sends no `$feature_flag_called` and no
        DeprecationWarning: posthog-python keeps the bulk getters, and an application that
        turns warnings into errors must not start failing here when it switches SDKs.

        When some flag needs the server, the server's answer is the result (see
        `get_all_flags_and_payloads`).
        """
        query = FlagQuery(
            distinct_id=distinct_id,
            groups=groups,
            person_properties=person_properties,
            group_properties=group_properties,
            only_evaluate_locally=only_evaluate_locally,
            disable_geoip=disable_geoip,
            flag_keys=flag_keys_to_evaluate,
            device_id=device_id,
        )
        flags: dict[str, bool | str] | None = self._all("get_all_flags", query)["featureFlags"]
        return flags

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
    ) -> dict[str, Any]:
        """`featureFlags` as `get_all_flags`; `featureFlagPayloads` holds each
        payload as stored: JSON text unchanged, None for text that is not JSON.

        Local evaluation first; when any flag needs the server, its whole answer replaces
        the local results (a flag the server failed keeps its local value).
        """
        query = FlagQuery(
            distinct_id=distinct_id,
            groups=groups,
            person_properties=person_properties,
            group_properties=group_properties,
            only_evaluate_locally=only_evaluate_locally,
            disable_geoip=disable_geoip,
            flag_keys=flag_keys_to_evaluate,
            device_id=device_id,
        )
        return self._all("get_all_flags_and_payloads", query)

    # ------------------------------------------------------------------ shared bodies

    def _enabled(self, name: str, key: str, query: FlagQuery) -> bool | None:
        deprecated(name, "evaluate_flags(...).is_enabled(key)")
        result = self._read(name, key, None, query, True)
        return None if result is None else bool(result.get_value())

    def _payload(self, key: str, match_value: bool | str | None, query: FlagQuery) -> Any:
        name = "get_feature_flag_payload"
        deprecated(name, "evaluate_flags(...).get_flag_payload(key)")
        result = self._read(name, key, match_value, query, False)
        return None if result is None else result.payload

    def _read(
        self,
        name: str,
        key: str,
        match_value: bool | str | None,
        query: FlagQuery,
        value_only: bool,
    ) -> FeatureFlagResult | None:
        try:
            return self._legacy.read(key, match_value, query, value_only)
        except Exception as exc:
            self._problems.fail(name, exc)
            return None

    def _all(self, name: str, query: FlagQuery) -> dict[str, Any]:
        try:
            return self._legacy.all_flags_and_payloads(query)
        except Exception as exc:
            self._problems.fail(name, exc)
            return {"featureFlags": {}, "featureFlagPayloads": {}}
