"""How the older flag methods answer: their own rules, kept apart from `evaluate_flags`.

Applications written against posthog-python's single-flag and bulk getters depend on
their exact answers: which payload text comes back, what a failed request reads as, which
error a `$feature_flag_called` event names. Those rules differ from the snapshot API's on
purpose (a snapshot never lets a remote value replace a local one; a bulk getter takes the
server's whole answer), so they live here, as functions of what was evaluated and what the
server said, and the shell only performs the requests.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypedDict

import msgspec

from .payloads import parse_payload
from .remote import RemoteFlag

__all__ = [
    "EVALUATION_RUNTIMES",
    "FeatureFlagEvaluationRuntime",
    "FeatureFlagResult",
    "FlagDecision",
    "FlagDecisionMetadata",
    "FlagDecisionReason",
    "FlagsAndPayloads",
    "decision_record",
    "decoded_payload",
    "empty_decision",
    "flag_result",
    "payload_lookup_key",
    "read_identity",
    "read_person",
    "remote_read_error",
    "runtime_matches",
    "server_wins",
    "stored_payload_text",
    "valid_runtime",
]


class FeatureFlagEvaluationRuntime(str, enum.Enum):
    """Where a flag is meant to be evaluated, as `get_feature_flag_evaluation_runtime`
    answers. Members equal their strings, so code comparing with "server" keeps working."""

    ALL = "all"
    CLIENT = "client"
    SERVER = "server"


EVALUATION_RUNTIMES: Final = tuple(runtime.value for runtime in FeatureFlagEvaluationRuntime)


class FlagsAndPayloads(TypedDict):
    """What `get_all_flags_and_payloads` returns: values and payloads by flag key."""

    featureFlags: dict[str, bool | str] | None
    featureFlagPayloads: dict[str, Any] | None


# --------------------------------------------------------------------------- identity


def read_identity(distinct_id: object) -> tuple[str, str]:
    """(the text a read buckets and evaluates by, the distinct id its events report) for
    the distinct id an older flag method was given.

    These methods take any id and evaluate it as its text, so a None id (an anonymous
    request, say) is evaluated as the text "None": every such call gets the same values,
    as in posthog-python, where an application that migrates may rely on them. Its
    `$feature_flag_called` events are personless, as for an empty id.
    """
    if type(distinct_id) is str:
        return distinct_id, distinct_id
    text = str(distinct_id)
    return text, "" if distinct_id is None else text


def read_person(person_properties: Any, distinct_id: object) -> Any:
    """The person properties an older read evaluates locally with, for its distinct id.

    Such a read buckets an id that is not text by its text (see `read_identity`), but a
    condition on the `distinct_id` person property sees the id as the caller gave it: a
    None id is None there, not the text "None" (so `exact "None"` does not match it, and a
    date filter reads it as no date). The caller's own `distinct_id` property wins. Text
    ids, and properties that are not a readable mapping, are returned as they are.
    """
    if type(distinct_id) is str:
        return person_properties
    if person_properties is None:
        return {"distinct_id": distinct_id}
    if not isinstance(person_properties, Mapping):
        return person_properties
    try:
        person = dict(person_properties)
    except Exception:  # a mapping that cannot be read is left to the evaluation's own checks
        return person_properties
    person.setdefault("distinct_id", distinct_id)
    return person


# --------------------------------------------------------------------------- payloads


def decoded_payload(stored: Any) -> Any:
    """A payload as a single-flag read returns it: JSON text decoded (None when it is not
    JSON); a payload the definitions hold as a JSON value is returned as that value."""
    if isinstance(stored, str):
        return parse_payload(stored)[1]
    return stored


def stored_payload_text(stored: Any) -> Any:
    """A payload as the bulk getters return it: JSON text unchanged, byte for byte (callers
    decode it themselves), None for text that is not JSON, any other value as it is."""
    if isinstance(stored, str):
        return stored if parse_payload(stored)[0] else None
    return stored


def payload_lookup_key(value: bool | str) -> str:
    """The key a flag value's payload is stored under: "true"/"false" or the variant."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- results


class FeatureFlagResult(msgspec.Struct, frozen=True):
    """One flag as `get_feature_flag_result` reports it.

    `enabled` and `variant` give the value (`get_value()`), `payload` is decoded, and
    `reason` is the server's description of a remotely evaluated flag (None for a flag
    evaluated locally).
    """

    key: str
    enabled: bool
    variant: str | None
    payload: Any
    reason: str | None

    def get_value(self) -> bool | str:
        """The variant, else whether the flag is enabled."""
        return self.variant or self.enabled

    @classmethod
    def from_value_and_payload(
        cls, key: str, value: bool | str | None, payload: Any
    ) -> FeatureFlagResult | None:
        """posthog-python's way to build one (tests stubbing flag reads use it): see
        `flag_result`."""
        return flag_result(key, value, payload)


