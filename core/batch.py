"""`/batch/` bodies, assembled from already-encoded events.

Sizes are measured on the exact bytes that go on the wire, so "is this event too large" and
"does this batch fit" are answered once, when the event is encoded, and the shell never
re-serialises a queued event (not for retries, not for splitting).

Limits follow posthog-python 7.91.1: one event may be at most 900 KiB of JSON, and a body
aims at 5 MiB. Unlike posthog-python (which closes a batch only after crossing 5 MiB, so
bodies reach ~5.9 MiB, and never splits a batch the server refuses), `split_batches` keeps
every body at or under its limit. Event encoding lives in `encoding`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from .encoding import (
    PlainCapture,
    encode_capture,
    encode_capture_call,
    encode_event,
    encode_plain_captures,
)
from .errors import InvalidEvent
from .event import Event
from .limits import BATCH_OVERHEAD_BYTES, MAX_BATCH_BYTES, MAX_EVENT_BYTES
from .timestamps import (
    format_timestamp,
)

__all__ = [
    "BATCH_OVERHEAD_BYTES",
    "MAX_BATCH_BYTES",
    "MAX_EVENT_BYTES",
    "PlainCapture",
    "check_event_size",
    "decode_batch",
    "encode_batch",
    "encode_capture",
    "encode_capture_call",
    "encode_event",
    "encode_plain_captures",
    "split_batches",
]

_UTC = _dt.timezone.utc
# The envelope holds only text, and a body is decoded without types: plain codecs do.
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()


def encode_batch(
    events: Sequence[Event | bytes],
    api_key: str,
    sent_at: _dt.datetime | str,
    historical_migration: bool = False,
) -> bytes:
    """The `/batch/` request body: `{"batch", "historical_migration", "sent_at", "api_key"}`.

    `bytes` items are events already encoded by `encode_event` and are spliced in as they
    are, so a retry only re-encodes the envelope (posthog-python regenerates `sent_at` per
    attempt). `sent_at` is a datetime (sent as UTC `isoformat()`) or a ready string.
    """
    if isinstance(sent_at, str):
        sent = sent_at
    else:
        formatted = format_timestamp(sent_at)
        if formatted is None:
            raise InvalidEvent(f"not a usable sent_at: {sent_at!r}")
        sent = formatted
    head = b'{"batch":['
    tail = b"".join(
        (
            b'],"historical_migration":',
            b"true" if historical_migration else b"false",
            b',"sent_at":',
            _ENCODER.encode(sent),
            b',"api_key":',
            _ENCODER.encode(api_key),
            b"}",
        )
    )
    try:
        return _joined(head, list(events), tail)  # type: ignore[arg-type]  # the usual case
    except TypeError:  # some are Events
        encoded = [item if isinstance(item, bytes) else encode_event(item) for item in events]
        return _joined(head, encoded, tail)


def _joined(head: bytes, items: list[bytes], tail: bytes) -> bytes:
    """`head`, the items with commas between them, `tail`: the events copied once in all.

    The envelope's two ends ride on the first and last event, so one join writes the body
    (a batch runs to megabytes, copied while the sending thread holds the GIL). Raises
    TypeError if an item is not bytes.
    """
    if not items:
        return head + tail
    if len(items) == 1:
        return head + items[0] + tail
    items[0] = head + items[0]
    items[-1] = items[-1] + tail
    return b",".join(items)


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
