"""`FlagQuery`: who a flag method asks about and how, as one frozen value.

Every flag method takes the same person, group and option arguments; bundling them once
lets each public method stay its signature plus one call, and lets the collaborators take
one argument instead of repeating eight in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

__all__ = ["FlagQuery", "GroupProperties", "Groups"]

Groups = Mapping[str, Any] | None
GroupProperties = Mapping[str, Mapping[str, Any]] | None


class FlagQuery(msgspec.Struct, frozen=True, gc=False):
    """One flag call's subject and options, as the caller gave them (a msgspec struct: it
    is built on every flag read, and costs less to build than an attrs class)."""

    distinct_id: Any = None
    groups: Groups = None
    person_properties: Mapping[str, Any] | None = None
    group_properties: GroupProperties = None
    only_evaluate_locally: bool = False
    send_events: bool = True
    disable_geoip: bool | None = None
    device_id: str | None = None
    flag_keys: Sequence[str] | None = None

    @property
    def group_map(self) -> dict[str, Any]:
        """The groups as a fresh dict ({} for none)."""
        return dict(self.groups) if self.groups else {}
