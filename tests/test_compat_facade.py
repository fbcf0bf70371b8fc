"""The module-level API (`hogkit.api_key = ...; hogkit.get_feature_flag(...)`) side by side
with posthog 7.91.1's: the same parameters in the same positions, and the same answers and
events for calls that pass them by position. Every expectation is the reference's, run in
the same test against the same loopback server."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import posthog
import pytest
from httpserver import Reply
from twin import (
    KIT_KEY,
    REF_KEY,
    SECRET,
    Twin,
    definitions,
    event_differences,
    flag,
    flags_response,
    person_rule,
    record,
)

import hogkit

_SETTINGS = (
    "api_key",
    "host",
    "sync_mode",
    "personal_api_key",
    "poll_interval",
    "feature_flags_request_timeout_seconds",
    "enable_exception_autocapture",
    "default_client",
)


@pytest.fixture
def modules() -> Iterator[None]:
    """Restore both modules' settings and shut their default clients down afterwards."""
    saved = {m: {n: vars(m)[n] for n in _SETTINGS if n in vars(m)} for m in (posthog, hogkit)}
    try:
        yield
    finally:
        for module, values in saved.items():
            client = getattr(module, "default_client", None)
            if client:
                client.shutdown()
            for name in _SETTINGS:
                if name in values:
                    setattr(module, name, values[name])
                elif hasattr(module, name):
                    delattr(module, name)


def _parameters(function: Callable[..., Any]) -> list[tuple[str, str, Any]]:
    return [
        (p.name, p.kind.name, p.default)
        for p in inspect.signature(function).parameters.values()
        if p.kind is not inspect.Parameter.VAR_KEYWORD
    ]


def _reference_functions_with_named_parameters() -> list[str]:
    """posthog's module functions that name their parameters (not `**kwargs` alone)."""
    names = []
    for name in dir(posthog):
        value = getattr(posthog, name)
        if name.startswith("_") or not inspect.isfunction(value) or not hasattr(hogkit, name):
            continue
        if _parameters(value):
            names.append(name)
    return names


@pytest.mark.parametrize("name", _reference_functions_with_named_parameters())
def test_module_function_takes_the_reference_parameters_in_order(name: str) -> None:
    """Each named parameter of the reference's function is hogkit's too, at the same
    position, of the same kind, with the same default (hogkit may add more after them)."""
    reference = _parameters(getattr(posthog, name))
    ours = _parameters(getattr(hogkit, name))
    assert ours[: len(reference)] == reference


DOC = definitions(
    flag("on", 1, payloads={"true": '{"x": 1}'}),
    flag(
        "gated", 2, groups=[{"properties": [person_rule("plan", "pro")], "rollout_percentage": 100}]
    ),
)
ANSWER = flags_response(
    record("on", True, fid=1, payload='{"x": 1}'), record("gated", "arm", fid=2, payload="[1,2]")
)
PRO = {"plan": "pro"}


def _plain(value: Any) -> Any:
    if isinstance(value, (posthog.FeatureFlagEvaluations, hogkit.FlagEvaluations)):
        return sorted(value.keys), [value.get_flag(k) for k in ("on", "gated")]
    if hasattr(value, "enabled"):  # a FeatureFlagResult
        return value.key, value.enabled, value.variant, value.payload
    return value


