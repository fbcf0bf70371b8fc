"""Hypothesis strategies for the module-level differential: settings, calls and lifecycle steps.

An example is a list of steps an application takes on the module itself (`posthog.api_key =
...; posthog.capture(...)`): set a module setting (to a usable or an odd value), call a
module function, flush, join or shut down, assign or clear `default_client`, or run a few
calls inside `new_context()`. The same steps run on `posthog` and on `hogkit`.

Values that must differ between the two SDKs are drawn as markers and made concrete by
the test, once per SDK: `Key` (a project key the loopback server traces back to the SDK
and to the marker), `Explicit` (a client the application built itself), `Problem` (a fresh
exception instance, since capturing one instance twice sends it once). Everything else is
plain data, so hypothesis prints a failing example whole.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from hypothesis import strategies as st
from strategies import documents
from twin import definitions, flag, flags_response, person_rule, record

__all__ = [
    "FLAG_KEYS",
    "FLAG_READS",
    "ODD_TABLES",
    "PROVIDER_KINDS",
    "READ_KEYS",
    "REMOTE_KEY",
    "SECRET",
    "Example",
    "Explicit",
    "Hook",
    "Key",
    "Problem",
    "Provider",
    "Step",
    "answer",
    "cached_document",
    "document",
    "examples",
]

SECRET = "phx_personal_key"
FLAG_KEYS = ("on", "plan", "split", "server-only")
GIVEN_KEYS = ("f0", "f1", "f2")
"""Keys read among the flags an application sets on a client itself (`strategies.documents`
draws from a few more)."""
READ_KEYS = (*FLAG_KEYS, *GIVEN_KEYS, "ghost")
REMOTE_KEY = "remote-config"
PEOPLE: tuple[Any, ...] = ("user-1", "user-2", 42)
OLDER_READS = (
    "feature_enabled",
    "get_feature_flag",
    "get_feature_flag_result",
    "get_feature_flag_payload",
)
BULK_READS = ("get_all_flags", "get_all_flags_and_payloads", "evaluate_flags")
DEFINITION_READS = (
    "feature_flag_definitions",
    "load_feature_flags",
    "get_feature_flag_evaluation_runtime",
    "get_feature_flag_keys_by_evaluation_runtime",
)
FLAG_READS = frozenset({*OLDER_READS, *BULK_READS, *DEFINITION_READS})
"""The module functions that read flags or their definitions."""


class Key(NamedTuple):
    """A project key: `tag` tells the keys of one example apart; `padded` adds blanks
    around it (both SDKs trim them)."""

    tag: str
    padded: bool = False


class Explicit(NamedTuple):
    """A client the application builds and assigns to `default_client`, with key `tag`."""

    tag: str


class Hook(NamedTuple):
    """A `before_send` callback, by what it does (see the test's `HOOKS`)."""

    name: str


class Provider(NamedTuple):
    """A `flag_definition_cache_provider`, by what it answers (see the test's `PROVIDERS`)."""

    kind: str


class Problem(NamedTuple):
    """An exception to capture: its type name and message."""

    kind: str
    message: str


class Step(NamedTuple):
    """One thing the application does. `kind` is "set" (`name` = the setting, `args` =
    (value,)), "call" (`name` = the module function), "assign" (`args` = (value,) for
    `default_client`), "attr" (`args` = (attribute, value) pairs set in turn on the
    default client, as test suites hand posthog-python definitions) or "context"
    (`kwargs` for `new_context`, `args` = the context calls made on entering, `inner` =
    the steps run inside it)."""

    kind: str
    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}  # noqa: RUF012 - never mutated; a NamedTuple default
    inner: tuple[Step, ...] = ()


class Example(NamedTuple):
    local: bool  # whether the definitions the server hands out decide most flags
    steps: tuple[Step, ...]


def document(local: bool) -> dict[str, Any]:
    """The flag definitions the server hands out: a release with a payload, a flag on a
    person property, a 50/50 split and a flag only the server can decide (a cohort it
    does not hand out), each meant for a different runtime."""
    split = {
        "variants": [
            {"key": "control", "rollout_percentage": 50},
            {"key": "test", "rollout_percentage": 50},
        ]
    }
    cohort = {"key": "id", "type": "cohort", "value": 99}
    flags = [
        flag("on", 1, payloads={"true": '{"x": 1}'}),
        flag(
            "plan",
            2,
            groups=[{"properties": [person_rule("plan", ["pro"])], "rollout_percentage": 100}],
        ),
        flag("split", 3, multivariate=split, payloads={"test": "[1, 2]"}),
        flag("server-only", 4, groups=[{"properties": [cohort], "rollout_percentage": 100}]),
    ]
    for runtime, definition in zip(("client", "server", "all"), flags, strict=False):
        definition["evaluation_runtime"] = runtime
    return definitions(*flags if local else (), group_type_mapping={"0": "company"})


