"""The two kinds of hashing the engine needs, kept apart on purpose.

Bucketing must be PostHog's SHA-1 scheme bit for bit: the server and every other SDK put a
person in the same rollout bucket and variant only because they all hash
`"{flag key}.{bucketing value}{salt}"` the same way and read the first 60 bits. A faster
hash would silently move people between buckets.

Fingerprints (skip recompiling unchanged definitions, cache keys) never leave the process
and only need to be fast and stable, so they use xxhash64.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import msgspec
import xxhash

__all__ = [
    "HOLDOUT_PREFIX",
    "NEVER",
    "SCALE",
    "above_cut",
    "at_least_cut",
    "bucket",
    "bucket_prefix",
    "canonical_json",
    "fingerprint",
    "first_above",
    "first_at_least",
    "hash_bucket",
    "holdout_bucket",
]

# 0xFFFFFFFFFFFFFFF as a double is exactly 2**60, so the division only rescales.
SCALE = float(0xFFFFFFFFFFFFFFF)
HOLDOUT_PREFIX = b"holdout-"
_sha1 = hashlib.sha1
_from_bytes = int.from_bytes


def bucket_prefix(key: str, separator: str = ".") -> bytes:
    """The constant front of a flag's hash input, encoded once at compile time."""
    # surrogatepass: a key no UTF-8 can carry belongs to a flag compiled as malformed,
    # which never hashes; its prefix must merely exist.
    return f"{key}{separator}".encode("utf-8", "surrogatepass")


def bucket(prefix: bytes, value: str, salt: bytes = b"") -> float:
    """A value in [0, 1) for `prefix + value + salt` (the hot path: bytes in, one SHA-1).

    The first 15 hex digits of the digest are its first 60 bits, i.e. the first 8 bytes
    shifted right by 4.
    """
    digest = _sha1(prefix + value.encode() + salt).digest()
    return (_from_bytes(digest[:8], "big") >> 4) / SCALE


def hash_bucket(key: str, bucketing_value: object, salt: str = "", separator: str = ".") -> float:
    """PostHog's bucketing hash for any bucketing value, formatted the way Python's f-strings
    format it (an int distinct id 123 hashes as "123")."""
    return bucket(bucket_prefix(key, separator), f"{bucketing_value}", salt.encode())


def holdout_bucket(bucketing_value: str) -> float:
    """The holdout hash: the server joins with a dash (`holdout-<value>`), not a dot."""
    return bucket(HOLDOUT_PREFIX, bucketing_value)


def _encode_fallback(value: Any) -> Any:
    return repr(value)


def canonical_json(document: object) -> bytes:
    """Compact JSON with sorted keys: equal definitions give equal bytes whatever their
    key order or whitespace was."""
    try:
        return msgspec.json.encode(document, order="sorted", enc_hook=_encode_fallback)
    except (TypeError, ValueError, OverflowError, RecursionError):
        # Keys or values JSON cannot carry (only reachable through already-decoded input):
        # the representation is still a deterministic function of the value.
        return repr(document).encode("utf-8", "surrogatepass")


def fingerprint(document: object) -> int:
    """xxhash64 of definitions: of JSON text (bytes) as it is, of an already-decoded
    document in its canonical form.

    Equal fingerprints mean equal definitions, which is what skipping a recompile needs.
    Text is not canonicalised (re-encoding a large document costs more than the rest of
    reading it), so the same definitions formatted differently may differ.
    """
    if isinstance(document, bytes):
        return int(xxhash.xxh64_intdigest(document))
    return int(xxhash.xxh64_intdigest(canonical_json(document)))


# Comparing digests instead of floats. A bucket is float(n) / 2**60 for the digest's
# leading 60 bits n, and float() rounds monotonically, so "bucket > t" holds exactly for
# n at or above some cut-off; the cut-off shifted left by 4 bits, as 8 big-endian bytes,
# then compares directly with the digest (bytes compare lexicographically, so a 20-byte
# digest is >= an 8-byte cut exactly when its first 8 bytes are). The hot path then skips
# unpacking and dividing, and gets posthog-python's float decisions bit for bit.

_TOP = 1 << 60
# Greater than every digest: used when no bucket reaches a bound.
NEVER = b"\xff" * 21


def _as_cut(n: int) -> bytes:
    return NEVER if n >= _TOP else (n << 4).to_bytes(8, "big")


# Below 2**53 every integer is a double, so float(n) is n; from there on doubles are
# integers `math.ulp` apart, and float(n) rounds n to the nearer one, a tie to the one
# whose last significand bit is 0.
_EXACT = float(1 << 53)


def _even(value: float) -> bool:
    """Whether a double of at least 2**53 ends its significand in a 0 bit."""
    return (int(value) // int(math.ulp(value))) % 2 == 0


def first_above(bound: float) -> int:
    """The smallest 60-bit n whose bucket exceeds `bound` (2**60 when none does): the
    smallest n that rounds to the double after `bound * 2**60` or beyond."""
    if bound != bound or bound >= 1.0:
        return _TOP
    if bound < 0.0:
        return 0
    scaled = bound * _SCALED_ONE  # exact: a power of two
    if scaled < _EXACT:
        return math.floor(scaled) + 1
    step = math.ulp(scaled)
    middle = int(scaled) + int(step) // 2  # halfway to the next double
    return min(middle if _even(scaled + step) else middle + 1, _TOP)


def first_at_least(bound: float) -> int:
    """The smallest 60-bit n whose bucket is at least `bound` (2**60 when none is): the
    smallest n that rounds to `bound * 2**60` or beyond."""
    if bound != bound or bound > 1.0:
        return _TOP
    if bound <= 0.0:
        return 0
    scaled = bound * _SCALED_ONE
    if scaled <= _EXACT:
        return math.ceil(scaled)
    gap = int(scaled) - int(math.nextafter(scaled, 0.0))  # to the double below
    if gap == 1:
        return int(scaled)
    middle = int(scaled) - gap // 2
    return min(middle if _even(scaled) else middle + 1, _TOP)


def above_cut(bound: float) -> bytes:
    """Digests at or above this have a bucket > `bound`."""
    cut = _WHOLE_ABOVE.get(bound)
    return _as_cut(first_above(bound)) if cut is None else cut


def at_least_cut(bound: float) -> bytes:
    """Digests at or above this have a bucket >= `bound`."""
    cut = _WHOLE_AT_LEAST.get(bound)
    return _as_cut(first_at_least(bound)) if cut is None else cut


_SCALED_ONE = float(_TOP)
# The cut-offs of whole percentages as shares (p / 100), worked out once: nearly every
# rollout and variant share is one, and each search costs more than a lookup. Constants
# (read-only), like the functions they tabulate.
_WHOLE_ABOVE: Mapping[float, bytes] = MappingProxyType(
    {p / 100: _as_cut(first_above(p / 100)) for p in range(101)}
)
_WHOLE_AT_LEAST: Mapping[float, bytes] = MappingProxyType(
    {p / 100: _as_cut(first_at_least(p / 100)) for p in range(101)}
)
