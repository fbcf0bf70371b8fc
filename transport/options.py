"""`ClientOptions`: everything a Client was constructed with, as one frozen value.

The Client's signature is posthog-python's, parameter for parameter and in the same
positional order, so an application can switch SDKs by changing an import; hogkit's own
options follow as keyword-only ones. The signature holds the defaults; this value holds
what one construction was given, so collaborators read their settings from one place and
the options that are accepted but not honoured are reported once, here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from hogkit.core.options import (
    CODE_VARIABLES_IGNORE_DEFAULT,
    CODE_VARIABLES_MASK_DEFAULT,
    CaptureCompression,
    CaptureMode,
    option_notes,
    repaired_options,
    secret_key_in_force,
)

__all__ = ["ClientOptions", "read_back", "report_unused", "usable_setting"]

log = logging.getLogger("hogkit")


class ClientOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The arguments of one `Client(...)` call (see `Client` for what each one means)."""

    project_api_key: str
    host: str | None
    debug: bool
    max_queue_size: int
    send: bool
    on_error: Any
    flush_at: int
    flush_interval: float
    gzip: bool
    max_retries: int
    sync_mode: bool
    timeout: float
    thread: int
    poll_interval: float
    personal_api_key: str | None
    disabled: bool
    disable_geoip: bool
    is_server: bool
    historical_migration: bool
    feature_flags_request_timeout_seconds: float
    feature_flags_request_max_retries: int
    super_properties: Mapping[str, Any] | None
    enable_exception_autocapture: bool
    log_captured_exceptions: bool
    project_root: str | None
    privacy_mode: bool
    before_send: Any
    flag_fallback_cache_url: str | None
    enable_local_evaluation: bool
    flag_definition_cache_provider: Any
    capture_exception_code_variables: bool
    code_variables_mask_patterns: Sequence[str] | None
    code_variables_ignore_patterns: Sequence[str] | None
    code_variables_mask_url_credentials: bool | None
    code_variables_detect_secrets: bool | None
    in_app_modules: Sequence[str] | None
    enable_exception_autocapture_rate_limiting: bool
    exception_autocapture_bucket_size: int
    exception_autocapture_refill_rate: float
    exception_autocapture_refill_interval_seconds: float
    capture_mode: Any
    capture_compression: Any
    secret_key: str | None
    metrics: Any
    enable_full_ai_capture: bool
    capture_trace_context: bool
    _use_ai_lane: bool
    _enable_multimodal_capture: bool
    traces: Any
    app_host: str | None
    email_request_timeout_seconds: float
    email_request_max_retries: int
    migrated_from: str | None
    # hogkit's own
    transport: Any
    retry_backoff: float
    retry_backoff_cap: float
    exit_timeout: float
    flag_definitions: Any
    flags_transport: Any
    flag_called_cache_size: int
    flag_definitions_follower_only: bool
    max_queue_bytes: int
    block_when_full: float
    spool_dir: Any

    def repaired(self, defaults: Mapping[str, Any]) -> ClientOptions:
        """These options with every unusable value (`flush_at=None`, ...) replaced by its
        default, with a warning: a client must start whatever it is given."""
        fixed, notes = repaired_options(self.as_dict(), defaults)
        return ClientOptions(**fixed) if _warned(notes) else self

    @property
    def secret(self) -> str | None:
        """The key for local evaluation: `secret_key`, or its older name `personal_api_key`."""
        return secret_key_in_force(self.secret_key, self.personal_api_key)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__struct_fields__}


# What an option left None reads back as on a running client: the default posthog-python
# fills in when it is built (hogkit fills in the same where it uses the option).
_FILLED_IN: dict[str, Any] = {
    "code_variables_mask_patterns": CODE_VARIABLES_MASK_DEFAULT,
    "code_variables_ignore_patterns": CODE_VARIABLES_IGNORE_DEFAULT,
    "code_variables_mask_url_credentials": True,
    "code_variables_detect_secrets": True,
    "capture_mode": CaptureMode.V0,
}


def read_back(options: ClientOptions, name: str) -> Any:
    """Option `name` as a client attribute: as given, or its filled-in default (a fresh
    list for the pattern lists, which applications extend)."""
    if name in ("secret_key", "personal_api_key"):  # both names read back the key in use
        return options.secret
    value = getattr(options, name)
    if value is None and name in _FILLED_IN:
        default = _FILLED_IN[name]
        return list(default) if isinstance(default, tuple) else default
    if value is None and name == "capture_compression":  # what `gzip` chose
        return CaptureCompression.GZIP if options.gzip else CaptureCompression.NONE
    return value


def report_unused(options: ClientOptions) -> tuple[str, ...]:
    """Log one warning per option this client will not act on; returns the texts."""
    return _warned(option_notes(options.as_dict()))


def usable_setting(name: str, value: Any, default: Any) -> Any:
    """`value` for a setting changed on a running client, or `default` (with a warning)
    when the client could not work with it: the same rule as for constructor options, so
    a bad value never raises into the application."""
    fixed, notes = repaired_options({name: value}, {name: default})
    _warned(notes)
    return fixed[name]


def _warned(notes: tuple[str, ...]) -> tuple[str, ...]:
    """Log each note as a warning; returns them."""
    for note in notes:
        log.warning("%s", note)
    return notes