# Calls an application makes on the module, arguments by position.
CALLS: dict[str, Callable[[Any], Any]] = {
    "get_feature_flag groups": lambda m: m.get_feature_flag("on", "u1", {"company": "a"}),
    "get_feature_flag person": lambda m: m.get_feature_flag("gated", "u1", None, PRO),
    "get_feature_flag every option": lambda m: m.get_feature_flag(
        "gated", "u1", {}, PRO, {}, True, False, True, "device-1"
    ),
    "feature_enabled": lambda m: m.feature_enabled("gated", "u1", None, PRO),
    "get_feature_flag_result": lambda m: m.get_feature_flag_result("gated", "u1", None, PRO),
    "get_feature_flag_payload": lambda m: m.get_feature_flag_payload("on", "u1"),
    "get_feature_flag_payload match value": lambda m: m.get_feature_flag_payload("on", "u1", True),
    "get_feature_flag_payload person": lambda m: m.get_feature_flag_payload(
        "gated", "u1", None, None, PRO
    ),
    "get_all_flags": lambda m: m.get_all_flags("u1", None, PRO),
    "get_all_flags_and_payloads": lambda m: m.get_all_flags_and_payloads("u1", None, PRO),
    "evaluate_flags": lambda m: m.evaluate_flags("u1", None, PRO),
}


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_module_flag_read_by_position(call: str, modules: None) -> None:
    with Twin(DOC, [Reply.json(ANSWER)]) as twin:
        results = []
        for module, key in ((posthog, REF_KEY), (hogkit, KIT_KEY)):
            module.api_key = key  # type: ignore[attr-defined]
            module.host = twin.server.url  # type: ignore[attr-defined]
            module.sync_mode = True  # type: ignore[attr-defined]
            module.personal_api_key = SECRET  # type: ignore[attr-defined]
            module.poll_interval = 3600  # type: ignore[attr-defined]
            module.feature_flags_request_timeout_seconds = 0.4  # type: ignore[attr-defined]
            module.default_client = None  # type: ignore[attr-defined]
            module.load_feature_flags()  # type: ignore[attr-defined]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                results.append(_plain(CALLS[call](module)))
            module.flush()  # type: ignore[attr-defined]
        assert results[1] == results[0]
        ref, kit = twin.ref_events(), twin.kit_events()
        assert kit == ref, event_differences(ref, kit)


def _exceptions(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each event's name, distinct id (None for a fresh anonymous one) and exception type."""
    out = []
    for event in events:
        props = event["properties"]
        anonymous = props.get("$process_person_profile") is False
        kinds = [e["type"] for e in props.get("$exception_list", [])]
        out.append((event["event"], None if anonymous else event["distinct_id"], kinds))
    return out


def test_contexts_without_a_client_use_an_assigned_default_client(modules: None) -> None:
    """`posthog.default_client = client`: module-level contexts and `scoped` send the
    exceptions escaping them to it."""
    with Twin(local=False) as twin:
        for module, client in ((posthog, twin.ref), (hogkit, twin.kit)):
            module.default_client = client  # type: ignore[attr-defined]
            with pytest.raises(ValueError), module.new_context(capture_exceptions=True):  # type: ignore[attr-defined]
                module.identify_context("user-1")  # type: ignore[attr-defined]
                raise ValueError("escaped")

            @module.scoped(capture_exceptions=True)  # type: ignore[attr-defined,misc]
            def job() -> None:
                raise KeyError("escaped a scoped function")

            with pytest.raises(KeyError):
                job()
        ref, kit = _exceptions(twin.ref_events()), _exceptions(twin.kit_events())
        assert len(ref) == 2
        assert kit == ref


def test_contexts_without_a_client_build_the_module_client(modules: None) -> None:
    """With `api_key` (and `enable_exception_autocapture`) set and no module call made
    yet, an exception escaping a module-level context builds the default client and is
    sent, as posthog-python's module-level capture does."""
    with Twin(local=False) as twin:
        for module, key in ((posthog, REF_KEY), (hogkit, KIT_KEY)):
            module.api_key = key  # type: ignore[attr-defined]
            module.host = twin.server.url  # type: ignore[attr-defined]
            module.sync_mode = True  # type: ignore[attr-defined]
            module.enable_exception_autocapture = True  # type: ignore[attr-defined]
            module.default_client = None  # type: ignore[attr-defined]
            with pytest.raises(ValueError), module.new_context():  # type: ignore[attr-defined]
                module.identify_context("user-1")  # type: ignore[attr-defined]
                raise ValueError("escaped")
            module.flush()  # type: ignore[attr-defined]
        ref, kit = _exceptions(twin.ref_events()), _exceptions(twin.kit_events())
        assert ref == [("$exception", "user-1", ["ValueError"])]
        assert kit == ref