def cached_document() -> dict[str, Any]:
    """What a cache provider that holds definitions hands out: not the server's, so a
    read shows which of the two a client used."""
    return definitions(
        flag("on", 1, groups=[{"properties": [], "rollout_percentage": 0}]),
        flag("f0", 5, payloads={"true": '"cached"'}),
        group_type_mapping={"0": "company"},
    )


ODD_TABLES: dict[str, dict[str, Any]] = {
    "odd groups": {"group_type_mapping": [0]},
    "text groups": {"group_type_mapping": "company"},
    "null groups": {"group_type_mapping": None},
    "odd cohorts": {"cohorts": 1},
    "empty cohorts": {"cohorts": []},
}
"""Provider kinds handing out `cached_document()` with these fields replaced."""


def answer() -> dict[str, Any]:
    """The server's `/flags` answer, the same for every request."""
    return flags_response(
        record("on", True, fid=1, payload='{"x": 1}'),
        record("plan", False, fid=2),
        record("split", "control", fid=3),
        record("server-only", "arm", fid=4, payload='"served"'),
    )


PROVIDER_KINDS = ("serves", "fetches", "raises", "odd", "empty", "malformed", *ODD_TABLES)
"""What a cache provider does: hands out `cached_document()` instead of a download, asks
for a download and keeps it, raises from every method, answers with values of the wrong
type, never leads and has nothing stored, never leads and hands out a malformed
document, or hands out `cached_document()` with group types or cohorts of another JSON
type (see `ODD_TABLES`)."""

# -- settings -----------------------------------------------------------------------------------

_KEYS = st.sampled_from((Key("a"), Key("a", padded=True), Key("b"), None, "", "   "))

SETTINGS: dict[str, st.SearchStrategy[Any]] = {
    "api_key": _KEYS,
    "project_api_key": _KEYS,
    "host": st.sampled_from(("", "/")),  # the server's address, with or without a slash
    "debug": st.sampled_from((False, True, 0, 1)),
    "send": st.booleans(),
    "sync_mode": st.booleans(),
    "disabled": st.sampled_from((False, True, None, 0, 1)),
    "personal_api_key": st.sampled_from((None, SECRET, f" {SECRET} ")),
    "secret_key": st.sampled_from((None, SECRET)),
    "disable_geoip": st.sampled_from((True, False, None)),
    "is_server": st.booleans(),
    "super_properties": st.sampled_from((None, {}, {"tier": "gold"})),
    "enable_local_evaluation": st.booleans(),
    "before_send": st.sampled_from(
        (
            None,
            Hook("drop"),
            Hook("edit"),
            Hook("raise"),
            Hook("none"),
            Hook("rename"),
            Hook("replace"),
            Hook("text"),
        )
    ),
    "privacy_mode": st.booleans(),
    "on_error": st.sampled_from((None, Hook("noted"))),
    "poll_interval": st.sampled_from((3600, 7200.5)),
    "feature_flags_request_timeout_seconds": st.sampled_from((2.0, 3, 5.5)),
    "feature_flags_request_max_retries": st.sampled_from((0, 1, 2)),
    "enable_exception_autocapture": st.booleans(),
    "log_captured_exceptions": st.booleans(),
    "project_root": st.sampled_from((None, os.getcwd(), "/nowhere")),
    "in_app_modules": st.sampled_from((None, [], ["module_strategies"], ["hogkit", "posthog"])),
    "capture_exception_code_variables": st.booleans(),
    "code_variables_mask_patterns": st.sampled_from(([], ["(?i)plan"], [".*"])),
    "code_variables_ignore_patterns": st.sampled_from(([], ["^_"], ["(?i)step"])),
    "code_variables_mask_url_credentials": st.booleans(),
    "code_variables_detect_secrets": st.booleans(),
    "capture_mode": st.sampled_from((None, "v0", "legacy")),
    "enable_exception_autocapture_rate_limiting": st.booleans(),
    "exception_autocapture_bucket_size": st.sampled_from((1, 50)),
    "exception_autocapture_refill_rate": st.sampled_from((1, 10)),
    "exception_autocapture_refill_interval_seconds": st.sampled_from((1, 10.0)),
    "flag_definition_cache_provider": st.sampled_from(
        (None, *(Provider(kind) for kind in PROVIDER_KINDS))
    ),
}
"""Module settings and the values a step may give them. `host` stays on the loopback
server and `poll_interval` stays long, so no example reaches the network or races a poll.
`capture_mode` stays on `/batch/` (hogkit does not send the v1 protocol; see the test's
docstring)."""


