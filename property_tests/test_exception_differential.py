"""Exception differential: how an exception reaches `$exception`, in hogkit and posthog 7.91.1.

The event differential draws `capture_exception(error)` outside any context, with code
variables off. Here each example draws what else decides an `$exception` event:

- the client's code-variable options (`capture_exception_code_variables`, mask and ignore
  patterns, URL-credential masking, secret detection) and, in a context, the settings that
  replace them there (`set_capture_exception_code_variables_context`, ...);
- the local variables of the frame that raises: None, booleans, integers of any size,
  floats (NaN and infinities too), text of any length, `Authorization` values, credentials,
  tokens, URLs with passwords and text past the value bound from a fixed pool, vendor key
  formats and near-misses of them (alone or in running text), and containers of every
  shape (lists, tuples, dicts with keys of any kind, sets, nested ones, named tuples,
  dataclasses, objects with attributes, slots or a failing `repr`, cycles, shared parts,
  and ones past the item, depth and size bounds);
- one or two nested contexts, fresh or inheriting, capturing what escapes them or not,
  identified, with a session and tags, opened by `client.new_context()` or by a function
  decorated with `client.scoped()`;
- how the exception comes about: raised directly, from a generator, a coroutine or deep
  recursion, chained (`raise ... from`, implicit `__context__`, `from None`), in an
  ExceptionGroup (Python 3.11+), a SyntaxError with or without its extra fields, or an
  exception whose `__str__` fails, is not text or is empty, with args of any kind;
- how the exception is captured: `capture_exception(error)`, `capture_exception()` with
  no argument inside the `except` block, `capture_exception(sys.exc_info())`, an exc_info
  tuple naming a class that is not the exception's (another exception class, a class
  that is none, None, the exception itself) or a stack that is not its own (none, or
  another exception's), or by a context it escapes; now and then after the exception
  was raised again through another frame (the tuple taken before); with or without a
  distinct id, the caller's `properties` (some naming what the SDK sets itself) and
  `groups`;
- now and then, flags on the event (see `exception_flags`): a snapshot of
  `evaluate_flags` as `flags`, `send_feature_flags` (True, False or options), or both,
  with definitions or without and a `/flags` answer or failure from a loopback server.

Both clients run in turn (posthog's events recorded by `before_send` as it would send
them, hogkit's through an in-memory transport) and must send the same events, and the same
`/flags` requests when flags are drawn.

What is relaxed, and why (nothing else is):

- Events are compared without `uuid`, `timestamp`, `$lib` and `$lib_version`; a
  personless event's random distinct id is compared as a marker (in a `/flags` body
  too), and `$context_tags` (a set in posthog) in one order. `/flags` bodies are compared
  without `api_key` and `sent_at`.
- An exception's stack frames are compared without the frames of either SDK's own code
  and of `contextlib` (a context or a `scoped` wrapper sits in the traceback of what it
  catches, and the two SDKs build them differently).
- Code variables are compared on the frame that raises (`failing`), which holds the drawn
  values; the harness's frames above it hold the SDK's client and closures, whose text
  names their addresses.
- Code variables of a chained exception or a group's member (every `$exception_list`
  entry after the first) are not compared, on purpose: posthog pins the variables of the
  caught exception's frames onto the other entries' frames by position, so a cause's
  frame carries some other function's variables; hogkit sends variables on the caught
  exception's own frames only.

Not drawn, on purpose: a capture asking for flags evaluated locally without naming a
person (each SDK evaluates them for a random id of its own); a `send_feature_flags` that
is neither a bool nor a mapping (posthog raises and drops the event; hogkit sends it, see
tests/compat_facts.md); an exc_info tuple whose second item is not an exception or whose
third is neither a traceback nor None (posthog sends an event naming whatever the
tuple holds, or fails on the stack and drops the event; hogkit refuses the first and
sends the second without a stack). PostHog personal and secret API keys (`phx_...`, `phs_...`) in a
variable whose name says nothing. hogkit redacts them, posthog sends them (only a random
looking one is caught by its entropy test): such a key grants access to a project's data.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import posthog
import pytest
from event_compare import quiet
from exception_flags import (
    FlagBench,
    FlagUse,
    flag_arguments,
    flag_uses,
    flags_requests,
    wants_a_person,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import recording_clients
from twin import context_tags_in_order, event_differences, normalized, personless_marked

import hogkit
from hogkit import Client as KitClient
from hogkit import MemoryTransport

HERE = str(Path(__file__).parent)

# An example costs a few milliseconds; HYPOTHESIS_PROFILE=deep runs the profile's count.
CI_MINIMUM_EXAMPLES = 150

# -- inputs -------------------------------------------------------------------------------------

SECRETS = (
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "postgres://admin:hunter2@db.internal:5432/app",
    "https://user:pw@example.com/path?sig=abc123",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcDEF123xyz",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "Bearer abc.def.ghi",
    "aB3$kL9!qZ2@wX7#pQ",
    "x" * 1100,
    "hello world",
    "",
)
_SECRET = st.sampled_from(SECRETS)

# Vendor key formats: a prefix and a body around the length the format asks for, alone,
# in running text, or cut short (a near-miss).
_KEY_SHAPES = (
    ("sk-proj-", 20, "abcdefghijklmnopqrstuvwxyz0123456789_-"),
    ("sk-ant-", 16, "abcdefghijklmnopqrstuvwxyz0123456789"),
    ("AIza", 35, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"),
    ("ya29.", 20, "abcdefghijklmnopqrstuvwxyz0123456789"),
    ("hf_", 34, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"),
    ("AKIA", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
    ("ghp_", 36, "abcdefghijklmnopqrstuvwxyz"),
    ("xoxb-", 10, "abcdefghijklmnopqrstuvwxyz0123456789-"),
    ("sk_live_", 16, "abcdefghijklmnopqrstuvwxyz"),
    ("glpat-", 20, "abcdefghijklmnopqrstuvwxyz"),
    ("npm_", 36, "abcdefghijklmnopqrstuvwxyz"),
    ("dapi", 32, "0123456789abcdef"),
    ("SK", 32, "0123456789abcdef"),
    ("eyJ", 10, "abcdefghijklmnopqrstuvwxyz."),
)


@st.composite
def vendor_keys(draw: st.DrawFn) -> str:
    prefix, length, alphabet = draw(st.sampled_from(_KEY_SHAPES))
    body = draw(st.text(alphabet, min_size=length - 2, max_size=length + 2))
    key = prefix + body
    return draw(st.sampled_from((key, f"sent {key} here", f"x{key}", key[: len(key) // 2])))


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
_KEYS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(("password", "api_key", "ok", "password=x", "Bearer abcdefghij", "__class__")),
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(),
    st.tuples(st.integers(), st.text(max_size=8)),
    st.frozensets(st.integers(), max_size=3),
)
_LEAVES = st.one_of(_SCALARS, _SECRET, vendor_keys())


class Account:
    """An object with attributes, one of them a secret by name."""

    def __init__(self, name: Any, password: Any) -> None:
        self.name = name
        self.password = password


class Vault:
    """A slotted object whose class declares a secret-named member."""

    __slots__ = ("token",)
    api_secret = "class-level"

    def __init__(self, token: Any) -> None:
        self.token = token


class Unprintable:
    """An object without attributes whose `repr` raises."""

    __slots__ = ()

    def __repr__(self) -> str:
        raise ValueError("no repr")


@dataclasses.dataclass
class Charge:
    amount: Any
    api_key: Any


Point = collections.namedtuple("Point", "x secret")


def _with_cycle(items: list[Any]) -> list[Any]:
    items.append(items)
    return items


def _shared(item: Any) -> list[Any]:
    return [item, item]


def _nested(levels: int) -> list[Any]:
    root: list[Any] = []
    for _ in range(levels):
        root = [root]
    return root


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(_KEYS, children, max_size=4),
        st.builds(Account, children, children),
        st.builds(Charge, children, children),
        st.builds(Point, children, children),
        st.builds(Vault, children),
        st.builds(_with_cycle, st.lists(children, max_size=2)),
        st.builds(_shared, children),
    )


CONTAINERS = st.one_of(
    st.recursive(_LEAVES, _containers, max_leaves=12),
    st.sets(st.one_of(st.integers(), st.text(max_size=8)), max_size=4),
    st.frozensets(st.sampled_from(("password", "a", "Bearer abcdefghij")), max_size=2),
    st.just(Unprintable()),
    st.builds(list, st.builds(range, st.integers(45, 55))),
    st.builds(lambda n: {i: i for i in range(n)}, st.integers(45, 55)),
    st.builds(_nested, st.integers(8, 16)),
    st.lists(st.text(min_size=1000, max_size=1100), max_size=3),
    st.builds(bytes, st.binary(max_size=8)),
)

# Scalars, text of any length, and containers (see the docstring for all).
LOCAL_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from((2**53, -(2**53) - 1, 10**30)),
    st.floats(),
    st.text(max_size=15),
    st.text(min_size=16, max_size=40),
    st.text(st.characters(codec="ascii", exclude_characters=" "), min_size=16, max_size=40),
    st.builds("{} {}".format, st.sampled_from(("Bearer", "basic", "Basic:")), st.text(max_size=20)),
    _SECRET,
    vendor_keys(),
    CONTAINERS,
)

# Tag values JSON holds (the event differential compares the others).
_TAGS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))

# The variables of `failing`, in order: names the default patterns mask, ignore or keep.
LOCAL_NAMES = ("password", "api_key", "url", "customer", "amount", "_private", "note")

_PATTERNS = st.sampled_from(([], ["cust"], ["(?i)order", "note"], ["^amount$"]))
_IGNORED = st.sampled_from(([], ["^amount$"], ["^_"], ["^__.*"]))

CLIENT_OPTIONS: dict[str, st.SearchStrategy[Any]] = {
    "capture_exception_code_variables": st.booleans(),
    "code_variables_mask_patterns": _PATTERNS,
    "code_variables_ignore_patterns": _IGNORED,
    "code_variables_mask_url_credentials": st.booleans(),
    "code_variables_detect_secrets": st.booleans(),
}

# The module functions that replace a client's code-variable options in the current context.
CONTEXT_SETTINGS: dict[str, st.SearchStrategy[Any]] = {
    "set_capture_exception_code_variables_context": st.booleans(),
    "set_code_variables_mask_patterns_context": _PATTERNS,
    "set_code_variables_ignore_patterns_context": _IGNORED,
    "set_code_variables_mask_url_credentials_context": st.booleans(),
    "set_code_variables_detect_secrets_context": st.booleans(),
}

CAPTURES = ("explicit", "bare", "exc_info", "tuple", "escape")

# An exc_info tuple's first item, from the exception it names (see `Captured`).
NAMED_CLASSES: dict[str, Callable[[BaseException], Any]] = {
    "own": type,
    "another": lambda error: ValueError,
    "no exception": lambda error: int,
    "none": lambda error: None,
    "itself": lambda error: error,
}
# An exc_info tuple's third item: the stack `sys.exc_info()` gives, none, or the stack of
# another exception `failing` raises (with the same variables).
NAMED_STACKS = ("own", "none", "another")

# What the caller adds: its own properties (some of them names the SDK sets itself) and groups.
_CALL_PROPERTIES = st.dictionaries(
    st.sampled_from(("page", "$exception_level", "$exception_fingerprint", "$exception_source")),
    st.one_of(st.none(), st.text(max_size=8), st.integers()),
    max_size=3,
)
_GROUPS = st.sampled_from((None, {"company": "acme"}, {"company": "acme", "team": 7}))

# How the exception comes about (see `RAISERS`): raised by `failing` directly, from a
# generator, a coroutine or deep recursion, chained (`raise ... from`, implicitly, or with
# the context suppressed), inside an ExceptionGroup, or an exception of its own kind: a
# SyntaxError with its extra fields, one whose `__str__` fails or is not text, odd args.
# ExceptionGroup is built in from Python 3.11; on 3.10 the group kind is not drawn.
GROUP: Any = getattr(builtins, "ExceptionGroup", None)
KINDS = (
    "plain",
    "cause",
    "context",
    "suppressed",
    *(("group",) if GROUP is not None else ()),
    "generator",
    "coroutine",
    "deep",
    "syntax",
    "odd",
)
_SYNTAX_DETAILS = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(("<string>", "app.py", "")),
        st.one_of(st.none(), st.integers(-1, 500)),
        st.one_of(st.none(), st.integers(-1, 80)),
        st.one_of(st.none(), st.text(max_size=30)),
    ),
)
_ARGS = st.lists(st.one_of(_SCALARS, st.binary(max_size=4), st.just({"k": [1]})), max_size=3)


class Raised(NamedTuple):
    """What is raised: a kind from `KINDS`, and what that kind takes (recursion depth,
    SyntaxError details, `__str__` behaviour, args)."""

    kind: str
    depth: int
    details: Any
    odd_str: str
    args: tuple[Any, ...]


@st.composite
def raised(draw: st.DrawFn) -> Raised:
    return Raised(
        draw(st.sampled_from(KINDS)),
        draw(st.integers(1, 120)),
        draw(_SYNTAX_DETAILS),
        draw(st.sampled_from(("text", "fails", "not text", "empty"))),
        tuple(draw(_ARGS)),
    )


class Scope(NamedTuple):
    """One context: how it opens (`with` or a `scoped` function), its arguments, and what
    is set in it on entering (identity, session, tags, code-variable settings)."""

    scoped: bool
    fresh: bool
    capture_exceptions: bool | None
    distinct_id: str | None
    session_id: str | None
    tags: dict[str, Any]
    settings: dict[str, Any]


class Captured(NamedTuple):
    """How the exception reaches `capture_exception`: `how` (from `CAPTURES`), for a
    tuple the class and stack it names, and whether the exception was raised again
    through another frame first (what is captured is taken before)."""

    how: str
    named_class: str = "own"
    named_stack: str = "own"
    travelled: bool = False


class Example(NamedTuple):
    options: dict[str, Any]
    scopes: tuple[Scope, ...]  # outermost first
    locals: tuple[Any, ...]
    capture: Captured
    distinct_id: str | None
    raised: Raised
    properties: dict[str, Any] | None
    groups: dict[str, Any] | None
    flags: FlagUse | None = None


@st.composite
def _optional(draw: st.DrawFn, options: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    return {name: draw(value) for name, value in options.items() if draw(st.booleans())}


@st.composite
def scopes(draw: st.DrawFn) -> Scope:
    return Scope(
        scoped=draw(st.booleans()),
        fresh=draw(st.booleans()),
        capture_exceptions=draw(st.sampled_from((None, True, False))),
        distinct_id=draw(st.sampled_from((None, "ctx-user", "ctx-other"))),
        session_id=draw(st.sampled_from((None, "session-1"))),
        tags=draw(st.dictionaries(st.sampled_from(("team", "request", "$set")), _TAGS, max_size=2)),
        settings=draw(_optional(CONTEXT_SETTINGS)),
    )


@st.composite
def captures(draw: st.DrawFn, escape: bool) -> Captured:
    how = draw(st.sampled_from(CAPTURES if escape else CAPTURES[:-1]))
    if how == "escape":
        return Captured(how)
    named = (draw(st.sampled_from(tuple(NAMED_CLASSES))), draw(st.sampled_from(NAMED_STACKS)))
    return Captured(how, *(named if how == "tuple" else ()), travelled=not draw(st.integers(0, 4)))


@st.composite
def examples(draw: st.DrawFn) -> Example:
    options = draw(_optional(CLIENT_OPTIONS))
    if draw(st.integers(0, 3)):
        options.setdefault("capture_exception_code_variables", True)
    nested = draw(st.lists(scopes(), max_size=2))
    capture = draw(captures(escape=bool(nested)))
    flags = draw(flag_uses()) if not draw(st.integers(0, 3)) else None
    person = draw(st.sampled_from((None, "user-1")))
    return Example(
        options,
        tuple(nested),
        tuple(draw(st.lists(LOCAL_VALUES, min_size=7, max_size=7))),
        capture,
        "user-1" if wants_a_person(flags) else person,
        draw(raised()),
        draw(st.none() | _CALL_PROPERTIES),
        draw(_GROUPS),
        flags,
    )


# -- running ------------------------------------------------------------------------------------


class Failure(Exception):
    """What `failing` raises."""


def failing(
    password: Any, api_key: Any, url: Any, customer: Any, amount: Any, _private: Any, note: Any
) -> None:
    """The frame whose variables an `$exception` may carry."""
    count = 2
    raise Failure(f"failed with {count} values")


class Wrapped(Exception):
    """What a handler of `Failure` raises in its turn."""


class Odd(Exception):
    """An exception whose `__str__` does what the example says."""

    def __init__(self, behaviour: str, *args: Any) -> None:
        super().__init__(*args)
        self.behaviour = behaviour

    def __str__(self) -> str:
        if self.behaviour == "fails":
            raise RuntimeError("no text")
        if self.behaviour == "not text":
            return self.args  # type: ignore[return-value]
        if self.behaviour == "empty":
            return ""
        return super().__str__()


def _in_generator(values: tuple[Any, ...]) -> Iterator[int]:
    yield 1
    failing(*values)


async def _in_coroutine(values: tuple[Any, ...]) -> None:
    await asyncio.sleep(0)
    failing(*values)


def _deep(levels: int, values: tuple[Any, ...]) -> None:
    if levels <= 0:
        failing(*values)
    _deep(levels - 1, values)


def _chained(values: tuple[Any, ...], how: str) -> None:
    try:
        failing(*values)
    except Failure as error:
        if how == "cause":
            raise Wrapped("wrapped") from error
        if how == "suppressed":
            raise Wrapped("context hidden") from None
        if how == "group":
            raise GROUP("several", [error, ValueError("another")]) from None
        # Implicitly chained: its __context__ is `error`.
        raise Wrapped("while handling")  # noqa: B904


def _syntax(values: tuple[Any, ...], detail: Any) -> None:
    if detail is None:
        compile("x = (", "<drawn>", "exec")
    raise SyntaxError("invalid syntax", detail)


RAISERS: dict[str, Callable[[tuple[Any, ...], Raised], None]] = {
    "plain": lambda values, r: failing(*values),
    "cause": lambda values, r: _chained(values, "cause"),
    "context": lambda values, r: _chained(values, "context"),
    "suppressed": lambda values, r: _chained(values, "suppressed"),
    "group": lambda values, r: _chained(values, "group"),
    "generator": lambda values, r: collections.deque(_in_generator(values)),
    "coroutine": lambda values, r: asyncio.run(_in_coroutine(values)),
    "deep": lambda values, r: _deep(r.depth, values),
    "syntax": lambda values, r: _syntax(values, r.details),
    "odd": lambda values, r: _odd(r),
}


def _odd(r: Raised) -> None:
    raise Odd(r.odd_str, *r.args)


class Sdk:
    """One SDK's module, client and flag keywords for the capture, as the harness's frames
    hold them: a slotted object whose `repr` is the same for both, so their variables
    (walked too, and charged to the same size budget as the drawn ones) cost both SDKs the
    same."""

    __slots__ = ("client", "flags", "module")

    def __init__(self, module: Any, client: Any, flags: dict[str, Any]) -> None:
        self.module = module
        self.client = client
        self.flags = flags

    def __repr__(self) -> str:
        return "<sdk>"


def _capture_inside(sdk: Sdk, example: Example) -> None:
    """Raise as `example.raised` says and capture as `example.capture` says (an escape is
    left to the contexts around it)."""
    try:
        RAISERS[example.raised.kind](example.locals, example.raised)
    except Exception as error:
        if example.capture.how == "escape":
            raise
        what = _argument(example, error)
        if not example.capture.travelled:
            _capture(sdk, example, what)
            return
        try:
            _raise_again(error)
        except Exception:
            _capture(sdk, example, what)


def _argument(example: Example, error: BaseException) -> Any:
    """What `capture_exception` is given for `error`, being handled (None: nothing)."""
    how = example.capture.how
    if how in ("bare", "explicit"):
        return None if how == "bare" else error
    info = sys.exc_info()
    if how == "exc_info":
        return info
    stack = _named_stack(example.capture.named_stack, info[2], example.locals)
    return NAMED_CLASSES[example.capture.named_class](error), error, stack


def _named_stack(named: str, own: Any, values: tuple[Any, ...]) -> Any:
    """The stack `named` (see `NAMED_STACKS`): `own`, none, or another exception's."""
    if named != "another":
        return own if named == "own" else None
    try:
        failing(*values)
    except Failure as other:
        return other.__traceback__


