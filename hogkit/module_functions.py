"""The names of posthog-python's module-level functions, in one place.

`hogkit.transport.module_api` defines them and `hogkit` re-exports them lazily (see
`hogkit.__init__`); both read these lists, so a function added to one is added to both.
This module imports nothing, so `import hogkit` stays cheap.
"""

from __future__ import annotations

__all__ = ["MODULE_FUNCTIONS", "MODULE_METHODS"]

MODULE_METHODS = (
    "capture",
    "set",
    "set_once",
    "identify",
    "group_identify",
    "alias",
    "capture_exception",
    "feature_enabled",
    "get_feature_flag",
    "get_all_flags",
    "get_feature_flag_result",
    "get_feature_flag_payload",
    "get_remote_config_payload",
    "get_all_flags_and_payloads",
    "evaluate_flags",
    "feature_flag_definitions",
    "get_feature_flag_evaluation_runtime",
    "get_feature_flag_keys_by_evaluation_runtime",
    "load_feature_flags",
    "join",
)
"""Client methods that are also module functions, called on the default client."""

MODULE_FUNCTIONS = (
    *MODULE_METHODS,
    "flush",
    "shutdown",
    "setup",
    "set_capture_exception_code_variables_context",
    "set_code_variables_detect_secrets_context",
    "set_code_variables_ignore_patterns_context",
    "set_code_variables_mask_patterns_context",
    "set_code_variables_mask_url_credentials_context",
)
"""Every module-level function `hogkit.transport.module_api` defines or re-exports."""
