"""Does a piece of text look like a credential? The last line of defence for code
variables: it runs on text whose variable name said nothing, so it must catch a key sitting
in `result` or `line` as well as in `api_key`.

Two independent tests, either one enough:

- a known credential format (the table below: a vendor's key prefix and body), found
  anywhere in the text, or a PEM private key block;
- a long random-looking token: one word (no whitespace), not a path, URL, UUID, hex digest
  or structured text (an object's repr, a list), mixing at least three character classes,
  with a high Shannon entropy per character.

The bounds are posthog-python's, so text that one SDK redacts the other redacts too. The
PostHog personal and secret API key formats are recognised as well, which posthog does not:
such a key in a variable grants access to a project's data.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import NamedTuple

__all__ = ["KNOWN_FORMATS", "SCAN_LIMIT", "KnownFormat", "looks_like_secret"]

# Longer text is not scanned at all (the caller replaces it whole).
SCAN_LIMIT = 2048


class KnownFormat(NamedTuple):
    """One vendor's credential: who issues it and the shape of the key."""

    issuer: str
    pattern: str


# Matched anywhere in the text, without word boundaries: a key often follows a letter or a
# digit, as in `%3Dsk-...` inside a percent-encoded URL.
KNOWN_FORMATS: tuple[KnownFormat, ...] = (
    KnownFormat("Anthropic", r"sk-ant-[A-Za-z0-9_-]{16,}"),
    KnownFormat("OpenAI", r"sk-(?:proj-)?[A-Za-z0-9_-]{20,}"),
    KnownFormat("Hugging Face", r"hf_[A-Za-z0-9]{34}"),
    KnownFormat("AWS access key id", r"AKIA[0-9A-Z]{16}"),
    KnownFormat("AWS other ids", r"(?:ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[0-9A-Z]{16}"),
    KnownFormat("Google API key", r"AIza[A-Za-z0-9_-]{35}"),
    KnownFormat("Google OAuth token", r"ya29\.[A-Za-z0-9_-]{20,}"),
    KnownFormat("DigitalOcean", r"do[opr]_v1_[a-f0-9]{64}"),
    KnownFormat("Stripe", r"(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    KnownFormat("Square", r"sq0[a-z]{3}-[A-Za-z0-9_-]{22,43}"),
    KnownFormat("GitHub", r"gh[pousr]_[A-Za-z0-9]{36}"),
    KnownFormat("GitHub fine-grained", r"github_pat_[A-Za-z0-9_]{20,}"),
    KnownFormat("GitLab", r"gl(?:pat|ptt|rt|soat)-[A-Za-z0-9_-]{20}"),
    KnownFormat("Grafana service account", r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    KnownFormat("Slack", r"xox[abeoprs]-[A-Za-z0-9-]{10,}"),
    KnownFormat("Slack app-level", r"xapp-[0-9]-[A-Za-z0-9-]{10,}"),
    KnownFormat("Twilio", r"SK[0-9a-fA-F]{32}"),
    KnownFormat("SendGrid", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
    KnownFormat("Mailgun", r"key-[0-9a-f]{32}"),
    KnownFormat("Mailchimp", r"[0-9a-f]{32}-us[0-9]{1,2}"),
    KnownFormat("npm", r"npm_[A-Za-z0-9]{36}"),
    KnownFormat("PyPI", r"pypi-AgEI[A-Za-z0-9_-]{50,}"),
    KnownFormat("Databricks", r"dapi[0-9a-f]{32}"),
    KnownFormat("Doppler", r"dp\.pt\.[A-Za-z0-9]{40,}"),
    KnownFormat("Postman", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}"),
    KnownFormat("Linear", r"lin_api_[A-Za-z0-9]{40}"),
    KnownFormat("Notion", r"ntn_[A-Za-z0-9]{40,}"),
    KnownFormat("Shopify", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    KnownFormat("New Relic", r"NR(?:AK|JS|II|MA|RA)-[A-Za-z0-9]{27}"),
    KnownFormat("JWT", r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{6,}"),
    KnownFormat("PostHog personal or secret API key", r"ph[xs]_[A-Za-z0-9]{20,}"),
)
_KNOWN = re.compile("|".join(f"(?:{known.pattern})" for known in KNOWN_FORMATS))
# The end of a PEM private key header, whatever the key type (RSA, EC, OpenSSH, PKCS8).
_PRIVATE_KEY_MARKER = "PRIVATE KEY-----"

_MIN_LENGTH = 16  # also the shortest known format
_MIN_BITS = 3.8  # Shannon entropy per character
_MIN_CLASSES = 3  # of lowercase, uppercase, digit, other
_HEX = frozenset("0123456789abcdefABCDEF")
# Punctuation of reprs and structured text, never part of a bare token.
_STRUCTURE = frozenset("()[]{}<>'\"`,;")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PATH_WORD = re.compile(r"[a-z][a-z.]*")


def looks_like_secret(text: str) -> bool:
    """A PEM private key, a long random-looking token, or a known credential format."""
    if _PRIVATE_KEY_MARKER in text:
        return True
    if len(text) < _MIN_LENGTH:
        return False
    if _random_token(text):
        return True
    return len(text) <= SCAN_LIMIT and _KNOWN.search(text) is not None


def _path_or_url(text: str) -> bool:
    """A URL, a Windows path, or a path with two lowercase word segments."""
    if "://" in text or "\\" in text:
        return True
    words = sum(1 for part in text.split("/") if _PATH_WORD.fullmatch(part))
    return words >= 2


def _random_token(text: str) -> bool:
    if " " in text or _path_or_url(text) or _UUID.fullmatch(text):
        return False
    counts = Counter(text)
    if not _STRUCTURE.isdisjoint(counts) or _character_classes(counts) < _MIN_CLASSES:
        return False
    size = len(text)
    bits = -sum(n / size * math.log2(n / size) for n in counts.values())
    return bits >= _MIN_BITS


def _character_classes(characters: Counter[str]) -> int:
    """How many classes the characters mix; none for whitespace or a hex digest."""
    if any(c.isspace() for c in characters):
        return 0
    lower = any(c.islower() for c in characters)
    upper = any(c.isupper() for c in characters)
    digit = any(c.isdigit() and not c.islower() and not c.isupper() for c in characters)
    other = any(not (c.islower() or c.isupper() or c.isdigit()) for c in characters)
    if not other and _HEX.issuperset(c for c in characters if c.islower() or c.isupper()):
        return 0
    return lower + upper + digit + other
