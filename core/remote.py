"""The `/flags` responses: every shape the server sends, read into one immutable record type.

Pure on purpose: the shell owns the socket and the retries and hands this module the bytes,
so every response shape (v4 typed records, v2 records, v1 `featureFlags` maps) can be parsed
without a network. The request body and its encoding live in `flags_request`.

A response is read leniently, record by record: a known field of the wrong JSON type fails
only its own record (it reads as disabled and `malformed` names the field), so one bad record
can never take its neighbours down with it. Which fields a record has and what each may hold
is a table per record shape (`_V4_FIELDS`, `_V2_FIELDS`), read by one loop.
"""

from __future__ import annotations

import json
import math
import types
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from .attribution import Attribution, attribution_of
from .errors import HogkitError
from .payloads import decode_payload
from .snapshot import FlagResult, Reason

__all__ = [
    "FlagsResponse",
    "FlagsResponseError",
    "RemoteFlag",
    "decode_payload",
    "parse_flags_response",
]


class FlagsResponseError(HogkitError, ValueError):
    """A `/flags` response that cannot be read at all (invalid JSON, not an object, a bad
    top level)."""


# The request side lives in `flags_request`.
_ENCODER: Final = msgspec.json.Encoder()


class RemoteFlag(msgspec.Struct, frozen=True):
    """One flag as the server evaluated it, in the legacy (v2) view every reader shares.

    `value` is what a read reports: False when disabled, the variant when there is one,
    else True. `failed` is the server saying it could not evaluate the flag (no value,
    no payload); `malformed` names the field that made the record unreadable (the record
    then reads as disabled and is also `failed`).
    """

    key: str
    enabled: bool
    variant: str | None
    payload: Any
    id: int | None = None
    version: int | None = None
    reason_code: str | None = None
    reason_description: str | None = None
    condition_index: int | None = None
    has_experiment: bool | None = None
    config_version: int | None = None
    rule_type: str | None = None
    rule_id: str | None = None
    variant_key: str | None = None
    experiment_id: int | None = None
    failed: bool = False
    malformed: str | None = None
    payload_sent: Any = None
    """The payload as the server wrote it: JSON text kept as that text, a JSON value as
    that value. What readers that return payload text hand out, never re-encoded."""
    reason_text: str | None = None
    """The reason the older single-flag reads hand back: the description as written, where
    `reason_description` folds an empty or null one into None (see `_reason_text`)."""

    @property
    def value(self) -> bool | str:
        if not self.enabled:
            return False
        return self.variant if self.variant is not None else True

    @property
    def server_failed(self) -> bool:
        """The server reported a failure for a record that was itself readable."""
        return self.failed and self.malformed is None

    @property
    def attribution(self) -> Attribution | None:
        """The rule and arm the record's flag events report (None unless config v2)."""
        return attribution_of(
            self.config_version,
            self.reason_code,
            failed=self.failed,
            rule_id=self.rule_id,
            rule_type=self.rule_type,
            variant_key=self.variant_key,
        )

    def result(self) -> FlagResult | None:
        """The record as a `FlagResult` (None when it has no value: failed or unreadable),
        with the server's reason and the `/flags?v=4` rule fields. The payload is the
        record's own decoded value: copy it before handing it to a caller."""
        if self.failed:
            return None
        return FlagResult(
            key=self.key,
            value=self.value,
            payload=self.payload,
            id=self.id,
            version=self.version,
            has_experiment=self.has_experiment,
            reason=Reason(
                self.reason_code or "",
                self.condition_index,
                None,
                self.reason_description or "",
            ),
            locally_evaluated=False,
            config_version=self.config_version,
            rule_id=self.rule_id,
            rule_type=self.rule_type,
            experiment_id=self.experiment_id,
            variant_key=self.variant_key,
        )


class FlagsResponse(msgspec.Struct, frozen=True):
    """A whole `/flags` answer. `quota_limited` means the flags in it must not be used."""

    flags: Mapping[str, RemoteFlag]
    request_id: str | None = None
    evaluated_at: int | None = None
    errors_while_computing: bool = False
    quota_limited: bool = False
    minimal_flag_called_events: bool = False
    untyped: bool = False
    """Some record had no typed `value`: the server may predate `/flags?v=4`."""


_DECODER: Final = msgspec.json.Decoder()


class _Malformed(Exception):
    """A known field of one record has the wrong JSON type."""


# What a record's fields may hold. A reader returns the field's value (None when absent) or
# raises _Malformed; the order of a table is the order fields are judged in, so a record
# with several bad fields is named by the first.
def _text(value: object) -> object:
    if value is None or isinstance(value, str):
        return value
    raise _Malformed


def _boolean(value: object) -> object:
    if value is None or isinstance(value, bool):
        return value
    raise _Malformed


