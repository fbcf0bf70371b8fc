"""`FlagEvaluations`: one person's flags, evaluated once, read many times.

What `Client.evaluate_flags` returns. It pairs the core's immutable local snapshot with the
records a `/flags` fallback added (local values always win), and adds what only the shell can
do: reading a flag records the access and reports `$feature_flag_called` (deduplicated by the
client), so analytics learn which flags a request actually branched on. `get_flag_payload`
is a plain read: no event, no access.

Passing the snapshot (or `only_accessed()`/`only(keys)`) to `capture(flags=...)` attaches the
exact values the code branched on, with no second request — `flag_values` is what capture
reads. `only_accessed()` is order-dependent by design: it holds what was read *so far*.
"""

from __future__ import annotations

import logging
import threading
import types
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from hogkit.core.remote import RemoteFlag
from hogkit.core.snapshot import thaw

__all__ = ["EVALUATED_LOCALLY", "FlagCalledSink", "FlagEvaluations", "LocalSnapshot", "empty"]

log = logging.getLogger("hogkit.transport.flags")

EVALUATED_LOCALLY = "Evaluated locally"
"""`$feature_flag_reason` of a locally evaluated read, as every PostHog SDK reports it."""

_EMPTY: Mapping[str, Any] = types.MappingProxyType({})


class LocalResult(Protocol):
    """The parts of `hogkit.core`'s `FlagResult` a read reports."""

    @property
    def id(self) -> int | None: ...
    @property
    def version(self) -> int | None: ...
    @property
    def has_experiment(self) -> bool | None: ...


class LocalSnapshot(Protocol):
    """The parts of `hogkit.core`'s evaluation `Snapshot` this module reads."""

    def get_flag(self, key: str) -> bool | str | None: ...
    def get_flag_payload(self, key: str) -> Any: ...
    @property
    def keys(self) -> tuple[str, ...]: ...
    @property
    def flag_values(self) -> Mapping[str, bool | str]: ...
    @property
    def results(self) -> Mapping[str, LocalResult]: ...
    def only(self, keys: Iterable[str]) -> LocalSnapshot: ...


class FlagCalledSink(Protocol):
    """Where a snapshot sends `$feature_flag_called`: the client, which deduplicates.

    Two steps so a repeated read costs one cache lookup: `claim` reserves the report
    (None when it was already sent), and only then does the snapshot gather the flag's
    metadata for `send`, which releases the claim if the event could not be queued.
    """

    def claim(
        self, distinct_id: str, key: str, response: bool | str | None, groups: Mapping[str, Any]
    ) -> object | None: ...

    def send(
        self,
        claim: object,
        *,
        distinct_id: str,
        key: str,
        response: bool | str | None,
        payload: Any,
        locally_evaluated: bool,
        flag_id: int | None,
        flag_version: int | None,
        reason: str | None,
        request_id: str | None,
        evaluated_at: int | None,
        error: list[str],
        has_experiment: bool | None,
        groups: Mapping[str, Any],
        disable_geoip: bool | None,
        minimal: bool,
    ) -> None: ...


