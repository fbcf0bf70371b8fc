"""Compiling one flag definition into a `CompiledFlag`.

Separate from `compile`, which defines the compiled structures evaluation walks: this
module holds the one-off work of reading a definition (metadata, holdout, variant table,
payloads, release conditions with their reason tokens and outcomes) and sharing what
flags have alike through the `CohortCompiler`'s tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any

from .cohorts import CohortCompiler, Filter, NotAnObject
from .compile import NO_PAYLOADS, CompiledCondition, CompiledFlag, Holdout, Outcome, Token
from .compile_tables import CompileTables
from .definitions import (
    ConditionDefinition,
    FlagDefinition,
    FlagFilters,
    MalformedFlag,
    VariantDefinition,
)
from .hashing import NEVER, above_cut, bucket_prefix
from .payloads import payload_sources
from .reasons import Unresolved
from .repair import Repaired, repair
from .signals import BROKEN, DROPPED, Broken

__all__ = ["compile_flag"]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_CONTINUITY = Unresolved.EXPERIENCE_CONTINUITY
# What a flag without `filters` reads in their place: every field at its default.
_NO_FILTERS = FlagFilters()
_NO_PAYLOAD_PAIR = (NO_PAYLOADS, NO_PAYLOADS)


def _read_holdout(raw: Any, tables: CompileTables) -> Holdout | Broken | None:
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        return BROKEN
    percentage = raw.get("exclusion_percentage")
    holdout_id = raw.get("id")
    if percentage is None or holdout_id is None:
        return None
    try:
        # The server clamps rather than rejects; NaN survives the clamp and holds out all.
        clamped = min(max(float(percentage), 0.0), 100.0)
    except (TypeError, ValueError, OverflowError):
        return BROKEN
    return Holdout(holdout_id, clamped, tables)


def _variant_table(
    variants: list[VariantDefinition], compiler: CohortCompiler
) -> tuple[tuple[tuple[bytes, bytes, str], ...], tuple[str, ...]]:
    """Each variant's digest range [low, high) and the variant keys; shared by flags with
    the same variants."""
    shares = tuple([(variant.key, variant.rollout_percentage) for variant in variants])
    found = compiler.variant_tables.get(shares)
    if found is None:
        table = []
        low: float = 0
        for key, percentage in shares:
            high = low + percentage / 100
            table.append(
                (compiler.tables.at_least_cut(low), compiler.tables.at_least_cut(high), key)
            )
            low = high
        found = compiler.variant_tables[shares] = (
            tuple(table),
            tuple([key for key, _ in shares]),
        )
    return found


def _make_tokens(index: int, filters: int) -> tuple[Any, ...]:
    """The reason tokens and prepared outcomes of condition `index` with `filters` filters:
    (the on-match token, the miss outcome of each filter, and the skipped, out-of-rollout,
    early-exit and matched-True outcomes)."""
    match: Token = ("condition_match", index, -1)
    misses = tuple([(False, ("no_condition_match", index, at)) for at in range(filters)])
    return (
        match,
        misses,
        (False, ("condition_skipped", index, -1)),
        (False, ("out_of_rollout", index, -1)),
        (False, ("early_exit", index, -1)),
        (True, match),
    )


# The tokens of the first few conditions with a few filters, which nearly every flag's
# conditions are: constants (read-only), made at import rather than once per compile.
_FIRST_TOKENS: Mapping[tuple[int, int], tuple[Any, ...]] = MappingProxyType(
    {(index, filters): _make_tokens(index, filters) for index in range(4) for filters in range(6)}
)


def _tokens(index: int, filters: int, tables: CompileTables) -> tuple[Any, ...]:
    """`_make_tokens`, shared by every flag: a constant for the commonest shapes, made once
    per compile (kept in `tables`) for the rest."""
    made = _FIRST_TOKENS.get((index, filters))
    if made is None:
        made = tables.tokens.get((index, filters))
        if made is None:
            made = tables.tokens[(index, filters)] = _make_tokens(index, filters)
    return made


def _prepared(
    index: int, filters: int, pct: float | None, tables: CompileTables
) -> tuple[Any, ...]:
    """`_tokens` followed by the rollout's cut-off (None when nobody is out of it), for
    condition `index` with `filters` filters and rollout `pct`: conditions alike in
    these three, the commonest sharing there is, find all of it in one lookup of
    `tables.prepared`."""
    cut = None if pct is None else above_cut(pct / 100)
    return (*_tokens(index, filters, tables), None if cut is NEVER else cut)


def _variant_outcomes(
    variants: tuple[tuple[bytes, bytes, str], ...], on_match: Token, tables: CompileTables
) -> tuple[tuple[bytes, bytes, Outcome], ...]:
    """Each variant's range with its outcome, once per compile for a variant table."""
    made = tables.variant_outcomes.get((variants, on_match))
    if made is None:
        made = tables.variant_outcomes[(variants, on_match)] = tuple(
            [(low, high, (variant or True, on_match)) for low, high, variant in variants]
        )
    return made


