"""Reporting flag reads: `$feature_flag_called` and `$experiment_exposure`, each once.

Two bounded dedup caches decide what was already sent: one for flag-called reports and
one for experiment exposures, so a deduplicated report never hides an exposure. A key is
reserved before the event is built and freed again when the event is not settled, so a
later read can try once more.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable

import msgspec
from hogkit.core.event import Event, EventContext
from hogkit.core.exposure import exposure_event, exposure_hash
from hogkit.core.flag_called import FlagCalled, flag_called_event, groups_token, report_of
from hogkit.core.timestamps import TimestampMemo

from .context_events import in_context, reported_person
from .dedup import FlagCalledCache
from .problems import short_text
from .tracing import span_properties

__all__ = ["FlagReporter"]

log = logging.getLogger("hogkit.transport.flags")


class FlagReporter:
    """The snapshots' `FlagCalledSink`: deduplicates, builds and emits flag events."""

    def __init__(
        self,
        emit: Callable[[Event], object] | None,
        context: EventContext,
        event_time: Callable[[], _dt.datetime | str | float],
        new_uuid: Callable[[], str],
        dedup_capacity: int,
    ) -> None:
        """`emit(event)` is truthy when the event is settled (queued, or dropped by the
        application's `before_send`); a falsy answer frees its dedup key."""
        self._emit = emit
        # What every flag event shares; replaced whole when the client's super properties
        # change (see `FlagService.event_context`).
        self.context = context
        self._event_time = event_time
        self._new_uuid = new_uuid
        self.reported = FlagCalledCache(dedup_capacity)
        self.exposed = FlagCalledCache(dedup_capacity)
        # `claim(user, report)` reserves one report's dedup key; False when it was already
        # sent (or there is no emitter). Every reported read calls it, so with an emitter it
        # is the cache's own method rather than a method that calls it.
        self.claim: Callable[[int, int], bool] = (
            self.reported.reserve if emit is not None else _unclaimable
        )
        # The second formatted last: reports come in bursts (see `TimestampMemo`).
        self._memo = TimestampMemo()
        # `capture_trace_context`: flag events carry the active span's ids, like captures.
        self.trace_context = False

    def report(self, called: FlagCalled, users: tuple[int, int] | None = None) -> None:
        """Send the flag events of one read built outside a snapshot: `$feature_flag_called`
        unless that report was already sent, then `$experiment_exposure` when the read
        assigned an experiment arm not yet exposed. `users` are the (flag-called, exposure)
        dedup buckets when they are not the reported distinct id's. Never raises."""
        try:
            user, report = report_of(
                called.distinct_id, called.key, called.response, called.groups, called.attribution
            )
            exposure_user = user
            if users is not None:
                user, exposure_user = users
            if self.claim(user, report):
                self.send(user, report, called)
            if called.attribution is not None and called.attribution.exposes:
                exposure = exposure_hash(groups_token(called.groups), called)
                self.expose(exposure_user, exposure, called)
        except Exception:
            log.exception("could not report $feature_flag_called for %s", short_text(called.key))

    def send(self, user: int, report: int, called: FlagCalled) -> None:
        """Emit a claimed `$feature_flag_called`; an unsettled event frees its key."""
        settled: object = False
        try:
            called, anonymous = self._person(called)
            event = flag_called_event(
                self.context, self._event_time(), self._new_uuid(), called, anonymous, self._memo
            )
            if self.trace_context and not called.minimal:
                event = _under_span(event)
            event = in_context(event, called.minimal)
            assert self._emit is not None
            settled = self._emit(event)
        finally:
            if not settled:
                self.reported.release(user, report)

    def expose(self, user: int, exposure: int, called: FlagCalled) -> None:
        """Emit `$experiment_exposure` for an arm not yet exposed to this user."""
        if self._emit is None or not self.exposed.reserve(user, exposure):
            return
        settled = False
        try:
            called, anonymous = self._person(called)
            event = exposure_event(
                self.context, self._event_time(), self._new_uuid(), called, anonymous
            )
            if event is not None and self.trace_context:
                event = _under_span(event)
            if event is not None:
                event = in_context(event)
            settled = event is not None and bool(self._emit(event))
        finally:
            if not settled:
                self.exposed.release(user, exposure)

    def _person(self, called: FlagCalled) -> tuple[FlagCalled, str | None]:
        """`called` as its events report it, and the fresh id a personless one stands
        under: a read that named no person is reported for the context's, when there is
        one (its dedup keys stay those of the id the read was given)."""
        if called.distinct_id != "":
            return called, None
        person = reported_person(called.distinct_id)
        if person:
            return msgspec.structs.replace(called, distinct_id=person), None
        return called, str(self._new_uuid())

    def clear(self) -> None:
        """Forget every sent report and exposure."""
        self.reported.clear()
        self.exposed.clear()


def _unclaimable(user: int, report: int) -> bool:
    """`claim` without an emitter: nothing is ever sent, so nothing is reserved."""
    return False


def _under_span(event: Event) -> Event:
    """`event` with the active span's ids under its own properties (which win)."""
    span = span_properties()
    if not span:
        return event
    span.update(event.properties)
    return msgspec.structs.replace(event, properties=span)
