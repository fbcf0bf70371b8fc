"""Compiling one flag definition into a `CompiledFlag`.

Separate from `compile`, which defines the compiled structures evaluation walks: this
module holds the one-off work of reading a definition (metadata, holdout, variant table,
payloads, release conditions) and sharing what flags have alike through the
`CohortCompiler`'s tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping
from typing import Any

from .cohorts import CohortCompiler, Filter, NotAnObject
from .compile import NO_PAYLOADS, CompiledCondition, CompiledFlag, Holdout, compile_condition
from .compile_tables import CompileTables
from .definitions import (
    ConditionDefinition,
    FlagDefinition,
    FlagFilters,
    MalformedFlag,
    VariantDefinition,
)
from .hashing import bucket_prefix
from .payloads import payload_sources
from .reasons import Unresolved
from .repair import Repaired, repair
from .signals import BROKEN, Broken

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
        if len(groups) == 1:  # most flags have one condition: no iterator for it
            conditions = (
                _condition(
                    0,
                    groups[0],
                    early_exit,
                    compiler,
                    group_type_mapping,
                    repaired,
                    variants,
                    variant_keys,
                    aggregation,
                ),
            )
        else:
            conditions = tuple(
                [
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
                    for index, condition in enumerate(groups)
                ]
            )
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
    return CompiledFlag(
        key,
        bool(definition.active),
        continuity,
        definition.evaluation_runtime,
        flag_id if type(flag_id) is int else None,
        version if type(version) is int else None,
        experiment if type(experiment) is bool else None,
        _CONTINUITY if continuity else None,
        None,
        conditions,
        hasher,
        aggregation is not None,
        aggregation,
        None if aggregation is None else _group_name(aggregation, group_type_mapping),
        identifier == "device_id",
        enrollment,
        f"$feature_enrollment/{key}" if enrollment else "",
        early_exit,
        holdout,
        enrollment or holdout is not None,
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
    """One release condition, shared with an earlier flag's when they are alike in
    everything evaluation and reasons read (filters alike already share a matcher, so
    comparing matchers suffices). Types ride along where equal values read differently
    (0, 0.0 and False name different group types; -0.0 prints differently in reasons)."""
    raw_filters = condition.properties
    broken_rollout = False
    not_objects: frozenset[int] | tuple[()] = ()
    if repaired is not None:
        broken_rollout = index in repaired.broken_rollouts
        not_objects = repaired.not_objects.get(index, ())
    compiled_filters: tuple[Filter, ...] = ()
    if raw_filters and not not_objects:
        # Most conditions have one filter: no iterator for it.
        compiled_filters = (
            (compiler.compile_filter(raw_filters[0]),)
            if len(raw_filters) == 1
            else tuple(map(compiler.compile_filter, raw_filters))
        )
    elif raw_filters:
        compile_filter = compiler.compile_filter
        compiled_filters = tuple(
            [
                NotAnObject() if at in not_objects else compile_filter(raw)
                for at, raw in enumerate(raw_filters)
            ]
        )
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
    if compiled is None:
        compiled = compile_condition(
            index,
            condition,
            compiled_filters,
            variant_keys,
            variants,
            aggregation,
            group_type_mapping,
            compiler.tables,
            broken_rollout,
            early_exit,
        )
        if share_key is not None:
            shared[share_key] = compiled
    return compiled
