"""What an evaluation returns: immutable values, cheap to create and to read.

A `Snapshot` holds the values computed by one `FlagSet.evaluate` call. Reading a flag is
a dictionary lookup; the richer `FlagResult` objects (payload, id, version, reason) are
built only when `results` is first read, since most callers never look at them.

Payloads are decoded once, when the definitions are compiled, and shared by every
snapshot. Scalars are returned as they are; JSON objects and arrays are copied on every
read (a plain recursive copy, a few hundred nanoseconds for typical payloads), so a
caller that mutates a payload can never change what another caller, or a later
evaluation, sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

import attrs

from .reasons import Unresolved

__all__ = ["FlagResult", "Problem", "Reason", "Snapshot", "thaw"]

FlagValue = bool | str


@attrs.frozen
class Reason:
    """Why a flag has the value it has.

    `kind` is one of: `condition_match`, `out_of_rollout`, `no_condition_match`,
    `no_conditions`, `flag_inactive`, `holdout`, `feature_enrollment`, `early_exit`,
    `group_not_provided`, `condition_skipped`. `condition_index` is the release condition
    it refers to (0-based) when there is one; `property` names the filter that decided a
    non-match (a property key, `cohort <id>` or `flag <key>`).
    """

    kind: str
    condition_index: int | None
    property: str | None
    detail: str


@attrs.frozen
class Problem:
    """A reason, known from the definition alone, why a flag may need the server."""

    reason: Unresolved
    message: str


@attrs.frozen
class FlagResult:
    key: str
    value: FlagValue
    payload: Any
    id: int | None
    version: int | None
    has_experiment: bool | None
    reason: Reason


class _FlagInfo(Protocol):
    """What a snapshot needs from a compiled flag."""

    @property
    def id(self) -> int | None: ...

    @property
    def version(self) -> int | None: ...

    @property
    def has_experiment(self) -> bool | None: ...

    def payload_for(self, value: FlagValue) -> Any: ...

    def reason_for(self, token: Any) -> Reason: ...


def thaw(value: Any) -> Any:
    """A private copy of a decoded JSON payload (objects and arrays copied, scalars shared)."""
    if type(value) is dict:
        return {key: thaw(item) for key, item in value.items()}
    if type(value) is list:
        return [thaw(item) for item in value]
    return value


@attrs.frozen(eq=False)
class Snapshot:
    """The flags of one person (or group) at one moment. Never changes after creation."""

    distinct_id: str
    _values: dict[str, FlagValue]
    _reasons: dict[str, Any]
    _unresolved: dict[str, Unresolved]
    _flags: Mapping[str, _FlagInfo]
    _results: dict[str, Mapping[str, FlagResult]] = attrs.field(factory=dict)

    @classmethod
    def _build(
        cls,
        distinct_id: str,
        values: dict[str, FlagValue],
        reasons: dict[str, Any],
        unresolved: dict[str, Unresolved],
        flags: Mapping[str, _FlagInfo],
    ) -> Snapshot:
        # The hot path: fill the slots directly, skipping attrs' generated __init__ (whose
        # frozen setattr per field costs a microsecond per snapshot).
        snap = _new(cls)
        _set_distinct_id(snap, distinct_id)
        _set_values(snap, values)
        _set_reasons(snap, reasons)
        _set_unresolved(snap, unresolved)
        _set_flags(snap, flags)
        return snap

    def get_flag(self, key: str) -> FlagValue | None:
        """The variant, True or False; None when the flag is absent or unresolved."""
        return self._values.get(key)

    def is_enabled(self, key: str) -> bool:
        """True for any value but False (variants and holdouts count as enabled)."""
        value = self._values.get(key)
        return value is not None and value is not False

    def get_flag_payload(self, key: str) -> Any:
        """The decoded payload for the flag's value, or None."""
        value = self._values.get(key)
        if value is None:
            return None
        return thaw(self._flags[key].payload_for(value))

    @property
    def keys(self) -> tuple[str, ...]:
        """Keys that resolved locally, in definition order."""
        return tuple(self._values)

    @property
    def flag_values(self) -> Mapping[str, FlagValue]:
        return MappingProxyType(self._values)

    @property
    def unresolved(self) -> Mapping[str, Unresolved]:
        """Keys that need the server, with the reason (precedence already applied)."""
        return MappingProxyType(self._unresolved)

    def result(self, key: str) -> FlagResult | None:
        """One resolved flag's full result (None when absent or unresolved), without
        building everyone else's."""
        value = self._values.get(key)
        if value is None:
            return None
        info = self._flags[key]
        return FlagResult(
            key=key,
            value=value,
            payload=thaw(info.payload_for(value)),
            id=info.id,
            version=info.version,
            has_experiment=info.has_experiment,
            reason=info.reason_for(self._reasons[key]),
        )

    @property
    def results(self) -> Mapping[str, FlagResult]:
        """Every resolved flag with its payload, id, version and reason."""
        try:
            cache = self._results
        except AttributeError:
            # Left unset by `_build`: most snapshots never need it.
            cache = {}
            _set_results(self, cache)
        cached = cache.get("all")
        if cached is None:
            built = {key: self.result(key) for key in self._values}
            cached = MappingProxyType(built)  # type: ignore[arg-type]
            cache["all"] = cached
        return cached

    def only(self, keys: Iterable[str]) -> Snapshot:
        """A snapshot restricted to `keys` (unknown keys are ignored)."""
        wanted = set(keys)
        return Snapshot._build(
            self.distinct_id,
            {k: v for k, v in self._values.items() if k in wanted},
            {k: v for k, v in self._reasons.items() if k in wanted},
            {k: v for k, v in self._unresolved.items() if k in wanted},
            self._flags,
        )

    def __repr__(self) -> str:
        return (
            f"Snapshot(distinct_id={self.distinct_id!r}, flags={self._values!r}, "
            f"unresolved={ {k: v.value for k, v in self._unresolved.items()}!r})"
        )


_new = object.__new__
_set_distinct_id = Snapshot.__dict__["distinct_id"].__set__
_set_values = Snapshot.__dict__["_values"].__set__
_set_reasons = Snapshot.__dict__["_reasons"].__set__
_set_unresolved = Snapshot.__dict__["_unresolved"].__set__
_set_flags = Snapshot.__dict__["_flags"].__set__
_set_results = Snapshot.__dict__["_results"].__set__
