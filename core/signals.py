"""Outcomes of a filter besides True, False and an `Unresolved` reason.

posthog-python distinguishes two ways a filter can fail to decide. An `Unresolved` reason
("inconclusive") lets later conditions still decide the flag. `NeedsServer` (a static or
unknown cohort, a malformed cohort, a dependency that itself needs the server) stops the
flag's condition loop: only the server can answer. `BROKEN` stands for a definition the
posthog-python cannot evaluate at all (for instance cohorts that include each other); it
is reported as `unsupported_definition`, except where posthog-python's filter loop lets an
earlier inconclusive filter absorb it.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from .reasons import Unresolved

__all__ = [
    "BROKEN",
    "DROPPED",
    "NEEDS_SERVER_DEPENDENCY",
    "NEEDS_SERVER_UNSUPPORTED",
    "Broken",
    "Dropped",
    "NeedsServer",
    "Outcome",
]


class NeedsServer(NamedTuple):
    """Only the server can decide; stops the flag's condition loop. A named tuple, so the
    module's two instances can never change."""

    reason: Unresolved

    def __repr__(self) -> str:
        return f"NeedsServer({self.reason.value})"


class Broken:
    """The definition cannot be evaluated at all."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "BROKEN"


class Dropped:
    """A flag posthog-python fails on outright and leaves out of its answer (a rollout
    that is not a number)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DROPPED"


BROKEN: Final = Broken()
DROPPED: Final = Dropped()
NEEDS_SERVER_UNSUPPORTED: Final = NeedsServer(Unresolved.UNSUPPORTED_DEFINITION)
NEEDS_SERVER_DEPENDENCY: Final = NeedsServer(Unresolved.UNRESOLVED_DEPENDENCY)

Outcome = bool | Unresolved | NeedsServer | Broken
