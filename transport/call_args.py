"""Types for code that wraps the capture methods: the keywords `capture` and `set` take.

An application that forwards `**kwargs` to `capture` (a logging bridge, a service's own
analytics helper) can annotate them with `Unpack[OptionalCaptureArgs]` and have a type
checker catch a misspelt keyword. The names are posthog-python's, so such annotations carry
over unchanged; each key is a keyword hogkit's method accepts.
"""

from __future__ import annotations

import datetime as _dt
import numbers
import uuid as _uuid
from collections.abc import Mapping
from typing import Any, TypedDict

from .evaluations import FlagEvaluations

__all__ = ["ID_TYPES", "OptionalCaptureArgs", "OptionalSetArgs"]

ID_TYPES = numbers.Number | str | _uuid.UUID | int
"""What a `distinct_id` may be; hogkit sends it as its string form."""


class OptionalSetArgs(TypedDict, total=False):
    """The keywords `set` and `set_once` take."""

    distinct_id: ID_TYPES | None
    properties: Mapping[str, Any] | None
    timestamp: _dt.datetime | str | None
    uuid: str | _uuid.UUID | None
    disable_geoip: bool | None


class OptionalCaptureArgs(TypedDict, total=False):
    """The keywords of `capture` after the event name."""

    distinct_id: ID_TYPES | None
    properties: Mapping[str, Any] | None
    timestamp: _dt.datetime | str | None
    uuid: str | _uuid.UUID | None
    groups: Mapping[str, Any] | None
    flags: FlagEvaluations | None
    send_feature_flags: bool | Mapping[str, Any] | None
    disable_geoip: bool | None