class FlagEvaluations:
    """A point-in-time set of flag values for one distinct id (see the module docstring)."""

    __slots__ = (
        "_accessed",
        "_disable_geoip",
        "_distinct_id",
        "_errors",
        "_evaluated_at",
        "_groups",
        "_keys",
        "_local",
        "_lock",
        "_minimal",
        "_remote",
        "_request_id",
        "_sink",
        "_unresolved",
        "_values",
    )

    def __init__(
        self,
        distinct_id: str,
        *,
        local: LocalSnapshot | None = None,
        remote: Mapping[str, RemoteFlag] | None = None,
        unresolved: Mapping[str, Any] | None = None,
        groups: Mapping[str, Any] | None = None,
        disable_geoip: bool | None = None,
        request_id: str | None = None,
        evaluated_at: int | None = None,
        errors: tuple[str, ...] = (),
        minimal: bool = False,
        sink: FlagCalledSink | None = None,
        accessed: Iterable[str] = (),
    ) -> None:
        self._distinct_id = distinct_id
        self._local = local
        self._remote: Mapping[str, RemoteFlag] = remote if remote is not None else _EMPTY
        self._unresolved: Mapping[str, Any] = (
            types.MappingProxyType(dict(unresolved)) if unresolved else _EMPTY
        )
        self._groups: Mapping[str, Any] = dict(groups) if groups else _EMPTY
        self._disable_geoip = disable_geoip
        self._request_id = request_id
        self._evaluated_at = evaluated_at
        self._errors = errors
        self._minimal = minimal
        self._sink = sink
        self._accessed: dict[str, None] = dict.fromkeys(accessed)
        self._lock = threading.Lock()
        self._keys: tuple[str, ...] | None = None
        self._values: Mapping[str, bool | str] | None = None

    # ------------------------------------------------------------------ reads

    def is_enabled(
        self, key: str, default_value: bool = False, *, send_feature_flag_events: bool = True
    ) -> bool:
        """Whether the flag is on; `default_value` only when the snapshot has no value for it.

        A present disabled flag is False whatever the default. Records the access and sends
        `$feature_flag_called` once per (distinct id, flag, value, groups).
        """
        value = self._read(key, send_feature_flag_events)
        if value is None:
            return default_value
        return value is not False

    def get_flag(self, key: str, *, send_feature_flag_events: bool = True) -> bool | str | None:
        """The variant, True, False, or None when the snapshot has no value (absent or failed)."""
        return self._read(key, send_feature_flag_events)

    def get_flag_payload(self, key: str) -> Any:
        """The decoded payload of the flag's value, or None. Not an access, sends nothing."""
        local = self._local
        if local is not None:
            payload = local.get_flag_payload(key)
            if payload is not None or local.get_flag(key) is not None:
                return payload
        record = self._remote.get(key)
        if record is None or record.server_failed:
            return None
        return thaw(record.payload)

    @property
    def keys(self) -> tuple[str, ...]:
        """Flags with a value, local ones first (server-failed records excluded)."""
        keys = self._keys
        if keys is None:
            local = self._local.keys if self._local is not None else ()
            if self._remote:
                known = set(local)
                local += tuple(
                    k for k, r in self._remote.items() if not r.server_failed and k not in known
                )
            keys = local
            self._keys = keys
        return keys

    @property
    def unresolved(self) -> Mapping[str, Any]:
        """Flags local evaluation could not decide and no server value filled (key → reason)."""
        return self._unresolved

    @property
    def flag_values(self) -> Mapping[str, bool | str]:
        """`{key: value}` of every flag with a value: what `capture(flags=...)` attaches."""
        values = self._values
        if values is None:
            local = self._local
            if not self._remote:
                values = local.flag_values if local is not None else _EMPTY
            else:
                merged = dict(local.flag_values) if local is not None else {}
                for key, record in self._remote.items():
                    if not record.server_failed and key not in merged:
                        merged[key] = record.value
                values = types.MappingProxyType(merged)
            self._values = values
        return values

    @property
    def distinct_id(self) -> str:
        return self._distinct_id

    @property
    def groups(self) -> Mapping[str, Any]:
        return self._groups

    @property
    def request_id(self) -> str | None:
        return self._request_id

    @property
    def evaluated_at(self) -> int | None:
        return self._evaluated_at

    @property
    def errors(self) -> tuple[str, ...]:
        """Problems of the evaluation as a whole (`quota_limited`, `timeout`, ...)."""
        return self._errors

    @property
    def accessed(self) -> tuple[str, ...]:
        """Keys read with `is_enabled`/`get_flag` so far, in first-read order."""
        with self._lock:
            return tuple(self._accessed)

    def __contains__(self, key: object) -> bool:
        return key in self.flag_values

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return (
            f"FlagEvaluations(distinct_id={self._distinct_id!r}, flags={dict(self.flag_values)!r})"
        )

    # ------------------------------------------------------------------ copies

    def only_accessed(self) -> FlagEvaluations:
        """A copy with only the flags read so far (empty when nothing was read yet)."""
        return self._select(self.accessed, warn=False)

    def only(self, keys: Iterable[str] | str) -> FlagEvaluations:
        """A copy with only `keys`; keys the snapshot lacks are dropped with one warning."""
        return self._select((keys,) if isinstance(keys, str) else tuple(keys), warn=True)

    def _select(self, keys: tuple[str, ...], *, warn: bool) -> FlagEvaluations:
        wanted = dict.fromkeys(keys)
        local = self._local.only(wanted) if self._local is not None else None
        local_values = local.flag_values if local is not None else _EMPTY
        remote = {k: r for k, r in self._remote.items() if k in wanted and k not in local_values}
        if warn:
            values = self.flag_values
            missing = [k for k in wanted if k not in values]
            if missing:
                log.warning(
                    "FlagEvaluations.only() dropped keys that are not in the evaluation: %s",
                    ", ".join(missing),
                )
        with self._lock:
            accessed = tuple(self._accessed)
        return FlagEvaluations(
            self._distinct_id,
            local=local,
            remote=types.MappingProxyType(remote),
            groups=self._groups,
            disable_geoip=self._disable_geoip,
            request_id=self._request_id,
            evaluated_at=self._evaluated_at,
            errors=self._errors,
            minimal=self._minimal,
            sink=self._sink,
            accessed=accessed,
        )

    # ------------------------------------------------------------------ reporting

    def _read(self, key: str, send: bool) -> bool | str | None:
        value = self._local.get_flag(key) if self._local is not None else None
        record = None
        if value is None and self._remote:
            record = self._remote.get(key)
            if record is not None and not record.server_failed:
                value = record.value
        with self._lock:
            self._accessed[key] = None
        sink = self._sink
        if send and sink is not None and self._distinct_id:
            try:
                claim = sink.claim(self._distinct_id, key, value, self._groups)
                if claim is not None:
                    self._send(sink, claim, key, value, record)
            except Exception:
                log.exception("could not report $feature_flag_called for %r", key)
        return value

    def _send(
        self,
        sink: FlagCalledSink,
        claim: object,
        key: str,
        value: bool | str | None,
        record: RemoteFlag | None,
    ) -> None:
        errors = list(self._errors)
        local = None
        if record is None and value is not None and self._local is not None:
            # One flag's metadata: `results` would build every flag's record and payload.
            one = getattr(self._local, "result", None)
            local = one(key) if callable(one) else self._local.only((key,)).results[key]
            payload = self._local.get_flag_payload(key)
            flag_id, version = local.id, local.version
            reason: str | None = EVALUATED_LOCALLY
            has_experiment = local.has_experiment
            evaluated_at = None
        elif record is not None:
            payload, flag_id, version = record.payload, record.id, record.version
            reason = record.reason_description
            has_experiment = record.has_experiment
            evaluated_at = self._evaluated_at
            if record.server_failed:
                errors.append("evaluation_failed")
        else:
            payload = flag_id = version = reason = has_experiment = None
            evaluated_at = self._evaluated_at
        if key in self._unresolved:
            errors.append("local_evaluation_inconclusive")
        elif local is None and record is None:
            errors.append("flag_missing")
        sink.send(
            claim,
            distinct_id=self._distinct_id,
            key=key,
            response=value,
            payload=payload,
            locally_evaluated=local is not None,
            flag_id=flag_id,
            flag_version=version,
            reason=reason,
            request_id=self._request_id,
            evaluated_at=evaluated_at,
            error=errors,
            has_experiment=has_experiment,
            groups=self._groups,
            disable_geoip=self._disable_geoip,
            minimal=self._minimal and has_experiment is False,
        )


def empty(distinct_id: str = "", **kwargs: Any) -> FlagEvaluations:
    """A snapshot with no flags (disabled client, no distinct id, `flag_keys=[]`)."""
    return FlagEvaluations(distinct_id, **kwargs)
