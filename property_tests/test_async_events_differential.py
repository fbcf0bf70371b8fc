"""AsyncClient event differential: hogkit's AsyncClient against posthog 7.91.1's, step by step.

The flag reads of the async clients are compared by test_async_client_differential; this
module draws their event methods. Each example builds both clients on one fresh event loop
against one loopback server (each SDK told apart by its project key) with the same options
(super properties, GeoIP, `is_server`, in-app modules, project root), and runs the same
steps on both, inside the example's context (person, session, tags) when it has one:

- the sync differential's event calls (`event_strategies.calls`): `capture`, `set`,
  `set_once`, `alias`, `group_identify`, `capture_exception`, with odd ids, properties,
  timestamps, uuids and groups; a `capture` sometimes with the deprecated
  `send_feature_flags` (True, or its settings);
- `await capture_immediate(...)` with a capture's arguments;
- `await evaluate_flags(...)`, a few reads of the snapshot, then a capture carrying it
  (`flags=` the snapshot, `only_accessed()` or `only([...])`);
- `await flush(...)`, and `await shutdown()` (or leaving `async with`), after which the
  remaining steps are calls on a closed client.

After every step both clients are flushed, and the step's outcome is compared: raised or
not, the return value (an event id: None or not, the id of the event sent, the caller's uuid
when posthog accepts it), the warning categories (hogkit's never outside posthog's), and
every event the server received from each, with `event_compare.compare_call`'s relaxations
(documented in test_event_differential; among them, inputs posthog fails on and loses).

What is relaxed on purpose, and why (nothing else is):

- `flush` and `shutdown` return whether everything was delivered in hogkit and None in
  posthog (README: "Every wait has a deadline"); only raising is compared for them.
- `identify` and `pageview`, which posthog's AsyncClient lacks, are not drawn.
- `send_feature_flags` attaches nothing in either here: posthog's AsyncClient ignores it
  and hogkit's attaches local values only, and the clients run without local evaluation
  (`enable_local_evaluation=False`, as in the async flag differential). Its deprecation
  warning is hogkit's own, once per process (README: "Deprecation warnings are hogkit's
  own text"), hence the subset rule for warnings.
- `group_identify` without a person and a nameless event are not drawn, as in the sync
  event differential (documented differences).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any, NamedTuple

import posthog
import pytest
from client_compare import FLAGS_TIMEOUT, PerSdk
from client_strategies import KEYS, flags_answers
from event_compare import agrees, canonical_uuid, compare_call, quiet, within
from event_strategies import Call, Context, Example, calls, examples
from httpserver import LoopbackServer, Reply
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from posthog import contexts as posthog_contexts
from twin import context_tags_in_order, event_differences, normalized, sdk_key

from hogkit import AsyncClient as KitAsyncClient

FLAG_KEYS = KEYS[:3]


class Step(NamedTuple):
    """One step: `kind` is "call" (`call` as it is), "immediate" (`capture_immediate` with
    `call`'s arguments), "snapshot" (evaluate for `detail[0]`, read `detail[1]`, then
    `call` carrying the snapshot as `detail[2]` says), "flush" (timeout `detail`) or
    "shutdown"."""

    kind: str
    call: Call | None = None
    detail: Any = None


class AsyncEventExample(NamedTuple):
    base: Example
    steps: list[Step]
    flags_answer: dict[str, Any]
    with_block: bool


_captures = calls().filter(lambda c: c.method == "capture")


@st.composite
def _send_feature_flags(draw: st.DrawFn) -> Call:
    call = draw(_captures)
    option = draw(st.sampled_from([True, {"flag_keys_filter": list(FLAG_KEYS[:2])}]))
    return call._replace(kwargs={**call.kwargs, "send_feature_flags": option})


@st.composite
def _snapshot_step(draw: st.DrawFn) -> Step:
    person = draw(st.sampled_from(["user-1", "user-2", 42]))
    reads = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["get_flag", "is_enabled", "get_flag_payload"]),
                st.sampled_from(FLAG_KEYS),
            ),
            max_size=3,
        )
    )
    carried = draw(
        st.sampled_from(["all", "accessed"]) | st.lists(st.sampled_from(FLAG_KEYS), max_size=2)
    )
    return Step("snapshot", draw(_captures), (person, reads, carried))


def _steps(context_person: bool) -> st.SearchStrategy[Step]:
    return st.one_of(
        calls(context_person).map(lambda c: Step("call", c)),
        _send_feature_flags().map(lambda c: Step("call", c)),
        _captures.map(lambda c: Step("immediate", c)),
        _snapshot_step(),
        st.sampled_from([None, 10.0, 5]).map(lambda t: Step("flush", detail=t)),
    )


@st.composite
def async_event_examples(draw: st.DrawFn) -> AsyncEventExample:
    base = draw(examples())
    context_person = base.context is not None and base.context.distinct_id not in ("", None)
    steps = draw(st.lists(_steps(context_person), min_size=1, max_size=6))
    if not draw(st.integers(0, 2)):
        steps.insert(draw(st.integers(0, len(steps))), Step("shutdown"))
    answer = draw(flags_answers(FLAG_KEYS))
    return AsyncEventExample(base, steps, answer, draw(st.booleans()))


class Bench:
    """One loopback server for every example; each example's two clients get project keys
    of their own, so the server tells both the SDKs and the examples apart."""

    def __init__(self) -> None:
        self.server = LoopbackServer()
        self.numbers = itertools.count()
        self.flags = PerSdk()
        self.server.handle("/flags/", self.flags)

    def events(self, key: str) -> list[dict[str, Any]]:
        """Every event the SDK with project key `key` sent, as sent."""
        return [
            event
            for r in self.server.requests("/batch/")
            if sdk_key(r) == key
            for event in r.json()["batch"]
        ]


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    bench = Bench()
    yield bench
    bench.server.close()


class Side:
    """One SDK's client in an example, with what the server has received from it so far."""

    def __init__(self, bench: Bench, client: Any, key: str, reference: bool) -> None:
        self.bench, self.client, self.key, self.reference = bench, client, key, reference
        self.seen = 0
        self.snapshot: Any = None

    def new_events(self) -> list[dict[str, Any]]:
        events = self.bench.events(self.key)
        fresh, self.seen = events[self.seen :], len(events)
        return fresh

    def within(self, context: Context | None) -> contextlib.AbstractContextManager[None]:
        """The example's context, set up through the SDK's own context functions."""
        return within(posthog_contexts if self.reference else self.client, context)