def flag_result(
    key: str, value: bool | str | None, payload: Any, reason: str | None = None
) -> FeatureFlagResult | None:
    """The result for `value` (None when there is no value); `payload` as stored."""
    if value is None:
        return None
    enabled, variant = (True, value) if isinstance(value, str) else (bool(value), None)
    return FeatureFlagResult(key, enabled, variant, decoded_payload(payload), reason)


def remote_read_error(errors_while_computing: bool, found: bool, server_failed: bool) -> str | None:
    """`$feature_flag_error` of a single-flag read the server answered.

    The response's own problem first, then what is wrong with this flag's record; a
    request that failed outright reports only its own code (see `failure_code`).
    """
    errors = []
    if errors_while_computing:
        errors.append("errors_while_computing_flags")
    if not found:
        errors.append("flag_missing")
    elif server_failed:
        errors.append("evaluation_failed")
    return ",".join(errors) if errors else None


# --------------------------------------------------------------------------- bulk reads


def server_wins(
    local_flags: Mapping[str, bool | str],
    local_payloads: Mapping[str, Any],
    remote_flags: Mapping[str, bool | str],
    remote_payloads: Mapping[str, Any],
    failed: Iterable[str],
) -> tuple[dict[str, bool | str], dict[str, Any]]:
    """The bulk getters' answer once the server was asked: the server's flags and payloads
    replace the local results wholesale, except that a key the server marked failed keeps
    its local value and payload."""
    kept = set(failed)
    flags = {k: v for k, v in local_flags.items() if k in kept}
    flags.update(remote_flags)
    payloads = {k: v for k, v in local_payloads.items() if k in kept}
    payloads.update(remote_payloads)
    return flags, payloads


# --------------------------------------------------------------------------- decisions


class FlagDecisionReason(msgspec.Struct, frozen=True):
    code: str | None
    condition_index: int | None
    description: str | None


class FlagDecisionMetadata(msgspec.Struct, frozen=True):
    id: int | None
    version: int | None
    payload: Any
    description: str | None = None
    has_experiment: bool | None = None


class FlagDecision(msgspec.Struct, frozen=True):
    """One record of a `/flags` answer as `get_flags_decision` returns it; `metadata.payload`
    is the payload text as the server wrote it."""

    key: str
    enabled: bool
    variant: str | None
    reason: FlagDecisionReason | None
    metadata: FlagDecisionMetadata
    failed: bool = False

    def get_value(self) -> bool | str:
        return self.variant or self.enabled


def decision_record(flag: RemoteFlag, raw: Any) -> FlagDecision:
    """A record for `get_flags_decision`: `flag` as parsed, `raw` the record as sent.

    A record that could not be read has no reason and no metadata. A typed record (one
    with `value`) has a reason and metadata whenever it sends their objects, empty ones
    included; a record in the older shape only when they hold something. A reason or
    metadata that is there reads an absent description (and a typed record's absent
    code) as "", as posthog-python does. A failed record has no payload.
    """
    record = raw if isinstance(raw, dict) and flag.malformed is None else {}
    typed = "value" in record
    sent_meta = record.get("metadata")
    meta = sent_meta if isinstance(sent_meta, dict) else {}
    full = bool(meta) or (typed and isinstance(sent_meta, dict))
    description = meta.get("description", "") if full else None
    return FlagDecision(
        flag.key,
        flag.enabled,
        flag.variant,
        _decision_reason(record.get("reason"), typed),
        FlagDecisionMetadata(
            flag.id,
            flag.version,
            None if flag.failed else flag.payload_sent,
            description if isinstance(description, str) else None,
            flag.has_experiment if full else None,
        ),
        flag.failed,
    )


def _decision_reason(reason: Any, typed: bool) -> FlagDecisionReason | None:
    """A record's reason as `get_flags_decision` shows it (see `decision_record`)."""
    if not isinstance(reason, dict) or not (reason or typed):
        return None
    code, description = reason.get("code", ""), reason.get("description", "")
    if typed:
        code, description = code or "", description or ""
    return FlagDecisionReason(_str(code), _int(reason.get("condition_index")), _str(description))


def empty_decision() -> dict[str, Any]:
    """What `get_flags_decision` returns when there is no answer to give."""
    return {"flags": {}, "requestId": None}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --------------------------------------------------------------------------- runtimes


def valid_runtime(value: Any) -> str:
    """A definition's `evaluation_runtime` as one of "all", "client", "server": a missing
    or unknown value means "all", the server's default."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in EVALUATION_RUNTIMES:
            return text
    return "all"


def runtime_matches(flag_runtime: str, wanted: str) -> bool:
    """Whether a flag meant for `flag_runtime` suits `wanted` ("all" suits either way)."""
    return flag_runtime == wanted or "all" in (flag_runtime, wanted)
