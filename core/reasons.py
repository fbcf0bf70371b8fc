"""Why a flag could not be decided locally.

The four codes and their precedence are shared by every PostHog SDK: when several apply
to one flag, the earliest in `PRECEDENCE` is the one reported, so the same definitions give
the same reason everywhere.
"""

from __future__ import annotations

import enum
from types import MappingProxyType

__all__ = ["PRECEDENCE", "Unresolved", "stronger"]


class Unresolved(str, enum.Enum):
    """A reason a flag needs the server. Members compare equal to their string codes."""

    EXPERIENCE_CONTINUITY = "experience_continuity"
    UNSUPPORTED_DEFINITION = "unsupported_definition"
    UNRESOLVED_DEPENDENCY = "unresolved_dependency"
    MISSING_CONTEXT = "missing_context"

    def __str__(self) -> str:
        return self.value


PRECEDENCE: tuple[Unresolved, ...] = (
    Unresolved.EXPERIENCE_CONTINUITY,
    Unresolved.UNSUPPORTED_DEFINITION,
    Unresolved.UNRESOLVED_DEPENDENCY,
    Unresolved.MISSING_CONTEXT,
)
_RANK = MappingProxyType({reason: rank for rank, reason in enumerate(PRECEDENCE)})


def stronger(current: Unresolved | None, new: Unresolved) -> Unresolved:
    """The reason to keep when `new` joins `current` (None means nothing recorded yet)."""
    if current is None or _RANK[new] < _RANK[current]:
        return new
    return current