def _raise_again(error: BaseException) -> None:
    raise error


def _capture(sdk: Sdk, example: Example, what: Any) -> None:
    sdk.client.capture_exception(
        what,
        **{
            "distinct_id": example.distinct_id,
            "properties": example.properties,
            "groups": example.groups,
            **sdk.flags,
        },
    )


def _enter(sdk: Sdk, scope: Scope) -> None:
    if scope.distinct_id is not None:
        sdk.client.identify_context(scope.distinct_id)
    if scope.session_id is not None:
        sdk.client.set_context_session(scope.session_id)
    for name, value in scope.tags.items():
        sdk.client.tag(name, value)
    for name, value in scope.settings.items():
        getattr(sdk.module, name)(value)


def _within(sdk: Sdk, scopes: tuple[Scope, ...], body: Callable[[], None]) -> None:
    """`body` run inside `scopes` (outermost first), each opened as it says."""
    if not scopes:
        body()
        return
    scope, inner = scopes[0], scopes[1:]

    def run() -> None:
        _enter(sdk, scope)
        _within(sdk, inner, body)

    if scope.scoped:
        sdk.client.scoped(fresh=scope.fresh, capture_exceptions=scope.capture_exceptions)(run)()
        return
    with sdk.client.new_context(fresh=scope.fresh, capture_exceptions=scope.capture_exceptions):
        run()


