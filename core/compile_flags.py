"""Compiling one flag definition into a `CompiledFlag`.

Separate from `compile`, which defines the compiled structures evaluation walks: this
module holds the one-off work of reading a definition (metadata, holdout, variant table,
payloads, release conditions) and sharing what flags have alike through the
`CohortCompiler`'s tables.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from .cohorts import CohortCompiler, Filter, NotAnObject
from .compile import CompiledCondition, CompiledFlag, Holdout
from .compile_tables import CompileTables
from .definitions import (
    ConditionDefinition,
    FlagDefinition,
    FlagFilters,
    MalformedFlag,
    VariantDefinition,
)
from .payloads import payload_sources
from .reasons import Unresolved
from .repair import Repaired, repair
from .signals import BROKEN, Broken

__all__ = ["compile_flag"]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_CONTINUITY = Unresolved.EXPERIENCE_CONTINUITY


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
    key = definition.key
    active = bool(definition.active)
    continuity = bool(definition.ensure_experience_continuity)
    repaired: Repaired | None = None
    if isinstance(definition, MalformedFlag):
        repaired = repair(definition)
        if repaired is None:
            raw = definition.raw
            flag = CompiledFlag(
                key,
                active,
                continuity,
                raw.get("evaluation_runtime") if isinstance(raw, dict) else None,
            )
            flag.malformed = definition.problem
            flag.fixed = _CONTINUITY if continuity else _UNSUPPORTED
            return flag
        definition = repaired.definition
    flag = CompiledFlag(key, active, continuity, definition.evaluation_runtime)
    if continuity:
        flag.fixed = _CONTINUITY
    # Id, version and experiment marker are kept only when of the type the API promises.
    value = definition.id
    if type(value) is int:
        flag.id = value
    value = definition.version
    if type(value) is int:
        flag.version = value
    value = definition.has_experiment
    if type(value) is bool:
        flag.has_experiment = value
    filters = definition.filters
    if filters is None:
        return flag
    _read_filters(flag, definition, filters, compiler, group_type_mapping)
    groups = filters.groups
    if groups:
        # A loop rather than a comprehension: most flags have one condition.
        conditions = []
        hashes = False
        for index, condition in enumerate(groups):
            compiled = _condition(flag, index, condition, compiler, group_type_mapping, repaired)
            conditions.append(compiled)
            hashes = hashes or compiled.cut is not None or compiled.matched is None
        flag.conditions = tuple(conditions)
        if hashes:
            flag.prime_hash()
    return flag


def _read_filters(
    flag: CompiledFlag,
    definition: FlagDefinition,
    filters: FlagFilters,
    compiler: CohortCompiler,
    group_type_mapping: Mapping[str, Any],
) -> None:
    """Everything in `filters` but the release conditions."""
    aggregation = filters.aggregation_group_type_index
    if aggregation is not None:
        flag.is_group = True
        flag.group_index = aggregation
        name = group_type_mapping.get(str(aggregation))
        flag.group_name = name if name and isinstance(name, Hashable) else None
    identifier = definition.bucketing_identifier or filters.bucketing_identifier
    if identifier == "device_id":
        flag.device_bucketing = True
    if filters.feature_enrollment is True:
        flag.enrollment = True
        flag.enrollment_key = f"$feature_enrollment/{flag.key}"
    if filters.early_exit:
        flag.early_exit = True
    if filters.holdout:
        flag.holdout = _read_holdout(filters.holdout, compiler.tables)
    flag.gated = flag.enrollment or flag.holdout is not None
    multivariate = filters.multivariate
    if multivariate is not None and multivariate.variants:
        flag.variants, flag.variant_keys = _variant_table(multivariate.variants, compiler)
    payloads = filters.payloads
    # Payloads of any other shape are ignored: posthog-python still returns the value.
    if payloads and (type(payloads) is dict or isinstance(payloads, Mapping)):
        flag.fresh = payload_sources(payloads, compiler.payloads)
        flag.stored = {name: raw for name, raw in payloads.items() if type(name) is str}


def _condition(
    flag: CompiledFlag,
    index: int,
    condition: ConditionDefinition,
    compiler: CohortCompiler,
    group_type_mapping: Mapping[str, Any],
    repaired: Repaired | None,
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
    aggregation = flag.group_index
    share_key: Hashable = (
        index,
        compiled_filters,  # compared by identity: compiled filters define no __eq__
        pct if pct else repr(pct),
        flag.variants,
        broken_rollout,
        flag.early_exit,
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
        compiled = CompiledCondition(
            index,
            condition,
            compiled_filters,
            flag.variant_keys,
            flag.variants,
            aggregation,
            group_type_mapping,
            compiler.tables,
            broken_rollout,
            flag.early_exit,
        )
        if share_key is not None:
            shared[share_key] = compiled
    return compiled
