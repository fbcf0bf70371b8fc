"""The module-level API: `hogkit.api_key = "phc_..."; hogkit.capture(...)`.

Scripts and older applications configure the package itself and call functions on it;
those calls go to one default client, built on first use from the settings on the
`hogkit` module. Settings that shape the client (`api_key`, `host`, ...) are read once,
when it is built; `disabled`, `debug` and `before_send` are applied again on every call,
so flipping them at run time works as it always has. `shutdown()` ends the default
client for good (it is not rebuilt), `flush()` keeps it usable.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from hogkit.core.legacy_reads import FeatureFlagResult
from hogkit.core.options import CODE_VARIABLES_IGNORE_DEFAULT, CODE_VARIABLES_MASK_DEFAULT

from hogkit.module_functions import MODULE_FUNCTIONS, MODULE_METHODS

from . import contexts
from .client import Client
from .evaluations import FlagEvaluations
from .flag_query import GroupProperties, Groups

__all__ = ["MODULE_METHODS", *MODULE_FUNCTIONS]

# Settings read once, when the default client is built: (module setting, Client option).
_BUILD_SETTINGS = (
    ("host", "host"),
    ("debug", "debug"),
    ("on_error", "on_error"),
    ("send", "send"),
    ("sync_mode", "sync_mode"),
    ("secret_key", "secret_key"),
    ("personal_api_key", "personal_api_key"),
    ("poll_interval", "poll_interval"),
    ("disabled", "disabled"),
    ("disable_geoip", "disable_geoip"),
    ("is_server", "is_server"),
    ("feature_flags_request_timeout_seconds", "feature_flags_request_timeout_seconds"),
    ("feature_flags_request_max_retries", "feature_flags_request_max_retries"),
    ("super_properties", "super_properties"),
    ("metrics", "metrics"),
    ("traces", "traces"),
    ("enable_exception_autocapture", "enable_exception_autocapture"),
    ("log_captured_exceptions", "log_captured_exceptions"),
    ("project_root", "project_root"),
    ("privacy_mode", "privacy_mode"),
    ("before_send", "before_send"),
    ("enable_local_evaluation", "enable_local_evaluation"),
    ("flag_definition_cache_provider", "flag_definition_cache_provider"),
    ("capture_exception_code_variables", "capture_exception_code_variables"),
    ("capture_trace_context", "capture_trace_context"),
    ("in_app_modules", "in_app_modules"),
    ("enable_exception_autocapture_rate_limiting", "enable_exception_autocapture_rate_limiting"),
    ("exception_autocapture_bucket_size", "exception_autocapture_bucket_size"),
    ("exception_autocapture_refill_rate", "exception_autocapture_refill_rate"),
    (
        "exception_autocapture_refill_interval_seconds",
        "exception_autocapture_refill_interval_seconds",
    ),
    ("capture_mode", "capture_mode"),
)

# Options whose module default is a list of patterns: passed on only when changed, so the
# client keeps its own defaults (the module lists are the posthog-python names' values).
_PATTERN_SETTINGS: dict[str, Any] = {
    "code_variables_mask_patterns": list(CODE_VARIABLES_MASK_DEFAULT),
    "code_variables_ignore_patterns": list(CODE_VARIABLES_IGNORE_DEFAULT),
    "code_variables_mask_url_credentials": True,
    "code_variables_detect_secrets": True,
}

_lock = threading.RLock()

log = logging.getLogger("hogkit")


def _settings() -> ModuleType:
    return sys.modules["hogkit"]


def _key(settings: ModuleType) -> str:
    """`project_api_key` if set, else `api_key` (both trimmed)."""
    for name in ("project_api_key", "api_key"):
        value = getattr(settings, name, None)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _build(settings: ModuleType) -> Client:
    # Every setting as the application left it, None included: `disable_geoip = None` is
    # not the Client's default (True), and posthog-python hands the client None too.
    options: dict[str, Any] = {
        option: getattr(settings, name, None) for name, option in _BUILD_SETTINGS
    }
    for name, default in _PATTERN_SETTINGS.items():
        value = getattr(settings, name, None)
        if value is not None and value != default:
            options[name] = value
    return Client(_key(settings), **options)


def setup() -> Client:
    """The default client, built from the module settings on first use.

    Every call re-applies `disabled` (also when the key is empty), `debug` and
    `before_send` from the settings.
    """
    settings = _settings()
    with _lock:
        client = getattr(settings, "default_client", None)
        if not client:  # unset, or cleared with any false value (None, False, 0)
            client = _build(settings)
            setattr(settings, "default_client", client)  # noqa: B010 - a module's setting
        client.disabled = bool(getattr(settings, "disabled", False)) or not client.api_key
        client.debug = bool(getattr(settings, "debug", False))
        client.before_send = getattr(settings, "before_send", None)
        return client


def _proxy(name: str) -> Callable[..., Any]:
    """A module function calling the default client's method `name`, with its signature."""
    method = getattr(Client, name)

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(setup(), name)(*args, **kwargs)

    try:
        signature = inspect.signature(method)
        params = list(signature.parameters.values())[1:]  # without `self`
        call.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        pass
    call.__module__ = "hogkit"
    return call


