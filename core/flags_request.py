"""The `/flags` request: the body posthog-python 7.91.1 sends and its JSON encoding.

Kept apart from `remote`, which reads the responses, because building a request and reading
a reply share no code: the shell needs only this module to send, and the body can be compared
field for field with posthog-python's request on its own. Pure: the time comes in as an argument.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

__all__ = ["FLAGS_PATH", "encode_flags_request", "flags_request_body"]

FLAGS_PATH: Final = "/flags/?v=4"
"""Path (with the API version query) of remote evaluation, as posthog-python 7.91.1 calls it."""


def flags_request_body(
    *,
    api_key: str,
    distinct_id: object,
    groups: Mapping[str, object] | None,
    person_properties: Mapping[str, object] | None,
    group_properties: Mapping[str, Mapping[str, object]] | None,
    disable_geoip: bool | None,
    device_id: str | None,
    flag_keys: Sequence[str] | None,
    sent_at: _dt.datetime,
    group_keys: bool = True,
) -> dict[str, object]:
    """The JSON object to POST, keys in the order posthog-python writes them.

    `group_properties` is what the caller passed: each group type named in `groups` gets
    `$group_key` first, then the caller's properties for that type (which may override it),
    and types not in `groups` are left out — the server sees the same context local
    evaluation saw. With `group_keys=False` they go as given instead, as posthog-python's
    AsyncClient sends them. Person properties go as given (no `distinct_id` is added
    remotely). `flag_keys` is sent only when it is a non-empty list.
    """
    group_map = dict(groups or {})
    body: dict[str, object] = {
        "distinct_id": distinct_id,
        "groups": group_map,
        "person_properties": dict(person_properties or {}),
        "group_properties": (
            _with_group_keys(group_map, group_properties or {})
            if group_keys
            else dict(group_properties or {})
        ),
        "geoip_disable": disable_geoip,
        "device_id": device_id,
    }
    if flag_keys:
        body["flag_keys_to_evaluate"] = list(flag_keys)
    body["sent_at"] = sent_at.isoformat()
    body["api_key"] = api_key
    return body


def _with_group_keys(
    groups: Mapping[str, object], given: Mapping[str, Mapping[str, object]]
) -> dict[str, dict[str, object]]:
    """Each group type in `groups`: its `$group_key`, then the caller's properties."""
    enriched: dict[str, dict[str, object]] = {}
    for group_type, group_key in groups.items():
        props: dict[str, object] = {"$group_key": group_key}
        extra = given.get(group_type)
        if extra:
            props.update(extra)
        enriched[group_type] = props
    return enriched


def _jsonable(value: object, depth: int = 0) -> object:
    """Rewrite values JSON has no type for the way posthog-python's encoder does.

    Dates become ISO strings (with `+00:00`, not `Z`), UUIDs strings, non-finite floats null;
    anything else without a JSON form becomes its `str()`, so an odd property value never
    stops a flag request. Nesting deeper than 200 levels is cut off as null.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth > 200:
        return None
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            if isinstance(key, str):
                name = key
            elif key is None:
                name = "null"
            elif isinstance(key, bool):
                name = "true" if key else "false"
            else:
                name = str(key)
            out[name] = _jsonable(item, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_jsonable(item, depth + 1) for item in value]
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(value)
    except Exception:
        return None


_ENCODER: Final = msgspec.json.Encoder()


def encode_flags_request(body: Mapping[str, object]) -> bytes:
    """UTF-8 JSON bytes of a request body (never gzipped: posthog-python never compresses it).

    Text UTF-8 cannot carry (a lone surrogate such as "\\ud800" in a person property) is
    sent as a JSON escape rather than failing the whole request.
    """
    plain = _jsonable(body)
    try:
        return _ENCODER.encode(plain)
    except UnicodeEncodeError:
        return json.dumps(plain, separators=(",", ":")).encode("ascii")
