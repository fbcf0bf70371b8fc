"""`$exception` events and `$exception_list`, pinned against posthog==7.91.1's capture_exception.

The reference reads source lines through `linecache`; hogkit's core is handed a
`source_lines` function doing the same (what the shell injects), so frames, context lines
and `in_app` can be compared field by field.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import linecache
import os
import sys
import types
from collections.abc import Iterator
from typing import Any

import attrs
import msgspec
import posthog
import pytest
from hogkit.core import EventContext, encode_event, exception_event, exception_list
from oracle import recording_clients
from posthog.exception_utils import _capture_exception_with_metadata
from posthog.utils import system_context

TS = dt.datetime(2026, 4, 5, 6, 7, 8, tzinfo=dt.timezone.utc)
UUID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = __name__

CTX = EventContext(system_properties=system_context())


def source_lines(path: str, lineno: int) -> tuple[list[str], str | None, list[str]]:
    """What the shell injects: a 5-line window around `lineno`, read through linecache."""
    lines = linecache.getlines(path)
    index = lineno - 1
    if not lines or not 0 <= index < len(lines):
        return [], None, []
    return lines[max(0, index - 5) : index], lines[index], lines[index + 1 : index + 6]


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("POSTHOG_RELEASE_ID", raising=False)
    with recording_clients() as (make, sent):

        def make_rooted(**options: Any) -> posthog.Client:
            options.setdefault("project_root", "/nonexistent-project-root")
            return make(**options)

        yield make_rooted, sent


def assert_same(ours: Any, theirs: dict[str, Any], *, ignore_distinct_id: bool = False) -> None:
    mine = msgspec.json.decode(encode_event(ours))
    for msg in (mine, theirs):
        msg["properties"].pop("$lib")
        msg["properties"].pop("$lib_version")
        if ignore_distinct_id:
            msg.pop("distinct_id")
    assert set(mine["properties"]) == set(theirs["properties"])
    mine_list = mine["properties"]["$exception_list"]
    theirs_list = theirs["properties"]["$exception_list"]
    assert len(mine_list) == len(theirs_list)
    for m, t in zip(mine_list, theirs_list, strict=True):
        assert m.get("stacktrace", {}).get("frames") == t.get("stacktrace", {}).get("frames")
        assert m == t
    assert mine == theirs


def build(exc: BaseException, **kwargs: Any) -> Any:
    kwargs.setdefault("distinct_id", "u1")
    kwargs.setdefault("project_root", "/nonexistent-project-root")
    return exception_event(CTX, exc, timestamp=TS, uuid=UUID, source_lines=source_lines, **kwargs)


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def caught(fn: Any, *args: Any) -> BaseException:
    try:
        fn(*args)
    except BaseException as exc:
        return exc
    raise AssertionError("expected an exception")


def test_simple_exception(reference: Any) -> None:
    make, sent = reference
    make().capture_exception(
        caught(raise_value_error, "boom"), distinct_id="u1", timestamp=TS, uuid=UUID
    )
    ours = build(caught(raise_value_error, "boom"))
    assert_same(ours, sent[0])
    entry = ours.properties["$exception_list"][0]
    assert entry["type"] == "ValueError" and entry["value"] == "boom"
    assert entry["mechanism"] == {
        "exception_id": 0,
        "type": "generic",
        "handled": True,
        "synthetic": False,
    }
    frames = entry["stacktrace"]["frames"]
    assert [f["function"] for f in frames] == ["caught", "raise_value_error"]
    assert frames[-1]["context_line"] == "    raise ValueError(message)"
    assert len(frames[-1]["pre_context"]) == 5
    assert ours.properties["$exception_level"] == "error"


def wrap_with_cause() -> None:
    try:
        raise_value_error("inner")
    except ValueError as inner:
        raise RuntimeError("outer") from inner


def wrap_with_context() -> None:
    try:
        {}["missing"]
    except KeyError:
        raise_value_error("while handling")


def wrap_suppressed() -> None:
    try:
        {}["missing"]
    except KeyError:
        raise TypeError("clean") from None


@pytest.mark.parametrize("fn", [wrap_with_cause, wrap_with_context, wrap_suppressed])
def test_chains(reference: Any, fn: Any) -> None:
    make, sent = reference
    make().capture_exception(caught(fn), distinct_id="u1", timestamp=TS, uuid=UUID)
    ours = build(caught(fn))
    assert_same(ours, sent[0])


def test_chain_order_and_linkage() -> None:
    entries = build(caught(wrap_with_cause)).properties["$exception_list"]
    assert [e["type"] for e in entries] == ["RuntimeError", "ValueError"]
    assert entries[1]["mechanism"] == {
        "exception_id": 1,
        "source": "cause",
        "parent_id": 0,
        "type": "chained",
        "synthetic": False,
    }
    context = build(caught(wrap_with_context)).properties["$exception_list"]
    assert [e["mechanism"].get("source") for e in context] == [None, "context"]
    assert len(build(caught(wrap_suppressed)).properties["$exception_list"]) == 1


def call_into_libraries() -> None:
    try:
        json.loads("{")
    except ValueError as exc:
        raise LookupError("bad json") from exc


def call_into_site_packages() -> None:
    attrs.fields(int)


@pytest.mark.parametrize("fn", [call_into_libraries, call_into_site_packages])
@pytest.mark.parametrize("root", [HERE, "/nonexistent-project-root"])
def test_library_frames_filenames_and_in_app(reference: Any, fn: Any, root: str) -> None:
    make, sent = reference
    make(project_root=root).capture_exception(caught(fn), distinct_id="u1", timestamp=TS, uuid=UUID)
    ours = build(caught(fn), project_root=root)
    assert_same(ours, sent[0])


def test_filenames_and_in_app_values() -> None:
    entries = build(caught(call_into_libraries), project_root=HERE).properties["$exception_list"]
    own_call, *json_frames = entries[1]["stacktrace"]["frames"]
    assert own_call["function"] == "call_into_libraries" and own_call["in_app"] is True
    assert [f["filename"] for f in json_frames] == [
        "__init__.py",
        "json/decoder.py",
        "json/decoder.py",
    ]
    assert all("in_app" not in f for f in json_frames)
    own = entries[0]["stacktrace"]["frames"]
    assert own[0]["filename"] == os.path.basename(__file__)
    assert all(f["in_app"] is True for f in own)
    site = build(caught(call_into_site_packages)).properties["$exception_list"][0]
    assert site["stacktrace"]["frames"][-1]["in_app"] is False
    assert site["stacktrace"]["frames"][-1]["filename"] == "attr/_make.py"
    assert site["module"] == "attr.exceptions"


def test_in_app_modules(reference: Any) -> None:
    make, sent = reference
    make(in_app_modules=[MODULE, "json"]).capture_exception(
        caught(call_into_libraries), distinct_id="u1", timestamp=TS, uuid=UUID
    )
    ours = build(caught(call_into_libraries), in_app_prefixes=[MODULE, "json"])
    assert_same(ours, sent[0])
    frames = ours.properties["$exception_list"][1]["stacktrace"]["frames"]
    assert all(f["in_app"] is True for f in frames)


def raise_group() -> None:
    try:
        raise_value_error("first")
    except ValueError as first:
        problems: list[Exception] = [first, TypeError("second"), OSError(2, "gone")]
    raise exception_group_type()("several", problems)


def exception_group_type() -> type[Exception]:
    """The built-in group (3.11+), else the backport pytest brings on 3.10, which neither the
    reference nor hogkit knows as a group."""
    builtin: type[Exception] | None = getattr(builtins, "ExceptionGroup", None)
    if builtin is not None:
        return builtin
    backport: type[Exception] = pytest.importorskip("exceptiongroup").ExceptionGroup
    return backport


def test_exception_group(reference: Any) -> None:
    make, sent = reference
    make().capture_exception(caught(raise_group), distinct_id="u1", timestamp=TS, uuid=UUID)
    ours = build(caught(raise_group))
    assert_same(ours, sent[0])
    entries = ours.properties["$exception_list"]
    assert entries[0]["type"] == "ExceptionGroup"
    if not hasattr(builtins, "BaseExceptionGroup"):
        # Without a built-in group type, a group is one exception with no members listed.
        assert "is_exception_group" not in entries[0]["mechanism"]
        return
    assert entries[0]["mechanism"]["is_exception_group"] is True
    assert [e["mechanism"].get("source") for e in entries[1:]] == ["member"] * 3
    assert entries[3]["mechanism"]["meta"] == {"errno": {"number": 2}}


class MessageError(Exception):
    def __init__(self) -> None:
        super().__init__("ignored")
        self.message = "from .message"


class BrokenStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


def raise_it(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize(
    "make_exc",
    [
        MessageError,
        lambda: BrokenStr("x"),
        lambda: OSError(13, "denied"),
        KeyboardInterrupt,
        lambda: SystemExit(3),
    ],
    ids=["message", "broken-str", "errno", "base-exception", "system-exit"],
)
def test_values_and_mechanism_meta(reference: Any, make_exc: Any) -> None:
    make, sent = reference
    make().capture_exception(
        caught(raise_it, make_exc()), distinct_id="u1", timestamp=TS, uuid=UUID
    )
    ours = build(caught(raise_it, make_exc()))
    assert_same(ours, sent[0])


def test_personless_properties_fingerprint_level_and_source(reference: Any) -> None:
    make, sent = reference
    client = make()
    metadata = {
        "level": "fatal",
        "source": "python.sys_excepthook",
        "mechanism": {"type": "onuncaughtexception", "handled": False},
    }
    _capture_exception_with_metadata(
        client,
        caught(raise_value_error, "x"),
        metadata,
        properties={"route": "/a", "$exception_fingerprint": "fp-1"},
        groups={"org": "o1"},
        timestamp=TS,
        uuid=UUID,
    )
    ours = build(
        caught(raise_value_error, "x"),
        distinct_id=None,
        anonymous_id="anon-1",
        properties={"route": "/a"},
        fingerprint="fp-1",
        groups={"org": "o1"},
        level="fatal",
        source="python.sys_excepthook",
        mechanism={"type": "onuncaughtexception", "handled": False},
    )
    assert_same(ours, sent[0], ignore_distinct_id=True)
    assert ours.properties["$process_person_profile"] is False
    root = ours.properties["$exception_list"][0]["mechanism"]
    assert root["type"] == "onuncaughtexception" and root["handled"] is False


def test_fingerprint_argument_wins_over_properties() -> None:
    ours = build(
        caught(raise_value_error, "x"),
        properties={"$exception_fingerprint": "from-props"},
        fingerprint="from-arg",
    )
    assert ours.properties["$exception_fingerprint"] == "from-arg"
    assert "$exception_fingerprint" not in build(caught(raise_value_error, "x")).properties


def test_caller_properties_override_reserved_keys_like_the_reference(reference: Any) -> None:
    make, sent = reference
    props = {"$exception_level": "warning"}
    with pytest.warns(DeprecationWarning):
        make().capture_exception(
            caught(raise_value_error, "x"),
            distinct_id="u1",
            properties=props,
            timestamp=TS,
            uuid=UUID,
        )
    ours = build(caught(raise_value_error, "x"), properties=props)
    assert_same(ours, sent[0])


def test_never_raised_exception_with_a_synthetic_traceback(reference: Any) -> None:
    make, sent = reference
    make().capture_exception(ValueError("never raised"), distinct_id="u1", timestamp=TS, uuid=UUID)
    frame = sys._getframe()
    tb = types.TracebackType(None, frame, frame.f_lasti, frame.f_lineno)
    ours = build(ValueError("never raised"), synthetic_traceback=tb)
    theirs = sent[0]["properties"]["$exception_list"][0]
    mine = ours.properties["$exception_list"][0]
    assert mine["mechanism"] == theirs["mechanism"]
    assert mine["mechanism"]["synthetic"] is True
    assert {k: v for k, v in mine.items() if k != "stacktrace"} == {
        k: v for k, v in theirs.items() if k != "stacktrace"
    }
    assert (
        mine["stacktrace"]["frames"][0]["function"]
        == "test_never_raised_exception_with_a_synthetic_traceback"
    )
    bare = exception_list(ValueError("never raised"))
    assert "stacktrace" not in bare[0] and bare[0]["mechanism"]["synthetic"] is False


def test_cycles_and_the_entry_limit(reference: Any) -> None:
    make, sent = reference
    a, b = ValueError("a"), KeyError("b")
    a.__context__ = b
    b.__context__ = a
    assert [e["type"] for e in exception_list(a)] == ["ValueError", "KeyError"]

    def long_chain() -> BaseException:
        exc: BaseException = RuntimeError("0")
        for i in range(1, 60):
            nxt = RuntimeError(str(i))
            nxt.__cause__ = exc
            nxt.__suppress_context__ = True
            exc = nxt
        return exc

    make().capture_exception(
        caught(raise_it, long_chain()), distinct_id="u1", timestamp=TS, uuid=UUID
    )
    ours = build(caught(raise_it, long_chain()))
    entries = ours.properties["$exception_list"]
    assert len(entries) == 50
    assert entries[0]["value"] == "59" and entries[-1]["value"] == "10"
    theirs = sent[0]["properties"]["$exception_list"]
    assert [e["value"] for e in theirs] == [e["value"] for e in entries]
    assert_same(ours, sent[0])


def hidden_helper() -> None:
    __traceback_hide__ = True  # read from the frame's locals
    raise_value_error("hidden")


def test_hidden_frames(reference: Any) -> None:
    make, sent = reference
    make().capture_exception(caught(hidden_helper), distinct_id="u1", timestamp=TS, uuid=UUID)
    ours = build(caught(hidden_helper))
    assert_same(ours, sent[0])
    functions = [
        f["function"] for f in ours.properties["$exception_list"][0]["stacktrace"]["frames"]
    ]
    assert "hidden_helper" not in functions and "raise_value_error" in functions


def test_without_source_lines_the_context_is_empty() -> None:
    entry = exception_list(caught(raise_value_error, "x"))[0]
    for frame in entry["stacktrace"]["frames"]:
        assert frame["pre_context"] == [] and frame["post_context"] == []
        assert frame["context_line"] is None
        assert frame["abs_path"] == os.path.abspath(__file__)


def test_long_source_lines_are_cut_and_a_failing_reader_is_ignored() -> None:
    def long_lines(path: str, lineno: int) -> tuple[list[str], str | None, list[str]]:
        return ["é" * 2000 + "\n"] * 7, "x" * 5000 + "\r\n", ["short\n"] * 9

    frame = exception_list(caught(raise_value_error, "x"), source_lines=long_lines)[0]
    first = frame["stacktrace"]["frames"][0]
    assert len(first["pre_context"]) == 5 and len(first["post_context"]) == 5
    assert first["context_line"] == "x" * 1021 + "..."
    assert len(first["pre_context"][0].encode()) <= 1024
    assert first["pre_context"][0].endswith("...")
    assert first["post_context"][0] == "short"

    def broken(path: str, lineno: int) -> tuple[list[str], str | None, list[str]]:
        raise OSError("unreadable")

    quiet = exception_list(caught(raise_value_error, "x"), source_lines=broken)[0]
    assert quiet["stacktrace"]["frames"][0]["context_line"] is None
