"""OpenFeature evaluation contexts as hogkit evaluation arguments.

The mapping is the one PostHog's own provider uses, so a team can switch providers without
touching its contexts: the targeting key is the distinct id, the `groups` and
`group_properties` attributes are passed as they are, and every other attribute is a
person property.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from openfeature.evaluation_context import EvaluationContext

__all__ = ["Subject", "subject_of"]

_RESERVED = ("groups", "group_properties")


class Subject(NamedTuple):
    """Who a flag is evaluated for, in `Client.evaluate_flags`' terms."""

    distinct_id: str | None
    person_properties: dict[str, Any]
    groups: dict[str, Any]
    group_properties: dict[str, dict[str, Any]]


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def subject_of(context: EvaluationContext | None) -> Subject:
    """The subject a context describes (an absent or empty targeting key gives None)."""
    if context is None:
        return Subject(None, {}, {}, {})
    attributes = context.attributes or {}
    person = {key: value for key, value in attributes.items() if key not in _RESERVED}
    group_properties = {
        str(name): _mapping(props)
        for name, props in _mapping(attributes.get("group_properties")).items()
    }
    key = context.targeting_key
    return Subject(
        key if key else None,
        person,
        _mapping(attributes.get("groups")),
        group_properties,
    )
