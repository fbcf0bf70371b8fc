"""`$experiment_exposure`: the event that tells experiment analysis a person saw an arm.

It follows the `$feature_flag_called` of the same read, only when that read's record was a
complete experiment split (`Attribution.exposes`), and it is built from the same facts so the
pair always reports one read. Its dedup identity is the assignment (flag, groups, rule, arm),
not the read: re-reading the same assignment, with another request id or from another
source, exposes nothing new, while a new arm or rule does.
"""

from __future__ import annotations

import uuid as _uuid
from typing import Final

import msgspec

from .builders import capture
from .event import Event, EventContext
from .flag_called import FlagCalled, report_hash
from .timestamps import Timestamp

__all__ = ["EXPOSURE_EVENT", "exposure_event", "exposure_hash"]

EXPOSURE_EVENT: Final = "$experiment_exposure"

# What an exposure never carries, even from a super property: the flag-called event's
# attribution details and fields reserved for other producers of exposures.
_FORBIDDEN: Final = frozenset(
    {
        "$feature_flag_config_version",
        "$feature_flag_reason_code",
        "$feature_flag_rule_type",
        "$experiment_exposure_source",
        "$feature_flag_experiment_id",
        "$feature_flag_forced_variant",
    }
)


def exposure_hash(token: str, called: FlagCalled) -> int:
    """The dedup identity of the assignment `called` reports, under a snapshot's groups
    `token` (see `flag_called.groups_token`); 0 when the read exposes nothing.

    The value, request id, evaluation time and source are left out on purpose: one
    assignment is one exposure however often and however it is read.
    """
    attribution = called.attribution
    if attribution is None or attribution.variant_key is None:
        return 0
    arm = repr((2, attribution.rule_id, attribution.variant_key))
    return report_hash(token, called.key, None, arm)


def exposure_event(
    ctx: EventContext,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    called: FlagCalled,
    anonymous_id: str | None = None,
) -> Event | None:
    """`$experiment_exposure` for the read `called` describes, or None when it exposes nothing.

    A read for an empty distinct id is a personless event under `anonymous_id`.

    Flag id, version, request id and evaluation time come along when the flag-called event
    has them; flag, response, source, arm and rule are set again after super properties,
    so a super property can neither change them nor add a forbidden field.
    """
    attribution = called.attribution
    if attribution is None or attribution.variant_key is None:
        return None
    props: dict[str, object] = {}
    if called.flag_id:
        props["$feature_flag_id"] = called.flag_id
    if called.flag_version:
        props["$feature_flag_version"] = called.flag_version
    if called.request_id:
        props["$feature_flag_request_id"] = called.request_id
    if called.evaluated_at:
        props["$feature_flag_evaluated_at"] = called.evaluated_at
    identity = {
        "$feature_flag": called.key,
        "$feature_flag_response": called.response,
        "locally_evaluated": called.locally_evaluated is True,
        "$feature_flag_variant_key": attribution.variant_key,
        "$feature_flag_rule_id": attribution.rule_id,
    }
    props.update(identity)
    ev = capture(
        ctx,
        EXPOSURE_EVENT,
        distinct_id=called.distinct_id,
        properties=props,
        groups=called.groups,
        timestamp=timestamp,
        uuid=uuid,
        disable_geoip=called.disable_geoip,
        anonymous_id=anonymous_id,
    )
    kept = {k: v for k, v in ev.properties.items() if k not in _FORBIDDEN}
    kept.update(identity)
    return msgspec.structs.replace(ev, properties=kept)
