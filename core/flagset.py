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

from .call_inputs import as_dict
from .cohorts import CohortCompiler
from .compile import CompiledFlag, Outcome
from .compile_flags import compile_flag
from .definitions import Definitions, decode_definitions, read_definitions
from .evaluate import evaluate_all, evaluate_one, make_run
from .flag_info import FlagInfo, describe
from .flag_layout import finish_flags
from .hashing import fingerprint
from .legacy_reads import valid_runtime
from .reasons import PRECEDENCE, Unresolved
from .snapshot import FlagValue, Problem, Snapshot

__all__ = ["FlagSet"]

_RANK = MappingProxyType({reason: rank for rank, reason in enumerate(PRECEDENCE)})
_NO_PROPERTIES: Mapping[str, object] = MappingProxyType({})
_NOTHING: Mapping[str, Any] = MappingProxyType({})
_UTC = timezone.utc
_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_MISSING = Unresolved.MISSING_CONTEXT


def _text(distinct_id: object) -> str:
    try:
        return f"{distinct_id}"
    except Exception:
        return repr(distinct_id)


def _aware(now: object) -> datetime:
    if not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, got {type(now).__name__}")
    return now if now.tzinfo is not None else now.replace(tzinfo=_UTC)


def _person(
    person_properties: Mapping[str, object] | None, distinct_id: object, reads_id: bool
) -> Mapping[str, object]:
    """The person's properties as matchers read them. Matchers only read them and nothing
    keeps them, so the caller's dict is used as it is unless `distinct_id` must be added
    (only when some selected flag may read it)."""
    person: Mapping[str, object]
    if type(person_properties) is dict:
        person = person_properties
    elif person_properties is None:
        person = _NO_PROPERTIES
    else:
        person = as_dict(person_properties)
    if reads_id and "distinct_id" not in person:
        person = {**person, "distinct_id": distinct_id}
    return person


class FlagSet(msgspec.Struct, frozen=True, eq=False, kw_only=True):
    """Compiled definitions. Build with `from_json` or `from_document`."""

    _flags: Mapping[str, CompiledFlag]
    _ordered: tuple[CompiledFlag, ...]
    _position: Mapping[str, int]
    keys: tuple[str, ...]
    fingerprint: int
    # How many matchers several conditions share (see `flag_layout.finish_flags`), and
    # whether any flag may read the `distinct_id` person property.
    _slots: int
    _reads_id: bool
    minimal_flag_called_events: bool = False
    """The document's gate for minimal `$feature_flag_called` events of local reads."""

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
            # posthog-python's by-key lookups do.
            flags[definition.key] = compile_flag(
                definition, compiler, definitions.group_type_mapping
            )
        slots, reads_id = finish_flags(flags, compiler.dependencies, compiler.condition_filters)
        keys = tuple(flags)
        ordered = tuple(flags.values())
        return cls(
            _flags=flags,
            _ordered=ordered,
            _position=dict(zip(keys, range(len(keys)), strict=True)),
            keys=keys,
            fingerprint=fingerprint(definitions.canonical),
            _slots=slots,
            _reads_id=reads_id,
            minimal_flag_called_events=definitions.minimal_flag_called_events,
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
        found: dict[str, tuple[Problem, ...]] = {}
        for key, flag in self._flags.items():
            if not flag.active:
                continue
            seen: dict[str, Problem] = {}
            for reason, message, _ in flag.static_problems(self._flags):
                seen.setdefault(message, Problem(reason, message))
            if seen:
                found[key] = tuple(sorted(seen.values(), key=lambda p: _RANK[p.reason]))
        return MappingProxyType(found)

    def flag(self, key: str) -> FlagInfo | None:
        """One flag's definition in brief (id, version, activity, a signature that changes
        with its definition), or None when the set does not define `key`."""
        compiled = self._flags.get(key)
        return None if compiled is None else describe(compiled)

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

        As in posthog-python, person properties get `distinct_id` when they lack it, each
        group's properties get `$group_key`, and a None distinct id or an empty
        `flag_keys` evaluates nothing (an empty string is an id like any other). Never
        raises for any property values; the caller's mappings are only read, never kept.
        """
        if type(now) is not datetime or now.tzinfo is None:
            now = _aware(now)
        flags = self._flags
        selected = self._ordered if flag_keys is None else self._select(flag_keys)
        if distinct_id is None or not selected:
            text = ""
            return Snapshot(text, {}, _NOTHING, flags)
        text = distinct_id if type(distinct_id) is str else _text(distinct_id)
        reads_id = self._reads_id and (flag_keys is None or any(flag.reads_id for flag in selected))
        person = _person(person_properties, distinct_id, reads_id)
        run = make_run(flags, now, distinct_id, person, groups, group_properties, device_id)
        outcomes: dict[str, Outcome] = {}
        unresolved: dict[str, Unresolved] = {}
        evaluate_all(run, selected, outcomes, unresolved)
        # Outcomes come in this order; a key in neither mapping failed (`Snapshot.failed`).
        # A selection's keys are named only when one failed: a single-flag read pays nothing.
        asked: tuple[str, ...] | None = self.keys
        if flag_keys is not None:
            decided = len(outcomes) + len(unresolved)
            asked = tuple([f.key for f in selected]) if decided < len(selected) else None
        return Snapshot(text, outcomes, unresolved or _NOTHING, flags, asked)

    def flag_value(
        self,
        key: str,
        distinct_id: str,
        now: datetime,
        person_properties: Mapping[str, object] | None = None,
        groups: Mapping[str, str | int] | None = None,
        group_properties: Mapping[str, Mapping[str, object]] | None = None,
        device_id: str | None = None,
    ) -> FlagValue | None:
        """One flag's value, exactly `evaluate(..., flag_keys=[key], ...).get_flag(key)`
        for a non-empty `distinct_id`: None when the flag is unknown or needs the server.
        For callers that read one value and nothing else (no reason, payload or snapshot
        is built); its arguments may be passed by position, which a per-read hot path
        notices. An empty or None id gives None: reads for no one (events without a
        person, a context's person) are the caller's to settle, on the full path."""
        if type(now) is not datetime or now.tzinfo is None:
            now = _aware(now)
        flag = self._flags.get(key) if type(key) is str else None
        if flag is None or not distinct_id:
            return None
        if type(person_properties) is dict and not flag.reads_id:
            person: Mapping[str, object] = person_properties
        else:
            person = _person(person_properties, distinct_id, flag.reads_id)
        run = make_run(self._flags, now, distinct_id, person, groups, group_properties, device_id)
        result = evaluate_one(run, flag)
        return result[0] if type(result) is tuple else None

    def _select(self, flag_keys: Iterable[str]) -> tuple[CompiledFlag, ...]:
        """The flags named in `flag_keys`, in definition order (unknown keys ignored)."""
        flags = self._flags
        if type(flag_keys) in (list, tuple) and len(flag_keys) == 1:  # type: ignore[arg-type]
            key = flag_keys[0]  # type: ignore[index]
            if type(key) is str:
                one = flags.get(key)
                return () if one is None else (one,)
        wanted = (flag_keys,) if isinstance(flag_keys, str) else flag_keys
        position = self._position
        found = {key for key in wanted if isinstance(key, str) and key in position}
        return tuple([flags[key] for key in sorted(found, key=position.__getitem__)])

    def __repr__(self) -> str:
        return f"FlagSet({len(self.keys)} flags, fingerprint={self.fingerprint:#018x})"
