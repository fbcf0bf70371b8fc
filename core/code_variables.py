"""Local variables of in-app stack frames, made safe to send.

Everything here is a decision about names and text: a variable whose name matches a mask
pattern is replaced whole without reading it; text that matches a mask pattern, looks like
a credential (`secrets`), or carries `user:password@` in a URL is redacted; everything is
cut to a per-value length and a total budget. Containers and objects are turned into
masked text by the shell, which walks live objects, with the rules here. When in doubt the value is
redacted: a missing variable costs a debugging session, a leaked secret costs more.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeGuard

import attrs

from .credentials import SCAN_LIMIT, looks_like_secret

__all__ = [
    "DEFAULT_IGNORE_PATTERNS",
    "DEFAULT_MASK_PATTERNS",
    "REDACTED",
    "TOO_LONG",
    "VariablesConfig",
    "cut",
    "encode_variables",
    "is_plain",
    "looks_like_secret",
    "mask_text",
    "masking_off",
    "matches_mask",
    "redact_text",
    "scrub_authorization",
    "scrub_embedded",
    "scrub_url_credentials",
]

# What PostHog's error tracking shows for a hidden value (the UI recognises these).
REDACTED = "$$_posthog_redacted_based_on_masking_rules_$$"
TOO_LONG = "$$_posthog_value_too_long_$$"

DEFAULT_MASK_PATTERNS: tuple[str, ...] = tuple(
    f"(?i){word}"
    for word in (
        "password",
        "passwd",
        "pwd",
        "_pass",
        "secret",
        "api_key",
        "apikey",
        "auth",
        "credentials",
        "private_key",
        "privatekey",
        "token",
        "jwt",
        "sk_",
        "aws_access_key_id",
        "dsn",
        "connection_string",
        "connectionstring",
        "conn_str",
        "connstr",
        r"[?&]sig=",
    )
)
DEFAULT_IGNORE_PATTERNS: tuple[str, ...] = (r"^__",)

_URL_CREDENTIALS = re.compile(r"([a-z][a-z0-9+.\-]{0,30}://)(?=[^/@\s]*:)[^/\s]*@", re.I)
# An `Authorization` value written into text: the scheme, what separates it from the
# credential (blanks, or a colon with optional blanks, then an optional quote) and a
# base64 or token68 credential. A separator is required, so `basicConfig` is no match.
_AUTHORIZATION = re.compile(
    r"""\b(?P<scheme>bearer|basic)
        (?P<gap>(?:\s*:\s*|\s+)['"]?)
        (?P<credential>[A-Za-z0-9._~+/-]+=*)""",
    re.IGNORECASE | re.VERBOSE,
)
# Shorter credentials, and lowercase words up to the longer bound, read as prose ("the
# bearer of", "bearer transportation"); a random token is longer or mixes characters.
_CREDENTIAL_MIN_LENGTH = 8
_PROSE_WORD_MAX_LENGTH = 15


@attrs.frozen
class VariablesConfig:
    """How variables are filtered: compiled patterns, switches and size bounds."""

    mask: tuple[re.Pattern[str], ...]
    ignore: tuple[re.Pattern[str], ...]
    mask_url_credentials: bool = True
    detect_secrets: bool = True
    max_length: int = 1024
    total_budget: int = 10 * 1024

    @classmethod
    def build(
        cls,
        mask_patterns: Sequence[str] | None = None,
        ignore_patterns: Sequence[str] | None = None,
        mask_url_credentials: bool | None = None,
        detect_secrets: bool | None = None,
    ) -> VariablesConfig:
        """Compile patterns (None: the defaults); a pattern that does not compile is
        matched as literal text, so a typo never turns masking off."""
        return cls(
            mask=_compile(DEFAULT_MASK_PATTERNS if mask_patterns is None else mask_patterns),
            ignore=_compile(
                DEFAULT_IGNORE_PATTERNS if ignore_patterns is None else ignore_patterns
            ),
            mask_url_credentials=True if mask_url_credentials is None else mask_url_credentials,
            detect_secrets=True if detect_secrets is None else detect_secrets,
        )

    def replaced(
        self,
        mask_patterns: Sequence[str] | None = None,
        ignore_patterns: Sequence[str] | None = None,
        mask_url_credentials: bool | None = None,
        detect_secrets: bool | None = None,
    ) -> VariablesConfig:
        """This config with each given setting in place of its own (None keeps it)."""
        return attrs.evolve(
            self,
            mask=self.mask if mask_patterns is None else _compile(mask_patterns),
            ignore=self.ignore if ignore_patterns is None else _compile(ignore_patterns),
            mask_url_credentials=self.mask_url_credentials
            if mask_url_credentials is None
            else mask_url_credentials,
            detect_secrets=self.detect_secrets if detect_secrets is None else detect_secrets,
        )


def _compile(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error:
            compiled.append(re.compile(re.escape(pattern)))
    return tuple(compiled)


def scrub_url_credentials(text: str) -> str:
    """`scheme://user:password@host` with the `user:password` part redacted."""
    if "://" not in text:
        return text
    return _URL_CREDENTIALS.sub(r"\g<1>" + REDACTED + "@", text)


def _decodes_to_user_and_password(credential: str) -> bool:
    try:
        decoded = base64.b64decode(credential, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return ":" in decoded


def _scrubbed_authorization(match: re.Match[str]) -> str:
    credential = match["credential"]
    if not (match["scheme"].lower() == "basic" and _decodes_to_user_and_password(credential)):
        prose = len(credential) <= _PROSE_WORD_MAX_LENGTH and credential.isalpha()
        if len(credential) < _CREDENTIAL_MIN_LENGTH or (prose and credential.islower()):
            return match[0]
    return match["scheme"] + match["gap"] + REDACTED


def scrub_authorization(text: str) -> str:
    """`Bearer <token>` and `Basic <credentials>` in `text` with the credential redacted
    (a `Basic` one whenever it decodes to `user:password`, however short); prose such as
    "the bearer of" is left alone."""
    return _AUTHORIZATION.sub(_scrubbed_authorization, text)


def masking_off(config: VariablesConfig) -> bool:
    """No mask pattern and both scrubs off: values are only cut (as in posthog)."""
    return not (config.mask or config.mask_url_credentials or config.detect_secrets)


def matches_mask(text: str, config: VariablesConfig) -> bool:
    """Does any mask pattern occur in `text` (a name, a key, or a value)?"""
    return any(pattern.search(text) for pattern in config.mask)


def scrub_embedded(text: str, config: VariablesConfig) -> str:
    """`text` with URL credentials (when that scrub is on) and `Authorization` credentials
    redacted; the URLs first, since the `Authorization` scrub could take their scheme."""
    if config.mask_url_credentials:
        text = scrub_url_credentials(text)
    return scrub_authorization(text)


def redact_text(text: str, config: VariablesConfig) -> str:
    """`text` as it may be sent, before any cut: replaced whole when too long to scan,
    when a mask pattern occurs in it or it looks like a secret; else scrubbed."""
    if len(text) > SCAN_LIMIT:
        return TOO_LONG
    if matches_mask(text, config) or (config.detect_secrets and looks_like_secret(text)):
        return REDACTED
    return scrub_embedded(text, config)


def mask_text(text: str, config: VariablesConfig) -> str:
    """`text` as one variable's value is sent: redacted or scrubbed (unless masking is
    off), then cut to length."""
    return cut(text if masking_off(config) else redact_text(text, config), config)


def cut(text: str, config: VariablesConfig) -> str:
    if len(text) > config.max_length:
        return text[: config.max_length - 3] + "..."
    return text


Rendered = str | int | float | bool | None
Plain = str | int | float | bool | None


def is_plain(value: object) -> TypeGuard[Plain]:
    """None, a boolean, a number or text (subclasses too): sent as itself, masked as text."""
    return value is None or isinstance(value, (bool, int, float, str))


def encode_variables(
    items: Iterable[tuple[str, object]],
    config: VariablesConfig,
    budget: int,
    render: Callable[[object, VariablesConfig], str],
) -> tuple[dict[str, Rendered], int]:
    """The sendable variables of one frame and the budget left after them.

    Plain values come first, then the others (`render` turns each into masked text), each
    group in name order: the same frame always keeps the same variables when the budget
    runs out, and the cheapest context survives it. Ignored names are skipped, masked
    names replaced whole without reading their value.
    """
    kept = [item for item in items if not any(p.search(item[0]) for p in config.ignore)]
    ordered = sorted(kept, key=lambda item: (not is_plain(item[1]), item[0]))
    out: dict[str, Rendered] = {}
    for name, value in ordered:
        encoded: Rendered
        if matches_mask(name, config):
            encoded = REDACTED
        elif is_plain(value):
            encoded = _encode_plain(value, config)
        else:
            encoded = cut(render(value, config), config)
        cost = len(str(encoded))
        if cost > budget:
            break
        budget -= cost
        out[name] = encoded
    return out, budget


def _encode_plain(value: Plain, config: VariablesConfig) -> Rendered:
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else str(value)
    return mask_text(value, config)