def _object(value: object) -> object:
    if value is None or isinstance(value, dict):
        return value
    raise _Malformed


def _integer(value: object) -> object:
    """Whole numbers, also written as floats (`3.0`); not booleans."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise _Malformed


def _typed_value(value: object) -> object:
    """A v4 `value`: a boolean, a variant, or a number or object that is its own payload."""
    if isinstance(value, float) and not math.isfinite(value):
        raise _Malformed
    if value is None or isinstance(value, (bool, str, dict, int, float)):
        return value
    raise _Malformed


def _encodable(value: object) -> object:
    """An own-payload value must render as compact JSON, as legacy readers see it."""
    if value is None or isinstance(value, (bool, str)):
        return value
    try:
        _ENCODER.encode(value)
    except (msgspec.EncodeError, RecursionError, ValueError, TypeError) as err:
        raise _Malformed from err
    return value


Reader = Callable[[object], object]

# (path in the record, reader, RemoteFlag attribute or None when only checked)
_V4_FIELDS: Final[tuple[tuple[str, Reader, str | None], ...]] = (
    ("key", _text, None),
    ("value", _typed_value, "value"),
    ("failed", _boolean, "failed"),
    ("reason", _object, None),
    ("reason.code", _text, "reason_code"),
    ("reason.condition_index", _integer, "condition_index"),
    ("reason.description", _text, "reason_description"),
    ("value", _encodable, None),
    ("metadata", _object, None),
    ("metadata.id", _integer, "id"),
    ("metadata.version", _integer, "version"),
    ("metadata.description", _text, None),
    ("metadata.has_experiment", _boolean, "has_experiment"),
    ("metadata.config_version", _integer, "config_version"),
    ("metadata.rule_type", _text, "rule_type"),
    ("metadata.rule_id", _text, "rule_id"),
    ("metadata.variant_key", _text, "variant_key"),
    ("metadata.forced_variant", _boolean, None),
    ("metadata.experiment_id", _integer, "experiment_id"),
)

# Records from servers before `/flags?v=4`: `enabled` and `variant` instead of `value`.
_V2_FIELDS: Final[tuple[tuple[str, Reader, str | None], ...]] = (
    ("key", _text, None),
    ("enabled", _boolean, "enabled"),
    ("variant", _text, "variant"),
    ("failed", _boolean, "failed"),
    ("reason", _object, None),
    ("reason.code", _text, "reason_code"),
    ("reason.condition_index", _integer, "condition_index"),
    ("reason.description", _text, "reason_description"),
    ("metadata", _object, None),
    ("metadata.id", _integer, "id"),
    ("metadata.version", _integer, "version"),
    ("metadata.description", _text, None),
    ("metadata.has_experiment", _boolean, "has_experiment"),
)


def _read_fields(
    record: dict[str, Any], table: tuple[tuple[str, Reader, str | None], ...]
) -> dict[str, Any]:
    """The table's attributes read from `record`; raises _Malformed naming the field."""
    found: dict[str, Any] = {}
    for path, reader, attribute in table:
        parent, _, name = path.rpartition(".")
        holder = record.get(parent) if parent else record
        value = holder.get(name) if isinstance(holder, dict) else None
        try:
            value = reader(value)
        except _Malformed:
            raise _Malformed(path) from None
        if attribute is not None:
            found[attribute] = value
    return found


def _malformed(key: str, field: str) -> RemoteFlag:
    return RemoteFlag(
        key=key, enabled=False, variant=None, payload=None, failed=True, malformed=field
    )


def _reason_text(reason: object, *, typed: bool) -> str | None:
    """A record's reason as text, the way each record shape has always read it.

    A typed record with a reason object reads as its description, or "" without one. An
    older record reads as the description member as written (a null one stays None, a
    missing one is ""), and an empty reason object as no reason at all.
    """
    if not isinstance(reason, dict):
        return None
    description = reason.get("description", "")
    if typed:
        return description if isinstance(description, str) else ""
    if not reason:
        return None
    return description if isinstance(description, str) else None