capture = _proxy("capture")
set = _proxy("set")
set_once = _proxy("set_once")
identify = _proxy("identify")
group_identify = _proxy("group_identify")
alias = _proxy("alias")
capture_exception = _proxy("capture_exception")
get_remote_config_payload = _proxy("get_remote_config_payload")
feature_flag_definitions = _proxy("feature_flag_definitions")
get_feature_flag_evaluation_runtime = _proxy("get_feature_flag_evaluation_runtime")
get_feature_flag_keys_by_evaluation_runtime = _proxy("get_feature_flag_keys_by_evaluation_runtime")
load_feature_flags = _proxy("load_feature_flags")
join = _proxy("join")


# The flag reads. Unlike the Client's methods, posthog-python's module functions take every
# argument by position as well (`hogkit.get_feature_flag("beta", user, {"company": "acme"})`),
# and its `get_feature_flag_payload` reports the read by default; these keep both.


def feature_enabled(
    key: str,
    distinct_id: Any,
    groups: Groups = None,
    person_properties: Mapping[str, Any] | None = None,
    group_properties: GroupProperties = None,
    only_evaluate_locally: bool = False,
    send_feature_flag_events: bool = True,
    disable_geoip: bool | None = None,
    device_id: str | None = None,
) -> bool | None:
    """Deprecated: `evaluate_flags(...).is_enabled(key)`, on the default client."""
    return setup().feature_enabled(
        key,
        distinct_id,
        groups=groups,
        person_properties=person_properties,
        group_properties=group_properties,
        only_evaluate_locally=only_evaluate_locally,
        send_feature_flag_events=send_feature_flag_events,
        disable_geoip=disable_geoip,
        device_id=device_id,
    )


def get_feature_flag(
    key: str,
    distinct_id: Any,
    groups: Groups = None,
    person_properties: Mapping[str, Any] | None = None,
    group_properties: GroupProperties = None,
    only_evaluate_locally: bool = False,
    send_feature_flag_events: bool = True,
    disable_geoip: bool | None = None,
    device_id: str | None = None,
) -> bool | str | None:
    """Deprecated: `evaluate_flags(...).get_flag(key)`, on the default client."""
    return setup().get_feature_flag(
        key,
        distinct_id,
        groups=groups,
        person_properties=person_properties,
        group_properties=group_properties,
        only_evaluate_locally=only_evaluate_locally,
        send_feature_flag_events=send_feature_flag_events,
        disable_geoip=disable_geoip,
        device_id=device_id,
    )


def get_feature_flag_result(
    key: str,
    distinct_id: Any,
    groups: Groups = None,
    person_properties: Mapping[str, Any] | None = None,
    group_properties: GroupProperties = None,
    only_evaluate_locally: bool = False,
    send_feature_flag_events: bool = True,
    disable_geoip: bool | None = None,
    device_id: str | None = None,
) -> FeatureFlagResult | None:
    """Deprecated: the flag's value, payload and reason, on the default client."""
    return setup().get_feature_flag_result(
        key,
        distinct_id,
        groups=groups,
        person_properties=person_properties,
        group_properties=group_properties,
        only_evaluate_locally=only_evaluate_locally,
        send_feature_flag_events=send_feature_flag_events,
        disable_geoip=disable_geoip,
        device_id=device_id,
    )


