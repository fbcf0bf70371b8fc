"""What the exception differentials (property_tests/test_exception_differential.py and
test_exception_hooks_differential.py) found hogkit sending differently from posthog 7.91.1,
each pinned by running both.

A frame holding one variable raises; an offline posthog client (its events recorded by
`before_send`) and a hogkit client with an in-memory transport capture it, with code
variables on, and the variables of that frame must be the same. For uncaught exceptions,
each client in turn has autocapture on while exceptions escape through `sys.excepthook` or
a thread, and both must send the same.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hogkit.core.code_variables import REDACTED
from oracle import recording_clients

from hogkit import Client as KitClient
from hogkit import MemoryTransport

HERE = os.path.dirname(os.path.abspath(__file__))


def holding(note: Any) -> None:
    """A frame whose one variable is `note`."""
    raise RuntimeError("failed")


def variables_of(event: dict[str, Any], function: str = holding.__name__) -> Any:
    """The code variables `event` carries on the frame of `function`."""
    frames = event["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    (frame,) = [f for f in frames if f["function"] == function]
    return frame.get("code_variables")


def variables_of_both(value: Any, **settings: Any) -> tuple[Any, Any]:
    memory = MemoryTransport()
    options = {"project_root": HERE, "capture_exception_code_variables": True, **settings}
    with recording_clients() as (make, sent):
        reference = make(**options)
        kit = KitClient("phc_hogkit", sync_mode=True, transport=memory, **options)
        try:
            for client in (reference, kit):
                try:
                    holding(value)
                except RuntimeError as error:
                    client.capture_exception(error, distinct_id="user-1")
            kit.flush()
        finally:
            kit.shutdown()
    (theirs,), (ours,) = sent, memory.events
    return variables_of(theirs), variables_of(ours)


# `Authorization` credentials in text: redacted whatever the variable's name, unless they
# read as prose (short, or a lowercase word); a `Basic` pair however short.
AUTHORIZATION_TEXTS = [
    "Bearer 00000000",
    "BEARER abc.def.ghi",
    "sent with Authorization: Bearer eyJhbGciOi.payload.sig and more",
    "Bearer: 'abcdefghijkl'",
    'basic : "dXNlcjpwYXNzd29yZA=="',
    "Basic dXNlcjpwYXNz",
    "basic YTpi",
    "Basic abcd",
    "bearer abcdefgh",
    "the bearer of",
    "bearer transportation",
    "basicConfig",
    "Bearer postgres://admin:hunter2@db:5432/app",
]


@pytest.mark.parametrize("text", AUTHORIZATION_TEXTS)
def test_authorization_credentials_are_redacted_as_posthog_redacts_them(text: str) -> None:
    theirs, ours = variables_of_both(text)
    assert ours == theirs


@pytest.mark.parametrize("number", [2**53, -(2**53) - 1, 2**64, 10**30, 2**53 - 1])
def test_an_integer_of_any_size_is_a_number(number: int) -> None:
    """Sent as a JSON number, as posthog sends it, not as text."""
    theirs, ours = variables_of_both(number)
    assert ours == theirs


@pytest.mark.parametrize(
    "text", ["Bearer abc.def.ghi", "x" * 3000, "postgres://admin:hunter2@db/app", "sk_live_4eC39Hq"]
)
def test_no_pattern_and_both_scrubs_off_turn_masking_off(text: str) -> None:
    """Nothing redacted, long text only cut, as posthog does with masking off."""
    theirs, ours = variables_of_both(
        text,
        code_variables_mask_patterns=[],
        code_variables_mask_url_credentials=False,
        code_variables_detect_secrets=False,
    )
    assert ours == theirs


# Vendor keys in a variable whose name says nothing, in running text (which no entropy
# test reads as one token) or with a body of one character class, and tokens only
# posthog's entropy test reads as secrets: posthog redacts every one.
LEAKED_SECRETS = [
    "key sk-proj-abcdefghijklmnopqrstuvwxyz in use",
    "sk-ant-abcdefghijklmnopqrstuvwx",
    "google AIzaSyA1234567890abcdefghijklmnopqrstuv here",
    "google ya29.abcdefghijklmnopqrstuvwxyz",
    "hf_abcdefghijklmnopqrstuvwxyzabcdefgh",
    "slack xoxe-1234567890-abc",
    "app xapp-1-abcdefghijklmn",
    "glpat-abcdefghijklmnopqrst",
    "npm_abcdefghijklmnopqrstuvwxyzabcdefghij",
    "lin_api_abcdefghijklmnopqrstuvwxyzabcdefghijklmn",
    "mail SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq sent",
    "dapi0123456789abcdef0123456789abcdef",
    "mailgun key-0123456789abcdef0123456789abcdef",
    "EC PRIVATE KEY-----",
    "aB3/kL9qZ2wX7pQ8rT",
]
# What posthog leaves: too short for the format, an entropy under its bound, brackets or
# quotes, a path, a UUID.
NEAR_MISSES = [
    "AKIAIOSFODNN7EXAMPL",
    "ghp_abcdefghijklmnopqrstuvwxyz01234",
    "aB3dE5fG7hJ9aB3d",
    "Qw3rTy7uIo9pQw3rTy",
    "Zx9#qL2!mW8(vB4^nT6&",
    "key='Zx9#qL2!mW8vB4nT6'",
    "path/to/some/file.txt",
    "550e8400-e29b-41d4-a716-446655440000",
]


@pytest.mark.parametrize("text", LEAKED_SECRETS)
def test_secrets_in_harmless_names_are_redacted_as_posthog_redacts_them(text: str) -> None:
    theirs, ours = variables_of_both(text)
    assert theirs == {"note": REDACTED}
    assert ours == theirs


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_text_posthog_leaves_is_left(text: str) -> None:
    theirs, ours = variables_of_both(text)
    assert ours == theirs


class _Account:
    def __init__(self) -> None:
        self.name = "alice"
        self.password = "hunter2"
        self.history = [None, 1.5, {"api_key": "k", "ok": True}]


class _Vault:
    __slots__ = ("token",)
    api_secret = "class-level"

    def __init__(self) -> None:
        self.token = "t"


class _Unprintable:
    __slots__ = ()

    def __repr__(self) -> str:
        raise ValueError("no repr")


@dataclasses.dataclass
class _Charge:
    amount: int
    api_key: str


_Point = collections.namedtuple("_Point", "x secret")


def _cycle() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


def _deep(levels: int) -> list[Any]:
    root: list[Any] = []
    for _ in range(levels):
        root = [root]
    return root


_SHARED = [1]

CONTAINERS = {
    "list": [None, 1, "two", True],
    "tuple": (1, 2.5, float("nan"), float("-inf")),
    "dict": {"a": 1, "password": "p", 3: None, None: 2, 1.5: "x", True: 9},
    "masked key text": {"password=hunter2": 1, "postgres://u:pw@db/app": 2, "Bearer abcdefghij": 3},
    "odd keys": {(1, 2): "t", (1, "password"): 3, frozenset({1}): 2, float("nan"): 0},
    "secret key": {"sk-proj-abcdefghijklmnopqrstuvwxyz012345": 1},
    "set": {1, 2},
    "set with a mask word": frozenset({"password"}),
    "nested": [[1, [2, [3, {"secret": 4}]]], ("sk_live_4eC39HqLyjWDarjtT1zdp7dc",)],
    "object": _Account(),
    "slotted": _Vault(),
    "unprintable": _Unprintable(),
    "dataclass": _Charge(5, "k"),
    "named tuple": _Point(1, 2),
    "cycle": _cycle(),
    "shared": [_SHARED, _SHARED],
    "too many items": list(range(51)),
    "fifty items": list(range(50)),
    "too many keys": {i: i for i in range(51)},
    "too deep": _deep(20),
    "wide and deep": [[[i, [i]] for i in range(40)] for _ in range(3)],
    "long text inside": ["x" * 3000, "y" * 1500],
    "long key": {"k" * 3000: 1},
    "bytes": b"bytes",
    "big set": set(range(1000)),
    "unicode": ["h\u00e9llo \u2603", {"\u00fc": "\u4e2d"}],
    "ordered dict": collections.OrderedDict(a=1, b=[2]),
    "deque": collections.deque([1, "password"]),
    "a class": _Account,
}


@pytest.mark.parametrize("value", list(CONTAINERS.values()), ids=list(CONTAINERS))
@pytest.mark.parametrize("masking", ["on", "off"])
def test_containers_and_objects_are_sent_as_posthog_sends_them(value: Any, masking: str) -> None:
    """Masked JSON (or a masked repr), with posthog's bounds, not Python's repr."""
    off = {
        "code_variables_mask_patterns": [],
        "code_variables_mask_url_credentials": False,
        "code_variables_detect_secrets": False,
    }
    theirs, ours = variables_of_both(value, **(off if masking == "off" else {}))
    assert ours == theirs


@pytest.mark.parametrize(
    "key", ["phx_abcdefghijklmnopqrstuvwxyz", "deploy with phs_abcdefghijklmnopqrstuvwxyz now"]
)
def test_posthog_personal_and_secret_keys_are_redacted_where_posthog_sends_them(key: str) -> None:
    """On purpose: such a key grants access to a project's data."""
    theirs, ours = variables_of_both(key)
    assert theirs == {"note": key}
    assert ours == {"note": REDACTED}


