"""The decision getters and definition queries of the older flag API.

`get_flags_decision`, `get_feature_variants`, `get_feature_payloads` and
`get_feature_flags_and_payloads` always ask `/flags` (one request, no local evaluation, no
events) and report the answer as the server wrote it; `get_remote_config_payload` asks the
remote-config endpoint with the secret key; the evaluation-runtime queries read the loaded
definitions. None of them raises into the caller unless `debug=True`.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hogkit.core.legacy_reads import (
    FeatureFlagEvaluationRuntime,
    decision_record,
    empty_decision,
    runtime_matches,
    stored_payload_text,
    valid_runtime,
)
from hogkit.core.payloads import read_response_json
from hogkit.core.remote import FlagsResponse

from . import http
from .flag_query import FlagQuery, GroupProperties, Groups
from .flags import FlagService
from .problems import Problems, short_text

__all__ = ["FlagDecisions", "RemoteConfig", "server_payloads", "server_values"]

log = logging.getLogger("hogkit.transport.flags")


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


def server_values(response: FlagsResponse) -> dict[str, FlagValue]:
    """Every record's value, except those the server marked failed."""
    return {k: r.value for k, r in response.flags.items() if not r.server_failed}


def server_payloads(response: FlagsResponse) -> dict[str, Any]:
    """The payload, as the server wrote it, of every enabled, not failed record that has one."""
    return {
        key: record.payload_sent
        for key, record in response.flags.items()
        if record.payload_sent is not None and record.enabled and not record.server_failed
    }


class FlagDecisions:
    """The decision getters and definition queries a Client forwards."""

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

    # ------------------------------------------------------------------ decisions

    def decision(self, query: FlagQuery) -> tuple[dict[str, Any] | None, FlagsResponse | None]:
        """One `/flags` request for the decision getters: (the answer as sent, read)."""
        if self._disabled() or self._service.offline:
            return None, None
        document, response, error = self._service.ask(
            query.distinct_id,
            query.group_map,
            query.person_properties or {},
            query.group_properties,
            query.disable_geoip,
            query.device_id,
            list(query.flag_keys) if query.flag_keys else None,
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
        query = FlagQuery(
            distinct_id=distinct_id,
            groups=groups,
            person_properties=person_properties,
            group_properties=group_properties,
            disable_geoip=disable_geoip,
            flag_keys=flag_keys_to_evaluate,
            device_id=device_id,
        )
        try:
            document, response = self.decision(query)
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
            key: decision_record(record, records.get(key)) for key, record in response.flags.items()
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
        query = FlagQuery(
            distinct_id=distinct_id,
            groups=groups,
            person_properties=person_properties,
            group_properties=group_properties,
            disable_geoip=disable_geoip,
            flag_keys=flag_keys_to_evaluate,
            device_id=device_id,
        )
        values: dict[str, FlagValue] = self._both(query)["featureFlags"]
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
        query = FlagQuery(
            distinct_id=distinct_id,
            groups=groups,
            person_properties=person_properties,
            group_properties=group_properties,
            disable_geoip=disable_geoip,
            flag_keys=flag_keys_to_evaluate,
            device_id=device_id,
        )
        payloads: dict[str, Any] = self._both(query)["featureFlagPayloads"]
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
        return self._both(
            FlagQuery(
                distinct_id=distinct_id,
                groups=groups,
                person_properties=person_properties,
                group_properties=group_properties,
                disable_geoip=disable_geoip,
                flag_keys=flag_keys_to_evaluate,
                device_id=device_id,
            )
        )

    def _both(self, query: FlagQuery) -> dict[str, Any]:
        try:
            _, response = self.decision(query)
        except Exception as exc:
            self._problems.fail("get_feature_flags_and_payloads", exc)
            response = None
        if response is None:
            return {"featureFlags": {}, "featureFlagPayloads": {}}
        payloads = server_payloads(response)
        return {
            "featureFlags": server_values(response),
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
                log.error("remote config for %s: HTTP %d", short_text(key), reply.status)
                return None
            return read_response_json(reply.body)
        except Exception as exc:
            self._problems.fail("get_remote_config_payload", exc)
            return None

    def get_feature_flag_evaluation_runtime(self, key: str) -> FeatureFlagEvaluationRuntime | None:
        """Where the loaded flag `key` is meant to be evaluated: SERVER, CLIENT or ALL (the
        default), members equal to "server", "client" and "all"; None when no definition
        for it is loaded."""
        try:
            fs = self._service.flagset
            runtime = None if fs is None else fs.evaluation_runtime(key)
        except Exception as exc:  # an unhashable key, or one whose `__eq__` raises
            self._problems.fail("get_feature_flag_evaluation_runtime", exc)
            return None
        return None if runtime is None else FeatureFlagEvaluationRuntime(runtime)

    def get_feature_flag_keys_by_evaluation_runtime(self, evaluation_runtime: Any) -> list[str]:
        """Loaded flag keys, in load order, that suit `evaluation_runtime` ("all" flags suit
        either runtime, and asking for "all" lists every flag)."""
        wanted = getattr(evaluation_runtime, "value", evaluation_runtime)
        fs = self._service.flagset
        if fs is None or not isinstance(wanted, str) or valid_runtime(wanted) != wanted:
            return []
        return [
            key for key in fs.keys if runtime_matches(fs.evaluation_runtime(key) or "all", wanted)
        ]