def get_feature_flag_payload(
    key: str,
    distinct_id: Any,
    match_value: bool | str | None = None,
    groups: Groups = None,
    person_properties: Mapping[str, Any] | None = None,
    group_properties: GroupProperties = None,
    only_evaluate_locally: bool = False,
    send_feature_flag_events: bool = True,
    disable_geoip: bool | None = None,
    device_id: str | None = None,
) -> Any:
    """Deprecated: `evaluate_flags(...).get_flag_payload(key)`, on the default client.
    Reports the read unless `send_feature_flag_events=False` (the Client's method does
    not by default)."""
    return setup().get_feature_flag_payload(
        key,
        distinct_id,
        match_value=match_value,
        groups=groups,
        person_properties=person_properties,
        group_properties=group_properties,
        only_evaluate_locally=only_evaluate_locally,
        send_feature_flag_events=send_feature_flag_events,
        disable_geoip=disable_geoip,
        device_id=device_id,
    )


def get_all_flags(
    distinct_id: Any,
    groups: Groups = None,
    person_properties: Mapping[str, Any] | None = None,
    group_properties: GroupProperties = None,
    only_evaluate_locally: bool = False,
    disable_geoip: bool | None = None,
    device_id: str | None = None,
    flag_keys_to_evaluate: Sequence[str] | None = None,
) -> dict[str, bool | str] | None:
    """Deprecated: every flag's value for a person, on the default client."""
    return setup().get_all_flags(
        distinct_id,
        groups=groups,
        person_properties=person_properties,
        group_properties=group_properties,
        only_evaluate_locally=only_evaluate_locally,
        disable_geoip=disable_geoip,
        device_id=device_id,
        flag_keys_to_evaluate=flag_keys_to_evaluate,
    )


def get_all_flags_and_payloads(
    distinct_id: Any,
    groups: Groups = None,
    person_properties: Mapping[str, Any] | None = None,
    group_properties: GroupProperties = None,
    only_evaluate_locally: bool = False,
    disable_geoip: bool | None = None,
    device_id: str | None = None,
    flag_keys_to_evaluate: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Deprecated: every flag's value and stored payload for a person, on the default client."""
    return setup().get_all_flags_and_payloads(
        distinct_id,
        groups=groups,
        person_properties=person_properties,
        group_properties=group_properties,
        only_evaluate_locally=only_evaluate_locally,
        disable_geoip=disable_geoip,
        device_id=device_id,
        flag_keys_to_evaluate=flag_keys_to_evaluate,
    )


def evaluate_flags(
    distinct_id: Any = None,
    groups: Groups = None,
    person_properties: Mapping[str, Any] | None = None,
    group_properties: GroupProperties = None,
    only_evaluate_locally: bool = False,
    disable_geoip: bool | None = None,
    flag_keys: Sequence[str] | None = None,
    device_id: str | None = None,
) -> FlagEvaluations:
    """One snapshot of a person's flags (see `Client.evaluate_flags`), on the default client."""
    return setup().evaluate_flags(
        distinct_id,
        groups=groups,
        person_properties=person_properties,
        group_properties=group_properties,
        only_evaluate_locally=only_evaluate_locally,
        disable_geoip=disable_geoip,
        flag_keys=flag_keys,
        device_id=device_id,
    )


# The context setters posthog-python also offers as module functions.
set_capture_exception_code_variables_context = contexts.set_capture_exception_code_variables_context
set_code_variables_detect_secrets_context = contexts.set_code_variables_detect_secrets_context
set_code_variables_ignore_patterns_context = contexts.set_code_variables_ignore_patterns_context
set_code_variables_mask_patterns_context = contexts.set_code_variables_mask_patterns_context
set_code_variables_mask_url_credentials_context = (
    contexts.set_code_variables_mask_url_credentials_context
)


def flush(timeout_seconds: float | None = 10) -> bool:
    """Send what the default client holds, within `timeout_seconds`; it stays usable."""
    return setup().flush(10.0 if timeout_seconds is None else timeout_seconds)


def shutdown() -> bool:
    """Flush and shut the default client down for good (it is not built again)."""
    return setup().shutdown()