# -- uncaught exceptions (property_tests/test_exception_hooks_differential.py) ----------------


def _uncaught_in_both(deliver: Callable[[], None], **settings: Any) -> tuple[Any, Any]:
    """What each SDK sends for what `deliver` lets escape, with autocapture on: each
    event as its exception's type, level and source."""
    memory = MemoryTransport()
    options = {"project_root": HERE, "enable_exception_autocapture": True, **settings}
    saved = sys.excepthook, threading.excepthook
    sys.excepthook, threading.excepthook = (lambda *args: None), (lambda args: None)
    try:
        with recording_clients() as (make, sent):
            reference = make(**options)
            deliver()
            reference.shutdown()
            kit = KitClient("phc_hogkit", sync_mode=True, transport=memory, **options)
            deliver()
            kit.shutdown()
    finally:
        sys.excepthook, threading.excepthook = saved

    def seen(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (
                e["properties"]["$exception_list"][0]["type"],
                e["properties"]["$exception_level"],
                e["properties"]["$exception_source"],
            )
            for e in events
        ]

    return seen(sent), seen(memory.events)


def _through_sys_hook(error: Callable[[], BaseException], times: int = 1) -> Callable[[], None]:
    def deliver() -> None:
        for _ in range(times):
            try:
                raise error()
            except BaseException:
                sys.excepthook(*sys.exc_info())

    return deliver


