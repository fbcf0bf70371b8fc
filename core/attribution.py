"""Which rule of a flag produced a `/flags?v=4` answer, as flag events report it.

A config-version-2 record names the rule that decided the value (`rule_id`, `rule_type`) and,
for an experiment, the arm (`variant_key`). Experiment analysis joins events on those names,
so a report must never guess them: a rule is reported only when the reason code allows its
type and its id has the wire format, and an arm only for a complete experiment split. The
rules live here, apart from the event builders, so snapshots, the CLI and the OpenFeature
provider read the same answer the events carry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

import msgspec

__all__ = [
    "ATTRIBUTION_PROPERTIES",
    "EXPERIMENT_SPLIT",
    "FLAG_CALLED_PINNED",
    "Attribution",
    "attribution_of",
]

EXPERIMENT_SPLIT: Final = "experiment_split"
"""The reason code of a variant assigned by an experiment rule: the one outcome that exposes."""

_EXPERIMENT: Final = "experiment"

# The reason codes that report the rule behind a result, and the rule types each allows.
# Any other code (or none) reports no rule, whatever the record names.
_RULE_TYPES: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "targeting_match": frozenset({"targeted_release", "percentage_rollout"}),
        EXPERIMENT_SPLIT: frozenset({_EXPERIMENT}),
        "rollout_miss": frozenset({"percentage_rollout", _EXPERIMENT}),
        "experiment_paused": frozenset({_EXPERIMENT}),
        "holdout": frozenset({_EXPERIMENT}),
    }
)

# A rule id is a hyphenated UUID on the wire; anything else counts as no rule at all.
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")

ATTRIBUTION_PROPERTIES: Final = frozenset(
    {
        "$feature_flag_config_version",
        "$feature_flag_reason_code",
        "$feature_flag_rule_id",
        "$feature_flag_rule_type",
        "$feature_flag_variant_key",
    }
)
"""What a config-version-2 `$feature_flag_called` may add; kept even by a minimal event."""

FLAG_CALLED_PINNED: Final = ATTRIBUTION_PROPERTIES | {
    "$feature_flag_reason",
    "$feature_flag_forced_variant",
    "$feature_flag_experiment_id",
}
"""Names a super property can neither add to nor change on a config-version-2 flag event:
the attribution is set again from the record, the others such an event never carries."""


class Attribution(msgspec.Struct, frozen=True, gc=False):
    """What a config-version-2 record reports about the read.

    `rule_id` and `rule_type` are both set or both None; `variant_key` is set only for a
    complete experiment split, the outcome that sends `$experiment_exposure`.
    """

    reason_code: str | None
    rule_id: str | None = None
    rule_type: str | None = None
    variant_key: str | None = None

    @property
    def exposes(self) -> bool:
        """The read assigned an experiment arm: it sends `$experiment_exposure`."""
        return self.variant_key is not None

    def properties(self) -> dict[str, Any]:
        """The `$feature_flag_called` properties this attribution adds."""
        out: dict[str, Any] = {"$feature_flag_config_version": 2}
        if self.reason_code is not None:
            out["$feature_flag_reason_code"] = self.reason_code
        if self.rule_id is not None:
            out["$feature_flag_rule_id"] = self.rule_id
            out["$feature_flag_rule_type"] = self.rule_type
        if self.variant_key is not None:
            out["$feature_flag_variant_key"] = self.variant_key
        return out

    def identity(self) -> str:
        """The part of a report's dedup identity that tells rules and arms apart."""
        return repr((2, self.reason_code, self.rule_id, self.rule_type, self.variant_key))


def attribution_of(
    config_version: object,
    reason_code: str | None,
    *,
    failed: bool,
    rule_id: object,
    rule_type: object,
    variant_key: object,
) -> Attribution | None:
    """The attribution of one record, or None when it has none (not config version 2).

    A failed record, an unknown reason code, a rule type the code does not allow or a rule
    id that is not a UUID keeps only the reason code. A split missing its arm reports no
    rule either: a half-described experiment is not attributed to anything.
    """
    if config_version != 2:
        return None
    code = reason_code or None
    allowed = _RULE_TYPES.get(code or "")
    if failed or allowed is None:
        return Attribution(code)
    if not (isinstance(rule_id, str) and _UUID.fullmatch(rule_id)) or rule_type not in allowed:
        return Attribution(code)
    assert isinstance(rule_type, str)
    if code != EXPERIMENT_SPLIT:
        return Attribution(code, rule_id, rule_type)
    if not isinstance(variant_key, str):
        return Attribution(code)
    return Attribution(code, rule_id, rule_type, variant_key)
