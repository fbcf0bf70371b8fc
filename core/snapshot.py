"""What an evaluation returns: immutable values, cheap to create and to read.

A `Snapshot` holds the values computed by one `FlagSet.evaluate` call. Reading a flag is
a dictionary lookup; the richer `FlagResult` objects (payload, id, version, reason) are
built only when `results` is first read, since most callers never look at them.

Payloads are decoded once, when the definitions are compiled, and shared by every
snapshot. Scalars are returned as they are; JSON objects and arrays are handed out as a
fresh copy on every read (decoded again from compact JSON kept at compile time, see
`payloads.payload_source`), so a caller that mutates a payload can never change what
another caller, or a later evaluation, sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import itemgetter
from types import MappingProxyType
from typing import Any, Protocol

import msgspec

from .attribution import Attribution, attribution_of
from .reasons import Unresolved

__all__ = ["FlagResult", "Problem", "Reason", "Snapshot", "thaw"]

FlagValue = bool | str
_first = itemgetter(0)


class Reason(msgspec.Struct, frozen=True, gc=False):
    """Why a flag has the value it has.

    `kind` is one of: `condition_match`, `out_of_rollout`, `no_condition_match`,
    `no_conditions`, `flag_inactive`, `holdout`, `feature_enrollment`, `early_exit`,
    `group_not_provided`, `condition_skipped`. `condition_index` is the release condition
    it refers to (0-based) when there is one; `property` names the filter that decided a
    non-match (a property key, `cohort <id>` or `flag <key>`). For a flag the server
    evaluated, `kind` is the server's reason code (`condition_match`, `experiment_split`,
    `targeting_match`, `holdout`, ... or "" when it gave none) and `detail` its description.

    `decided_by`, for a `condition_match`, says what picked the value, so callers can tell
    a split from targeting without reading definitions: "hash" (the bucketing hash: a
    partial rollout, or a variant drawn from several), "filters" (the condition's filters,
    the same value for everyone who passes them) or "everyone" (no filters, full rollout,
    one possible value). None for the other kinds, whose `kind` already says it.
    """

    kind: str
    condition_index: int | None
    property: str | None
    detail: str
    decided_by: str | None = None


class Problem(msgspec.Struct, frozen=True, gc=False):
    """A reason, known from the definition alone, why a flag may need the server."""

    reason: Unresolved
    message: str


class FlagResult(msgspec.Struct, frozen=True):
    """One resolved flag. Tracked by the garbage collector: `payload` is the caller's to
    change, and could come to hold anything.

    A flag the server evaluated also says how (`locally_evaluated` False): its reason's
    `kind` is the server's reason code and `detail` its description, and a `/flags?v=4`
    record names the `config_version` of the flag and, for config version 2, the rule that
    decided it (`rule_id`, `rule_type`), the experiment and the arm (`experiment_id`,
    `variant_key`). `attribution` reads them the way flag events report them.
    """

    key: str
    value: FlagValue
    payload: Any
    id: int | None
    version: int | None
    has_experiment: bool | None
    reason: Reason
    locally_evaluated: bool = True
    config_version: int | None = None
    rule_id: str | None = None
    rule_type: str | None = None
    experiment_id: int | None = None
    variant_key: str | None = None

    @property
    def attribution(self) -> Attribution | None:
        """The rule and arm flag events report for this result (None unless config v2)."""
        return attribution_of(
            self.config_version,
            None if self.locally_evaluated else self.reason.kind,
            failed=False,
            rule_id=self.rule_id,
            rule_type=self.rule_type,
            variant_key=self.variant_key,
        )


class _FlagInfo(Protocol):
    """What a snapshot needs from a compiled flag."""

    @property
    def id(self) -> int | None: ...

    @property
    def version(self) -> int | None: ...

    @property
    def has_experiment(self) -> bool | None: ...

    @property
    def fresh(self) -> Mapping[str, Any]: ...

    def fresh_payload(self, value: FlagValue) -> Any: ...

    def payload_sent(self, value: FlagValue) -> Any: ...

    def reason_for(self, token: Any) -> Reason: ...


def thaw(value: Any) -> Any:
    """A private copy of a decoded JSON payload (objects and arrays copied, scalars shared)."""
    if type(value) is dict:
        return {key: thaw(item) for key, item in value.items()}
    if type(value) is list:
        return [thaw(item) for item in value]
    return value


class Snapshot(msgspec.Struct, frozen=True, eq=False):
    """The flags of one person (or group) at one moment. Never changes after creation.

    Built positionally by `FlagSet.evaluate` (a msgspec struct is created in C, in a few
    tens of nanoseconds). Each decided flag is stored as the (value, reason token) pair
    compilation prepared, so evaluation allocates nothing per flag; `flag_values` and
    `results` are derived on first read and kept in `_views`.
    """

    distinct_id: str
    _outcomes: dict[str, tuple[FlagValue, Any]]
    _unresolved: Mapping[str, Unresolved]
    _flags: Mapping[str, _FlagInfo]
    # Every key the evaluation was asked for, in order (the `FlagSet`'s shared `keys` when
    # it evaluated them all; for a selection, only when a flag failed, else None):
    # `_outcomes`' keys exactly when none is missing.
    _asked: tuple[str, ...] | None = None
    # The mappings derived on first read ("values", "results"), kept for later reads: the
    # one mutable object a snapshot owns, and only ever filled in (a race between threads
    # only builds equal mappings twice). A plain dict, made in C with the snapshot.
    _views: dict[str, Any] = msgspec.field(default_factory=dict)

    def get_flag(self, key: str) -> FlagValue | None:
        """The variant, True or False; None when the flag is absent or unresolved."""
        outcome = self._outcomes.get(key)
        return None if outcome is None else outcome[0]

    def is_enabled(self, key: str) -> bool:
        """True for any value but False (variants and holdouts count as enabled)."""
        outcome = self._outcomes.get(key)
        return outcome is not None and outcome[0] is not False

    def get_flag_payload(self, key: str) -> Any:
        """The decoded payload for the flag's value, or None."""
        outcome = self._outcomes.get(key)
        if outcome is None:
            return None
        return self._flags[key].fresh_payload(outcome[0])

    def has_payloads(self, key: str) -> bool:
        """Whether any value of the flag carries a payload. The same for every snapshot of
        one set of definitions, so a reader may remember it, and skip `get_flag_payload`
        (a call for nothing) for the many flags that have none."""
        info = self._flags.get(key)
        return info is not None and bool(info.fresh)

    def get_flag_payload_sent(self, key: str) -> Any:
        """The payload for the flag's value as the definition wrote it (JSON text stays
        that exact text), or None: for readers that hand payloads out as text."""
        outcome = self._outcomes.get(key)
        if outcome is None:
            return None
        return self._flags[key].payload_sent(outcome[0])

    @property
    def keys(self) -> tuple[str, ...]:
        """Keys that resolved locally, in definition order."""
        return tuple(self._outcomes)

    @property
    def flag_values(self) -> Mapping[str, FlagValue]:
        """Every resolved flag's value, in definition order."""
        cached: Mapping[str, FlagValue] | None = self._views.get("values")
        if cached is None:
            cached = MappingProxyType({key: pair[0] for key, pair in self._outcomes.items()})
            self._views["values"] = cached
        return cached

    def flag_columns(self) -> tuple[tuple[str, ...], tuple[FlagValue, ...]]:
        """`flag_values` as (keys, values): two tuples in the same order, without building
        the mapping (what an event's `$feature/<key>` properties are made from)."""
        outcomes = self._outcomes
        asked = self._asked
        # The shared tuple when every flag resolved: the same keys, and the same object
        # snapshot after snapshot, which lets the event builder's layout memo skip hashing.
        keys = asked if asked is not None and len(asked) == len(outcomes) else tuple(outcomes)
        return keys, tuple(map(_first, outcomes.values()))

    @property
    def failed(self) -> tuple[str, ...]:
        """Keys evaluation was asked for and failed on: neither decided nor unresolved.
        posthog-python fails on such a flag (a rollout that is not a number), leaves it
        out of its answer and asks the server for every flag instead."""
        asked = self._asked
        outcomes, unresolved = self._outcomes, self._unresolved
        if asked is None or len(asked) == len(outcomes) + len(unresolved):
            return ()
        return tuple([k for k in asked if k not in outcomes and k not in unresolved])

    @property
    def unresolved(self) -> Mapping[str, Unresolved]:
        """Keys that need the server, with the reason (precedence already applied)."""
        return MappingProxyType(self._unresolved)

    def result(self, key: str) -> FlagResult | None:
        """One resolved flag's full result (None when absent or unresolved), without
        building everyone else's."""
        outcome = self._outcomes.get(key)
        if outcome is None:
            return None
        value, token = outcome
        info = self._flags[key]
        return FlagResult(
            key=key,
            value=value,
            payload=info.fresh_payload(value),
            id=info.id,
            version=info.version,
            has_experiment=info.has_experiment,
            reason=info.reason_for(token),
        )

    @property
    def results(self) -> Mapping[str, FlagResult]:
        """Every resolved flag with its payload, id, version and reason."""
        cached: Mapping[str, FlagResult] | None = self._views.get("results")
        if cached is None:
            built = {key: self.result(key) for key in self._outcomes}
            cached = MappingProxyType(built)  # type: ignore[arg-type]
            self._views["results"] = cached
        return cached

    def only(self, keys: Iterable[str]) -> Snapshot:
        """A snapshot restricted to `keys` (unknown keys are ignored)."""
        wanted = set(keys)
        return Snapshot(
            self.distinct_id,
            {k: v for k, v in self._outcomes.items() if k in wanted},
            {k: v for k, v in self._unresolved.items() if k in wanted},
            self._flags,
        )

    def __repr__(self) -> str:
        values = {key: pair[0] for key, pair in self._outcomes.items()}
        return (
            f"Snapshot(distinct_id={self.distinct_id!r}, flags={values!r}, "
            f"unresolved={ {k: v.value for k, v in self._unresolved.items()}!r})"
        )
