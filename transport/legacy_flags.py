"""The older flag methods, answering exactly as applications written for them expect.

`get_feature_flag`, `feature_enabled`, `get_feature_flag_result`, `get_feature_flag_payload`,
the bulk getters (`get_all_flags`, `get_all_flags_and_payloads`) and the decision getters
(`get_flags_decision`, `get_feature_variants`, ...) each have rules of their own (see
`hogkit.core.legacy_reads`): a single-flag read evaluates its one flag locally and asks the
server for that flag alone; a bulk read takes the server's whole answer when any flag needs
it; the decision getters always ask. This collaborator performs the reads and requests and
reports `$feature_flag_called`; the rules are the core's. Nothing here raises into the
caller unless `debug=True`.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import msgspec
from hogkit.core.flag_called import FlagCalled, report_of
from hogkit.core.legacy_reads import (
    FeatureFlagResult,
    decision_record,
    empty_decision,
    flag_result,
    payload_lookup_key,
    remote_read_error,
    runtime_matches,
    server_wins,
    stored_payload_text,
    valid_runtime,
)
from hogkit.core.remote import FlagsResponse, RemoteFlag

from . import http
from .flags import FlagService
from .problems import Problems

__all__ = ["LegacyFlags", "RemoteConfig"]

log = logging.getLogger("hogkit.transport.flags")

_DECODER: Final = msgspec.json.Decoder()

Groups = Mapping[str, Any] | None
GroupProperties = Mapping[str, Mapping[str, Any]] | None
FlagValue = bool | str


class RemoteConfig:
    """Where `get_remote_config_payload` asks: the host, the project key, the secret key."""

    __slots__ = ("api_key", "host", "secret_key", "timeout")

    def __init__(self, host: str, api_key: str, secret_key: str | None, timeout: float) -> None:
        self.host = host.rstrip("/")
        self.api_key = api_key
        self.secret_key = secret_key
        self.timeout = timeout

    def url(self, key: str) -> str:
        flag = urllib.parse.quote(key, safe="")
        token = urllib.parse.quote(self.api_key, safe="")
        return f"{self.host}/api/projects/@current/feature_flags/{flag}/remote_config?token={token}"


def _sent_payload(document: Mapping[str, Any] | None, key: str) -> Any:
    """A record's payload exactly as the server wrote it (text stays text)."""
    if not document:
        return None
    records = document.get("flags")
    if isinstance(records, dict):
        record = records.get(key)
        meta = record.get("metadata") if isinstance(record, dict) else None
        return meta.get("payload") if isinstance(meta, dict) else None
    payloads = document.get("featureFlagPayloads")
    return payloads.get(key) if isinstance(payloads, dict) else None


def _values(response: FlagsResponse) -> dict[str, FlagValue]:
    """Every record's value, except those the server marked failed."""
    return {k: r.value for k, r in response.flags.items() if not r.server_failed}


def _payloads(response: FlagsResponse, document: Mapping[str, Any] | None) -> dict[str, Any]:
    """The payload text of every enabled, not failed record that has one."""
    out: dict[str, Any] = {}
    for key, record in response.flags.items():
        if record.server_failed or not record.enabled:
            continue
        sent = _sent_payload(document, key)
        if sent is not None:
            out[key] = sent
    return out


