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
import types
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import msgspec
from hogkit.core.exposure import exposure_hash
from hogkit.core.flag_called import (
    FlagCalled,
    groups_token,
    report_hash,
    user_hash,
)
from hogkit.core.remote import RemoteFlag
from hogkit.core.snapshot import FlagResult, Snapshot, thaw

from .problems import short_text
from .read_facts import FlagMeta, read_facts

__all__ = [
    "FlagCalledSink",
    "FlagEvaluations",
    "FlagMeta",
    "empty",
]

log = logging.getLogger("hogkit.transport.flags")

_EMPTY: Mapping[str, Any] = types.MappingProxyType({})


class FlagCalledSink(Protocol):
    """Where a snapshot sends `$feature_flag_called`: the client, which deduplicates.

    Two steps so a repeated read costs one cache lookup: `claim` reserves the report —
    `user` and `report` are `hogkit.transport.dedup` hashes the snapshot computes — and
    returns False when it was already sent. Only then does the snapshot gather the flag's
    metadata for `send`, which gives the claim back if the event could not be queued.
    """

    def claim(self, user: int, report: int) -> bool: ...

    def send(self, user: int, report: int, called: FlagCalled) -> None: ...

    def expose(self, user: int, exposure: int, called: FlagCalled) -> None:
        """Send `$experiment_exposure` for `called` unless that assignment was already
        exposed (`exposure` is its `hogkit.core.exposure.exposure_hash`)."""


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
        "_meta",
        "_minimal",
        "_remote",
        "_request_id",
        "_sink",
        "_token",
        "_unresolved",
        "_user",
        "_values",
    )

    def __init__(
        self,
        distinct_id: str,
        local: Snapshot | None = None,
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
        meta: dict[str, FlagMeta] | None = None,
    ) -> None:
        """`meta` is a memo of (id, version, has_experiment, has_payloads) per flag key,
        shared by every snapshot of one `FlagSet` (those never change for a set of
        definitions), so a report needs at most the flag's payload from the snapshot, not
        its whole result."""
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
        # Written by reads on any thread with no lock: one dict store is atomic under the GIL,
        # and readers take a `copy()` (also one atomic step) before iterating.
        self._accessed: dict[str, None] = dict.fromkeys(accessed)
        self._user: int | None = None  # dedup hashes, computed on the first reported read
        self._token = ""
        self._keys: tuple[str, ...] | None = None
        self._values: Mapping[str, bool | str] | None = None
        self._meta = meta

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
        key = flag_key(key)
        local = self._local
        if local is not None:
            payload = local.get_flag_payload(key)
            if payload is not None or local.get_flag(key) is not None:
                return payload
        record = self._answered(key)
        return None if record is None else thaw(record.payload)

    def result(self, key: str) -> FlagResult | None:
        """The flag's full result (value, payload, id, version, reason, and for a server
        record its `/flags?v=4` rule fields), or None when the snapshot has no value for it.
        A plain read: no event, no access."""
        key = flag_key(key)
        local = self._local
        if local is not None:
            found = local.result(key)
            if found is not None:
                return found
        record = self._remote.get(key)
        result = record.result() if record is not None else None
        if result is None or result.payload is None:
            return result
        return msgspec.structs.replace(result, payload=thaw(result.payload))

    def get_flag_payload_sent(self, key: str) -> Any:
        """The payload of the flag's value as its source wrote it (JSON text stays that
        exact text), or None. For readers that hand payloads out as text; sends nothing."""
        key = flag_key(key)
        local = self._local
        if local is not None and local.get_flag(key) is not None:
            return local.get_flag_payload_sent(key)
        record = self._answered(key)
        return None if record is None else thaw(record.payload_sent)

    def local_result(self, key: str) -> FlagResult | None:
        """The locally evaluated flag's full result (value, payload, id, version, reason), or
        None when local evaluation did not decide it. Not an access, sends nothing."""
        local = self._local
        return local.result(flag_key(key)) if local is not None else None

    def _answered(self, key: str) -> RemoteFlag | None:
        """The server's record that gives `key` its value (local evaluation left the flag
        open), or None: no record, or the server failed on the flag too."""
        record = self._remote.get(key)
        return None if record is None or record.server_failed else record

    def remote_record(self, key: str) -> RemoteFlag | None:
        """The server's record for a flag local evaluation left open, or None."""
        return self._remote.get(flag_key(key))

    @property
    def keys(self) -> tuple[str, ...]:
        """Flags with a value, local ones first (server-failed records excluded)."""
        keys = self._keys
        if keys is None:
            keys = self._keys = tuple(self.flag_values)
        return keys

    @property
    def unresolved(self) -> Mapping[str, Any]:
        """Flags local evaluation could not decide and no server value filled (key → reason)."""
        return self._unresolved

    unresolved_flags = unresolved  # posthog-python's name

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
                    if not record.server_failed:
                        merged.setdefault(key, record.value)
                values = types.MappingProxyType(merged)
            self._values = values
        return values

    def flag_columns(self) -> tuple[tuple[str, ...], tuple[bool | str, ...]]:
        """`flag_values` as (keys, values): two tuples in the same order. What
        `capture(flags=...)` reads, straight from the local snapshot when it is all there is."""
        local = self._local
        if self._values is None and not self._remote and local is not None:
            return local.flag_columns()
        values = self.flag_values
        return tuple(values), tuple(values.values())

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
        return tuple(self._accessed.copy())

    def __contains__(self, key: object) -> bool:
        return flag_key(key) in self.flag_values

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        flags = dict(self.flag_values)
        return f"FlagEvaluations(distinct_id={self._distinct_id!r}, flags={flags!r})"

    # ------------------------------------------------------------------ copies

    def only_accessed(self) -> FlagEvaluations:
        """A copy with only the flags read so far (empty when nothing was read yet)."""
        return self._select(self.accessed, warn=False)

    def only(self, keys: Iterable[str] | str) -> FlagEvaluations:
        """A copy with only `keys`; keys the snapshot lacks are dropped with one warning."""
        return self._select(flag_keys(keys), warn=True)

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
        accessed = tuple(self._accessed.copy())
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
            meta=self._meta,
        )

    # ------------------------------------------------------------------ reporting

    def _read(self, given: object, send: bool) -> bool | str | None:
        key: str | None = given if type(given) is str else flag_key(given)
        if key is None:  # names no flag: nothing to read, record or report
            return None
        local = self._local
        value = local.get_flag(key) if local is not None else None
        record = None
        if value is None and self._remote:
            record = self._remote.get(key)
            if record is not None and not record.server_failed:
                value = record.value
        self._accessed[key] = None
        sink = self._sink
        if send and sink is not None and self._distinct_id:
            try:
                user = self._user
                if user is None:
                    if self._groups:  # without groups the token stays "", as it starts
                        self._token = groups_token(self._groups)
                    user = self._user = user_hash(self._distinct_id)
                attribution = record.attribution if record is not None else None
                rule = attribution.identity() if attribution is not None else ""
                report = report_hash(self._token, key, value, rule)
                claimed = sink.claim(user, report)
                exposes = attribution is not None and attribution.exposes
                if claimed or exposes:
                    called = read_facts(
                        self._local,
                        self._meta,
                        key,
                        value,
                        record,
                        attribution,
                        self._distinct_id,
                        self._request_id,
                        self._evaluated_at,
                        self._errors,
                        self._unresolved,
                        self._groups,
                        self._disable_geoip,
                        self._minimal,
                    )
                    if claimed:
                        sink.send(user, report, called)
                    if exposes:
                        sink.expose(user, exposure_hash(self._token, called), called)
            except Exception:
                log.exception("could not report $feature_flag_called for %s", short_text(key))
        return value


