"""Drop-in compatibility with posthog 7.91.1's surface: constructor, flag methods, module API.

Every expectation is read from the installed reference with `inspect`, so the test follows the
oracle rather than a hand-written copy of it.
"""

from __future__ import annotations

import inspect
import logging
import re
import warnings
from collections.abc import Iterator
from typing import Any

import posthog
import pytest
from httpserver import LoopbackServer, Reply
from twin import REF_KEY, KitClient, Twin, definitions, flag, flags_response, record

import hogkit

REFERENCE_INIT = inspect.signature(posthog.Client.__init__)
REFERENCE_OPTIONS = [p for p in REFERENCE_INIT.parameters.values() if p.name != "self"]

# Options about AI observability, tracing, metrics and e-mail: outside hogkit's scope, so they
# are accepted and, when set, logged once as ignored.
IGNORED_OPTIONS: dict[str, Any] = {
    "privacy_mode": True,
    "enable_full_ai_capture": True,
    "_use_ai_lane": True,
    "_enable_multimodal_capture": True,
    "traces": {"service_name": "checkout"},
    "metrics": {"enabled": True},
    "app_host": "https://app.example.com",
    "email_request_timeout_seconds": 5,
    "email_request_max_retries": 0,
    "migrated_from": "resend",
}

FLAG_METHODS = [
    "get_feature_flag_result",
    "get_flags_decision",
    "get_remote_config_payload",
    "get_feature_flag_evaluation_runtime",
    "get_feature_flag_keys_by_evaluation_runtime",
    "get_feature_variants",
    "get_feature_payloads",
    "get_feature_flags_and_payloads",
    "feature_flag_definitions",
    "load_feature_flags",
    "join",
    "get_feature_flag",
    "feature_enabled",
    "get_feature_flag_payload",
    "get_all_flags",
    "get_all_flags_and_payloads",
    "evaluate_flags",
]

# Module-level functions of the reference that belong to AI capture and tracing.
MODULE_FUNCTIONS_OUT_OF_SCOPE = {"capture_ai", "start_span", "get_active_span"}


class DefinitionsCache:
    """A definitions cache provider that never holds anything (the fleet-sharing protocol)."""

    def get_flag_definitions(self) -> None:
        return None

    def should_fetch_flag_definitions(self) -> bool:
        return True

    def on_flag_definitions_received(self, data: Any) -> None:
        self.received = data

    def shutdown(self) -> None:
        return None


def plausible(name: str, default: Any, server: LoopbackServer) -> Any:
    """A value of the right type for a reference option: its default, or a typical setting."""
    values: dict[str, Any] = {
        "host": server.url,
        "on_error": lambda error, batch: None,
        "personal_api_key": "phx_personal",
        "secret_key": "phx_personal",
        "super_properties": {"app": "shop"},
        "project_root": "/srv/app",
        "before_send": lambda event: event,
        "flag_fallback_cache_url": "memory://local/?ttl=300&size=10000",
        "flag_definition_cache_provider": DefinitionsCache(),
        "code_variables_mask_patterns": ["password"],
        "code_variables_ignore_patterns": ["^_"],
        "code_variables_mask_url_credentials": True,
        "code_variables_detect_secrets": True,
        "in_app_modules": ["shop"],
        "capture_mode": "v0",
        "capture_compression": "gzip",
        "sync_mode": True,
        "poll_interval": 3600,
        "feature_flags_request_timeout_seconds": 0.5,
        **IGNORED_OPTIONS,
    }
    return values.get(name, default)


def kit_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and (r.name == "hogkit" or r.name.startswith("hogkit."))
    ]


@pytest.fixture
def server(loopback: LoopbackServer) -> Iterator[LoopbackServer]:
    loopback.script("/flags/definitions", then=loopback.default)
    yield loopback


