"""Every public top-level name of posthog 7.91.1 imports from `hogkit`, as the same kind of
thing, with the same values where it is an enum or a constant; the names hogkit leaves out
are listed here once, with the reason (and in the README's migration section)."""

from __future__ import annotations

import enum
import inspect
import sys
import threading
import types
import typing
import uuid
from collections.abc import Iterator
from typing import Any

import posthog
import pytest
import typing_extensions
from hogkit.core import Unresolved
from hogkit.core.legacy_reads import FlagDecision
from hogkit.transport import Client, FlagEvaluations, MemoryTransport
from hogkit.transport.async_client import AsyncClient
from hogkit.transport.before_send import BeforeSend
from hogkit.transport.definitions_cache import FlagDefinitionCacheProvider

import hogkit

OUT_OF_SCOPE: dict[str, str] = {
    "Span": "tracing is outside hogkit's scope",
    "start_span": "tracing is outside hogkit's scope",
    "get_active_span": "tracing is outside hogkit's scope",
    "capture_ai": "AI observability is outside hogkit's scope",
}
"""posthog-python's public names hogkit leaves out on purpose. Also left out, by rule: its
submodules (`posthog.client`, ...), the `inner_*` context functions its wrappers call, and
the typing names its `__init__` imports for itself (`Dict`, `Optional`, ...)."""


def _typing_reexport(name: str, value: Any) -> bool:
    return any(getattr(module, name, None) is value for module in (typing, typing_extensions))


def reference_names() -> list[str]:
    """posthog's public top-level names an application may import."""
    names = []
    for name in dir(posthog):
        value = getattr(posthog, name)
        if name.startswith("_") or name.startswith("inner_") or name in OUT_OF_SCOPE:
            continue
        if inspect.ismodule(value) or _typing_reexport(name, value):
            continue
        names.append(name)
    return names


def kind(value: Any) -> str:
    """What sort of thing a name is, as code importing it relies on. Aliases first: on
    Python 3.10 a parametrized `collections.abc` alias also passes `isinstance(..., type)`."""
    if isinstance(value, types.UnionType) or typing.get_origin(value) is not None:
        return "type alias"
    if isinstance(value, type):
        if issubclass(value, enum.Enum):
            return "enum"
        if typing_extensions.is_typeddict(value):  # posthog builds some with typing_extensions
            return "typed dict"
        if issubclass(value, BaseException):
            return "exception"
        return "class"
    if callable(value):
        return "function"
    return "constant"


def test_the_reference_has_names_to_compare() -> None:
    names = reference_names()
    assert {"AsyncPosthog", "set_socket_options", "FlagValue", "VERSION"} <= set(names)
    assert not set(OUT_OF_SCOPE) - set(dir(posthog))  # the list names only real names


@pytest.mark.parametrize("name", reference_names())
def test_name_exists_as_the_same_kind(name: str) -> None:
    assert hasattr(hogkit, name), name
    assert kind(getattr(hogkit, name)) == kind(getattr(posthog, name))


@pytest.mark.parametrize("name", [n for n in reference_names() if n in dir(hogkit)])
def test_name_is_importable_and_listed(name: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"from hogkit import {name}", namespace)
    assert namespace[name] is getattr(hogkit, name)
    assert name in hogkit.__all__ or name.islower()  # settings are attributes, not exports


def test_out_of_scope_names_are_absent() -> None:
    for name in OUT_OF_SCOPE:
        assert not hasattr(hogkit, name), name


@pytest.mark.parametrize(
    "name", [n for n in reference_names() if kind(getattr(posthog, n)) == "enum"]
)
def test_enum_members_match(name: str) -> None:
    ours, theirs = getattr(hogkit, name), getattr(posthog, name)
    assert [(m.name, m.value) for m in ours] == [(m.name, m.value) for m in theirs]
    assert all(m == m.value for m in ours)  # members compare equal to their strings