def compile_flag(
    definition: FlagDefinition | MalformedFlag,
    compiler: CohortCompiler,
    group_type_mapping: Mapping[str, Any],
) -> CompiledFlag:
    """One flag. Every field is worked out before the flag is built, so it is built in
    one call, positionally; a flag without `filters` reads `_NO_FILTERS` in their place."""
    repaired: Repaired | None = None
    if isinstance(definition, MalformedFlag):
        repaired = repair(definition)
        if repaired is None:
            return _malformed(definition)
        definition = repaired.definition
    key = definition.key
    continuity = bool(definition.ensure_experience_continuity)
    filters = definition.filters
    identifier = None
    if filters is None:
        filters = _NO_FILTERS
    else:
        identifier = definition.bucketing_identifier or filters.bucketing_identifier
    aggregation = filters.aggregation_group_type_index
    early_exit = bool(filters.early_exit)
    holdout = _read_holdout(filters.holdout, compiler.tables) if filters.holdout else None
    enrollment = filters.feature_enrollment is True
    variants: tuple[tuple[bytes, bytes, str], ...] = ()
    variant_keys: tuple[str, ...] = ()
    multivariate = filters.multivariate
    if multivariate is not None and multivariate.variants:
        variants, variant_keys = _variant_table(multivariate.variants, compiler)
    conditions: tuple[CompiledCondition, ...] = ()
    hasher = None
    groups = filters.groups
    if groups:
        # A loop, not a comprehension: one would make these locals closure cells, which
        # every other use of them in this function then pays for.
        built = []
        for index, condition in enumerate(groups):
            built.append(
                _condition(
                    index,
                    condition,
                    early_exit,
                    compiler,
                    group_type_mapping,
                    repaired,
                    variants,
                    variant_keys,
                    aggregation,
                )
            )
        conditions = tuple(built)
        # Only flags with a condition that hashes (a rollout below 100% or variants to
        # pick) need the bucketing hash primed with their prefix.
        for compiled in conditions:
            if compiled.cut is not None or compiled.matched is None:
                hasher = hashlib.sha1(bucket_prefix(key))
                break
    payloads = filters.payloads
    fresh, stored = _payloads(payloads, compiler) if payloads else _NO_PAYLOAD_PAIR
    # Id, version and experiment marker are kept only when of the type the API promises.
    flag_id = definition.id
    version = definition.version
    experiment = definition.has_experiment
    # Positionally, in field order (a call naming this many fields costs several times
    # as much); each line says which field it fills.
    return CompiledFlag(
        key,
        bool(definition.active),  # active
        continuity,  # experience_continuity
        definition.evaluation_runtime,  # runtime
        flag_id if type(flag_id) is int else None,  # id
        version if type(version) is int else None,  # version
        experiment if type(experiment) is bool else None,  # has_experiment
        _CONTINUITY if continuity else None,  # fixed
        None,  # malformed
        conditions,
        hasher,
        aggregation is not None,  # is_group
        aggregation,  # group_index
        None if aggregation is None else _group_name(aggregation, group_type_mapping),
        identifier == "device_id",  # device_bucketing
        enrollment,
        f"$feature_enrollment/{key}" if enrollment else "",  # enrollment_key
        early_exit,
        holdout,
        enrollment or holdout is not None,  # gated
        variants,
        variant_keys,
        fresh,
        stored,
    )


def _malformed(definition: MalformedFlag) -> CompiledFlag:
    """A flag that does not fit the schema and cannot be repaired: it needs the server
    (experience continuity first, as in posthog-python)."""
    raw = definition.raw
    continuity = bool(definition.ensure_experience_continuity)
    return CompiledFlag(
        definition.key,
        bool(definition.active),
        continuity,
        raw.get("evaluation_runtime") if isinstance(raw, dict) else None,
        fixed=_CONTINUITY if continuity else _UNSUPPORTED,
        malformed=definition.problem,
    )


def _group_name(aggregation: Any, group_type_mapping: Mapping[str, Any]) -> Hashable | None:
    name = group_type_mapping.get(str(aggregation))
    return name if name and isinstance(name, Hashable) else None


