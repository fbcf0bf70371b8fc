"""`FlagInfo`: what one compiled flag's definition says, for tools that compare or list
definitions (an OpenFeature provider naming the flags a download changed, a CLI listing).

Built on demand from the compiled flag, so compiling pays nothing for it.
"""

from __future__ import annotations

from typing import Any

import msgspec
import xxhash

from .compile import CompiledFlag, Holdout

__all__ = ["FlagInfo", "describe"]


class FlagInfo(msgspec.Struct, frozen=True, gc=False):
    """One flag's definition in brief. `signature` differs between two definitions of the
    flag whenever anything its own evaluation reads differs (conditions, filters, rollouts,
    variants, payloads, holdout, enrollment); cohort definitions it refers to are not
    part of it."""

    key: str
    id: int | None
    version: int | None
    active: bool
    signature: int


def _holdout(holdout: Any) -> object:
    if isinstance(holdout, Holdout):
        return (holdout.id, holdout.percentage)
    return None if holdout is None else "broken"


def describe(flag: CompiledFlag) -> FlagInfo:
    """The `FlagInfo` of a compiled flag."""
    conditions = tuple(
        (c.rollout, c.rollout_broken, c.override, c.aggregation, repr(c.raw_filters))
        for c in flag.conditions
    )
    payloads = tuple(sorted((value, repr(make())) for value, make in flag.fresh.items()))
    parts = (
        flag.active,
        flag.experience_continuity,
        flag.malformed,
        flag.group_index,
        flag.device_bucketing,
        flag.enrollment,
        flag.enrollment_key,
        _holdout(flag.holdout),
        flag.early_exit,
        conditions,
        flag.variants,
        payloads,
    )
    signature = xxhash.xxh64_intdigest(repr(parts).encode("utf-8", "surrogatepass"))
    return FlagInfo(flag.key, flag.id, flag.version, flag.active, signature)
