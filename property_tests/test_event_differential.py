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

import math

from event_compare import agrees, compare_call, quiet, within
from event_strategies import OPAQUE_TEXTS, Example, examples
from hypothesis import given, settings
from oracle import local_zone, recording_clients

from hogkit import Client as KitClient
from hogkit import MemoryTransport

# An example costs a few milliseconds: 200 of them stay within a couple of seconds;
# HYPOTHESIS_PROFILE=deep runs the profile's count.
CI_MINIMUM_EXAMPLES = 200

# The local time zone the examples run in: off UTC, so a naive time either SDK reads as
# local time (one from the last 5 s) shows whether the other reads it so too.
LOCAL_ZONE = "Asia/Kolkata"


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
