"""Uncaught-exception differential: `enable_exception_autocapture` in hogkit and posthog 7.91.1.

Each example builds a client with `enable_exception_autocapture=True` and draws:

- the rate limit: off, or on with a bucket size, refill rate and refill interval drawn
  in and out of the range posthog keeps them in (negative, zero, fractional, above 100,
  a rate above the size, an interval of zero or of an hour or more);
- `log_captured_exceptions`;
- a run of uncaught exceptions, each delivered by the interpreter's own route:
  `sys.excepthook` called with the exception being handled (as the interpreter calls it
  when a program dies) or a real thread whose target raises (`threading.excepthook`);
  of several types (so the rate limit keeps a bucket per type), chained, grouped,
  `KeyboardInterrupt`, and `SystemExit` leaving a thread.

Both SDKs run in turn over the same hooks installed beforehand (recorders standing for
whatever the application had), and must agree on:

- the events sent (compared as the exception differential compares them);
- the calls each previous hook received (what still prints the traceback);
- the hooks installed after `shutdown()` (the previous ones, back in place);
- which exceptions `log_captured_exceptions` logs, and how many of each type the rate
  limit dropped.

What is relaxed, and why (nothing else is):

- Log lines are compared by what they report, not by their text or logger (`hogkit`
  against `posthog`): hogkit logs the captured exception with its own traceback and
  counts what the rate limit dropped in one line per type (README, "Uncaught
  exceptions") where posthog logs a line per drop.
- hogkit also hooks asyncio's loops (`python.asyncio_exception_handler`), which posthog
  leaves alone: no example runs an event loop.
- The rate limit options are drawn as numbers only: a value that is not a number is
  replaced by its default with a warning (as for every numeric option; posthog uses the
  largest value it allows).
- Refill intervals between zero and an hour are not drawn: whether a refill falls inside
  an example would depend on the machine's speed.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import recording_clients
from test_exception_differential import GROUP, HERE, comparable, quiet
from twin import event_differences

from hogkit import Client as KitClient
from hogkit import MemoryTransport

# An example costs a few milliseconds per uncaught exception (threads included).
CI_MINIMUM_EXAMPLES = 100


class Unsettled(Exception):
    """A type of the application's own."""


def _chained() -> None:
    try:
        {}["missing"]
    except KeyError as error:
        raise Unsettled("while looking up") from error


def _grouped() -> None:
    raise GROUP("several", [ValueError("one"), Unsettled("two")])


def _raise(error: BaseException) -> Callable[[], None]:
    def raising() -> None:
        raise error

    return raising


# What an uncaught exception may be: a factory, so each run raises a fresh one.
KINDS: dict[str, Callable[[], Callable[[], None]]] = {
    "value": lambda: _raise(ValueError("bad value")),
    "other value": lambda: _raise(ValueError("another")),
    "own": lambda: _raise(Unsettled()),
    "chained": lambda: _chained,
    **({"grouped": lambda: _grouped} if GROUP is not None else {}),
    "interrupt": lambda: _raise(KeyboardInterrupt()),
    "exit": lambda: _raise(SystemExit(2)),
}
ROUTES = ("sys", "thread")


class Uncaught(NamedTuple):
    route: str
    kind: str


class Example(NamedTuple):
    options: dict[str, Any]
    run: tuple[Uncaught, ...]


_SIZES = st.one_of(st.integers(-2, 6), st.sampled_from((0.5, 1.5, 2.5, 50, 100, 101, 250)))
_RATES = st.one_of(st.integers(-1, 3), st.sampled_from((0.5, 20, 200)))
_INTERVALS = st.sampled_from((0, 0.0, -5, 3600, 86400, 10**6))


@st.composite
def _uncaught(draw: st.DrawFn) -> Uncaught:
    route = draw(st.sampled_from(ROUTES))
    # SystemExit reaches `sys.excepthook` only from a thread: the interpreter exits on it.
    kinds = [k for k in KINDS if route == "thread" or k != "exit"]
    return Uncaught(route, draw(st.sampled_from(kinds)))


@st.composite
def examples(draw: st.DrawFn) -> Example:
    options: dict[str, Any] = {"enable_exception_autocapture": True}
    if draw(st.booleans()):
        options["log_captured_exceptions"] = draw(st.booleans())
    if draw(st.booleans()):
        options["enable_exception_autocapture_rate_limiting"] = True
        for name, values in (
            ("exception_autocapture_bucket_size", _SIZES),
            ("exception_autocapture_refill_rate", _RATES),
            ("exception_autocapture_refill_interval_seconds", _INTERVALS),
        ):
            if draw(st.booleans()):
                options[name] = draw(values)
    return Example(options, tuple(draw(st.lists(_uncaught(), max_size=8))))


