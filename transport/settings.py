"""`LiveSettings`: the Client settings that are checked, or reach several collaborators,
when changed on a running client.

posthog-python keeps its options as plain attributes that a running client reads on
every call, so applications set them at any time. Most of hogkit's live settings are one
collaborator's own (`disabled`, `before_send`, ...); these two need more than a write:
super properties go into the one `EventContext` that capture and flag events share, and
module prefixes are checked like the constructor option.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .event_methods import EventMethods
from .flags import FlagService
from .options import usable_setting
from .pipeline import EventPipeline
from .problems import Problems

__all__ = ["LiveSettings"]


class LiveSettings:
    """`super_properties` and `in_app_modules`, read and written through the Client."""

    def __init__(
        self,
        events: EventPipeline,
        event_methods: EventMethods,
        flags: FlagService,
        problems: Problems,
    ) -> None:
        self._events = events
        self._event_methods = event_methods
        self._flags = flags
        self._problems = problems

    @property
    def super_properties(self) -> Mapping[str, Any] | None:
        supers = self._events.context.super_properties
        return dict(supers) if supers else None

    @super_properties.setter
    def super_properties(self, properties: Mapping[str, Any] | None) -> None:
        """A new context for the events after, capture and flag events alike; a value that
        is not a mapping leaves the ones in force (reported, never raised unless debug)."""
        try:
            if properties is not None and not isinstance(properties, Mapping):
                raise TypeError(f"super_properties must be a mapping, not {properties!r}")
            context = self._events.context.with_super_properties(properties)
        except Exception as exc:
            self._problems.fail("super_properties", exc)
            return
        self._events.context = context
        self._flags.event_context = context

    @property
    def in_app_modules(self) -> tuple[str, ...]:
        return self._event_methods.in_app_modules

    @in_app_modules.setter
    def in_app_modules(self, prefixes: Sequence[str] | None) -> None:
        usable = usable_setting("in_app_modules", prefixes, None)
        self._event_methods.in_app_modules = tuple(usable or ())
