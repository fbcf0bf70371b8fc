"""Request-context values and how they enter an event, plus the exception rate-limit bucket.

A context carries who an event is about (distinct id, session, device) and tags that
describe the work in progress. The shell keeps the live contexts; here they are plain
values so the merge rules can be tested without threads or contextvars.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from .code_variables import VariablesConfig

__all__ = [
    "NO_OVERRIDES",
    "Bucket",
    "ContextValues",
    "VariablesOverrides",
    "apply_context",
    "is_blank",
    "person_or_context",
    "take_token",
    "variables_config",
]


@attrs.frozen
class ContextValues:
    """What the innermost context (and the ones it inherits from) says about an event."""

    distinct_id: str | None = None
    session_id: str | None = None
    device_id: str | None = None
    tags: tuple[tuple[str, Any], ...] = ()


def apply_context(
    values: ContextValues, distinct_id: Any, properties: Mapping[str, Any] | None
) -> tuple[Any, dict[str, Any]]:
    """The distinct id and properties an event gets inside a context.

    Tags come first so the caller's own properties win over them; `$context_tags` lists the
    tag names (empty when there are none) so a reader can tell tags from properties. The
    context's distinct id is used only when the caller gave none (an explicit id always
    wins), and `$session_id` /
    `$device_id` only fill properties the caller left unset.
    """
    distinct_id = person_or_context(distinct_id, values.distinct_id)
    merged: dict[str, Any] = dict(values.tags)
    merged["$context_tags"] = sorted(name for name, _ in values.tags)
    if isinstance(properties, Mapping):  # anything else is no properties, as outside a context
        merged.update(properties)
    if values.session_id is not None and "$session_id" not in merged:
        merged["$session_id"] = values.session_id
    if values.device_id is not None and "$device_id" not in merged:
        merged["$device_id"] = values.device_id
    return distinct_id, merged


def person_or_context(distinct_id: Any, context_id: Any) -> Any:
    """The call's distinct id, or the context's when the call named none (None or "") and
    the context has one: every event method lets a context name its person the same way."""
    if is_blank(distinct_id) and not is_blank(context_id):
        return context_id
    return distinct_id


def is_blank(distinct_id: Any) -> bool:
    """None and "" are no id (distinct id, session, device); anything else is one. Tested
    by type, not by the value's own `__eq__` or `__bool__`: an application's id object
    may raise from them."""
    return distinct_id is None or (isinstance(distinct_id, str) and not distinct_id)


class VariablesOverrides(msgspec.Struct, frozen=True):
    """What a context says about reading frames' local variables for its exceptions.

    None leaves a setting to the enclosing context, then to the client: a request that
    handles payment data can mask more, or switch variables off, without a second client.
    """

    enabled: bool | None = None
    mask_patterns: tuple[str, ...] | None = None
    ignore_patterns: tuple[str, ...] | None = None
    mask_url_credentials: bool | None = None
    detect_secrets: bool | None = None

    def under(self, outer: VariablesOverrides) -> VariablesOverrides:
        """These settings, with the ones left unset taken from `outer`."""
        return VariablesOverrides(
            outer.enabled if self.enabled is None else self.enabled,
            outer.mask_patterns if self.mask_patterns is None else self.mask_patterns,
            outer.ignore_patterns if self.ignore_patterns is None else self.ignore_patterns,
            outer.mask_url_credentials
            if self.mask_url_credentials is None
            else self.mask_url_credentials,
            outer.detect_secrets if self.detect_secrets is None else self.detect_secrets,
        )


NO_OVERRIDES = VariablesOverrides()


def variables_config(
    enabled: bool, client: VariablesConfig, overrides: VariablesOverrides | None
) -> VariablesConfig | None:
    """The variables settings for one exception: the client's (`enabled`, `client`) with a
    context's overrides on top; None when variables are not read at all."""
    if overrides is None or overrides == NO_OVERRIDES:
        return client if enabled else None
    if not (enabled if overrides.enabled is None else overrides.enabled):
        return None
    return client.replaced(
        overrides.mask_patterns,
        overrides.ignore_patterns,
        overrides.mask_url_credentials,
        overrides.detect_secrets,
    )


@attrs.frozen
class Bucket:
    """A token bucket's state: tokens left and when it was last refilled (seconds)."""

    tokens: float
    refilled_at: float


def take_token(
    bucket: Bucket | None,
    now: float,
    *,
    size: float,
    refill_rate: float,
    refill_interval: float,
) -> tuple[bool, Bucket]:
    """Whether one more event may go out now, and the bucket after deciding.

    A missing bucket starts full. Tokens come back `refill_rate` at a time for each whole
    `refill_interval` that has passed, never above `size`; the clock that had no whole
    interval keeps its remainder so slow trickles still refill, and an interval of zero
    (or less) fills the bucket at every call. Each call takes a token while any is left,
    and goes out only if one is still left after it: the call that empties the bucket is
    dropped too, so a full bucket lets `size - 1` through at once, as posthog-python's
    limiter does: an application switching SDKs sees a crash loop cut at the same count.
    """
    if bucket is None:
        bucket = Bucket(float(size), now)
    elapsed = now - bucket.refilled_at
    tokens, refilled_at = bucket.tokens, bucket.refilled_at
    if refill_interval <= 0:
        tokens, refilled_at = float(size), now
    elif elapsed >= refill_interval:
        steps = int(elapsed // refill_interval)
        tokens = min(float(size), tokens + steps * refill_rate)
        refilled_at = refilled_at + steps * refill_interval
    elif elapsed < 0:
        refilled_at = now
    if tokens <= 0:
        return False, Bucket(tokens, refilled_at)
    return tokens > 1, Bucket(tokens - 1, refilled_at)