class LegacyFlags:
    """The older flag methods a Client forwards; see the module docstring."""

    def __init__(
        self,
        service: FlagService,
        problems: Problems,
        disabled: Callable[[], bool],
        remote_config: RemoteConfig,
    ) -> None:
        self._service = service
        self._problems = problems
        self._disabled = disabled
        self._remote_config = remote_config

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
        try:
            return self.read(
                key,
                distinct_id,
                None,
                groups,
                person_properties,
                group_properties,
                only_evaluate_locally,
                send_feature_flag_events,
                disable_geoip,
                device_id,
            )
        except Exception as exc:
            self._problems.fail("get_feature_flag_result", exc)
            return None

    def read(
        self,
        key: str,
        distinct_id: Any,
        match_value: FlagValue | None,
        groups: Groups,
        person_properties: Mapping[str, Any] | None,
        group_properties: GroupProperties,
        only_evaluate_locally: bool,
        send_events: bool,
        disable_geoip: bool | None,
        device_id: str | None,
    ) -> FeatureFlagResult | None:
        """One single-flag read. `match_value` replaces the reported value (and chooses the
        payload) when the flag has a value."""
        if self._disabled() or distinct_id is None or distinct_id == "":
            return None
        did = distinct_id if type(distinct_id) is str else str(distinct_id)
        group_map = dict(groups) if groups else {}
        fs, local = self._service.evaluate_locally(
            did, person_properties, group_map, group_properties, device_id, (key,)
        )
        value = local.get_flag(key) if local is not None else None
        if value is not None and fs is not None:
            shown = match_value if match_value is not None else value
            result = flag_result(key, shown, fs.stored_payload(key, payload_lookup_key(shown)))
            if send_events:
                self._report_local(fs, did, key, result, group_map, disable_geoip)
            return result
        if only_evaluate_locally or self._service.offline:
            if send_events:
                self._report(did, group_map, disable_geoip, key, None, None, False)
            return None
        _, response, error = self._service.ask(
            distinct_id,
            group_map,
            person_properties,
            group_properties,
            disable_geoip,
            device_id,
            [key],
        )
        return self._remote_result(
            did, key, match_value, group_map, disable_geoip, response, error, send_events
        )

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
    ) -> FeatureFlagResult | None:
        record: RemoteFlag | None = None
        result = None
        if response is not None:
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
                        record.reason_description,
                    )
        if send_events:
            self._report(did, groups, disable_geoip, key, result, error, False, record, response)
        return result

    def _report_local(
        self,
        fs: Any,
        did: str,
        key: str,
        result: FeatureFlagResult | None,
        groups: dict[str, Any],
        disable_geoip: bool | None,
    ) -> None:
        self._report(did, groups, disable_geoip, key, result, None, True, local_set=fs)

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
    ) -> None:
        """`$feature_flag_called` for one read, deduplicated like every other report."""
        value = result.get_value() if result is not None else None
        user, report = report_of(did, key, value, groups)
        service = self._service
        if not service.claim(user, report):
            return
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
        service.send(
            user,
            report,
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
            ),
        )

    # ------------------------------------------------------------------ bulk reads

    def all_flags_and_payloads(
        self,
        distinct_id: Any,
        groups: Groups,
        person_properties: Mapping[str, Any] | None,
        group_properties: GroupProperties,
        only_evaluate_locally: bool,
        disable_geoip: bool | None,
        flag_keys: Sequence[str] | None,
        device_id: str | None,
    ) -> dict[str, Any]:
        """`get_all_flags_and_payloads`: local results, or the server's whole answer when
        some flag needs it (a key the server failed keeps its local result)."""
        if self._disabled():
            return {"featureFlags": None, "featureFlagPayloads": None}
        did = "" if distinct_id is None else str(distinct_id)
        group_map = dict(groups) if groups else {}
        wanted = list(flag_keys) if flag_keys else None
        fs, local = self._service.evaluate_locally(
            did, person_properties, group_map, group_properties, device_id, wanted
        )
        flags: dict[str, FlagValue] = {}
        payloads: dict[str, Any] = {}
        fallback = local is None
        if local is not None and fs is not None:
            flags = dict(local.flag_values)
            for key, value in flags.items():
                stored = fs.stored_payload(key, payload_lookup_key(value))
                if stored is not None:
                    payloads[key] = stored
            fallback = bool(local.unresolved)
        if fallback and not only_evaluate_locally and not self._service.offline:
            document, response, _ = self._service.ask(
                distinct_id,
                group_map,
                person_properties,
                group_properties,
                disable_geoip,
                device_id,
                wanted,
            )
            if response is not None:
                failed = [k for k, r in response.flags.items() if r.server_failed]
                flags, payloads = server_wins(
                    flags, payloads, _values(response), _payloads(response, document), failed
                )
        shown = {key: stored_payload_text(payload) for key, payload in payloads.items()}
        return {"featureFlags": flags, "featureFlagPayloads": shown}

    # ------------------------------------------------------------------ decisions

    def decision(
        self,
        distinct_id: Any,
        groups: Groups,
        person_properties: Mapping[str, Any] | None,
        group_properties: GroupProperties,
        disable_geoip: bool | None,
        flag_keys: Sequence[str] | None,
        device_id: str | None,
    ) -> tuple[dict[str, Any] | None, FlagsResponse | None]:
        """One `/flags` request for the decision getters: (the answer as sent, read)."""
        if self._disabled() or self._service.offline:
            return None, None
        document, response, error = self._service.ask(
            distinct_id,
            dict(groups) if groups else {},
            person_properties or {},
            group_properties,
            disable_geoip,
            device_id,
            list(flag_keys) if flag_keys else None,
            group_keys=False,
        )
        if response is None:
            log.error("unable to get feature flags: %s", error)
        return document, response

    def get_flags_decision(
        self,
        distinct_id: Any = None,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        disable_geoip: bool | None = None,
        flag_keys_to_evaluate: Sequence[str] | None = None,
        device_id: str | None = None,
    ) -> dict[str, Any]:
        """The server's answer for a person: `flags` (key → record, failed ones included),
        `requestId`, `errorsWhileComputingFlags`, ...; no events, no local evaluation."""
        try:
            document, response = self.decision(
                distinct_id,
                groups,
                person_properties,
                group_properties,
                disable_geoip,
                flag_keys_to_evaluate,
                device_id,
            )
        except Exception as exc:
            self._problems.fail("get_flags_decision", exc)
            return empty_decision()
        if response is None or document is None:
            return empty_decision()
        out = {
            k: v
            for k, v in document.items()
            if k not in ("flags", "featureFlags", "featureFlagPayloads")
        }
        sent = document.get("flags")
        records: dict[str, Any] = sent if isinstance(sent, dict) else {}
        out["flags"] = {
            key: decision_record(
                key,
                record.enabled,
                record.variant,
                records.get(key),
                flag_id=record.id,
                version=record.version,
                failed=record.failed,
            )
            for key, record in response.flags.items()
        }
        out.setdefault("requestId", None)
        return out

    def get_feature_variants(
        self,
        distinct_id: Any,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        disable_geoip: bool | None = None,
        flag_keys_to_evaluate: Sequence[str] | None = None,
        device_id: str | None = None,
    ) -> dict[str, FlagValue]:
        """Every flag's value from the server (failed ones left out); `{}` on failure."""
        values: dict[str, FlagValue] = self.get_feature_flags_and_payloads(
            distinct_id,
            groups,
            person_properties,
            group_properties,
            disable_geoip,
            flag_keys_to_evaluate,
            device_id,
        )["featureFlags"]
        return values

    def get_feature_payloads(
        self,
        distinct_id: Any,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        disable_geoip: bool | None = None,
        flag_keys_to_evaluate: Sequence[str] | None = None,
        device_id: str | None = None,
    ) -> dict[str, Any]:
        """Each enabled flag's payload text as the server wrote it (None when it is not
        JSON); `{}` on failure."""
        payloads: dict[str, Any] = self.get_feature_flags_and_payloads(
            distinct_id,
            groups,
            person_properties,
            group_properties,
            disable_geoip,
            flag_keys_to_evaluate,
            device_id,
        )["featureFlagPayloads"]
        return payloads

    def get_feature_flags_and_payloads(
        self,
        distinct_id: Any,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        disable_geoip: bool | None = None,
        flag_keys_to_evaluate: Sequence[str] | None = None,
        device_id: str | None = None,
    ) -> dict[str, Any]:
        """`get_feature_variants` and `get_feature_payloads` from one request, under
        `featureFlags` and `featureFlagPayloads`."""
        try:
            document, response = self.decision(
                distinct_id,
                groups,
                person_properties,
                group_properties,
                disable_geoip,
                flag_keys_to_evaluate,
                device_id,
            )
        except Exception as exc:
            self._problems.fail("get_feature_flags_and_payloads", exc)
            document, response = None, None
        if response is None:
            return {"featureFlags": {}, "featureFlagPayloads": {}}
        payloads = _payloads(response, document)
        return {
            "featureFlags": _values(response),
            "featureFlagPayloads": {k: stored_payload_text(v) for k, v in payloads.items()},
        }

    # ------------------------------------------------------------------ definitions

    def get_remote_config_payload(self, key: str) -> Any:
        """A remote-config flag's payload, decrypted by PostHog (needs `secret_key`).

        None when the client is disabled, without a secret key, or when the request fails.
        """
        if self._disabled():
            return None
        where = self._remote_config
        if not where.secret_key:
            log.warning("get_remote_config_payload needs a secret_key; returning None")
            return None
        try:
            reply = http.request(
                "GET",
                where.url(key),
                headers={"Authorization": f"Bearer {where.secret_key}"},
                timeout=where.timeout,
            )
            if reply.status != 200:
                log.error("remote config for %r: HTTP %d", key, reply.status)
                return None
            return _DECODER.decode(reply.body)
        except Exception as exc:
            self._problems.fail("get_remote_config_payload", exc)
            return None

    def get_feature_flag_evaluation_runtime(self, key: str) -> str | None:
        """Where the loaded flag `key` is meant to be evaluated: "server", "client" or "all"
        (the default); None when no definition for it is loaded."""
        fs = self._service.flagset
        return None if fs is None else fs.evaluation_runtime(key)

    def get_feature_flag_keys_by_evaluation_runtime(self, evaluation_runtime: Any) -> list[str]:
        """Loaded flag keys, in load order, that suit `evaluation_runtime` ("all" flags suit
        either runtime, and asking for "all" lists every flag)."""
        wanted = getattr(evaluation_runtime, "value", evaluation_runtime)
        fs = self._service.flagset
        if fs is None or valid_runtime(wanted) != wanted:
            return []
        return [
            key for key in fs.keys if runtime_matches(fs.evaluation_runtime(key) or "all", wanted)
        ]


def _enabled_variant(value: FlagValue) -> tuple[bool, str | None]:
    return (True, value) if isinstance(value, str) else (bool(value), None)