def _typed_record(key: str, rec: object) -> RemoteFlag:
    """A `/flags?v=4` record (it has a `value` member, or is not even an object)."""
    if not isinstance(rec, dict):
        return _malformed(key, "record")
    try:
        fields = _read_fields(rec, _V4_FIELDS)
    except _Malformed as err:
        return _malformed(key, str(err))
    except RecursionError:
        return _malformed(key, "value")
    failed = fields.pop("failed") is True
    value = None if failed else fields.pop("value")
    fields.pop("value", None)
    payload: Any = None
    sent: Any = None
    if value is None or isinstance(value, bool):
        enabled, variant = bool(value), None
    elif isinstance(value, str):
        enabled, variant = True, value
    else:
        # A number or object value is its own payload; as text it reads the way a server
        # before `/flags?v=4` wrote it (compact JSON), whatever the record's metadata says.
        enabled, variant, payload = True, None, value
        try:
            sent = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        except (RecursionError, ValueError):
            return _malformed(key, "value")
    meta = rec.get("metadata")
    if payload is None and not failed and meta is not None:
        sent = meta.get("payload")
        payload = decode_payload(sent)
    return RemoteFlag(
        key=key,
        enabled=enabled,
        variant=variant,
        payload=payload,
        failed=failed,
        payload_sent=sent,
        reason_text=_reason_text(rec.get("reason"), typed=True),
        **_cleaned(fields),
    )


def _cleaned(fields: dict[str, Any]) -> dict[str, Any]:
    """Empty reason texts read as absent."""
    for name in ("reason_code", "reason_description"):
        fields[name] = fields[name] or None
    return fields


def _older_record(key: str, rec: dict[str, Any]) -> RemoteFlag:
    """A record without a typed `value`, from a server before `/flags?v=4` (config version 1)."""
    try:
        fields = _read_fields(rec, _V2_FIELDS)
    except _Malformed as err:
        return _malformed(key, str(err))
    failed = fields.pop("failed") is True
    meta = rec.get("metadata")
    sent = meta.get("payload") if meta and not failed else None
    return RemoteFlag(
        key=key,
        enabled=bool(fields.pop("enabled")),
        payload=decode_payload(sent),
        config_version=1,
        failed=failed,
        payload_sent=sent,
        reason_text=_reason_text(rec.get("reason"), typed=False),
        **_cleaned(fields),
    )


def _record(key: str, rec: object) -> RemoteFlag:
    if isinstance(rec, dict) and "value" not in rec:
        return _older_record(key, rec)
    return _typed_record(key, rec)


def _v1_record(key: str, value: object, raw_payload: object) -> RemoteFlag:
    """A `featureFlags`/`featureFlagPayloads` pair from the oldest (`/decide`) shape."""
    if isinstance(value, str):
        enabled, variant = True, value
    else:
        enabled, variant = bool(value), None
    return RemoteFlag(
        key=key,
        enabled=enabled,
        variant=variant,
        payload=decode_payload(raw_payload),
        config_version=1,
        payload_sent=raw_payload,
    )


def parse_flags_response(raw: bytes | str | object) -> FlagsResponse:
    """Read a `/flags` response body (bytes/str of JSON, or an already decoded object).

    Raises `FlagsResponseError` only when nothing in it can be used: invalid JSON, a
    top level that is not an object, or a `flags`/`featureFlags` member that is not one.
    """
    if isinstance(raw, (bytes, bytearray, memoryview, str)):
        try:
            doc = _DECODER.decode(raw)
        except (msgspec.DecodeError, RecursionError, ValueError) as err:
            raise FlagsResponseError(f"/flags response is not valid JSON: {err}") from None
    else:
        doc = raw
    if not isinstance(doc, dict):
        raise FlagsResponseError(f"/flags response must be a JSON object, not {type(doc).__name__}")

    flags: dict[str, RemoteFlag] = {}
    untyped = False
    if "flags" in doc:
        records = doc["flags"]
        if not isinstance(records, dict):
            raise FlagsResponseError(
                f"/flags response member 'flags' must be an object, not {type(records).__name__}"
            )
        for key, rec in records.items():
            if isinstance(rec, dict) and "value" not in rec:
                untyped = True
            flags[key] = _record(key, rec)
    else:
        values = doc.get("featureFlags") or {}
        payloads = doc.get("featureFlagPayloads") or {}
        if not isinstance(values, dict):
            raise FlagsResponseError(
                "/flags response member 'featureFlags' must be an object, "
                f"not {type(values).__name__}"
            )
        if not isinstance(payloads, dict):
            payloads = {}
        untyped = bool(values)
        for key, value in values.items():
            flags[key] = _v1_record(key, value, payloads.get(key))

    request_id = doc.get("requestId")
    evaluated_at = doc.get("evaluatedAt")
    quota = doc.get("quotaLimited")
    return FlagsResponse(
        flags=types.MappingProxyType(flags),
        request_id=request_id if isinstance(request_id, str) else None,
        evaluated_at=(
            evaluated_at
            if isinstance(evaluated_at, int) and not isinstance(evaluated_at, bool)
            else None
        ),
        errors_while_computing=bool(doc.get("errorsWhileComputingFlags", False)),
        quota_limited=isinstance(quota, list) and "feature_flags" in quota,
        minimal_flag_called_events=doc.get("minimalFlagCalledEvents") is True,
        untyped=untyped,
    )