# -- calls --------------------------------------------------------------------------------------

_PERSON = st.sampled_from(PEOPLE)
_PROPERTIES = st.sampled_from((None, {}, {"plan": "pro"}, {"plan": "free", "n": 1}))
_GROUPS = st.sampled_from((None, {}, {"company": "acme"}))
_FLAG = st.sampled_from(READ_KEYS)


@st.composite
def _optional(draw: st.DrawFn, options: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """Some of `options`, each drawn or left out."""
    return {name: draw(value) for name, value in options.items() if draw(st.booleans())}


@st.composite
def _event_call(draw: st.DrawFn) -> Step:
    name = draw(st.sampled_from(("capture", "set", "set_once", "alias", "group_identify")))
    person = st.one_of(_PERSON, st.sampled_from((None, "")))
    if name == "capture":
        kwargs = draw(
            _optional(
                {
                    "distinct_id": person,
                    "properties": _PROPERTIES,
                    "groups": _GROUPS,
                    "send_feature_flags": st.booleans(),
                    "disable_geoip": st.booleans(),
                }
            )
        )
        if kwargs.get("send_feature_flags"):
            # Flags for a named person: a personless event's are a random id's, which
            # splits its rollouts differently in each SDK.
            kwargs["distinct_id"] = draw(_PERSON)
        return Step("call", name, (draw(st.sampled_from(("signed up", "drop me"))),), kwargs)
    if name in ("set", "set_once"):
        return Step(
            "call", name, (), draw(_optional({"distinct_id": person, "properties": _PROPERTIES}))
        )
    if name == "alias":
        return Step("call", name, (draw(_PERSON), draw(_PERSON)))
    # With a distinct id: without one, the two SDKs send different ids on purpose. A blank
    # type or key is refused by both.
    args = (
        draw(st.sampled_from(("company", "team", ""))),
        draw(st.sampled_from(("acme", "7", ""))),
    )
    return Step("call", name, args, {"properties": draw(_PROPERTIES), "distinct_id": "user-1"})


@st.composite
def _exception_call(draw: st.DrawFn) -> Step:
    """`capture_exception` of an exception, or of none outside an `except` (nothing sent)."""
    problem = draw(st.sampled_from((Problem("ValueError", "boom"), Problem("KeyError", "k"), None)))
    kwargs = draw(_optional({"distinct_id": _PERSON, "properties": _PROPERTIES}))
    return Step("call", "capture_exception", (problem,), kwargs)


@st.composite
def _flag_read(draw: st.DrawFn, blank: int = 6) -> Step:
    """An older flag read, arguments by position as applications pass them; one in `blank`
    names no person (None or ""), which inside a context reports for the context's."""
    name = draw(st.sampled_from(OLDER_READS))
    named = draw(st.integers(1, blank)) > 1
    person = draw(_PERSON) if named else draw(st.sampled_from((None, "")))
    head = [draw(_FLAG), person]
    if name == "get_feature_flag_payload":
        head.append(draw(st.sampled_from((None, True, "test"))))
    tail = [draw(_GROUPS), draw(_PROPERTIES)]
    kwargs = draw(
        _optional(
            {"only_evaluate_locally": st.booleans(), "send_feature_flag_events": st.booleans()}
        )
    )
    return Step("call", name, (*head, *tail), kwargs)


@st.composite
def _bulk_read(draw: st.DrawFn) -> Step:
    """A bulk read, now and then naming no person: `evaluate_flags` then reads for the
    context's (`identify_context`), or answers nothing outside one."""
    name = draw(st.sampled_from(BULK_READS))
    person = draw(_PERSON) if draw(st.integers(0, 3)) else None
    args = (person, draw(_GROUPS), draw(_PROPERTIES))
    options: dict[str, st.SearchStrategy[Any]] = {"only_evaluate_locally": st.booleans()}
    keys = st.lists(_FLAG, max_size=3, unique=True)
    options["flag_keys" if name == "evaluate_flags" else "flag_keys_to_evaluate"] = keys
    return Step("call", name, args, draw(_optional(options)))


@st.composite
def _definition_call(draw: st.DrawFn) -> Step:
    name = draw(
        st.sampled_from((*DEFINITION_READS, "get_remote_config_payload", "context", "setup"))
    )
    if name == "context":  # a context function called outside any context
        call = draw(st.sampled_from(_CONTEXT_CALLS + _CONTEXT_READS))
        return Step("call", call[0], call[1:])
    if name == "get_remote_config_payload":
        return Step("call", name, (draw(st.sampled_from((REMOTE_KEY, "missing"))),))
    if name == "get_feature_flag_evaluation_runtime":
        return Step("call", name, (draw(_FLAG),))
    if name == "get_feature_flag_keys_by_evaluation_runtime":
        return Step("call", name, (draw(st.sampled_from(("server", "client", "all"))),))
    return Step("call", name)


@st.composite
def _lifecycle(draw: st.DrawFn) -> Step:
    name = draw(st.sampled_from(("flush", "flush", "join", "shutdown", "assign")))
    if name == "assign":
        value = draw(st.sampled_from((None, None, Explicit("explicit"), False)))
        return Step("assign", "default_client", (value,))
    if name == "flush":
        return Step("call", name, draw(st.sampled_from(((), (None,), (5,)))))
    return Step("call", name)


@st.composite
def _given_definitions(draw: st.DrawFn) -> Step:
    """Definitions set on the default client (`client.feature_flags = [...]`, then or before
    its `group_type_mapping` and `cohorts`), some of them cleared or left out."""
    document = draw(documents(max_flags=4))
    for definition in document["flags"]:
        runtime = draw(st.sampled_from((None, "server", "client", "all")))
        if runtime:
            definition["evaluation_runtime"] = runtime
    values = {
        "feature_flags": st.sampled_from((document["flags"], document["flags"], [], None)),
        "group_type_mapping": st.sampled_from((document["group_type_mapping"], {}, None)),
        "cohorts": st.sampled_from((document["cohorts"], {}, None)),
    }
    names = draw(st.lists(st.sampled_from(sorted(values)), min_size=1, max_size=4))
    return Step("attr", "definitions", tuple((name, draw(values[name])) for name in names))


def _setting() -> st.SearchStrategy[Step]:
    return st.sampled_from(sorted(SETTINGS)).flatmap(
        lambda name: SETTINGS[name].map(lambda value: Step("set", name, (value,)))
    )


def _plain_steps() -> st.SearchStrategy[Step]:
    return st.one_of(
        _setting(),
        _event_call(),
        _exception_call(),
        _flag_read(),
        _bulk_read(),
        _definition_call(),
        _lifecycle(),
        _given_definitions(),
    )


_CONTEXT_CALLS: tuple[tuple[str, ...], ...] = (
    ("identify_context", "ctx-user"),
    ("tag", "team", "red"),
    ("set_context_session", "session-1"),
    ("set_context_device_id", "device-1"),
)
# posthog's package offers one context read (`get_context_distinct_id`, ... are hogkit's).
_CONTEXT_READS: tuple[tuple[str, ...], ...] = (("get_tags",),)


@st.composite
def _context(draw: st.DrawFn) -> Step:
    """A few calls inside `new_context()`, which first identifies it, tags it, gives it a
    session or device; exceptions may be captured on the way out."""
    kwargs = draw(_optional({"fresh": st.booleans(), "capture_exceptions": st.booleans()}))
    enter = draw(st.lists(st.sampled_from(_CONTEXT_CALLS), max_size=3))
    reads = st.sampled_from(_CONTEXT_READS).map(lambda call: Step("call", call[0], call[1:]))
    inner = draw(
        st.lists(st.one_of(_event_call(), _flag_read(blank=2), _bulk_read(), reads), max_size=3)
    )
    if draw(st.integers(0, 3)) == 0:
        inner.append(Step("raise", "ValueError", ("escaped",)))
    return Step("context", "new_context", tuple(enter), kwargs, tuple(inner))


@st.composite
def examples(draw: st.DrawFn) -> Example:
    steps = st.one_of(_plain_steps(), _plain_steps(), _plain_steps(), _context())
    return Example(draw(st.booleans()), tuple(draw(st.lists(steps, min_size=1, max_size=10))))
