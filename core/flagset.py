"""`FlagSet`: compiled flag definitions, evaluated many times.

Compile once per definitions change (`fingerprint` tells two sets of definitions apart
without comparing them), then call `evaluate` per person. A FlagSet never changes, so
one can be shared by any number of threads and swapped atomically by reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

import msgspec

from .cohorts import CohortCompiler
from .compile import (
    NO_CONDITIONS_OUTCOME,
    CompiledFlag,
    Outcome,
    compile_flag,
    finish_flags,
)
from .definitions import Definitions, decode_definitions, read_definitions
from .evaluate import UNENCODABLE as _UNENCODABLE
from .evaluate import Run, as_dict, encode, evaluate_flag, make_run
from .hashing import fingerprint
from .legacy_reads import valid_runtime
from .operators import INLINE_CONTAINS as _CONTAINS
from .operators import INLINE_ENDS as _ENDS
from .operators import INLINE_EXACT as _EXACT
from .operators import INLINE_GT as _GT
from .operators import INLINE_GTE as _GTE
from .operators import INLINE_IN as _IN
from .operators import INLINE_LT as _LT
from .operators import INLINE_STARTS as _STARTS
from .reasons import PRECEDENCE, Unresolved
from .snapshot import Problem, Snapshot

__all__ = ["FlagSet"]

_RANK = {reason: rank for rank, reason in enumerate(PRECEDENCE)}
_NO_MEMO: list[Any] = []
_NO_PROPERTIES: Mapping[str, object] = MappingProxyType({})
_NOTHING: dict[str, Any] = {}
_UTC = timezone.utc
_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_MISSING = Unresolved.MISSING_CONTEXT
_VARIANT_SALT = b"variant"


# What evaluating a selection of flags needs: the flags in definition order, whether any
# reads the `distinct_id` property (only then do person properties need it added), and
# how many memo slots to allocate (0 when none of them shares a matcher).
_Selection = tuple[tuple[CompiledFlag, ...], bool, int]


def _selection(flags: tuple[CompiledFlag, ...], slots: int) -> _Selection:
    reads_id = any(flag.reads_id for flag in flags)
    uses_memo = any(flag.uses_memo for flag in flags)
    return flags, reads_id, slots if uses_memo else 0


def _text(distinct_id: object) -> str:
    try:
        return f"{distinct_id}"
    except Exception:
        return repr(distinct_id)


def _aware(now: object) -> datetime:
    if not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, got {type(now).__name__}")
    return now if now.tzinfo is not None else now.replace(tzinfo=_UTC)


class FlagSet(msgspec.Struct, frozen=True, eq=False, kw_only=True):
    """Compiled definitions. Build with `from_json` or `from_document`."""

    _flags: Mapping[str, CompiledFlag]
    _ordered: tuple[CompiledFlag, ...]
    _position: Mapping[str, int]
    keys: tuple[str, ...]
    fingerprint: int
    # Memo slots (0 when no flag shares a matcher) and every flag as a selection (see
    # `_selection`).
    _slots: int
    _all: _Selection
    _problems: dict[str, Mapping[str, tuple[Problem, ...]]] = msgspec.field(default_factory=dict)
    # One-flag selections, made on first use: asking for a single flag is common enough
    # (the deprecated single-flag reads) that sorting a one-key selection each time shows.
    _singles: dict[str, _Selection] = msgspec.field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: bytes | str) -> FlagSet:
        """Compile a definitions document or a bare list of flags, as JSON text.

        Raises DefinitionsError for invalid JSON or a top level of the wrong shape.
        """
        return cls._compile(read_definitions(raw))

    @classmethod
    def from_document(cls, document: object) -> FlagSet:
        """The same as `from_json`, for an already-decoded document or list."""
        return cls._compile(decode_definitions(document))

    @classmethod
    def _compile(cls, definitions: Definitions) -> FlagSet:
        compiler = CohortCompiler(definitions.cohorts, definitions.property_matching_version)
        flags: dict[str, CompiledFlag] = {}
        for definition in definitions.flags:
            # A key defined twice keeps its first position and its last definition, as
            # the reference's by-key lookups do.
            flags[definition.key] = compile_flag(
                definition, compiler, definitions.group_type_mapping
            )
        slots = finish_flags(flags)
        keys = tuple(flags)
        ordered = tuple(flags.values())
        return cls(
            _flags=flags,
            _ordered=ordered,
            _position={key: index for index, key in enumerate(keys)},
            keys=keys,
            fingerprint=fingerprint(definitions.canonical),
            _slots=slots,
            _all=_selection(ordered, slots),
        )

    def stored_payload(self, key: str, lookup: str) -> Any:
        """The payload stored under `lookup` ("true", "false" or a variant) for flag `key`,
        as the definitions hold it (JSON text is not decoded); None when there is none."""
        flag = self._flags.get(key)
        return None if flag is None else flag.stored.get(lookup)

    def flag_meta(self, key: str) -> tuple[int | None, int | None, bool | None]:
        """Flag `key`'s (id, version, has_experiment), all None when it is not defined."""
        flag = self._flags.get(key)
        return (None, None, None) if flag is None else (flag.id, flag.version, flag.has_experiment)

    def evaluation_runtime(self, key: str) -> str | None:
        """Where flag `key` is meant to be evaluated ("all", "client" or "server"; a flag
        that does not say is "all"), or None when the definitions do not have the flag."""
        flag = self._flags.get(key)
        return None if flag is None else valid_runtime(flag.runtime)

    def problems(self) -> Mapping[str, tuple[Problem, ...]]:
        """Why flags may need the server, known from the definitions alone.

        Only active flags with at least one problem appear (an inactive flag is always
        False locally). Problems are in precedence order, so the first one's reason is
        what evaluation reports when it reaches that part of the flag.
        """
        cached = self._problems.get("all")
        if cached is None:
            found: dict[str, tuple[Problem, ...]] = {}
            for key, flag in self._flags.items():
                if not flag.active:
                    continue
                seen: dict[str, Problem] = {}
                for reason, message, _ in flag.static_problems(self._flags):
                    seen.setdefault(message, Problem(reason, message))
                if seen:
                    found[key] = tuple(sorted(seen.values(), key=lambda p: _RANK[p.reason]))
            cached = MappingProxyType(found)
            self._problems["all"] = cached
        return cached

    def evaluate(
        self,
        distinct_id: str,
        *,
        person_properties: Mapping[str, object] | None = None,
        groups: Mapping[str, str | int] | None = None,
        group_properties: Mapping[str, Mapping[str, object]] | None = None,
        device_id: str | None = None,
        flag_keys: Iterable[str] | None = None,
        now: datetime,
    ) -> Snapshot:
        """Every flag (or those in `flag_keys`) for one person, at `now` (aware; a naive
        datetime is read as UTC).

        As in the reference, person properties get `distinct_id` when they lack it, each
        group's properties get `$group_key`, and an empty distinct id or an empty
        `flag_keys` evaluates nothing. Never raises for any property values; the caller's
        mappings are only read, never kept.

        Most flags are "simple" (an active person flag whose conditions hold only plain
        property filters, without holdout, enrollment or device bucketing); their
        condition loop is inlined here rather than calling `evaluate.match_flag` per flag,
        because a call costs a noticeable share of the roughly half a microsecond a flag
        takes, and matchers several flags share run once (the memo). The rules are the
        same on both paths; the differential tests compare them.
        """
        if type(now) is not datetime or now.tzinfo is None:
            now = _aware(now)
        selected: tuple[CompiledFlag, ...]
        if flag_keys is None:
            selected, reads_id, slots = self._all
        else:
            selected, reads_id, slots = self._select(flag_keys)
        # Per memo slot, the outcome of a matcher several flags share (None: not run yet).
        memo: list[Any] = [None] * slots if slots else _NO_MEMO
        flags = self._flags
        if not distinct_id or not selected:
            text = _text(distinct_id) if distinct_id else ""
            return Snapshot(text, {}, _NOTHING, flags)

        text = distinct_id if type(distinct_id) is str else _text(distinct_id)
        # The id as hash input (UTF-8), encoded once. An id with no UTF-8 form (lone
        # surrogates) is the UNENCODABLE marker: hashing it fails, which reads as
        # missing context below.
        distinct_bytes: bytes = encode(distinct_id)
        # Matchers only read the person's properties and nothing keeps them, so the
        # caller's dict is used as it is unless `distinct_id` must be added.
        person: Mapping[str, object]
        if type(person_properties) is dict:
            person = person_properties
        elif person_properties is None:
            person = _NO_PROPERTIES
        else:
            person = as_dict(person_properties)
        if reads_id and "distinct_id" not in person:
            person = {**person, "distinct_id": distinct_id}

        outcomes: dict[str, Outcome] = {}
        unresolved: dict[str, Unresolved] = {}
        run: Run | None = None
        for flag in selected:
            key = flag.key
            try:
                if not flag.simple:
                    if run is None:
                        run = make_run(
                            flags, now, groups, group_properties, device_id, distinct_id, person
                        )
                    value, token = evaluate_flag(
                        run, flag, distinct_id, run.distinct_bytes, run.person
                    )
                    if token is None:
                        unresolved[key] = value  # type: ignore[assignment]
                    else:
                        outcomes[key] = (value, token)
                    continue
                reason: Unresolved | None
                first_out: Outcome | None
                missed: Outcome | None
                digest: bytes | None
                reason = first_out = missed = digest = None
                for condition in flag.conditions:
                    undecided: Unresolved | None = None
                    for slot, match, miss, kind, lookup, argument, negate in condition.checks:
                        result: Any
                        if slot >= 0:
                            result = memo[slot]
                            if result is None:
                                result = memo[slot] = match(person, now)
                        elif kind:
                            # The commonest filters answered in place (see `operators.Inline`).
                            prop: Any = person.get(lookup)  # type: ignore[call-overload]
                            vtype = type(prop)
                            if kind == _IN:
                                if vtype is str:
                                    result = (prop.lower() in argument) is not negate
                                else:
                                    result = match(person, now)
                            elif kind <= _ENDS:
                                if vtype is str and prop.isascii():
                                    folded = prop.lower()
                                    if kind == _CONTAINS:
                                        result = (argument in folded) is not negate
                                    elif kind == _STARTS:
                                        result = folded.startswith(argument) is not negate
                                    else:
                                        result = folded.endswith(argument) is not negate
                                else:
                                    result = match(person, now)
                            elif (vtype is int and -_EXACT < prop < _EXACT) or (
                                vtype is float and prop - prop == 0
                            ):
                                if kind == _GT:
                                    result = prop > argument
                                elif kind == _GTE:
                                    result = prop >= argument
                                elif kind == _LT:
                                    result = prop < argument
                                else:
                                    result = prop <= argument
                            else:
                                result = match(person, now)
                        else:
                            result = match(person, now)
                        if result is not True:
                            if result is False:
                                if missed is None:
                                    missed = miss
                                break
                            if undecided is None or _RANK[result] < _RANK[undecided]:
                                undecided = result
                    else:
                        # Every filter matched or was undecided.
                        if undecided is not None:
                            if reason is None or _RANK[undecided] < _RANK[reason]:
                                reason = undecided
                            continue
                        cut = condition.cut
                        if cut is not None:
                            if digest is None:
                                state = flag.hasher.copy()
                                state.update(distinct_bytes)
                                digest = state.digest()
                            if digest >= cut:
                                if flag.early_exit:
                                    if reason is None:
                                        outcomes[key] = condition.early_outcome
                                    else:
                                        unresolved[key] = reason
                                    break
                                if first_out is None:
                                    first_out = condition.out_outcome
                                continue
                        matched = condition.matched
                        if matched is None:
                            # The variant hash continues the rollout hash's input
                            # (`state` is bound exactly when `digest` is).
                            if digest is None:
                                state = flag.hasher.copy()
                                state.update(distinct_bytes)
                            state.update(_VARIANT_SALT)
                            bucket = state.digest()
                            matched = condition.on_match_true
                            for low, high, outcome in condition.variant_outcomes:
                                if low <= bucket < high:
                                    matched = outcome
                                    break
                        outcomes[key] = matched
                        break
                else:
                    if reason is None:
                        outcomes[key] = first_out or missed or NO_CONDITIONS_OUTCOME
                    else:
                        unresolved[key] = reason
            except Exception:
                # Never raise into the caller; a definition this broken needs the server.
                # A simple flag only fails here by hashing an id with no UTF-8 form, which
                # the reference cannot hash either: missing context.
                unencodable = flag.simple and distinct_bytes is _UNENCODABLE
                unresolved[key] = _MISSING if unencodable else _UNSUPPORTED
        asked = self.keys if flag_keys is None else None  # outcomes come in this order
        return Snapshot(text, outcomes, unresolved or _NOTHING, flags, None, None, asked)

    def _select(self, flag_keys: Iterable[str]) -> _Selection:
        """The flags named in `flag_keys`, in definition order (unknown keys ignored)."""
        if type(flag_keys) in (list, tuple) and len(flag_keys) == 1:  # type: ignore[arg-type]
            key = flag_keys[0]  # type: ignore[index]
            single = self._singles.get(key) if type(key) is str else None
            if single is None and type(key) is str and key in self._flags:
                single = self._singles[key] = _selection((self._flags[key],), self._slots)
            if single is not None:
                return single
        wanted = (flag_keys,) if isinstance(flag_keys, str) else flag_keys
        position = self._position
        found = {key for key in wanted if isinstance(key, str) and key in position}
        flags = self._flags
        selected = tuple([flags[key] for key in sorted(found, key=position.__getitem__)])
        return _selection(selected, self._slots)

    def __repr__(self) -> str:
        return f"FlagSet({len(self.keys)} flags, fingerprint={self.fingerprint:#018x})"
