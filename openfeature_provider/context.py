"""OpenFeature evaluation contexts as hogkit evaluation arguments.

The mapping is the one PostHog's own provider uses, so a team can switch providers without
touching its contexts: the targeting key is the distinct id, the `groups` and
`group_properties` attributes are passed as they are, and every other attribute is a
person property.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from openfeature.evaluation_context import EvaluationContext

__all__ = ["Subject", "subject_of"]

_RESERVED = ("groups", "group_properties")
_NONE: Mapping[str, Any] = MappingProxyType({})  # "no groups"


class Subject(NamedTuple):
    """Who a flag is evaluated for, in `Client.evaluate_flags`' terms."""

    distinct_id: str | None
    person_properties: Mapping[str, Any]
    groups: Mapping[str, Any]
    group_properties: Mapping[str, Mapping[str, Any]]


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def subject_of(context: EvaluationContext | None) -> Subject:
    """The subject a context describes (an absent or empty targeting key gives None)."""
    if context is None:
        return Subject(None, {}, {}, {})
    attributes = context.attributes or {}
    key = context.targeting_key
    if "groups" not in attributes and "group_properties" not in attributes:
        # The common case: every attribute is a person property. The client only reads
        # the mapping during the call and keeps nothing of it, so no copy is needed.
        return Subject(key if key else None, attributes, _NONE, _NONE)
    person = {name: value for name, value in attributes.items() if name not in _RESERVED}
    group_properties = {
        str(name): _mapping(props)
        for name, props in _mapping(attributes.get("group_properties")).items()
    }
    return Subject(
        key if key else None,
        person,
        _mapping(attributes.get("groups")),
        group_properties,
    )