def run(module: Any, client: Any, example: Example) -> None:
    """The example on one SDK: an escaping exception ends here."""
    sdk = Sdk(module, client, flag_arguments(client, example.flags))
    with contextlib.suppress(Exception):
        _within(sdk, example.scopes, lambda: _capture_inside(sdk, example))


# Where frames of the SDKs' own code (and of contextlib, which either may use) live.
_SDK_DIRS = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (posthog.__file__, hogkit.__file__, contextlib.__file__)
)


def _application_frames(event: dict[str, Any]) -> dict[str, Any]:
    """`event` with its stack frames outside the SDKs' code only, and code variables on
    the frame that raised only."""
    for index, entry in enumerate(event["properties"].get("$exception_list") or []):
        stack = entry.get("stacktrace") or {}
        frames = stack.get("frames")
        if frames:
            kept = [f for f in frames if not _in_sdk(f)]
            stack["frames"] = [_harness_variables_dropped(f, index == 0) for f in kept]
    return event


def _harness_variables_dropped(frame: dict[str, Any], root: bool) -> dict[str, Any]:
    if root and frame.get("function") == failing.__name__:
        return frame
    return {k: v for k, v in frame.items() if k != "code_variables"}


def _in_sdk(frame: dict[str, Any]) -> bool:
    path = frame.get("abs_path") or ""
    kit_dir = os.path.dirname(os.path.dirname(os.path.abspath(hogkit.__file__))) + os.sep
    own = (*_SDK_DIRS, *(kit_dir + part + os.sep for part in ("transport", "core")))
    return path.startswith(own) and not path.startswith(HERE)