# -- running ------------------------------------------------------------------------------------


class Previous:
    """The hooks an application had before the client: each records what reached it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def sys_hook(self, kind: type[BaseException], value: BaseException, tb: Any) -> None:
        self.calls.append(("sys", kind.__name__, str(value)))

    def threading_hook(self, args: threading.ExceptHookArgs) -> None:
        self.calls.append(("thread", args.exc_type.__name__, str(args.exc_value)))


class Recorded(logging.Handler):
    """Every record of one logger, kept from the logger's own handlers meanwhile."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def recorded(name: str) -> Iterator[Recorded]:
    logger = logging.getLogger(name)
    saved = (logger.handlers[:], logger.level, logger.propagate, logger.disabled)
    handler = Recorded()
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.disabled = False
    try:
        yield handler
    finally:
        logger.handlers[:], level, logger.propagate, logger.disabled = saved
        logger.setLevel(level)


@contextlib.contextmanager
def previous_hooks() -> Iterator[Previous]:
    """Recorders installed as the previous hooks, and the real ones put back after."""
    saved = sys.excepthook, threading.excepthook
    previous = Previous()
    sys.excepthook, threading.excepthook = previous.sys_hook, previous.threading_hook
    try:
        yield previous
    finally:
        sys.excepthook, threading.excepthook = saved


def deliver(uncaught: Uncaught) -> None:
    """One uncaught exception, by the route the interpreter takes for it."""
    body = KINDS[uncaught.kind]()
    if uncaught.route == "thread":
        worker = threading.Thread(target=body)
        worker.start()
        worker.join()
        return
    try:
        body()
    except BaseException:
        sys.excepthook(*sys.exc_info())


class Observed(NamedTuple):
    """What one SDK did besides sending: the previous hooks' calls, whether they are back
    in place after `shutdown()`, and its log."""

    previous: list[tuple[str, str, str]]
    restored: bool
    logged: list[str]
    dropped: Counter[str]


_SKIPPED = re.compile(r"rate limiting\. exception=(\w+)")


def logged_exceptions(records: list[logging.LogRecord]) -> list[str]:
    """The exceptions an SDK's log lines carry a traceback of."""
    return [repr(r.exc_info[1]) for r in records if r.exc_info and r.exc_info[1] is not None]


def reference_drops(records: list[logging.LogRecord]) -> Counter[str]:
    """posthog's rate limit drops: a line per exception."""
    return Counter(m.group(1) for r in records if (m := _SKIPPED.search(r.getMessage())))


def kit_drops(records: list[logging.LogRecord]) -> Counter[str]:
    """hogkit's rate limit drops: a line per type with the count."""
    dropped: Counter[str] = Counter()
    for r in records:
        if "rate limit dropped" in str(r.msg):
            count, kind = r.args  # type: ignore[misc]
            dropped[kind] += count
    return dropped


def observe(example: Example, make: Callable[[], Any], logger: str) -> Observed:
    with previous_hooks() as previous, recorded(logger) as log:
        client = make()
        # posthog's client sets its logger to WARNING when built; its drops are INFO.
        logging.getLogger(logger).setLevel(logging.DEBUG)
        for uncaught in example.run:
            deliver(uncaught)
        client.shutdown()
        restored = (sys.excepthook, threading.excepthook) == (
            previous.sys_hook,
            previous.threading_hook,
        )
    drops = reference_drops if logger == "posthog" else kit_drops
    return Observed(previous.calls, restored, logged_exceptions(log.records), drops(log.records))


def check_example(example: Example) -> None:
    memory = MemoryTransport()
    options = {"project_root": HERE, **example.options}
    with recording_clients() as (make, sent):
        theirs = observe(example, lambda: make(**options), "posthog")
        ours = observe(
            example,
            lambda: KitClient("phc_hogkit", sync_mode=True, transport=memory, **options),
            "hogkit",
        )
    ref_events, kit_events = comparable(sent), comparable(memory.events)
    assert kit_events == ref_events, f"{event_differences(ref_events, kit_events)}\n{example}"
    assert ours == theirs, f"{ours} != {theirs}\n{example}"


@settings(max_examples=max(settings.default.max_examples, CI_MINIMUM_EXAMPLES))
@given(example=examples())
def test_uncaught_exceptions_reach_the_server_and_the_previous_hooks_as_in_posthog(
    example: Example,
) -> None:
    hooks = sys.excepthook, threading.excepthook
    with quiet():
        check_example(example)
    assert (sys.excepthook, threading.excepthook) == hooks