class Outcome(NamedTuple):
    result: Any
    raised: str | None
    warned: frozenset[str]
    events: list[dict[str, Any]]


def _carried(snapshot: Any, carried: Any) -> Any:
    if carried == "all":
        return snapshot
    if carried == "accessed":
        return snapshot.only_accessed()
    return snapshot.only(carried)


async def _act(side: Side, step: Step) -> Any:
    client, call = side.client, step.call
    if step.kind == "flush":
        return await client.flush(step.detail)
    if step.kind == "shutdown":
        return await client.shutdown()
    assert call is not None
    if step.kind == "immediate":
        return await client.capture_immediate(*call.args, **call.kwargs)
    if step.kind == "snapshot":
        _, _, carried = step.detail
        return client.capture(*call.args, flags=_carried(side.snapshot, carried), **call.kwargs)
    return call.run(client)


async def _read_snapshot(side: Side, step: Step) -> list[Any]:
    """The snapshot step's evaluation and reads (their events are compared on their own)."""
    person, reads, _ = step.detail
    side.snapshot = await side.client.evaluate_flags(person)
    return [getattr(side.snapshot, method)(key) for method, key in reads]


async def outcome(side: Side, step: Step, context: Context | None) -> Outcome:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, raised = None, None
        try:
            with side.within(context):
                result = await _act(side, step)
        except Exception as exc:  # compared: neither SDK should raise
            raised = type(exc).__name__
        await side.client.flush()
    warned = frozenset(type(w.message).__name__ for w in caught)
    return Outcome(result, raised, warned, side.new_events())


def _compare_reads(ref: Side, kit: Side, step: Step, answers: tuple[Any, Any]) -> None:
    """The reads' answers and the flag events they sent (a context's tags among their
    properties, so with `agrees`' relaxation for values JSON cannot hold)."""
    ref_events = [context_tags_in_order(normalized(e)) for e in ref.new_events()]
    kit_events = [context_tags_in_order(normalized(e)) for e in kit.new_events()]
    assert answers[1] == answers[0], (step, answers)
    assert agrees(ref_events, kit_events), event_differences(ref_events, kit_events)


async def check_step(ref: Side, kit: Side, example: AsyncEventExample, step: Step) -> None:
    context = example.base.context
    if step.kind == "snapshot":
        with ref.within(context):
            expected = await _read_snapshot(ref, step)
        with kit.within(context):
            actual = await _read_snapshot(kit, step)
        await ref.client.flush()
        await kit.client.flush()
        _compare_reads(ref, kit, step, (expected, actual))
    theirs, ours = await outcome(ref, step, context), await outcome(kit, step, context)
    assert ours.raised == theirs.raised, (step, theirs.raised, ours.raised)
    assert ours.warned <= theirs.warned, (step, theirs.warned, ours.warned)
    if step.call is None:  # flush, shutdown: only raising is compared (see the docstring)
        assert not theirs.events and not ours.events, (theirs.events, ours.events)
        return
    call = step.call._replace(method="capture") if step.kind != "call" else step.call
    compare_call(
        example.base,
        call,
        (theirs.result, theirs.events),
        (ours.result, ours.events),
        canonical_uuid,
    )


@contextlib.asynccontextmanager
async def both_clients(
    bench: Bench, example: AsyncEventExample
) -> AsyncIterator[tuple[Side, Side]]:
    n = next(bench.numbers)
    ref_key, kit_key = f"phc_reference_{n}", f"phc_hogkit_{n}"
    bench.flags.load([Reply.json(example.flags_answer)])
    options: dict[str, Any] = {
        "host": bench.server.url,
        "feature_flags_request_timeout_seconds": FLAGS_TIMEOUT,
        "feature_flags_request_max_retries": 0,
        **example.base.options,
    }
    ref = posthog.AsyncClient(ref_key, **options)
    kit = KitAsyncClient(kit_key, enable_local_evaluation=False, **options)
    sides = Side(bench, ref, ref_key, True), Side(bench, kit, kit_key, False)
    try:
        if example.with_block:
            async with ref, kit:
                yield sides
        else:
            yield sides
    finally:
        await ref.shutdown()
        await kit.shutdown()


async def check_example(bench: Bench, example: AsyncEventExample) -> None:
    async with both_clients(bench, example) as (ref, kit):
        for drawn in example.steps:
            # A time read from the clock now, one and the same for both SDKs.
            step = drawn if drawn.call is None else drawn._replace(call=drawn.call.at_the_clock())
            await check_step(ref, kit, example, step)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(example=async_event_examples())
def test_async_event_methods_send_what_posthog_sends(
    bench: Bench, example: AsyncEventExample
) -> None:
    with quiet():
        asyncio.run(check_example(bench, example))
