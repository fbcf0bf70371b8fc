"""Which constructor options a client honours, ignores or does not support yet.

An application moving from posthog-python passes its constructor options unchanged, so
every option of that client is accepted. Some belong to products outside this SDK (AI
observability, tracing, metrics, e-mail); some are not built yet. Setting one of those to
anything but its default deserves exactly one clear log line, and this module decides the
lines; the shell writes them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "CODE_VARIABLES_IGNORE_DEFAULT",
    "CODE_VARIABLES_MASK_DEFAULT",
    "IGNORED_OPTIONS",
    "NUMERIC_OPTIONS",
    "TEXT_LIST_OPTIONS",
    "UNSUPPORTED_VALUES",
    "CaptureCompression",
    "CaptureMode",
    "option_notes",
    "secret_key_in_force",
]

CODE_VARIABLES_MASK_DEFAULT: tuple[str, ...] = tuple(
    f"(?i){word}"
    for word in (
        "password",
        "secret",
        "passwd",
        "pwd",
        "api_key",
        "apikey",
        "auth",
        "credentials",
        "privatekey",
        "private_key",
        "token",
        "aws_access_key_id",
        "_pass",
        "sk_",
        "jwt",
        "connection_string",
        "connectionstring",
        "conn_str",
        "connstr",
        "dsn",
        "[?&]sig=",
    )
)
"""The module-level `code_variables_mask_patterns` setting's default, as posthog-python
spells it: a module setting left at this value leaves the client's own default in force."""

CODE_VARIABLES_IGNORE_DEFAULT: tuple[str, ...] = ("^__.*",)
"""The module-level `code_variables_ignore_patterns` setting's default (see above)."""

IGNORED_OPTIONS: Mapping[str, tuple[str, Any]] = MappingProxyType(
    {
        # option: (the product it belongs to, its default)
        "privacy_mode": ("AI observability", False),
        "enable_full_ai_capture": ("AI observability", False),
        "_use_ai_lane": ("AI observability", False),
        "_enable_multimodal_capture": ("AI observability", False),
        "traces": ("tracing", None),
        "metrics": ("metrics", None),
        "app_host": ("e-mail", None),
        "email_request_timeout_seconds": ("e-mail", 15),
        "email_request_max_retries": ("e-mail", 2),
        "migrated_from": ("e-mail", None),
    }
)
"""Options outside this SDK's scope: accepted, logged once when set, otherwise ignored."""


class CaptureMode(str, enum.Enum):
    """The `capture_mode` option's values. hogkit sends events to `/batch/` (`V0`); `V1`
    is accepted and logged as not supported (see `UNSUPPORTED_VALUES`)."""

    V0 = "v0"
    V1 = "v1"


class CaptureCompression(str, enum.Enum):
    """The `capture_compression` option's values. hogkit compresses `/batch/` with gzip
    when `gzip=True`; the other values are accepted and logged as not supported."""

    NONE = "none"
    GZIP = "gzip"
    DEFLATE = "deflate"
    ZSTD = "zstd"


UNSUPPORTED_VALUES: Mapping[str, tuple[frozenset[Any], str]] = MappingProxyType(
    {
        # option: (values that behave as documented, what happens with any other value)
        "capture_mode": (
            frozenset({None, "v0"}),
            "events are sent to /batch/ (capture_mode 'v0')",
        ),
        "capture_compression": (
            frozenset({None, "gzip"}),
            "the batch endpoint is compressed with gzip when gzip=True",
        ),
    }
)
"""Options accepted with only some of their values."""


def _text(value: Any) -> Any:
    """An enum option (posthog-python passes `CaptureMode.V1`) as its plain value."""
    return getattr(value, "value", value)


def option_notes(values: Mapping[str, Any]) -> tuple[str, ...]:
    """One warning text per option in `values` that this client will not honour.

    An option at its default gets no note: most applications pass the defaults along
    when they build a client from a settings file.
    """
    notes: list[str] = []
    for name, (area, default) in IGNORED_OPTIONS.items():
        if name in values and values[name] != default:
            notes.append(f"option {name} is ignored: {area} is outside hogkit's scope")
    for name, (allowed, instead) in UNSUPPORTED_VALUES.items():
        if name not in values:
            continue
        value = _text(values[name])
        if not any(value == ok for ok in allowed):
            notes.append(f"option {name}={value!r} is not supported: {instead}")
    thread = values.get("thread", 1)
    if isinstance(thread, (int, float)) and not thread >= 1:
        notes.append(f"option thread={thread!r} is not supported: one sender thread sends batches")
    if values.get("secret_key") is not None and values.get("personal_api_key") is not None:
        notes.append("option personal_api_key is ignored: secret_key is set and takes its place")
    return tuple(notes)


def secret_key_in_force(secret_key: Any, personal_api_key: Any) -> str | None:
    """The key local evaluation and remote config use.

    `secret_key` wins whenever it is given, even blank, so that setting the new name
    always settles which key is used; `personal_api_key` is its older name. Surrounding
    whitespace is dropped (a key read from a file or an environment variable often ends
    in a newline, which no HTTP header may carry), and a blank key is no key. Both
    attributes of a running client read back this value, as posthog-python's do.
    """
    chosen = secret_key if secret_key is not None else personal_api_key
    return (chosen.strip() or None) if isinstance(chosen, str) else None


NUMERIC_OPTIONS: frozenset[str] = frozenset(
    {
        "max_queue_size",
        "flush_at",
        "flush_interval",
        "max_retries",
        "thread",
        "poll_interval",
        "feature_flags_request_timeout_seconds",
        "feature_flags_request_max_retries",
        "exception_autocapture_bucket_size",
        "exception_autocapture_refill_rate",
        "exception_autocapture_refill_interval_seconds",
        "retry_backoff",
        "retry_backoff_cap",
        "exit_timeout",
        "flag_called_cache_size",
        "max_queue_bytes",
        "block_when_full",
    }
)
"""Options that must be numbers for the client to work."""

TEXT_LIST_OPTIONS: frozenset[str] = frozenset(
    {"in_app_modules", "code_variables_mask_patterns", "code_variables_ignore_patterns"}
)
"""Options that must be lists of text when set."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _is_text_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)


def repaired_options(
    values: Mapping[str, Any], defaults: Mapping[str, Any]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """`values` with every unusable setting replaced by its default, and one note for each.

    A client must start whatever it is given (a settings file with `flush_at: null` must
    not take the application down), so a number option that is not a number, a list
    option that is not a list of text, or a host that is not text falls back to the
    default, and the note says which option was replaced.
    """
    fixed = dict(values)
    notes: list[str] = []
    for name, value in values.items():
        if (
            (name in NUMERIC_OPTIONS and not _is_number(value))
            or (name in TEXT_LIST_OPTIONS and value is not None and not _is_text_list(value))
            or (name == "host" and value is not None and not isinstance(value, str))
        ):
            usable = False
        else:
            usable = True
        if not usable and name in defaults:
            fixed[name] = defaults[name]
            notes.append(f"option {name}={value!r} is not usable; using {defaults[name]!r}")
    return fixed, tuple(notes)
