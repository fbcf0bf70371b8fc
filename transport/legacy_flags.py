"""The older flag methods, answering exactly as applications written for them expect.

`get_feature_flag`, `feature_enabled`, `get_feature_flag_result`, `get_feature_flag_payload`
and the bulk getters (`get_all_flags`, `get_all_flags_and_payloads`) have rules of their
own (see `hogkit.core.legacy_reads`): a single-flag read evaluates its one flag locally and
asks the server for that flag alone; a bulk read takes the server's whole answer when any
flag needs it. This collaborator performs the reads and requests and reports
`$feature_flag_called`; the rules are the core's. (The decision getters, which always ask,
are in `flag_decisions`.) Nothing here raises into the caller unless `debug=True`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hogkit.core.attribution import Attribution
from hogkit.core.flag_called import FlagCalled, given_users
from hogkit.core.flag_requests import needs_remote
from hogkit.core.legacy_reads import (
    FeatureFlagResult,
    flag_result,
    payload_lookup_key,
    read_identity,
    read_person,
    remote_read_error,
    server_wins,
    stored_payload_text,
)
from hogkit.core.remote import FlagsResponse, RemoteFlag

from .flag_decisions import server_payloads, server_values
from .flag_query import FlagQuery, GroupProperties, Groups
from .flags import FlagService
from .problems import Problems

__all__ = ["LegacyFlags"]

FlagValue = bool | str


class LegacyFlags:
    """The older flag methods a Client forwards; see the module docstring."""

    def __init__(
        self, service: FlagService, problems: Problems, disabled: Callable[[], bool]
    ) -> None:
        self._service = service
        self._problems = problems
        self._disabled = disabled

    # ------------------------------------------------------------------ single-flag reads

    def get_feature_flag_result(
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
    ) -> FeatureFlagResult | None:
        """The flag's value, decoded payload and (for a remote answer) reason, or None.

        Evaluates locally when it can, else asks the server for this flag; reports
        `$feature_flag_called` unless `send_feature_flag_events=False`.
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
        try:
            return self.read(key, None, query)
        except Exception as exc:
            self._problems.fail("get_feature_flag_result", exc)
            return None

    def local_value(
        self,
        key: str,
        distinct_id: Any,
        person_properties: Mapping[str, Any] | None,
        groups: Groups,
        group_properties: GroupProperties,
        device_id: str | None,
    ) -> FlagValue | None:
        """A read that reports nothing, answered straight from the core when local
        evaluation decides the flag (the common case on a busy server); None: make it a
        full `read`. Positional: `get_feature_flag` calls it per read."""
        if type(distinct_id) is not str or self._disabled():
            return None
        return self._service.local_value(
            key, distinct_id, person_properties, groups, group_properties, device_id
        )

    def read(
        self,
        key: str,
        match_value: FlagValue | None,
        query: FlagQuery,
        value_only: bool = False,
    ) -> FeatureFlagResult | None:
        """One single-flag read. `match_value` replaces the reported value (and chooses the
        payload) when the flag has a value. `value_only` says the caller reads no payload:
        a local read that reports nothing then skips decoding it."""
        send_events = query.send_events
        if self._disabled():
            return None
        distinct_id = query.distinct_id
        person = query.person_properties
        users: tuple[int, int] | None = None
        if type(distinct_id) is str:  # the usual case: evaluated and reported as it is
            did = reported = distinct_id
        else:
            # What any other id is evaluated and reported as (`read_identity`), what its
            # `distinct_id` property reads (`read_person`), and where its reports are
            # remembered (`given_users`).
            did, reported = read_identity(distinct_id)
            person = read_person(person, distinct_id)
            users = given_users(distinct_id)
        group_map, disable_geoip = query.group_map, query.disable_geoip
        fs, local = self._service.evaluate_locally(
            did, person, group_map, query.group_properties, query.device_id, (key,)
        )
        value = local.get_flag(key) if local is not None else None
        if value is not None and fs is not None:
            shown = match_value if match_value is not None else value
            skip = value_only and not send_events
            stored = None if skip else fs.stored_payload(key, payload_lookup_key(shown))
            result = flag_result(key, shown, stored)
            if send_events:
                self._report_local(fs, reported, key, result, group_map, disable_geoip, users)
            return result
        if query.only_evaluate_locally or self._service.offline:
            if send_events:
                self._report(
                    reported, group_map, disable_geoip, key, None, None, False, users=users
                )
            return None
        _, response, error = self._ask(query, group_map, [key])
        return self._remote_result(
            reported, key, match_value, group_map, disable_geoip, response, error, send_events,
            users,
        )  # fmt: skip

    def _remote_result(
        self,
        did: str,
        key: str,
        match_value: FlagValue | None,
        groups: dict[str, Any],
        disable_geoip: bool | None,
        response: FlagsResponse | None,
        error: str | None,
        send_events: bool,
        users: tuple[int, int] | None = None,
    ) -> FeatureFlagResult | None:
        record: RemoteFlag | None = None
        result = None
        if response is None:
            # A failed request falls back on the last good answer, when one is remembered.
            stale = self._service.remembered(did, [key]).get(key)
            if stale is not None and not stale.failed:
                shown = match_value if match_value is not None else stale.value
                result = FeatureFlagResult(key, *_enabled_variant(shown), stale.payload, None)
        else:
            record = response.flags.get(key)
            if record is not None and record.malformed is not None:
                # An unreadable record reads as disabled, like a failed request reports.
                error, response = "unknown_error", None
                result = flag_result(key, match_value if match_value is not None else False, None)
            else:
                error = remote_read_error(
                    response.errors_while_computing,
                    record is not None,
                    record is not None and record.server_failed,
                )
                if record is not None and not record.server_failed:
                    shown = match_value if match_value is not None else record.value
                    result = FeatureFlagResult(
                        key,
                        *_enabled_variant(shown),
                        record.payload,
                        record.reason_text,
                    )
        if send_events:
            # The record's rule is reported only when the record supplied what is reported:
            # not for a caller's `match_value` or a remembered answer. A failed record
            # supplies its failure (config version and reason code) whatever the caller named.
            attribution = None
            supplied = record is not None and (match_value is None or record.server_failed)
            if record is not None and record.malformed is None and supplied:
                attribution = record.attribution
            self._report(
                did, groups, disable_geoip, key, result, error, False, record, response,
                attribution=attribution, users=users,
            )  # fmt: skip
        return result

    def _report_local(
        self,
        fs: Any,
        did: str,
        key: str,
        result: FeatureFlagResult | None,
        groups: dict[str, Any],
        disable_geoip: bool | None,
        users: tuple[int, int] | None = None,
    ) -> None:
        self._report(did, groups, disable_geoip, key, result, None, True, local_set=fs, users=users)

    def _report(
        self,
        did: str,
        groups: dict[str, Any],
        disable_geoip: bool | None,
        key: str,
        result: FeatureFlagResult | None,
        error: str | None,
        locally: bool,
        record: RemoteFlag | None = None,
        response: FlagsResponse | None = None,
        local_set: Any = None,
        attribution: Attribution | None = None,
        users: tuple[int, int] | None = None,
    ) -> None:
        """The flag events of one read (`$feature_flag_called`, and `$experiment_exposure`
        for an assigned experiment arm), deduplicated like every other report; `users` are
        the dedup buckets of an id that was not text (see `given_users`)."""
        value = result.get_value() if result is not None else None
        service = self._service
        flag_id = version = has_experiment = reason = None
        minimal = False
        if locally and local_set is not None:
            flag_id, version, has_experiment = local_set.flag_meta(key)
            minimal = bool(getattr(local_set, "minimal_flag_called_events", False))
        elif record is not None and record.malformed is None:
            flag_id, version = record.id, record.version
            has_experiment, reason = record.has_experiment, record.reason_description
        if response is not None and not locally:
            minimal = response.minimal_flag_called_events
        service.report(
            FlagCalled(
                did,
                key,
                value,
                result.payload if result is not None else None,
                locally,
                flag_id,
                version,
                reason,
                response.request_id if response is not None else None,
                response.evaluated_at if response is not None else None,
                error,
                has_experiment,
                groups,
                disable_geoip,
                minimal and has_experiment is False,
                False,  # payload_is_json
                attribution,
            ),
            users,
        )

    def _ask(
        self, query: FlagQuery, groups: dict[str, Any], keys: list[str] | None
    ) -> tuple[dict[str, Any] | None, FlagsResponse | None, str | None]:
        """One `/flags` request for `query`, limited to `keys` when given."""
        return self._service.ask(
            query.distinct_id,
            groups,
            query.person_properties,
            query.group_properties,
            query.disable_geoip,
            query.device_id,
            keys,
        )

    # ------------------------------------------------------------------ bulk reads

    def all_flags_and_payloads(self, query: FlagQuery) -> dict[str, Any]:
        """`get_all_flags_and_payloads`: local results, or the server's whole answer when
        some flag needs it (a key the server failed keeps its local result)."""
        if self._disabled():
            return {"featureFlags": None, "featureFlagPayloads": None}
        did = read_identity(query.distinct_id)[0]
        group_map = query.group_map
        wanted = list(query.flag_keys) if query.flag_keys else None
        fs, local = self._service.evaluate_locally(
            did, read_person(query.person_properties, query.distinct_id), group_map,
            query.group_properties, query.device_id, wanted,
        )  # fmt: skip
        flags: dict[str, FlagValue] = {}
        payloads: dict[str, Any] = {}
        # Unlike `evaluate_flags`, a requested key without a definition is no reason to ask.
        fallback = needs_remote(local, None)
        if local is not None and fs is not None:
            flags = dict(local.flag_values)
            for key, value in flags.items():
                stored = fs.stored_payload(key, payload_lookup_key(value))
                if stored is not None:
                    payloads[key] = stored
        if fallback and not query.only_evaluate_locally and not self._service.offline:
            _, response, _ = self._ask(query, group_map, wanted)
            if response is not None:
                failed = [k for k, r in response.flags.items() if r.server_failed]
                flags, payloads = server_wins(
                    flags,
                    payloads,
                    server_values(response),
                    server_payloads(response),
                    failed,
                )
        shown = {key: stored_payload_text(payload) for key, payload in payloads.items()}
        return {"featureFlags": flags, "featureFlagPayloads": shown}


def _enabled_variant(value: FlagValue) -> tuple[bool, str | None]:
    return (True, value) if isinstance(value, str) else (bool(value), None)