def comparable(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return personless_marked(
        [context_tags_in_order(_application_frames(normalized(e))) for e in events]
    )


def check_example(bench: FlagBench, example: Example) -> None:
    memory = MemoryTransport()
    ref_key, kit_key = bench.keys()
    options = {"project_root": HERE, **example.options, **bench.options(example.flags)}
    with recording_clients() as (make, sent):
        reference = make(api_key=ref_key, **options)
        kit = KitClient(kit_key, sync_mode=True, transport=memory, **options)
        try:
            bench.load(example.flags, reference, kit)
            run(posthog, reference, example)
            run(hogkit, kit, example)
            kit.flush()
        finally:
            kit.shutdown()
    ref_events, kit_events = comparable(sent), comparable(memory.events)
    assert kit_events == ref_events, f"{event_differences(ref_events, kit_events)}\n{example}"
    ref_asked = flags_requests(bench.server, ref_key, sent)
    kit_asked = flags_requests(bench.server, kit_key, memory.events)
    assert kit_asked == ref_asked, f"/flags: posthog {ref_asked}, hogkit {kit_asked}\n{example}"


@pytest.fixture(scope="module")
def bench() -> Iterator[FlagBench]:
    bench = FlagBench()
    yield bench
    bench.close()


@settings(
    max_examples=max(settings.default.max_examples, CI_MINIMUM_EXAMPLES),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(example=examples())
def test_exceptions_reach_the_server_as_posthog_sends_them(
    bench: FlagBench, example: Example
) -> None:
    assert sys.exc_info() == (None, None, None)
    with quiet():
        check_example(bench, example)
