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

import attrs

from .cohorts import CohortCompiler
from .compile import CompiledFlag, compile_flag, finish_flags
from .definitions import Definitions, decode_definitions, read_definitions
from .evaluate import Run, encode, evaluate_all
from .hashing import fingerprint
from .reasons import PRECEDENCE
from .snapshot import Problem, Snapshot

__all__ = ["FlagSet"]

_RANK = {reason: rank for rank, reason in enumerate(PRECEDENCE)}
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _as_dict(value: object) -> dict[Any, Any]:
    """A private copy of a caller's mapping; anything that is not one counts as empty."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    try:
        return dict(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return {}


def _text(distinct_id: object) -> str:
    try:
        return f"{distinct_id}"
    except Exception:
        return repr(distinct_id)


@attrs.frozen(eq=False)
class FlagSet:
    """Compiled definitions. Build with `from_json` or `from_document`."""

    _flags: Mapping[str, CompiledFlag]
    _ordered: tuple[CompiledFlag, ...]
    _position: Mapping[str, int]
    keys: tuple[str, ...]
    fingerprint: int
    _problems: dict[str, Mapping[str, tuple[Problem, ...]]] = attrs.field(factory=dict)

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
        finish_flags(flags)
        keys = tuple(flags)
        return cls(
            flags=flags,
            ordered=tuple(flags.values()),
            position={key: index for index, key in enumerate(keys)},
            keys=keys,
            fingerprint=fingerprint(definitions.canonical),
        )

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
        `flag_keys` evaluates nothing. Never raises for any property values.
        """
        if not isinstance(now, datetime):
            raise TypeError(f"now must be a datetime, got {type(now).__name__}")
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        flags = self._flags
        selected: Iterable[CompiledFlag]
        if flag_keys is None:
            selected = self._ordered
        elif (
            type(flag_keys) in (list, tuple)
            and len(flag_keys) == 1  # type: ignore[arg-type]
            and type(flag_keys[0]) is str  # type: ignore[index]
        ):
            only = flags.get(flag_keys[0])  # type: ignore[index]
            selected = () if only is None else (only,)
        else:
            wanted = (flag_keys,) if isinstance(flag_keys, str) else flag_keys
            position = self._position
            found = {key for key in wanted if isinstance(key, str) and key in position}
            selected = [flags[key] for key in sorted(found, key=position.__getitem__)]
        if not distinct_id or not selected:
            return Snapshot._build(_text(distinct_id) if distinct_id else "", {}, {}, {}, flags)

        if type(person_properties) is dict:
            person = person_properties.copy()
        else:
            person = _as_dict(person_properties)
        if "distinct_id" not in person:
            person["distinct_id"] = distinct_id
        text = distinct_id if type(distinct_id) is str else _text(distinct_id)
        distinct_bytes = encode(distinct_id)
        values, reasons, unresolved = evaluate_all(
            selected,
            person,
            now,
            distinct_id,
            distinct_bytes,
            lambda: self._run(now, groups, group_properties, device_id),
        )
        return Snapshot._build(text, values, reasons, unresolved, flags)

    def _run(
        self,
        now: datetime,
        groups: object,
        group_properties: object,
        device_id: object,
    ) -> Run:
        """What flags beyond the simple ones need: groups (each group's properties get
        `$group_key`, as in the reference), the device id, the dependency memo."""
        group_map = _as_dict(groups)
        group_props: dict[Any, dict[str, object]] = {}
        if group_map:
            extra = _as_dict(group_properties)
            for name, key in group_map.items():
                enriched: dict[str, object] = {"$group_key": key}
                enriched.update(_as_dict(extra.get(name)))
                group_props[name] = enriched
        return Run(self._flags, now, group_map, group_props, device_id)

    def __repr__(self) -> str:
        return f"FlagSet({len(self.keys)} flags, fingerprint={self.fingerprint:#018x})"
