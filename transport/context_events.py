"""What the current context adds to events that are built whole, outside `capture`.

`capture` merges the context into its arguments before building (`with_context`). The flag
events (`$feature_flag_called`, `$experiment_exposure`) and the alias and group updates are
built from fixed fields instead, so the context is applied to the built event here: a flag
event inside a request context belongs to that request's session and tags like every
other event captured there, and an alias or group update to its session.
"""

from __future__ import annotations

import msgspec
from hogkit.core.context import ContextValues, apply_context, person_or_context
from hogkit.core.event import Event
from hogkit.core.normalize import normalize, normalize_properties

from .contexts import context_values

__all__ = ["in_context", "reported_person", "with_session"]


def in_context(event: Event, minimal: bool = False) -> Event:
    """`event` with the current context's tags under its own properties (which win),
    `$context_tags`, and the `$session_id` and `$device_id` it lacks, as a capture gets
    them. A minimal flag event, trimmed to a fixed set of properties, takes only
    `$session_id`. Outside any context, `event` itself."""
    values = context_values()
    if values is None:
        return event
    if minimal:
        return _with_session_id(event, values)
    _, merged = apply_context(values, event.distinct_id, event.properties)
    return msgspec.structs.replace(event, properties=normalize_properties(merged))


def reported_person(distinct_id: str) -> str:
    """Who a flag event reports a read for: the read's own distinct id, or, for a read that
    named none (an empty id), the current context's person, as a capture without an id is
    sent. Outside a context (or in one with no person) the empty id stays: the event is
    then personless."""
    if distinct_id:
        return distinct_id
    values = context_values()
    if values is None:
        return distinct_id
    person = person_or_context(distinct_id, values.distinct_id)
    return person if isinstance(person, str) else distinct_id


def with_session(event: Event) -> Event:
    """`event` with the current context's `$session_id`, when it has one."""
    values = context_values()
    return event if values is None else _with_session_id(event, values)


def _with_session_id(event: Event, values: ContextValues) -> Event:
    if values.session_id is None or "$session_id" in event.properties:
        return event
    properties = {**event.properties, "$session_id": normalize(values.session_id)}
    return msgspec.structs.replace(event, properties=properties)
