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
posthog-python's other top-level names are here too, so its imports keep working; some
name a hogkit class that has its own name (`Posthog` is `Client`, `AsyncPosthog` is
`AsyncClient`, `FeatureFlagEvaluations` is `FlagEvaluations`). The few it has that hogkit
leaves out (tracing, AI capture) are listed in the README's migration section.
"""

from __future__ import annotations

import atexit
import importlib
import sys
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
    from hogkit.core import Unresolved as UnresolvedFlagReason
    from hogkit.core.errors import InconclusiveMatchError, RequiresServerEvaluation
    from hogkit.core.legacy_reads import (
        FeatureFlagEvaluationRuntime,
        FeatureFlagResult,
        FlagsAndPayloads,
    )
    from hogkit.core.legacy_reads import FlagDecision as FeatureFlag
    from hogkit.core.options import CaptureCompression, CaptureMode
    from hogkit.core.snapshot import FlagValue
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
    from hogkit.transport import FlagEvaluations as FeatureFlagEvaluations
    from hogkit.transport.async_client import AsyncClient
    from hogkit.transport.async_client import AsyncClient as AsyncPosthog
    from hogkit.transport.async_http import (
        AsyncTransport,
    )
    from hogkit.transport.autocapture import ExceptionCapture
    from hogkit.transport.before_send import BeforeSend as BeforeSendCallback
    from hogkit.transport.call_args import ID_TYPES, OptionalCaptureArgs, OptionalSetArgs
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
    from hogkit.transport.definitions_cache import (
        FlagDefinitionCacheData,
        FlagDefinitionCacheProvider,
    )
    from hogkit.transport.errors import (
        DeliveryFailed,
        EventTooLarge,
        QueueFull,
    )
    from hogkit.transport.exception_source import ExceptionArg
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
    from hogkit.transport.sockets import (
        SocketOptions,
        disable_connection_reuse,
        enable_keep_alive,
        set_socket_options,
    )

VERSION: str = __version__
"""hogkit's version (posthog-python's `VERSION` is its own)."""
DEFAULT_CODE_VARIABLES_MASK_PATTERNS: list[str] = list(CODE_VARIABLES_MASK_DEFAULT)
DEFAULT_CODE_VARIABLES_IGNORE_PATTERNS: list[str] = list(CODE_VARIABLES_IGNORE_DEFAULT)
DEFAULT_CODE_VARIABLES_MASK_URL_CREDENTIALS: bool = True
DEFAULT_CODE_VARIABLES_DETECT_SECRETS: bool = True

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
code_variables_mask_url_credentials: bool = DEFAULT_CODE_VARIABLES_MASK_URL_CREDENTIALS
code_variables_detect_secrets: bool = DEFAULT_CODE_VARIABLES_DETECT_SECRETS
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
    "FeatureFlagEvaluationRuntime": "hogkit.core.legacy_reads",
    "FlagsAndPayloads": "hogkit.core.legacy_reads",
    "FeatureFlag": "hogkit.core.legacy_reads",
    "FlagValue": "hogkit.core.snapshot",
    "InconclusiveMatchError": "hogkit.core.errors",
    "RequiresServerEvaluation": "hogkit.core.errors",
    "CaptureMode": "hogkit.core.options",
    "CaptureCompression": "hogkit.core.options",
    "UnresolvedFlagReason": "hogkit.core",
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
    "Posthog": "hogkit.transport",
    "FeatureFlagEvaluations": "hogkit.transport",
    "AsyncPosthog": "hogkit.transport.async_client",
    "ExceptionCapture": "hogkit.transport.autocapture",
    "BeforeSendCallback": "hogkit.transport.before_send",
    "ID_TYPES": "hogkit.transport.call_args",
    "OptionalCaptureArgs": "hogkit.transport.call_args",
    "OptionalSetArgs": "hogkit.transport.call_args",
    "FlagDefinitionCacheData": "hogkit.transport.definitions_cache",
    "FlagDefinitionCacheProvider": "hogkit.transport.definitions_cache",
    "ExceptionArg": "hogkit.transport.exception_source",
    "SocketOptions": "hogkit.transport.sockets",
    "set_socket_options": "hogkit.transport.sockets",
    "enable_keep_alive": "hogkit.transport.sockets",
    "disable_connection_reuse": "hogkit.transport.sockets",
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
    "DEFAULT_CODE_VARIABLES_DETECT_SECRETS",
    "DEFAULT_CODE_VARIABLES_IGNORE_PATTERNS",
    "DEFAULT_CODE_VARIABLES_MASK_PATTERNS",
    "DEFAULT_CODE_VARIABLES_MASK_URL_CREDENTIALS",
    "ID_TYPES",
    "VERSION",
    "AsyncClient",
    "AsyncPosthog",
    "AsyncTransport",
    "BeforeSendCallback",
    "CaptureCompression",
    "CaptureMode",
    "Client",
    "DefinitionsError",
    "DeliveryFailed",
    "Event",
    "EventTooLarge",
    "ExceptionArg",
    "ExceptionCapture",
    "FeatureFlag",
    "FeatureFlagEvaluationRuntime",
    "FeatureFlagEvaluations",
    "FeatureFlagResult",
    "FileTransport",
    "FlagDefinitionCacheData",
    "FlagDefinitionCacheProvider",
    "FlagEvaluations",
    "FlagResult",
    "FlagSet",
    "FlagValue",
    "FlagsAndPayloads",
    "FlagsTransport",
    "HogkitError",
    "HttpError",
    "HttpFlagsTransport",
    "HttpTransport",
    "InconclusiveMatchError",
    "InvalidEvent",
    "InvalidHost",
    "MemoryTransport",
    "NetworkError",
    "OptionalCaptureArgs",
    "OptionalSetArgs",
    "Posthog",
    "Problem",
    "QueueFull",
    "Reason",
    "RequiresServerEvaluation",
    "SendResult",
    "Snapshot",
    "SocketOptions",
    "StatusError",
    "Transport",
    "Unresolved",
    "UnresolvedFlagReason",
    "__version__",
    "alias",
    "capture",
    "capture_exception",
    "disable_connection_reuse",
    "enable_keep_alive",
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
    "set_socket_options",
    "setup",
    "shutdown",
    "tag",
]


_RENAMED: dict[str, str] = {
    # posthog-python's name: hogkit's name for the same thing, in the module `_HOMES` names
    "Posthog": "Client",
    "AsyncPosthog": "AsyncClient",
    "FeatureFlagEvaluations": "FlagEvaluations",
    "UnresolvedFlagReason": "Unresolved",
    "FeatureFlag": "FlagDecision",
    "BeforeSendCallback": "BeforeSend",
}


def __getattr__(name: str) -> Any:
    """Import a public name from the module that defines it, once."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'hogkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _deliver_at_exit() -> None:
    """The clients' exit flush, registered when `hogkit` is first imported: before any
    exit callback an application registers afterwards, so it runs after them, and events
    those callbacks capture still go. Nothing to do when no client code was loaded."""
    clients = sys.modules.get("hogkit.transport.client")
    if clients is not None:
        clients.deliver_at_exit()


atexit.register(_deliver_at_exit)