@pytest.mark.parametrize(
    "name", [n for n in reference_names() if kind(getattr(posthog, n)) == "constant"]
)
def test_constant_values_match(name: str) -> None:
    ours, theirs = getattr(hogkit, name), getattr(posthog, name)
    if name == "VERSION":  # each library reports its own version
        assert ours == hogkit.__version__ and isinstance(theirs, str)
    else:
        assert ours == theirs
        assert type(ours) is type(theirs)  # lists stay lists: `+ ["mine"]` still works


@pytest.mark.parametrize(
    "name", [n for n in reference_names() if kind(getattr(posthog, n)) == "typed dict"]
)
def test_typed_dict_keys_match(name: str) -> None:
    """Same required and optional keys (posthog's underscore keys are its internals)."""
    ours, theirs = getattr(hogkit, name), getattr(posthog, name)

    def public(keys: frozenset[str]) -> set[str]:
        return {key for key in keys if not key.startswith("_")}

    assert set(ours.__required_keys__ | ours.__optional_keys__) == public(
        theirs.__required_keys__ | theirs.__optional_keys__
    )
    if sys.version_info >= (
        3,
        11,
    ):  # 3.10's `typing.TypedDict` reads `NotRequired` keys as required
        assert set(ours.__required_keys__) == public(theirs.__required_keys__)
        assert set(ours.__optional_keys__) == public(theirs.__optional_keys__)


@pytest.mark.parametrize("name", ["ID_TYPES", "FlagValue"])
def test_union_aliases_admit_the_same_types(name: str) -> None:
    ours, theirs = getattr(hogkit, name), getattr(posthog, name)
    assert set(typing.get_args(ours)) == set(typing.get_args(theirs))


def test_capture_and_set_take_every_typed_keyword() -> None:
    capture = inspect.signature(Client.capture).parameters
    person = inspect.signature(Client.set).parameters
    assert set(hogkit.OptionalCaptureArgs.__optional_keys__) <= set(capture)
    assert set(hogkit.OptionalSetArgs.__optional_keys__) <= set(person)


def test_aliases_are_hogkit_classes() -> None:
    assert hogkit.Posthog is Client
    assert hogkit.AsyncPosthog is AsyncClient
    assert hogkit.FeatureFlagEvaluations is FlagEvaluations
    assert hogkit.UnresolvedFlagReason is Unresolved
    assert hogkit.FeatureFlag is FlagDecision
    assert hogkit.BeforeSendCallback is BeforeSend
    assert hogkit.FlagDefinitionCacheProvider is FlagDefinitionCacheProvider


class _Provider:
    """A definitions cache written against posthog-python's protocol."""

    def get_flag_definitions(self) -> None:
        return None

    def should_fetch_flag_definitions(self) -> bool:
        return True

    def on_flag_definitions_received(self, data: Any) -> None:
        return None

    def shutdown(self) -> None:
        return None


def test_a_provider_satisfies_both_protocols() -> None:
    assert isinstance(_Provider(), posthog.FlagDefinitionCacheProvider)
    assert isinstance(_Provider(), hogkit.FlagDefinitionCacheProvider)
    assert not isinstance(object(), hogkit.FlagDefinitionCacheProvider)


@pytest.mark.parametrize("name", ["InconclusiveMatchError", "RequiresServerEvaluation"])
def test_never_raised_exceptions_carry_a_reason_like_the_reference(name: str) -> None:
    ours, theirs = getattr(hogkit, name), getattr(posthog, name)
    assert ours.reason == theirs.reason  # the class default
    made = ours("flag x", reason=Unresolved.MISSING_CONTEXT)
    reference = theirs("flag x", reason=posthog.UnresolvedFlagReason.MISSING_CONTEXT)
    assert (made.args, made.reason) == (reference.args, reference.reason)
    assert not issubclass(ours, hogkit.HogkitError)  # not one hogkit raises
    assert "never raises" in (ours.__doc__ or "")


