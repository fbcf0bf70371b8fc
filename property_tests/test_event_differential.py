"""Event differential: hogkit's Client against posthog 7.91.1's, call by call, on random input.

Each example (see `event_strategies`) builds a fresh client of each SDK with the same
options and makes the same one to six event method calls on both, each call inside the
example's context (its person, session and tags) when it has one. posthog runs offline and
its events are recorded by `before_send` as the JSON it would send (`oracle.recording_clients`);
hogkit sends through an in-memory transport, so its events are the encoded wire bytes
decoded. After every call both must agree on whether an id came back and on every event
sent, type for type (`1`, `1.0` and `true` are different values). The examples run in a
local time zone off UTC (`LOCAL_ZONE`), and some calls pass a naive time read from the clock
as they are made, which both SDKs take as local time if it is from the last 5 s.

What is relaxed, and why (nothing else is):

- `uuid` is compared only when the call passed one posthog accepts, `timestamp` only when it
  passed one (otherwise they are random and the clock; text posthog cannot read makes both
  take the clock); `$lib` and `$lib_version` name the SDK. A personless event's distinct id,
  random in both, is checked and then compared as a marker, and the context's tag names
  (`$context_tags`), which posthog sends from a set, are compared in one order.
- Values JSON cannot hold (an enum, a `time`, an object that only prints, invalid UTF-8)
  are sent as their text by hogkit and as null by posthog, a documented choice: a null in
  posthog's event may stand against one of those texts (`OPAQUE_TEXTS`) in hogkit's.
- A key JSON cannot hold (a tuple, an object) or a timestamp that is a date or a number
  makes posthog fail on the whole event; hogkit sends it, also documented. With nothing to
  compare, such a call is only checked to return the id of the event hogkit sent, if any.
- The strategies leave out a few inputs on purpose, each with its reason beside it: nameless
  events, event names that are neither text nor bytes of valid UTF-8, `group_identify` without a person, sets inside dataclasses, super property keys
  that are not text, context ids that are not text, mappings other than dicts, times at the
  calendar's ends, nesting past hogkit's depth bound and signalling NaN Decimals.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import uuid as uuidlib
import warnings
from collections.abc import Iterator
from typing import Any

from compare import strict_equal
from event_strategies import OPAQUE_TEXTS, Call, Context, Example, call_inputs, examples
from event_strategies import has_unserialisable_key as posthog_cannot_serialise
from hypothesis import given, settings
from oracle import local_zone, recording_clients
from reference import quiet_logger, quiet_reference
from twin import context_tags_in_order, event_differences, normalized

from hogkit import Client as KitClient
from hogkit import MemoryTransport


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


# An example costs a few milliseconds: 200 of them stay within a couple of seconds;
# HYPOTHESIS_PROFILE=deep runs the profile's count.
CI_MINIMUM_EXAMPLES = 200

# The methods that send an event without a person when given no distinct id.
PERSONLESS_METHODS = frozenset({"capture", "capture_exception"})
BLANK = (None, "")

# The local time zone the examples run in: off UTC, so a naive time either SDK reads as
# local time (one from the last 5 s) shows whether the other reads it so too.
LOCAL_ZONE = "Asia/Kolkata"

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


def check_ids(call: Call, ref: tuple[Any, list[dict[str, Any]]], kit: tuple[Any, Any]) -> None:
    """What each call returned, against the uuid of the event it sent."""
    (ref_result, ref_events), (kit_result, kit_events) = ref, kit
    explicit = accepted_uuid(call.kwargs.get("uuid"))
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
    example: Example, call: Call, ref: tuple[Any, list[Any]], kit: tuple[Any, list[Any]]
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
    check_ids(call, ref, kit)
    check_times(call, ref_events, kit_events)
    theirs = personless(
        example.context, call, [context_tags_in_order(normalized(e)) for e in ref_events]
    )
    ours = personless(
        example.context, call, [context_tags_in_order(normalized(e)) for e in kit_events]
    )
    assert agrees(theirs, ours), event_differences(theirs, ours)


@contextlib.contextmanager
def within(client: Any, context: Context | None) -> Iterator[None]:
    """`client`'s own fresh context set up as `context` says (nothing when it is None)."""
    if context is None:
        yield
        return
    with client.new_context(fresh=True):
        if context.distinct_id is not None:
            client.identify_context(context.distinct_id)
        if context.session_id is not None:
            client.set_context_session(context.session_id)
        for name, value in context.tags.items():
            client.tag(name, value)
        yield


def run_example(example: Example) -> None:
    memory = MemoryTransport()
    with recording_clients() as (make, sent):
        reference = make(**example.options)
        kit = KitClient("phc_hogkit", sync_mode=True, transport=memory, **example.options)
        try:
            for drawn in example.calls:
                call = drawn.at_the_clock()
                before = len(sent)
                with within(reference, example.context):
                    ref_result = call.run(reference)
                ref_events = list(sent[before:])
                memory.clear()
                with within(kit, example.context):
                    kit_result = call.run(kit)
                kit.flush()
                compare_call(example, call, (ref_result, ref_events), (kit_result, memory.events))
        finally:
            kit.shutdown()


@settings(max_examples=max(settings.default.max_examples, CI_MINIMUM_EXAMPLES))
@given(example=examples())
def test_event_methods_send_what_posthog_sends(example: Example) -> None:
    with quiet(), local_zone(LOCAL_ZONE):
        run_example(example)


def test_the_relaxation_accepts_only_the_pool_texts() -> None:
    """A null may stand against a pool text only: any other text, or a number, differs."""
    text = next(iter(OPAQUE_TEXTS))
    assert agrees({"a": [None]}, {"a": [text]})
    assert not agrees({"a": [None]}, {"a": ["something else"]})
    assert not agrees({"a": 1}, {"a": 1.0})
    assert not agrees({"a": 1}, {"a": True})
    assert agrees({"a": math.nan}, {"a": math.nan})
