"""hogkit: a fast PostHog SDK for Python, with local flag evaluation at its core.

This package is the public surface: everything an application needs is importable from
here (`from hogkit import Client, FlagSet`). `hogkit.core` is the pure engine (no I/O) and
`hogkit.transport` the shell that adds the clock, threads and the network around it.

The context functions (`new_context`, `tag`, `identify_context`, ...) work without a
client: events captured inside a context, on any client, get its values.

Names are imported on first use, so `import hogkit.core` on its own still loads no
networking or threading modules.

posthog-python's module-level API works here too: set `hogkit.api_key` (and `host`, ...),
then call `hogkit.capture(...)`, `hogkit.evaluate_flags(...)`, `hogkit.flush()`; the
calls go to a default client built from these settings on first use (`default_client`).
`Posthog` is another name for `Client`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hogkit.core.options import CODE_VARIABLES_IGNORE_DEFAULT, CODE_VARIABLES_MASK_DEFAULT
from hogkit.core.version import __version__
from hogkit.module_functions import MODULE_FUNCTIONS

if TYPE_CHECKING:
    from hogkit.core import (
        DefinitionsError,
        Event,
        FlagResult,
        FlagSet,
        HogkitError,
        InvalidEvent,
        Problem,
        Reason,
        Snapshot,
        Unresolved,
    )
    from hogkit.core.legacy_reads import FeatureFlagResult
    from hogkit.transport import (
        Client,
        FileTransport,
        FlagEvaluations,
        FlagsTransport,
        HttpFlagsTransport,
        HttpTransport,
        MemoryTransport,
        SendResult,
        Transport,
    )
    from hogkit.transport import Client as Posthog
    from hogkit.transport.async_client import (
        AsyncClient,
    )
    from hogkit.transport.async_http import (
        AsyncTransport,
    )
    from hogkit.transport.contexts import (
        get_context_device_id,
        get_context_distinct_id,
        get_context_session_id,
        get_tags,
        identify_context,
        new_context,
        scoped,
        set_context_device_id,
        set_context_session,
        tag,
    )
    from hogkit.transport.errors import (
        DeliveryFailed,
        EventTooLarge,
        QueueFull,
    )
    from hogkit.transport.hosts import (
        InvalidHost,
    )
    from hogkit.transport.http import (
        HttpError,
        NetworkError,
        StatusError,
    )
    from hogkit.transport.module_api import (
        alias,
        capture,
        capture_exception,
        evaluate_flags,
        feature_enabled,
        feature_flag_definitions,
        flush,
        get_all_flags,
        get_all_flags_and_payloads,
        get_feature_flag,
        get_feature_flag_evaluation_runtime,
        get_feature_flag_keys_by_evaluation_runtime,
        get_feature_flag_payload,
        get_feature_flag_result,
        get_remote_config_payload,
        group_identify,
        identify,
        join,
        load_feature_flags,
        set,
        set_capture_exception_code_variables_context,
        set_code_variables_detect_secrets_context,
        set_code_variables_ignore_patterns_context,
        set_code_variables_mask_patterns_context,
        set_code_variables_mask_url_credentials_context,
        set_once,
        setup,
        shutdown,
    )

# -- module settings: the default client is built from these on first use (see setup()) --
api_key: str | None = None
project_api_key: str | None = None
host: str | None = None
on_error: Any = None
debug: bool = False
send: bool = True
sync_mode: bool = False
disabled: bool = False
secret_key: str | None = None
personal_api_key: str | None = None
poll_interval: float = 30
disable_geoip: bool = True
is_server: bool = True
feature_flags_request_timeout_seconds: float = 3
feature_flags_request_max_retries: int = 1
super_properties: dict[str, Any] | None = None
enable_local_evaluation: bool = True
before_send: Any = None
project_root: str | None = None
in_app_modules: list[str] | None = None
flag_definition_cache_provider: Any = None
capture_mode: Any = None
enable_exception_autocapture: bool = False
log_captured_exceptions: bool = False
enable_exception_autocapture_rate_limiting: bool = False
exception_autocapture_bucket_size: int = 50
exception_autocapture_refill_rate: float = 10
exception_autocapture_refill_interval_seconds: float = 10
capture_exception_code_variables: bool = False
code_variables_mask_patterns: list[str] = list(CODE_VARIABLES_MASK_DEFAULT)
code_variables_ignore_patterns: list[str] = list(CODE_VARIABLES_IGNORE_DEFAULT)
code_variables_mask_url_credentials: bool = True
code_variables_detect_secrets: bool = True
# Accepted for compatibility; outside hogkit's scope (a set one is logged as ignored).
privacy_mode: bool = False
enable_full_ai_capture: bool = False
capture_trace_context: bool = False
metrics: Any = None
traces: Any = None
default_client: Any = None
"""The client module-level calls use; None until the first call builds it."""

_HOMES: dict[str, str] = {
    "FeatureFlagResult": "hogkit.core.legacy_reads",
    "DefinitionsError": "hogkit.core",
    "Event": "hogkit.core",
    "FlagResult": "hogkit.core",
    "FlagSet": "hogkit.core",
    "HogkitError": "hogkit.core",
    "InvalidEvent": "hogkit.core",
    "Problem": "hogkit.core",
    "Reason": "hogkit.core",
    "Snapshot": "hogkit.core",
    "Unresolved": "hogkit.core",
    "Client": "hogkit.transport",
    "FileTransport": "hogkit.transport",
    "FlagEvaluations": "hogkit.transport",
    "FlagsTransport": "hogkit.transport",
    "HttpFlagsTransport": "hogkit.transport",
    "HttpTransport": "hogkit.transport",
    "MemoryTransport": "hogkit.transport",
    "SendResult": "hogkit.transport",
    "Transport": "hogkit.transport",
    "AsyncClient": "hogkit.transport.async_client",
    "AsyncTransport": "hogkit.transport.async_http",
    "DeliveryFailed": "hogkit.transport.errors",
    "EventTooLarge": "hogkit.transport.errors",
    "QueueFull": "hogkit.transport.errors",
    "HttpError": "hogkit.transport.http",
    "NetworkError": "hogkit.transport.http",
    "StatusError": "hogkit.transport.http",
    "InvalidHost": "hogkit.transport.hosts",
    **dict.fromkeys(MODULE_FUNCTIONS, "hogkit.transport.module_api"),
    "new_context": "hogkit.transport.contexts",
    "scoped": "hogkit.transport.contexts",
    "tag": "hogkit.transport.contexts",
    "get_tags": "hogkit.transport.contexts",
    "identify_context": "hogkit.transport.contexts",
    "set_context_session": "hogkit.transport.contexts",
    "set_context_device_id": "hogkit.transport.contexts",
    "get_context_distinct_id": "hogkit.transport.contexts",
    "get_context_session_id": "hogkit.transport.contexts",
    "get_context_device_id": "hogkit.transport.contexts",
}

__all__ = [
    "AsyncClient",
    "AsyncTransport",
    "Client",
    "DefinitionsError",
    "DeliveryFailed",
    "Event",
    "EventTooLarge",
    "FeatureFlagResult",
    "FileTransport",
    "FlagEvaluations",
    "FlagResult",
    "FlagSet",
    "FlagsTransport",
    "HogkitError",
    "HttpError",
    "HttpFlagsTransport",
    "HttpTransport",
    "InvalidEvent",
    "InvalidHost",
    "MemoryTransport",
    "NetworkError",
    "Posthog",
    "Problem",
    "QueueFull",
    "Reason",
    "SendResult",
    "Snapshot",
    "StatusError",
    "Transport",
    "Unresolved",
    "__version__",
    "alias",
    "capture",
    "capture_exception",
    "evaluate_flags",
    "feature_enabled",
    "feature_flag_definitions",
    "flush",
    "get_all_flags",
    "get_all_flags_and_payloads",
    "get_context_device_id",
    "get_context_distinct_id",
    "get_context_session_id",
    "get_feature_flag",
    "get_feature_flag_evaluation_runtime",
    "get_feature_flag_keys_by_evaluation_runtime",
    "get_feature_flag_payload",
    "get_feature_flag_result",
    "get_remote_config_payload",
    "get_tags",
    "group_identify",
    "identify",
    "identify_context",
    "join",
    "load_feature_flags",
    "new_context",
    "scoped",
    "set",
    "set_capture_exception_code_variables_context",
    "set_code_variables_detect_secrets_context",
    "set_code_variables_ignore_patterns_context",
    "set_code_variables_mask_patterns_context",
    "set_code_variables_mask_url_credentials_context",
    "set_context_device_id",
    "set_context_session",
    "set_once",
    "setup",
    "shutdown",
    "tag",
]


def __getattr__(name: str) -> Any:
    """Import a public name from the module that defines it, once."""
    if name == "Posthog":  # posthog-python's name for the client
        name = "Client"
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'hogkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    if name == "Client":
        globals()["Posthog"] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
