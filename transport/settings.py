"""`LiveSettings`: the Client settings that are checked, or reach several collaborators,
when changed on a running client.

posthog-python keeps its options as plain attributes that a running client reads on
every call, so applications set them at any time. Most of hogkit's live settings are one
collaborator's own (`disabled`, `before_send`, ...); these need more than a write: super
properties go into the one `EventContext` that capture and flag events share, module
prefixes are checked like the constructor option, and the definitions test suites hand
posthog-python through `feature_flags`, `group_type_mapping` and `cohorts` become the
local definitions in force (what they cannot decide still goes to the server).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .event_methods import EventMethods
from .flag_api import loaded_definitions
from .flags import FlagService
from .logs import enable_debug_output
from .options import usable_setting
from .pipeline import EventPipeline
from .problems import Problems

__all__ = ["LiveSettings"]

_UNSET: Any = object()


class LiveSettings:
    """`debug`, `super_properties`, `in_app_modules` and the definitions set directly,
    read and written through the Client."""

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
        # The flags set through posthog-python's attribute (None: none set, so the
        # downloaded or given ones stay in force, with any table set here).
        self._flag_list: list[Any] | None = None
        # What was set through the other two (`_UNSET`: never set, so the downloaded ones
        # read back; the downloaded ones are kept here when flags are set first).
        self._group_type_mapping: Any = _UNSET
        self._cohorts: Any = _UNSET
        # The definitions' install count when any of the three was last set here (None:
        # none was since the last download; see `_given`).
        self._set_at: int | None = None

    @property
    def debug(self) -> bool:
        return self._problems.debug

    @debug.setter
    def debug(self, value: bool) -> None:
        """Debug on shows the `hogkit` log (once set up, it stays) and makes problems raise."""
        if value and not self._problems.debug:
            enable_debug_output()
        self._problems.debug = bool(value)

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

    @property
    def feature_flags(self) -> list[Any] | None:
        """The flags set here, else the downloaded ones (see `loaded_definitions`)."""
        if self._given():
            return self._flag_list
        flags: list[Any] | None = loaded_definitions(self._flags, "flags")
        return flags

    @feature_flags.setter
    def feature_flags(self, flags: Sequence[Any] | None) -> None:
        # The downloads stop now: keep what they said about groups and cohorts (tables
        # kept or set here before a download that came since are ended first: it replaced
        # them).
        self._given()
        if self._group_type_mapping is _UNSET:
            self._group_type_mapping = self.group_type_mapping
        if self._cohorts is _UNSET:
            self._cohorts = self.cohorts
        self._flag_list = list(flags or [])
        self._set_at = self._flags.local.installs()
        self._use_given("feature_flags")

    @property
    def feature_flags_by_key(self) -> dict[str, Any] | None:
        """`feature_flags` by key (a flag without one left out), as posthog-python keeps them."""
        flags = self.feature_flags
        if flags is None:
            return None
        return {f["key"]: f for f in flags if isinstance(f, Mapping) and f.get("key") is not None}

    def load_feature_flags(self) -> bool:
        """Download the flag definitions now (the poller also does it every `poll_interval`);
        True when the server answered.

        A client with nothing to download from (disabled, or without a personal API key)
        puts an empty flag list in force instead, as posthog-python's does: the flags read
        back `[]` rather than None, group types and cohorts stay, and a later download
        replaces them.
        """
        if self._flags.loads_nothing:
            self.feature_flags = []
            return False
        try:
            return self._flags.reload()
        except Exception as exc:
            self._problems.fail("load_feature_flags", exc)
            return False

    def feature_flag_definitions(self) -> list[Any] | None:
        """The flag definitions in force as decoded JSON objects (a fresh list each call),
        or None while nothing was loaded; the compiled set is `flag_service.flagset`."""
        flags = self.feature_flags
        return None if flags is None else list(flags)

    @property
    def group_type_mapping(self) -> dict[str, Any] | None:
        return self._given_or_loaded("group_type_mapping")

    @group_type_mapping.setter
    def group_type_mapping(self, mapping: Mapping[str, Any] | None) -> None:
        self._set_table("group_type_mapping", mapping)

    @property
    def cohorts(self) -> dict[str, Any] | None:
        return self._given_or_loaded("cohorts")

    @cohorts.setter
    def cohorts(self, cohorts: Mapping[str, Any] | None) -> None:
        self._set_table("cohorts", cohorts)

    def _set_table(self, name: str, table: Any) -> None:
        """Set group types or cohorts, in force with the flags in force (set here, else the
        downloaded ones) until the next download, as posthog-python evaluates whatever its
        three attributes hold and a download overwrites them. Anything set before a
        download that came since is ended first, so no flag set back then comes back."""
        self._given()
        setattr(self, f"_{name}", table)
        self._set_at = self._flags.local.installs()
        self._use_given(name)

    def _given_or_loaded(self, name: str) -> dict[str, Any] | None:
        """What was set for table `name`, else the downloaded one (see `loaded_definitions`)."""
        self._given()
        given = getattr(self, f"_{name}")
        table: dict[str, Any] | None = (
            given if given is not _UNSET else loaded_definitions(self._flags, name)
        )
        return table

    def _given(self) -> bool:
        """Whether flags set here are in force. A download after any of the three was set
        replaces what was set, as in posthog-python, whose downloads overwrite the three
        attributes; then all three read back the downloaded ones again."""
        if self._set_at is not None and self._flags.local.installs() != self._set_at:
            self._flag_list = None
            self._group_type_mapping = self._cohorts = _UNSET
            self._set_at = None
        return self._flag_list is not None

    def _use_given(self, name: str) -> None:
        """Put what was set in force with the flags in force: those set here, else the
        downloaded ones (without either there is nothing to evaluate, and definitions
        handed over in place of downloads stay). A document the core cannot read leaves
        the ones in force (reported, never raised unless debug)."""
        flags = self.feature_flags
        if self._flag_list is None and not flags:
            return
        # Group types or cohorts set to something other than a mapping are read as none
        # by the core, as posthog-python's evaluation finds none in them.
        document = {
            "flags": flags,
            "group_type_mapping": _copied(self.group_type_mapping),
            "cohorts": _copied(self.cohorts),
        }
        try:
            self._flags.replace_definitions(document, ask_server=True, until_download=True)
        except Exception as exc:
            self._problems.fail(name, exc)


def _copied(table: Any) -> Any:
    """A mapping as a dict of its own (changing the caller's later changes nothing)."""
    return dict(table) if isinstance(table, Mapping) else table