def test_evaluation_runtime_answers_with_enum_members() -> None:
    flags = [
        {"key": key, "active": True, "filters": {"groups": []}, "evaluation_runtime": runtime}
        for key, runtime in (("on-server", "server"), ("anywhere", None), ("odd", "moon"))
    ]
    client = Client(
        "phc_test", transport=MemoryTransport(), flag_definitions={"flags": flags}, sync_mode=True
    )
    try:
        runtime = hogkit.FeatureFlagEvaluationRuntime
        assert client.get_feature_flag_evaluation_runtime("on-server") is runtime.SERVER
        assert client.get_feature_flag_evaluation_runtime("anywhere") is runtime.ALL
        assert client.get_feature_flag_evaluation_runtime("odd") is runtime.ALL
        assert client.get_feature_flag_evaluation_runtime("missing") is None
        assert client.get_feature_flag_evaluation_runtime("on-server") == "server"
    finally:
        client.shutdown()


@pytest.fixture
def quiet_excepthook() -> Iterator[None]:
    previous = sys.excepthook
    sys.excepthook = lambda *args: None
    try:
        yield
    finally:
        sys.excepthook = previous


def _raise_uncaught(count: int) -> None:
    for _ in range(count):
        try:
            raise ValueError("uncaught")
        except ValueError as exc:
            sys.excepthook(ValueError, exc, exc.__traceback__)


@pytest.mark.usefixtures("quiet_excepthook")
def test_exception_capture_takes_the_reference_constructor() -> None:
    """Installed by hand with posthog-python's keywords: hooks, rate limit, and close."""
    memory = MemoryTransport()
    client = Client("phc_test", sync_mode=True, transport=memory)
    before_sys, before_thread = sys.excepthook, threading.excepthook
    capture = hogkit.ExceptionCapture(
        client, rate_limiting_enabled=True, bucket_size=3, refill_rate=1, refill_interval_seconds=60
    )
    try:
        assert sys.excepthook is not before_sys
        _raise_uncaught(5)
    finally:
        capture.close()
        client.shutdown()
    assert [e["event"] for e in memory.events] == ["$exception", "$exception"]
    assert (sys.excepthook, threading.excepthook) == (before_sys, before_thread)


def test_distinct_id_types_are_what_capture_sends() -> None:
    memory = MemoryTransport()
    client = Client("phc_test", sync_mode=True, transport=memory)
    ids: list[Any] = [7, "user", uuid.UUID(int=1)]
    try:
        for distinct_id in ids:
            assert isinstance(distinct_id, typing.get_args(hogkit.ID_TYPES))
            client.capture("typed", distinct_id=distinct_id)
    finally:
        client.shutdown()
    assert [e["distinct_id"] for e in memory.events] == [str(i) for i in ids]


@pytest.mark.parametrize(
    "name", ["set_socket_options", "enable_keep_alive", "disable_connection_reuse"]
)
def test_socket_functions_take_the_reference_parameters(name: str) -> None:
    def shape(function: Any) -> list[tuple[str, Any, Any]]:
        parameters = inspect.signature(function).parameters.values()
        return [(p.name, p.kind, p.default) for p in parameters]

    assert shape(getattr(hogkit, name)) == shape(getattr(posthog, name))


@pytest.mark.parametrize(
    ("value", "payload"),
    [(True, '{"a": [1, 2]}'), (False, None), ("test", '"text"'), (None, "1"), ("x", "not json")],
)
def test_feature_flag_result_builds_from_a_value_and_payload_as_the_reference_does(
    value: bool | str | None, payload: str | None
) -> None:
    ours = hogkit.FeatureFlagResult.from_value_and_payload("flag", value, payload)
    theirs = posthog.FeatureFlagResult.from_value_and_payload("flag", value, payload)
    if theirs is None:
        assert ours is None
        return
    assert ours is not None
    assert (ours.key, ours.enabled, ours.variant, ours.payload, ours.reason) == (
        theirs.key,
        theirs.enabled,
        theirs.variant,
        theirs.payload,
        theirs.reason,
    )
    assert ours.get_value() == theirs.get_value()