def test_every_reference_option_is_accepted_and_the_client_works(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    options = {
        p.name: plausible(p.name, p.default, server)
        for p in REFERENCE_OPTIONS
        if p.name not in {"project_api_key"}
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = KitClient("phc_project", **options)
    try:
        client.capture("order placed", distinct_id="user-1", properties={"total": 3})
        client.flush()
        assert server.wait_for(lambda s: len(s.events()) == 1, timeout=5)
        event = server.events()[0]
        assert event["event"] == "order placed"
        assert event["properties"]["app"] == "shop"
    finally:
        client.shutdown()


@pytest.mark.parametrize("option", sorted(IGNORED_OPTIONS))
def test_an_ignored_option_logs_one_warning_naming_it(
    option: str, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hogkit")
    client = KitClient("phc_project", host=server.url, **{option: IGNORED_OPTIONS[option]})
    client.shutdown()
    naming = [m for m in kit_warnings(caplog) if option in m]
    assert len(naming) == 1, kit_warnings(caplog)


def test_all_ignored_options_together_log_one_warning_each(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hogkit")
    client = KitClient("phc_project", host=server.url, **IGNORED_OPTIONS)
    client.shutdown()
    messages = kit_warnings(caplog)
    for option in IGNORED_OPTIONS:
        assert len([m for m in messages if _names(m, option)]) == 1, (option, messages)


def _names(message: str, option: str) -> bool:
    """Whether `message` names `option` itself (not just an option whose name contains it)."""
    return re.search(rf"(?<![A-Za-z_]){re.escape(option)}(?![A-Za-z_])", message) is not None


def test_positional_order_is_the_references() -> None:
    kit = [p for p in inspect.signature(KitClient.__init__).parameters.values()]
    kit = [p for p in kit if p.name != "self"]
    positional = [p.name for p in REFERENCE_OPTIONS if p.kind is p.POSITIONAL_OR_KEYWORD]
    kit_positional = [p.name for p in kit if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert kit_positional[: len(positional)] == positional


def test_positional_arguments_mean_what_they_mean_in_the_reference(server: LoopbackServer) -> None:
    # project_api_key, host, debug, max_queue_size, send, on_error, flush_at, flush_interval,
    # gzip, max_retries, sync_mode: the last one makes capture deliver before it returns.
    args = ("phc_project", server.url, False, 10000, True, None, 100, 5.0, False, 3, True)
    names = [p.name for p in REFERENCE_OPTIONS][: len(args)]
    assert names[-1] == "sync_mode" and names[1] == "host"
    client = KitClient(*args)
    try:
        client.capture("signed up", distinct_id="user-1")
        assert [e["event"] for e in server.events()] == ["signed up"]
    finally:
        client.shutdown()


def test_posthog_alias_is_the_client() -> None:
    from hogkit import Posthog  # type: ignore[attr-defined]

    assert Posthog is KitClient


def _comparable(sig: inspect.Signature) -> tuple[list[Any], list[Any]]:
    """Positional parameters in order; keyword-only ones as a set (their order means nothing
    to a caller)."""
    params = [(p.name, p.kind, p.default) for p in sig.parameters.values()]
    keyword_only = sorted((p for p in params if p[1] is inspect.Parameter.KEYWORD_ONLY), key=str)
    return [p for p in params if p[1] is not inspect.Parameter.KEYWORD_ONLY], keyword_only


@pytest.mark.parametrize("method", FLAG_METHODS)
def test_flag_method_has_the_reference_signature(method: str) -> None:
    assert hasattr(KitClient, method), method
    reference = inspect.signature(getattr(posthog.Client, method))
    ours = inspect.signature(getattr(KitClient, method))
    assert _comparable(ours) == _comparable(reference)


@pytest.mark.parametrize("method", ["alias", "group_identify"])
def test_event_method_takes_the_reference_positional_arguments(method: str) -> None:
    """posthog-python's `alias` and `group_identify` take every argument by position too
    (`group_identify(type, key, props, timestamp)`): a migrated call must not raise."""
    reference = inspect.signature(getattr(posthog.Client, method))
    ours = inspect.signature(getattr(KitClient, method))
    assert _comparable(ours) == _comparable(reference)


def _reference_module_functions() -> list[str]:
    return sorted(
        name
        for name, value in vars(posthog).items()
        if inspect.isfunction(value) and value.__module__ == "posthog" and not name.startswith("_")
    )


def _reference_module_settings() -> list[str]:
    """The module attributes `setup()` builds the default client from (lower-case settings)."""
    return sorted(
        name
        for name, value in vars(posthog).items()
        if name.islower()
        and not name.startswith("_")
        and not callable(value)
        and not inspect.ismodule(value)
        and name not in {"default_client", "capture_mode"}
    )


@pytest.mark.parametrize(
    "name", [n for n in _reference_module_functions() if n not in MODULE_FUNCTIONS_OUT_OF_SCOPE]
)
def test_module_level_function_exists(name: str) -> None:
    assert callable(getattr(hogkit, name, None)), name


@pytest.mark.parametrize("name", _reference_module_settings())
def test_module_level_setting_exists_with_the_reference_default(name: str) -> None:
    assert hasattr(hogkit, name), name
    assert getattr(hogkit, name) == getattr(posthog, name)


@pytest.fixture
def module_state() -> Iterator[None]:
    """Restore both modules' settings and drop their default clients afterwards."""
    saved = {m: dict(vars(m)) for m in (posthog, hogkit)}
    try:
        yield
    finally:
        for module, values in saved.items():
            client = getattr(module, "default_client", None)
            if client is not None:
                client.shutdown()
            for name in ("api_key", "host", "sync_mode", "personal_api_key", "default_client"):
                if name in values:
                    setattr(module, name, values[name])
                elif hasattr(module, name):
                    delattr(module, name)


def test_module_level_capture_evaluate_flags_and_flush_match_the_reference(
    module_state: None,
) -> None:
    remote = Reply.json(flags_response(record("beta", True)))
    with Twin(remote=[remote], local=False) as twin:
        results = []
        for module, key in ((posthog, REF_KEY), (hogkit, "phc_hogkit")):
            module.api_key = key  # type: ignore[attr-defined]
            module.host = twin.server.url  # type: ignore[attr-defined]
            module.sync_mode = True  # type: ignore[attr-defined]
            module.capture("page viewed", distinct_id="user-1", properties={"path": "/"})  # type: ignore[attr-defined]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                flags = module.evaluate_flags("user-1")  # type: ignore[attr-defined]
            results.append((sorted(flags.keys), flags.is_enabled("beta")))
            module.flush()  # type: ignore[attr-defined]
        assert results[1] == results[0]
        assert twin.kit_events() == twin.ref_events()
        # `is_enabled` on the snapshot reports the read, in the reference as well.
        assert [e["event"] for e in twin.kit_events()] == ["page viewed", "$feature_flag_called"]


@pytest.mark.parametrize("retries", [0, 1, 2])
def test_flags_request_retries_follow_the_option(retries: int) -> None:
    """`feature_flags_request_max_retries`: how often a failed `/flags` request is retried."""
    options = {"feature_flags_request_max_retries": retries, "flags_timeout": 3.0}
    with Twin(remote=[Reply(502)], local=False, **options) as twin:
        twin.run(lambda c: c.get_feature_flag("beta", "user-1"))
        kit, ref = twin.requests("/flags/", "kit"), twin.requests("/flags/", "ref")
        assert len(kit) == len(ref) == retries + 1


@pytest.mark.parametrize(("option", "value"), [("thread", 0), ("capture_mode", "v1")])
def test_an_unsupported_value_logs_one_warning_naming_it(
    option: str, value: Any, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hogkit")
    KitClient("phc_project", host=server.url, **{option: value}).shutdown()
    assert len([m for m in kit_warnings(caplog) if _names(m, option)]) == 1
    caplog.clear()
    KitClient("phc_project", host=server.url).shutdown()
    assert not [m for m in kit_warnings(caplog) if _names(m, option)]


def test_module_level_client_rules_match_the_reference(module_state: None) -> None:
    """No key: the default client is disabled and sends nothing; `disabled` is re-applied on
    every call; after `shutdown()` the default client stays the shut-down one."""
    with Twin(local=False) as twin:
        for module in (posthog, hogkit):
            module.api_key = "  "  # type: ignore[attr-defined]
            module.host = twin.server.url  # type: ignore[attr-defined]
            module.sync_mode = True  # type: ignore[attr-defined]
            module.capture("ignored", distinct_id="user-1")  # type: ignore[attr-defined]
        ref, kit = posthog.default_client, hogkit.default_client  # type: ignore[attr-defined]
        assert kit is not None and kit.disabled is ref.disabled is True
        assert twin.server.requests("/batch/") == []
        for module in (posthog, hogkit):
            module.shutdown()  # type: ignore[attr-defined]
        assert posthog.default_client is ref
        assert hogkit.default_client is kit  # type: ignore[attr-defined]


def test_super_properties_changed_on_a_running_client_reach_the_events_after() -> None:
    """Events captured after `client.super_properties = ...` carry the new ones (flag
    events too) and `None` clears them, as posthog-python does; compared over HTTP."""

    def steps(client: Any) -> Any:
        client.capture("before", distinct_id="user-1", properties={"app": "own"})
        client.super_properties = {"app": "shop", "tier": 2}
        client.capture("after", distinct_id="user-1", properties={"app": "own"})
        client.evaluate_flags("user-1", only_evaluate_locally=True).get_flag("beta")
        shown = dict(client.super_properties)
        client.super_properties = None
        client.capture("cleared", distinct_id="user-1")
        return shown, client.super_properties

    with Twin(definitions(flag("beta"))) as twin:
        ref, kit = twin.run(steps)
        assert kit == ref == ({"app": "shop", "tier": 2}, None)
        events = twin.kit_events()
        assert [e["event"] for e in events] == [
            "before",
            "after",
            "$feature_flag_called",
            "cleared",
        ]
        assert events == twin.ref_events()
        assert events[1]["properties"]["app"] == "shop"
        assert events[2]["properties"]["tier"] == 2
        assert "tier" not in events[3]["properties"]


def test_super_properties_set_to_something_unusable_keep_the_ones_in_force(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="hogkit")
    client = KitClient("phc_project", host="http://127.0.0.1:9", send=False, sync_mode=True)
    try:
        client.super_properties = {"app": "shop"}
        client.super_properties = 5  # type: ignore[assignment]
        assert client.super_properties == {"app": "shop"}
        assert [m for m in kit_warnings(caplog) if "super_properties" in m]
    finally:
        client.shutdown(0.5)


OPTIONS_KEPT_AS_ATTRIBUTES = {
    "poll_interval": 12,
    "feature_flags_request_timeout_seconds": 2.5,
    "disable_geoip": False,
    "gzip": True,
    "max_retries": 5,
    "timeout": 7,
    "historical_migration": True,
    "privacy_mode": True,
    "log_captured_exceptions": True,
    "is_server": False,
    "feature_flags_request_max_retries": 3,
    "capture_exception_code_variables": True,
    "enable_local_evaluation": False,
}


def test_constructor_options_read_back_as_posthog_keeps_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """posthog-python keeps its options as attributes; hogkit answers the same names with
    the same values, and setting one it reads only when built warns instead of being
    silently ignored (or raising)."""
    caplog.set_level(logging.WARNING, logger="hogkit")
    options = {"host": "http://127.0.0.1:9", "send": False, **OPTIONS_KEPT_AS_ATTRIBUTES}
    ref = posthog.Client("phc_project", **options)
    client = KitClient("phc_project", sync_mode=True, **options)
    try:
        for name in OPTIONS_KEPT_AS_ATTRIBUTES:
            assert getattr(client, name) == getattr(ref, name), name
        client.poll_interval = 1
        assert client.poll_interval == 12  # what the running client uses
        assert [m for m in kit_warnings(caplog) if "poll_interval" in m]
        with pytest.raises(AttributeError):
            client.no_such_option  # noqa: B018
    finally:
        client.shutdown(0.5)
        ref.shutdown()


def test_in_app_modules_set_on_a_running_client_takes_none_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """posthog-python's default is None, which a settings loop may copy onto a client;
    a value the client cannot use falls back to none with a warning, as in the
    constructor, instead of raising into the application."""
    caplog.set_level(logging.WARNING, logger="hogkit")
    ref = posthog.Client("phc_project", host="http://127.0.0.1:9", send=False)
    client = KitClient("phc_project", host="http://127.0.0.1:9", send=False, sync_mode=True)
    try:
        client.in_app_modules = ["shop"]
        assert client.in_app_modules == ("shop",)
        client.in_app_modules = ref.in_app_modules
        assert ref.in_app_modules is None and client.in_app_modules == ()
        client.in_app_modules = 5  # type: ignore[assignment]
        assert client.in_app_modules == ()
        assert [m for m in kit_warnings(caplog) if _names(m, "in_app_modules")]
    finally:
        client.shutdown(0.5)
        ref.shutdown()


@pytest.mark.parametrize(
    ("option", "value"),
    [("flush_at", None), ("max_queue_size", "big"), ("in_app_modules", 5), ("host", 5)],
)
def test_an_unusable_value_falls_back_to_the_default_with_a_warning(
    option: str, value: Any, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A settings file with a bad value must not stop the application at start-up."""
    caplog.set_level(logging.WARNING, logger="hogkit")
    options = {"host": server.url, "sync_mode": True, option: value}
    if option == "host":  # it falls back to PostHog's own host: send nothing there
        options["send"] = False
    client = KitClient("phc_project", **options)
    try:
        assert [m for m in kit_warnings(caplog) if _names(m, option)]
        client.capture("still works", distinct_id="user-1")
        if option != "host":
            assert [e["event"] for e in server.events()] == ["still works"]
    finally:
        client.shutdown(0.5)


def test_every_constructor_parameter_reaches_the_options_value() -> None:
    """A parameter the options value lacks would be dropped silently."""
    from hogkit.transport.options import ClientOptions

    params = [p.name for p in inspect.signature(KitClient.__init__).parameters.values()]
    assert set(ClientOptions.__struct_fields__) == set(params) - {"self"}