def _from_a_thread(error: Callable[[], BaseException]) -> Callable[[], None]:
    def deliver() -> None:
        def body() -> None:
            raise error()

        worker = threading.Thread(target=body)
        worker.start()
        worker.join()

    return deliver


@pytest.mark.parametrize(
    "deliver",
    [
        _through_sys_hook(KeyboardInterrupt),
        _from_a_thread(SystemExit),
        _from_a_thread(KeyboardInterrupt),
    ],
    ids=["interrupt", "thread exit", "thread interrupt"],
)
def test_uncaught_exceptions_outside_exception_are_captured_as_posthog_captures_them(
    deliver: Callable[[], None],
) -> None:
    theirs, ours = _uncaught_in_both(deliver)
    assert theirs
    assert ours == theirs


@pytest.mark.parametrize(
    "limits",
    [
        {"exception_autocapture_bucket_size": 3},
        {"exception_autocapture_bucket_size": 1},
        {
            "exception_autocapture_bucket_size": 2,
            "exception_autocapture_refill_interval_seconds": 0,
        },
        {
            "exception_autocapture_bucket_size": 1,
            "exception_autocapture_refill_interval_seconds": 0,
        },
        {"exception_autocapture_bucket_size": 250},
        {"exception_autocapture_bucket_size": 4, "exception_autocapture_refill_rate": -1},
    ],
    ids=["three", "one", "no interval", "one without interval", "above", "negative"],
)
def test_the_rate_limit_lets_as_many_through_as_posthog(limits: dict[str, Any]) -> None:
    deliver = _through_sys_hook(lambda: ValueError("again"), times=120)
    theirs, ours = _uncaught_in_both(
        deliver, enable_exception_autocapture_rate_limiting=True, **limits
    )
    assert len(ours) == len(theirs)


# -- exc_info tuples ------------------------------------------------------------------------------


class Wrapped(Exception):
    """A class of this module, to name an exception by."""


def _inner_exc_info() -> tuple[Any, Any, Any]:
    """An exc_info tuple taken where the exception was raised, before it travelled on."""
    try:
        raise KeyError("inner")
    except KeyError:
        return sys.exc_info()


def _travelled() -> tuple[Any, Any, Any]:
    """The inner tuple, its exception since raised again through this frame."""
    info = _inner_exc_info()
    try:
        raise info[1]
    except KeyError:
        pass
    return info


def _raised_without_stack() -> tuple[Any, Any, Any]:
    try:
        raise ValueError("raised")
    except ValueError as error:
        return ValueError, error, None


def _elsewhere() -> tuple[Any, Any, Any]:
    """An exc_info tuple of another exception, from a frame holding a variable."""
    note = "the frame the tuple names"
    try:
        raise LookupError(note)
    except LookupError:
        return sys.exc_info()


