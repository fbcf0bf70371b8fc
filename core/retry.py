"""When to try an HTTP request again, and how long to wait first.

Pure policy: the shell reports what happened (the attempt number, a status or a kind of
network failure, the server's `Retry-After`, a random sample for jitter) and performs the
wait; every choice is made here, so batch sends and `/flags` requests cannot drift apart
and each rule can be tested without a server or a clock.
"""

from __future__ import annotations

import datetime as _dt
import email.utils

__all__ = [
    "FLAGS_RETRY_DELAY",
    "MAX_RETRY_AFTER",
    "batch_retry_delay",
    "flags_retry_delay",
    "is_retryable_status",
    "parse_retry_after",
    "retry_delay",
]

MAX_RETRY_AFTER = 30.0
"""The longest `Retry-After` honoured: a server asking for more must not stall the queue."""

FLAGS_RETRY_DELAY = 0.3
"""The pause before the one retry a `/flags` request gets (a caller is waiting on it)."""

_FLAGS_RETRY_STATUSES = frozenset({502, 504})


def is_retryable_status(status: int) -> bool:
    """A batch answered with `status` may succeed if sent again (timeouts, rate limits, 5xx)."""
    return status in (408, 429) or status >= 500


def retry_delay(
    attempt: int, *, base: float, cap: float, retry_after: float | None, jitter: float
) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry).

    Capped exponential backoff, `base * 2**(attempt-1)` up to `cap`, scaled by `jitter` (a
    number in [0, 1): the wait lands between half and all of the backoff, so a fleet of
    forked workers does not retry in lockstep), and never shorter than the server's
    `Retry-After` (itself capped at `MAX_RETRY_AFTER`).
    """
    backoff = min(cap, base * 2.0 ** (attempt - 1)) * (0.5 + jitter / 2)
    if retry_after is not None:
        backoff = max(backoff, min(retry_after, MAX_RETRY_AFTER))
    return max(0.0, backoff)


def batch_retry_delay(
    attempt: int,
    status: int | None,
    *,
    max_retries: int,
    base: float,
    cap: float,
    retry_after: float | None,
    jitter: float,
) -> float | None:
    """The wait before sending a batch again after `attempt` attempts, or None to give up.

    `status` is the last answer's HTTP status, None when no answer came (a network error,
    always worth retrying).
    """
    if attempt > max_retries:
        return None
    if status is not None and not is_retryable_status(status):
        return None
    return retry_delay(attempt, base=base, cap=cap, retry_after=retry_after, jitter=jitter)


def flags_retry_delay(
    failure: str, status: int | None, *, retried: bool, remaining: float
) -> float | None:
    """The wait before the single retry of a `/flags` request, or None to give up.

    A caller is blocked on this request, so it gets one quick retry, and only for failures
    that a second try can fix: a dropped connection (not a refused one, nor a timeout, which
    has used the time up) or a 502/504 from a proxy, and only while the retry still fits in
    the time left. `failure` is a `NetworkError.kind` (or "status" for an HTTP answer).
    """
    if retried:
        return None
    if failure == "network":
        return 0.0
    if failure == "status" and status in _FLAGS_RETRY_STATUSES:
        wait = min(FLAGS_RETRY_DELAY, remaining)
        return wait if wait > 0 and remaining > wait else None
    return None


def parse_retry_after(value: str | None, now: _dt.datetime) -> float | None:
    """A `Retry-After` header as seconds from `now`: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.timezone.utc)
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
