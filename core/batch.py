"""Events to bytes: each event serialised once, bodies assembled from those bytes.

Sizes are measured on the exact bytes that go on the wire, so "is this event too large" and
"does this batch fit" are answered once, when the event is encoded, and the shell never
re-serialises a queued event (not for retries, not for splitting).

Limits follow posthog-python 7.91.1: one event may be at most 900 KiB of JSON, and a body
aims at 5 MiB. Unlike the reference (which closes a batch only after crossing 5 MiB, so
bodies reach ~5.9 MiB, and never splits a batch the server refuses), `split_batches` keeps
every body at or under its limit.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from .events import Event, InvalidEvent, format_timestamp
from .normalize import normalize, normalize_properties

MAX_EVENT_BYTES = 900 * 1024
MAX_BATCH_BYTES = 5 * 1024 * 1024
BATCH_OVERHEAD_BYTES = 1024
"""Room `split_batches` leaves for the envelope (`api_key`, `sent_at`, field names)."""


def _fallback(value: Any) -> Any:
    return normalize(value)


_ENCODER = msgspec.json.Encoder(enc_hook=_fallback, decimal_format="number")
_DECODER = msgspec.json.Decoder()


def _wire(event: Event) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "event": event.event,
        "distinct_id": event.distinct_id,
        "properties": event.properties,
        "timestamp": event.timestamp,
        "uuid": event.uuid,
    }
    if event.set is not None:
        msg["$set"] = event.set
    if event.set_once is not None:
        msg["$set_once"] = event.set_once
    if event.extra:
        for key, value in event.extra.items():
            msg.setdefault(key, value)
    return msg


def encode_event(event: Event) -> bytes:
    """The event's compact JSON, exactly as it appears inside a `/batch/` body.

    Builders only produce JSON-safe values. An `Event` built by hand must hold normalised
    values too (`normalize_properties`): this never raises for one that does not, but
    types msgspec encodes natively (datetime, set, bytes…) then come out msgspec's way
    rather than by the normalisation rules.
    """
    try:
        if event.extra is None:
            return _ENCODER.encode(event)
        return _ENCODER.encode(_wire(event))
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError):
        return _ENCODER.encode(normalize_properties(_wire(event)))


def encode_batch(
    events: Sequence[Event | bytes],
    api_key: str,
    sent_at: _dt.datetime | str,
    historical_migration: bool = False,
) -> bytes:
    """The `/batch/` request body: `{"batch", "historical_migration", "sent_at", "api_key"}`.

    `bytes` items are events already encoded by `encode_event` and are spliced in as they
    are, so a retry only re-encodes the envelope (the reference regenerates `sent_at` per
    attempt). `sent_at` is a datetime (sent as UTC `isoformat()`) or a ready string.
    """
    items = [item if isinstance(item, bytes) else encode_event(item) for item in events]
    if isinstance(sent_at, str):
        sent = sent_at
    else:
        formatted = format_timestamp(sent_at)
        if formatted is None:
            raise InvalidEvent(f"not a usable sent_at: {sent_at!r}")
        sent = formatted
    return b"".join(
        (
            b'{"batch":[',
            b",".join(items),
            b'],"historical_migration":',
            b"true" if historical_migration else b"false",
            b',"sent_at":',
            _ENCODER.encode(sent),
            b',"api_key":',
            _ENCODER.encode(api_key),
            b"}",
        )
    )


def decode_batch(body: bytes) -> tuple[list[Event], dict[str, Any]]:
    """A body back into its events and its envelope fields (for tests and debugging tools).

    Raises `InvalidEvent` when the body is not a batch.
    """
    try:
        doc = _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"not a JSON batch body: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("batch"), list):
        raise InvalidEvent("a batch body must be an object with a 'batch' list")
    events = [Event.from_message(msg) for msg in doc["batch"]]
    envelope = {k: v for k, v in doc.items() if k != "batch"}
    return events, envelope


def check_event_size(encoded: bytes, *, limit: int = MAX_EVENT_BYTES) -> str | None:
    """None when the encoded event fits; otherwise the reason it must be dropped."""
    size = len(encoded)
    if size <= limit:
        return None
    return (
        f"event is {size} bytes of JSON, over the {limit}-byte limit for one event; "
        "it was not sent (trim large properties such as blobs or long lists)"
    )


def split_batches(
    encoded: Sequence[bytes],
    *,
    max_body_bytes: int = MAX_BATCH_BYTES,
    max_events: int | None = None,
    overhead: int = BATCH_OVERHEAD_BYTES,
) -> list[list[bytes]]:
    """Group encoded events, in order, so each body stays within `max_body_bytes`.

    A body's size is the items, the commas between them and `overhead` for the envelope.
    `max_events` caps the items per body. An item that does not fit even alone (which
    `check_event_size` should already have rejected) travels in a batch of its own rather
    than being lost silently here.
    """
    budget = max_body_bytes - overhead
    cap = max_events if max_events is not None and max_events > 0 else None
    batches: list[list[bytes]] = []
    current: list[bytes] = []
    used = 0
    for item in encoded:
        size = len(item)
        extra = size if not current else size + 1
        if current and (used + extra > budget or (cap is not None and len(current) >= cap)):
            batches.append(current)
            current, used, extra = [], 0, size
        current.append(item)
        used += extra
    if current:
        batches.append(current)
    return batches