def _with_another_stack() -> tuple[Any, Any, Any]:
    """An exception with the stack of another one."""
    exc_type, error, _ = _inner_exc_info()
    return exc_type, error, _elsewhere()[2]


def _named_as(cls: Any) -> Callable[[], tuple[Any, Any, Any]]:
    """A raised exception's tuple with `cls` in place of its class."""

    def make() -> tuple[Any, Any, Any]:
        _, error, tb = _inner_exc_info()
        return cls, error, tb

    return make


def _named_by_itself() -> tuple[Any, Any, Any]:
    _, error, tb = _inner_exc_info()
    return error, error, tb


EXC_INFO_TUPLES = {
    "never raised, no stack": lambda: (ValueError, ValueError("never raised"), None),
    "raised, no stack named": _raised_without_stack,
    "stack taken before it travelled": _travelled,
    "another exception's stack": _with_another_stack,
    "another class named": _named_as(ValueError),
    "a class of this module named": _named_as(Wrapped),
    "a class that is no exception named": _named_as(int),
    "no class named": _named_as(None),
    "the exception named as its class": _named_by_itself,
}


@pytest.mark.parametrize("make_tuple", list(EXC_INFO_TUPLES.values()), ids=list(EXC_INFO_TUPLES))
def test_an_exc_info_tuple_is_sent_with_the_stack_it_names(
    make_tuple: Callable[[], tuple[Any, Any, Any]],
) -> None:
    """With the stack, its variables and the class the tuple names."""
    memory = MemoryTransport()
    options = {"project_root": HERE, "capture_exception_code_variables": True}
    with recording_clients() as (make, sent):
        reference = make(**options)
        kit = KitClient("phc_hogkit", sync_mode=True, transport=memory, **options)
        try:
            for client in (reference, kit):
                client.capture_exception(make_tuple(), distinct_id="user-1")
            kit.flush()
        finally:
            kit.shutdown()
    (theirs,), (ours,) = sent, memory.events
    assert ours["properties"]["$exception_list"] == theirs["properties"]["$exception_list"]


def _capture_unraised(client: Any, note: str) -> None:
    client.capture_exception(ValueError("never raised"), distinct_id="user-1")


def test_an_exception_never_raised_carries_the_callers_variables() -> None:
    """posthog builds a stack from the caller's frames, and sends their variables."""
    memory = MemoryTransport()
    # The client's text differs between the SDKs: left out.
    options = {
        "project_root": HERE,
        "capture_exception_code_variables": True,
        "code_variables_ignore_patterns": ["^client$"],
    }
    with recording_clients() as (make, sent):
        reference = make(**options)
        kit = KitClient("phc_hogkit", sync_mode=True, transport=memory, **options)
        try:
            _capture_unraised(reference, "the caller's")
            _capture_unraised(kit, "the caller's")
            kit.flush()
        finally:
            kit.shutdown()
    (theirs,), (ours,) = sent, memory.events
    # The frames above hold the harness's two clients, whose text differs.
    expected = variables_of(theirs, _capture_unraised.__name__)
    assert expected == {"note": "the caller's"}
    assert variables_of(ours, _capture_unraised.__name__) == expected


def _spending(
    a: str, b: str, c: str, d: str, e: str, f: str, g: str, h: str, i: str, j: str
) -> None:
    """A frame whose ten variables spend the whole budget, above one holding empty text."""
    holding("")


def _capture_after_spending(client: Any) -> None:
    try:
        _spending(*["x" * 1024] * 10)
    except RuntimeError as error:
        client.capture_exception(error, distinct_id="user-1")


def test_an_empty_text_is_kept_once_the_budget_is_spent() -> None:
    """Ten values cut to 1024 characters spend the whole 10 KiB budget; an empty text
    costs nothing, so the frame below still gets it, as posthog sends it."""
    memory = MemoryTransport()
    # The catching frame's own variables (the client, the error) are left out: their
    # text differs between the SDKs, and would spend the budget differently.
    options = {
        "project_root": HERE,
        "capture_exception_code_variables": True,
        "code_variables_ignore_patterns": ["^client$", "^error$"],
    }
    with recording_clients() as (make, sent):
        reference = make(**options)
        kit = KitClient("phc_hogkit", sync_mode=True, transport=memory, **options)
        try:
            _capture_after_spending(reference)
            _capture_after_spending(kit)
            kit.flush()
        finally:
            kit.shutdown()
    (theirs,), (ours,) = sent, memory.events
    assert variables_of(theirs) == {"note": ""}
    assert variables_of(ours) == variables_of(theirs)
