"""Comparing one event method call's outcome in two SDKs: what each returned and the events
it sent, with the relaxations the event differentials share (see test_event_differential's
docstring for each one's reason). Used by the sync and the async event differentials."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid as uuidlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from compare import strict_equal
from event_strategies import OPAQUE_TEXTS, Call, Context, Example, call_inputs
from event_strategies import has_unserialisable_key as posthog_cannot_serialise
from reference import quiet_logger, quiet_reference
from twin import context_tags_in_order, event_differences, normalized

__all__ = [
    "PERSONLESS_METHODS",
    "agrees",
    "canonical_uuid",
    "compare_call",
    "posthog_cannot_read_time",
    "quiet",
]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No reference log lines or deprecation warnings, and no POSTHOG_RELEASE_ID (both SDKs
    read it when built; the comparison must not depend on the environment)."""
    release = os.environ.pop("POSTHOG_RELEASE_ID", None)
    try:
        with quiet_reference(), quiet_logger("hogkit"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if release is not None:
            os.environ["POSTHOG_RELEASE_ID"] = release


@contextlib.contextmanager
def within(api: Any, context: Context | None) -> Iterator[None]:
    """A fresh context of `api` (a client, or posthog's contexts module) set up as `context`
    says; nothing when it is None."""
    if context is None:
        yield
        return
    with api.new_context(fresh=True):
        if context.distinct_id is not None:
            api.identify_context(context.distinct_id)
        if context.session_id is not None:
            api.set_context_session(context.session_id)
        for name, value in context.tags.items():
            api.tag(name, value)
        yield


# The methods that send an event without a person when given no distinct id.
PERSONLESS_METHODS = frozenset({"capture", "capture_exception"})
BLANK = (None, "")

# Seconds within which a timestamp counts as the time of the call.
CLOCK_SLACK = 60.0


def agrees(ref: Any, kit: Any) -> bool:
    """Strict equality, with posthog's null for a value JSON cannot hold standing against
    hogkit's text for it."""
    if ref is None and isinstance(kit, str):
        return kit in OPAQUE_TEXTS
    if isinstance(ref, dict) and isinstance(kit, dict):
        return ref.keys() == kit.keys() and all(agrees(ref[k], kit[k]) for k in ref)
    if isinstance(ref, list) and isinstance(kit, list):
        return len(ref) == len(kit) and all(agrees(a, b) for a, b in zip(ref, kit, strict=True))
    return strict_equal(ref, kit)


def as_text(value: Any) -> str:
    """A value as posthog reads an id: text (a str subclass too) as it is, else its `str()`."""
    return str.__str__(value) if isinstance(value, str) else str(value)


def accepted_uuid(value: Any) -> str | None:
    """The uuid text posthog keeps for an explicit `uuid` argument, or None if it draws one."""
    if value is None:
        return None
    text = as_text(value)
    try:
        uuidlib.UUID(text)
    except ValueError:
        return None
    return text if text else None


def is_uuid(value: Any) -> bool:
    try:
        uuidlib.UUID(as_text(value))
    except ValueError:
        return False
    return True


def canonical_uuid(value: Any) -> str | None:
    """The uuid text posthog's AsyncClient keeps for an explicit `uuid` argument: its
    `str()` (a str subclass's own `__str__` too), in canonical form."""
    if value is None:
        return None
    try:
        return str(uuidlib.UUID(str(value)))
    except (TypeError, ValueError, AttributeError):
        return None


def check_ids(
    call: Call,
    ref: tuple[Any, list[dict[str, Any]]],
    kit: tuple[Any, Any],
    accepted: Callable[[Any], str | None] = accepted_uuid,
) -> None:
    """What each call returned, against the uuid of the event it sent."""
    (ref_result, ref_events), (kit_result, kit_events) = ref, kit
    explicit = accepted(call.kwargs.get("uuid"))
    for result, events in ((ref_result, ref_events), (kit_result, kit_events)):
        if events:
            assert result == events[0]["uuid"] and is_uuid(result), (result, events[0]["uuid"])
    if explicit is not None and ref_events:
        assert kit_result == ref_result == explicit
        assert kit_events[0]["uuid"] == ref_events[0]["uuid"]


def taken_from_the_clock(text: str) -> bool:
    """Whether an event's timestamp is the time of the call (give or take a slow machine)."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return abs((dt.datetime.now(dt.timezone.utc) - when).total_seconds()) < CLOCK_SLACK


def check_times(call: Call, ref_events: list[Any], kit_events: list[Any]) -> None:
    """A timestamp the call gave is sent as posthog sends it, or both SDKs took the clock
    (posthog does for text it cannot read)."""
    given_time = call.kwargs.get("timestamp")
    if given_time is not None and ref_events and not posthog_cannot_read_time(call):
        ref_time, kit_time = ref_events[0]["timestamp"], kit_events[0]["timestamp"]
        both_now = taken_from_the_clock(ref_time) and taken_from_the_clock(kit_time)
        assert kit_time == ref_time or both_now, (given_time, ref_time, kit_time)


def posthog_cannot_read_time(call: Call) -> bool:
    """A date or a number as the timestamp, which posthog fails on."""
    given_time = call.kwargs.get("timestamp")
    return given_time is not None and not isinstance(given_time, (str, dt.datetime))


def personless(
    context: Context | None, call: Call, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Events of a call without a person: their distinct id, a fresh random UUID in both
    SDKs, checked to be one and replaced by a marker (a super property may override
    `$process_person_profile`, so the call, not the event, says which are personless)."""
    if call.method not in PERSONLESS_METHODS or call.kwargs.get("distinct_id") not in BLANK:
        return events
    if context is not None and context.distinct_id not in BLANK:
        return events
    for event in events:
        assert str(uuidlib.UUID(event["distinct_id"])) == event["distinct_id"]
    return [{**event, "distinct_id": "<personless>"} for event in events]


def compare_call(
    example: Example,
    call: Call,
    ref: tuple[Any, list[Any]],
    kit: tuple[Any, list[Any]],
    accepted: Callable[[Any], str | None] = accepted_uuid,
) -> None:
    (ref_result, ref_events), (kit_result, kit_events) = ref, kit
    inputs = [*call_inputs(call), example.options.get("super_properties")]
    if example.context is not None:
        inputs.append(example.context.tags)
    unusable = any(posthog_cannot_serialise(v) for v in inputs) or posthog_cannot_read_time(call)
    if not ref_events and unusable:
        # posthog lost the event, so there is nothing to compare with: hogkit's own answer
        # must at least hang together (it may still refuse the call for another reason).
        assert len(kit_events) == (kit_result is not None), kit_result
        assert not kit_events or kit_events[0]["uuid"] == kit_result
        return
    assert (ref_result is None) == (kit_result is None), (ref_result, kit_result)
    assert len(ref_events) == len(kit_events), event_differences(ref_events, kit_events)
    check_ids(call, ref, kit, accepted)
    check_times(call, ref_events, kit_events)
    theirs = personless(
        example.context, call, [context_tags_in_order(normalized(e)) for e in ref_events]
    )
    ours = personless(
        example.context, call, [context_tags_in_order(normalized(e)) for e in kit_events]
    )
    assert agrees(theirs, ours), event_differences(theirs, ours)
