"""`$feature_flag_called`: the facts of one flag read, its event, and its dedup identity.

A busy server reads the same flags for the same people all day, and PostHog needs one
event per (distinct id, flag, value, groups); the identity of a report is decided here,
as two xxhash integers, so the shell's cache only stores numbers.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
from msgspec.structs import astuple
from xxhash import xxh3_64_intdigest

from .attribution import ATTRIBUTION_PROPERTIES, FLAG_CALLED_PINNED, Attribution
from .builders import capture, capture_fields
from .event import Event, EventContext
from .normalize import normalize_properties
from .timestamps import Timestamp, TimestampMemo, format_epoch, wire_timestamp, wire_uuid

# ---------------------------------------------------------------------------------------
# $feature_flag_called

__all__ = [
    "EVALUATED_LOCALLY",
    "MINIMAL_FLAG_CALLED_PROPERTIES",
    "FlagCalled",
    "feature_flag_called",
    "flag_called_event",
    "given_users",
    "groups_token",
    "read_errors",
    "report_hash",
    "report_of",
    "user_hash",
]

MINIMAL_FLAG_CALLED_PROPERTIES: frozenset[str] = frozenset(
    {
        "$feature_flag",
        "$feature_flag_response",
        "$feature_flag_has_experiment",
        "$feature_flag_id",
        "$feature_flag_version",
        "$feature_flag_reason",
        "$feature_flag_request_id",
        "$feature_flag_evaluated_at",
        "$feature_flag_error",
        "locally_evaluated",
        "$groups",
        "$process_person_profile",
        "$session_id",
        "$lib",
        "$lib_version",
        "$is_server",
        "$geoip_disable",
        "$os",
        "$os_version",
        "$os_distro",
        "$python_runtime",
        "$python_version",
    }
)


class FlagCalled(msgspec.Struct, frozen=True):
    """The facts of one flag read to report as `$feature_flag_called`: everything the event
    needs except the clock reading and the event id, which the shell adds.

    `error` is one code or several (comma-joined in the event). `payload_is_json` says the
    payload is freshly decoded JSON the event may keep as it is (a snapshot's payloads are),
    so it is not normalised again. `attribution` is a config-version-2 record's (it
    replaces the reason description). Snapshots build it positionally, in field order: a keyword
    call of this size costs more than the rest of a deduplicated read.
    """

    distinct_id: str
    key: str
    response: bool | str | None
    payload: Any
    locally_evaluated: bool
    flag_id: int | None
    flag_version: int | None
    reason: str | None
    request_id: str | None
    evaluated_at: int | None
    error: str | Sequence[str] | None
    has_experiment: bool | None
    groups: Mapping[str, Any] | None
    disable_geoip: bool | None
    minimal: bool
    payload_is_json: bool = False
    attribution: Attribution | None = None


EVALUATED_LOCALLY = "Evaluated locally"
"""`$feature_flag_reason` of a locally evaluated read, as every PostHog SDK reports it."""


def read_errors(
    snapshot_errors: tuple[str, ...],
    unresolved: bool,
    found: bool,
    server_failed: bool,
) -> tuple[str, ...]:
    """The `$feature_flag_error` codes of one read: the snapshot's own (a failed or
    quota-limited request), then what is wrong with this flag. `unresolved` means local
    evaluation could not decide it, `found` that some source (local or remote) knew the
    flag, `server_failed` that the server said it failed to evaluate it."""
    errors = snapshot_errors
    if server_failed:
        errors += ("evaluation_failed",)
    if unresolved:
        errors += ("local_evaluation_inconclusive",)
    elif not found:
        errors += ("flag_missing",)
    return errors


def feature_flag_called(
    ctx: EventContext,
    *,
    distinct_id: str,
    key: str,
    response: bool | str | None,
    payload: Any = None,
    locally_evaluated: bool,
    flag_id: int | None = None,
    flag_version: int | None = None,
    reason: str | None = None,
    request_id: str | None = None,
    evaluated_at: int | None = None,
    error: str | Sequence[str] | None = None,
    has_experiment: bool | None = None,
    groups: Mapping[str, Any] | None = None,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    disable_geoip: bool | None = None,
    minimal: bool = False,
    payload_is_json: bool = False,
    attribution: Attribution | None = None,
) -> Event:
    """`$feature_flag_called` for one flag read, with posthog-python's property rules.

    Always `$feature_flag`, `$feature_flag_response`, `locally_evaluated` and
    `$feature/<key>`; `$feature_flag_payload` when the (decoded) payload is not None;
    request id, evaluated-at, reason, id, version and error only when truthy (`error` may
    be a list of codes, comma-joined); `$feature_flag_has_experiment` only for a real bool.
    It then goes through the capture path (system properties, `$groups`, common
    properties). `minimal=True` keeps only `MINIMAL_FLAG_CALLED_PROPERTIES`, the allowlist
    the server switches on (callers pass it only when the gate is on and `has_experiment is
    False`).

    `payload_is_json=True` says the payload is freshly decoded JSON that the event may
    keep as it is (a snapshot's payloads are): it is then not normalised again. When every
    other argument has the type the shell passes (ASCII str key, bool/str/None response,
    str reason and request id, int id, version and time), the properties are built
    directly, with no normalising pass over them; the event is the same either way.
    """
    called = FlagCalled(
        distinct_id=distinct_id,
        key=key,
        response=response,
        payload=payload,
        locally_evaluated=locally_evaluated,
        flag_id=flag_id,
        flag_version=flag_version,
        reason=reason,
        request_id=request_id,
        evaluated_at=evaluated_at,
        error=error,
        has_experiment=has_experiment,
        groups=groups,
        disable_geoip=disable_geoip,
        minimal=minimal,
        payload_is_json=payload_is_json,
        attribution=attribution,
    )
    return flag_called_event(ctx, timestamp, uuid, called)


def flag_called_event(
    ctx: EventContext,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    called: FlagCalled,
    anonymous_id: str | None = None,
    memo: TimestampMemo | None = None,
) -> Event:
    """`$feature_flag_called` for the read `called` describes (see `feature_flag_called`).

    A read for an empty distinct id is reported as a personless event under
    `anonymous_id`, a fresh id the shell supplies, as any capture without an id is.
    `memo` is the shell's `TimestampMemo`: reads come in bursts, and formatting a
    timestamp from scratch is a large share of building the event.

    When every field has the type the shell passes (ASCII str key, bool/str/None response,
    str reason and request id, int id, version and time), the properties are built directly,
    with no normalising pass over them; the event is the same either way.
    """
    (
        distinct_id,
        key,
        response,
        payload,
        locally_evaluated,
        flag_id,
        flag_version,
        reason,
        request_id,
        evaluated_at,
        error,
        has_experiment,
        groups,
        disable_geoip,
        minimal,
        payload_is_json,
        attribution,
    ) = astuple(called)
    if attribution is not None:
        reason = None  # the reason code stands in for the description
    if payload is None or payload_is_json:
        plain_payload = True
    else:
        kind = type(payload)
        plain_payload = (
            kind is bool
            or kind is int
            or (kind is str and payload.isascii())
            or (kind is float and payload - payload == 0.0)
        )
    error_text = (error if isinstance(error, str) else _joined(error)) if error else None
    fast = (
        plain_payload
        and type(key) is str
        and key.isascii()
        and (
            response is None
            or type(response) is bool
            or (type(response) is str and response.isascii())
        )
        and type(locally_evaluated) is bool
        and (not request_id or (type(request_id) is str and request_id.isascii()))
        and (not reason or (type(reason) is str and reason.isascii()))
        and (not evaluated_at or type(evaluated_at) is int)
        and (not flag_version or type(flag_version) is int)
        and (not flag_id or type(flag_id) is int)
        and (error_text is None or (type(error_text) is str and error_text.isascii()))
    )
    props: dict[str, Any] = {
        "$feature_flag": key,
        "$feature_flag_response": response,
        "locally_evaluated": locally_evaluated,
        f"$feature/{key}": response,
    }
    if payload is not None:
        props["$feature_flag_payload"] = payload
    if request_id:
        props["$feature_flag_request_id"] = request_id
    if evaluated_at:
        props["$feature_flag_evaluated_at"] = evaluated_at
    if reason:
        props["$feature_flag_reason"] = reason
    if flag_version:
        props["$feature_flag_version"] = flag_version
    if flag_id:
        props["$feature_flag_id"] = flag_id
    if error:
        # Not all text: `join` raises the TypeError it always has for such a list.
        props["$feature_flag_error"] = error_text if error_text is not None else ",".join(error)
    if type(has_experiment) is bool:  # `isinstance`, for a type nothing can subclass
        props["$feature_flag_has_experiment"] = has_experiment
    if (
        fast
        and not groups
        and ctx.release_id is None
        and type(distinct_id) is str
        and distinct_id
        and distinct_id.isascii()
    ):
        # `capture_fields` for the shell's usual read, inlined: `props` is ours, so the
        # common layers go straight into it (the same keys in the same order as a merge).
        geoip_off = ctx.disable_geoip if disable_geoip is None else disable_geoip
        props.update(ctx.closing_geoip if geoip_off else ctx.closing_plain)
        ev = Event(
            "$feature_flag_called",
            distinct_id,
            props,
            format_epoch(timestamp, memo)
            if type(timestamp) is float
            else wire_timestamp(timestamp, memo),
            uuid if type(uuid) is str else wire_uuid(uuid),
        )
    elif fast:
        ev = Event(
            "$feature_flag_called",
            *capture_fields(
                ctx,
                distinct_id,
                props,
                normalize_properties(groups) if groups else None,
                timestamp,
                None,
                anonymous_id,
                disable_geoip,
                memo,
            ),
            uuid if type(uuid) is str else wire_uuid(uuid),
        )
    else:
        ev = capture(
            ctx,
            "$feature_flag_called",
            distinct_id=distinct_id,
            properties=props,
            groups=groups,
            timestamp=timestamp,
            uuid=uuid,
            disable_geoip=disable_geoip,
            anonymous_id=anonymous_id,
            memo=memo,
        )
    if attribution is not None or minimal:
        ev = _finished(ev, called)
    return ev


_MINIMAL_V2_PROPERTIES = MINIMAL_FLAG_CALLED_PROPERTIES | ATTRIBUTION_PROPERTIES


def _finished(ev: Event, called: FlagCalled) -> Event:
    """The event with a config-version-2 record's attribution and the read's identity set
    again over whatever super properties added (experiment analysis must see the record's
    rule, never a property the application happened to set under the same name), then cut
    to the minimal allowlist when the server asked for minimal events."""
    props = ev.properties
    attribution = called.attribution
    if attribution is not None:
        props = {k: v for k, v in props.items() if k not in FLAG_CALLED_PINNED}
        props.update(attribution.properties())
        props["$feature_flag"] = called.key
        props["$feature_flag_response"] = called.response
        props["locally_evaluated"] = called.locally_evaluated is True
    if called.minimal:
        allowed = MINIMAL_FLAG_CALLED_PROPERTIES if attribution is None else _MINIMAL_V2_PROPERTIES
        props = {k: v for k, v in props.items() if k in allowed}
    return msgspec.structs.replace(ev, properties=props)


def _joined(codes: Sequence[str]) -> str | None:
    """`codes` comma-joined, or None when they are not all text."""
    try:
        return ",".join(codes)
    except TypeError:
        return None


def user_hash(distinct_id: str) -> int:
    """The dedup bucket of a distinct id."""
    return _digest(distinct_id if type(distinct_id) is str else _text(distinct_id))


def given_users(distinct_id: object) -> tuple[int, int]:
    """(flag-called bucket, exposure bucket) of a read an older flag method was given
    `distinct_id` for, when it is not text.

    Such a read remembers its `$feature_flag_called` under the id as given, so a number, a
    UUID or None has a bucket of its own beside its text: a read under 42 and one under "42"
    (or a snapshot of 42, which reads it as "42") each report, as do None and "". Its
    `$experiment_exposure` is remembered under the id's text, whatever its type. Both as
    posthog-python remembers them; the own buckets are digests with another seed, so no
    text id lands in one by construction.
    """
    text = _text(distinct_id)
    own = f"{type(distinct_id).__qualname__}\x00{text}"
    return _digest(own, _GIVEN_SEED), _digest(text)


def groups_token(groups: Mapping[str, Any] | None) -> str:
    """The groups part of every report of one snapshot, computed once per snapshot.

    Order-insensitive `str(type)`/`str(key)` pairs, so a person read under other groups
    reports again. It is a `repr`, so it never holds a NUL character: `report_hash` uses one
    as its separator.
    """
    if not groups:
        return ""
    return repr(sorted((_text(k), _text(v)) for k, v in groups.items()))


def report_hash(token: str, key: str, response: bool | str | None, rule: str = "") -> int:
    """One (flag, value) read under a snapshot's groups: a single xxhash of one string.

    The key is length-prefixed and the value tagged by type, so `True` and `"True"`, or a
    key and value that concatenate alike, never share a hash by construction. Payload,
    `locally_evaluated` and request id are deliberately not part of a report's identity.
    `rule` is a config-version-2 record's `Attribution.identity()`, so two arms with equal
    values, successive experiments and holdouts are each reported.
    """
    name = key if type(key) is str else _text(key)
    if type(response) is str:
        tag = "s" + response
    elif response is True:
        tag = "T"
    elif response is False:
        tag = "F"
    elif response is None:
        tag = "N"
    else:
        tag = "o" + _text(response)
    if rule:  # a repr, so no NUL in it, and it starts where a length prefix cannot
        return _digest(f"{token}\x00{rule}\x00{len(name)}:{name}{tag}")
    return _digest(f"{token}\x00{len(name)}:{name}{tag}")


def report_of(
    distinct_id: str,
    key: str,
    response: bool | str | None,
    groups: Mapping[str, Any] | None,
    attribution: Attribution | None = None,
) -> tuple[int, int]:
    """(user hash, report hash) of one read: what makes two reads "the same report"."""
    rule = attribution.identity() if attribution is not None else ""
    return user_hash(distinct_id), report_hash(groups_token(groups), key, response, rule)


# The seed of the buckets of distinct ids that are not text (see `given_users`).
_GIVEN_SEED: Final = 1


def _digest(text: str, seed: int = 0) -> int:
    return xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"), seed)


def _text(value: object) -> str:
    if type(value) is str:
        return value
    try:
        return str(value)
    except Exception:  # a group key whose __str__ fails still gets a stable identity
        return f"<{type(value).__name__}>"