def _payloads(
    payloads: Any, compiler: CohortCompiler
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(the payload sources, the payloads as the definitions hold them). Payloads of any
    other shape are ignored: posthog-python still returns the value."""
    if payloads and (type(payloads) is dict or isinstance(payloads, Mapping)):
        return (
            payload_sources(payloads, compiler.payloads),
            {name: raw for name, raw in payloads.items() if type(name) is str},
        )
    return _NO_PAYLOAD_PAIR


def _condition(
    index: int,
    condition: ConditionDefinition,
    early_exit: bool,
    compiler: CohortCompiler,
    group_type_mapping: Mapping[str, Any],
    repaired: Repaired | None,
    variants: tuple[tuple[bytes, bytes, str], ...],
    variant_keys: tuple[str, ...],
    aggregation: Any,
) -> CompiledCondition:
    """Release condition `index` of a flag with `variants` and `aggregation`.

    Shared with an earlier flag's when they are alike in everything evaluation and
    reasons read (filters alike already share a matcher, so comparing matchers
    suffices). Types ride along where equal values read differently (0, 0.0 and False
    name different group types; -0.0 prints differently in reasons). A rollout that is
    not a number (`broken_rollout`) fails the whole flag when reached, as in
    posthog-python, which then leaves the flag out of its answer."""
    raw_filters = condition.properties
    broken_rollout = False
    compiled_filters: tuple[Filter, ...] = ()
    if repaired is not None:
        broken_rollout, compiled_filters = _repaired_filters(index, raw_filters, compiler, repaired)
    elif raw_filters:
        # Most conditions have one filter: no iterator for it.
        compiled_filters = (
            (compiler.compile_filter(raw_filters[0]),)
            if len(raw_filters) == 1
            else tuple(map(compiler.compile_filter, raw_filters))
        )
    if compiled_filters:
        compiler.condition_filters.extend(compiled_filters)
    pct = condition.rollout_percentage
    override = condition.variant
    group_index = condition.aggregation_group_type_index
    share_key: Hashable = (
        index,
        compiled_filters,  # compared by identity: compiled filters define no __eq__
        pct if pct else repr(pct),
        variants,
        broken_rollout,
        early_exit,
    )
    if override is not None or group_index is not None or aggregation is not None:
        share_key = (
            share_key,
            override,
            type(override),
            group_index,
            type(group_index),
            aggregation,
            type(aggregation),
        )
    shared = compiler.conditions
    try:
        compiled: CompiledCondition | None = shared.get(share_key)
    except TypeError:  # an unhashable variant or group type index
        share_key = None
        compiled = None
    if compiled is not None:
        return compiled
    if not (override and type(override) is str and override in variant_keys):
        override = None
    # A condition aggregating differently from its flag ("mixed targeting") reads the
    # group's properties and buckets on the group key.
    mixed = group_index is not None and group_index != aggregation
    name = group_type_mapping.get(str(group_index)) if mixed else None
    tables = compiler.tables
    shape = (index, len(compiled_filters), pct)
    prepared = tables.prepared.get(shape)
    if prepared is None:
        prepared = tables.prepared[shape] = _prepared(index, len(compiled_filters), pct, tables)
    on_match, misses, skipped, out, early, matched_true, cut = prepared
    # What a bucketing value outside the rollout gets: the out-of-rollout outcome, the
    # early-exit one for a flag that stops there, DROPPED for a broken rollout.
    excluded: Any = early if early_exit else out
    if broken_rollout:
        cut = b""
        excluded = DROPPED
    variant_outcomes: tuple[tuple[bytes, bytes, Outcome], ...] = ()
    if override is not None:
        matched: Outcome | None = (override, on_match)
    elif not variants:
        matched = matched_true
    else:
        matched = None
        variant_outcomes = _variant_outcomes(variants, on_match, tables)
    # Positionally, in field order, as `compile_flag` builds flags.
    compiled = CompiledCondition(
        index,
        raw_filters or (),
        compiled_filters,  # filters
        pct,  # rollout
        broken_rollout,  # rollout_broken
        cut,
        override,
        group_index,  # aggregation
        mixed,
        name if name and isinstance(name, Hashable) else None,  # group_name
        misses,
        skipped,  # skipped_outcome
        out,  # out_outcome
        matched_true,  # on_match_true
        excluded,
        matched,
        variant_outcomes,
    )
    if share_key is not None:
        shared[share_key] = compiled
    return compiled


def _repaired_filters(
    index: int,
    raw_filters: list[dict[str, Any]] | None,
    compiler: CohortCompiler,
    repaired: Repaired,
) -> tuple[bool, tuple[Filter, ...]]:
    """(whether the rollout is broken, the compiled filters) of condition `index` of a
    repaired flag, whose filters that are not objects are set aside."""
    not_objects = repaired.not_objects.get(index, ())
    compile_filter = compiler.compile_filter
    compiled = tuple(
        [
            NotAnObject() if at in not_objects else compile_filter(raw)
            for at, raw in enumerate(raw_filters or ())
        ]
    )
    return index in repaired.broken_rollouts, compiled
