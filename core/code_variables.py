"""Local variables of in-app stack frames, made safe to send.

Values arrive already rendered by the shell (numbers, booleans, None, or text from a
bounded `repr`), so everything here is a decision about text: a variable whose name
matches a mask pattern is replaced whole without reading it; text that matches a mask
pattern, looks like a credential, or carries `user:password@` in a URL is redacted;
everything is cut to a per-value length and a total budget. When in doubt the value is
redacted: a missing variable costs a debugging session, a leaked secret costs more.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import attrs

__all__ = [
    "DEFAULT_IGNORE_PATTERNS",
    "DEFAULT_MASK_PATTERNS",
    "REDACTED",
    "TOO_LONG",
    "VariablesConfig",
    "encode_variables",
    "looks_like_secret",
    "mask_text",
    "scrub_authorization",
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

_SCAN_LIMIT = 2048  # longer text is not scanned but replaced by TOO_LONG
_URL_CREDENTIALS = re.compile(r"([a-z][a-z0-9+.\-]{0,30}://)(?=[^/@\s]*:)[^/\s]*@", re.I)
_KNOWN_SECRETS = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,}"
    r"|\bgh[pousr]_[0-9A-Za-z]{30,}|\bgithub_pat_[0-9A-Za-z_]{30,}"
    r"|\bxox[abpors]-[0-9A-Za-z-]{10,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bph[cxs]_[0-9A-Za-z]{20,}"
    r"|\beyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}"
)
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
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_HEX = frozenset("0123456789abcdefABCDEF")
_SECRET_MIN_LENGTH = 16
_SECRET_MIN_BITS = 3.5


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


def looks_like_secret(text: str) -> bool:
    """A known credential format, or a long random-looking token (no spaces, not a path,
    URL, UUID or hex digest, several character classes, high entropy)."""
    if _KNOWN_SECRETS.search(text[:_SCAN_LIMIT]):
        return True
    if len(text) < _SECRET_MIN_LENGTH or " " in text or "://" in text or "/" in text:
        return False
    if _UUID.match(text) or _HEX.issuperset(text):
        return False
    classes = (
        any(c.islower() for c in text)
        + any(c.isupper() for c in text)
        + any(c.isdigit() for c in text)
        + any(not c.isalnum() for c in text)
    )
    if classes < 3:
        return False
    counts = Counter(text)
    bits = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    return bits >= _SECRET_MIN_BITS


def mask_text(text: str, config: VariablesConfig) -> str:
    """`text` as it may be sent: redacted, scrubbed, or unchanged; then cut to length.
    With no mask pattern and both scrubs off, masking is off altogether (as in posthog):
    the text is only cut."""
    if not (config.mask or config.mask_url_credentials or config.detect_secrets):
        return _cut(text, config)
    if len(text) > _SCAN_LIMIT:
        return TOO_LONG
    if any(pattern.search(text) for pattern in config.mask):
        return REDACTED
    if config.detect_secrets and looks_like_secret(text):
        return REDACTED
    if config.mask_url_credentials:
        text = scrub_url_credentials(text)
    text = scrub_authorization(text)  # after the URLs, whose scheme it could take
    return _cut(text, config)


def _cut(text: str, config: VariablesConfig) -> str:
    if len(text) > config.max_length:
        return text[: config.max_length - 3] + "..."
    return text


Rendered = str | int | float | bool | None


def encode_variables(
    items: Iterable[tuple[str, Rendered]], config: VariablesConfig, budget: int
) -> tuple[dict[str, Rendered], int]:
    """The sendable variables of one frame and the budget left after them.

    Names are taken in sorted order so the same frame always keeps the same variables
    when the budget runs out; ignored names are skipped, masked names replaced whole.
    """
    out: dict[str, Rendered] = {}
    for name, value in sorted(items, key=lambda item: item[0]):
        if any(pattern.search(name) for pattern in config.ignore):
            continue
        encoded: Rendered
        if any(pattern.search(name) for pattern in config.mask):
            encoded = REDACTED
        elif value is None or isinstance(value, bool):
            encoded = str(value)
        elif isinstance(value, (int, float)):
            encoded = value if math.isfinite(value) else str(value)
        else:
            encoded = mask_text(value, config)
        cost = len(str(encoded))
        if cost > budget:
            break
        budget -= cost
        out[name] = encoded
    return out, budget