def flag_key(key: object) -> Any:
    """`key` as a flag key: text as it is, anything else None, which no flag has.

    Reads take the key from application code, which may hand over None, a number or a
    list by mistake; such a key names no flag, and it must not break the read (a list is
    unhashable, an object's `__hash__` or `__eq__` may raise) nor be recorded as read.
    A `str` subclass (a `StrEnum` member) reads as its plain text.
    """
    if type(key) is str:
        return key
    return str.__str__(key) if isinstance(key, str) else None


def flag_keys(keys: Any) -> tuple[str, ...]:
    """The flag keys `only(keys)` selects: one text key, or the text keys of an iterable;
    anything else (None, a number, an iterable that raises) selects none, with a warning."""
    if isinstance(keys, str):
        return (flag_key(keys),)
    try:
        given = tuple(keys)
    except Exception as exc:
        log.warning("FlagEvaluations.only() takes flag keys; ignoring %s", type(exc).__name__)
        return ()
    chosen = tuple(k for k in map(flag_key, given) if k is not None)
    if len(chosen) != len(given):
        log.warning("FlagEvaluations.only() ignored keys that are not text")
    return chosen


def empty(distinct_id: str = "", **kwargs: Any) -> FlagEvaluations:
    """A snapshot with no flags (disabled client, no distinct id, `flag_keys=[]`)."""
    return FlagEvaluations(distinct_id, **kwargs)
