"""The facts one reported flag read carries into `$feature_flag_called`.

A read is settled by the local snapshot (then the flag's metadata comes from the
definitions, memoised per set) or by a `/flags` record (then from the server's answer);
either way the read's errors are worked out the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hogkit.core.attribution import Attribution
from hogkit.core.flag_called import EVALUATED_LOCALLY, FlagCalled, read_errors
from hogkit.core.flag_requests import reported_errors
from hogkit.core.remote import RemoteFlag
from hogkit.core.snapshot import Snapshot

__all__ = ["FlagMeta", "read_facts"]

FlagMeta = tuple[int | None, int | None, bool | None, bool]
"""A locally evaluated flag's (id, version, has_experiment, has_payloads)."""


def read_facts(
    snapshot: Snapshot | None,
    memo: dict[str, FlagMeta] | None,
    key: str,
    value: bool | str | None,
    record: RemoteFlag | None,
    attribution: Attribution | None,
    distinct_id: str,
    request_id: str | None,
    evaluated_at: int | None,
    errors: tuple[str, ...],
    unresolved: Mapping[str, Any],
    groups: Mapping[str, Any],
    disable_geoip: bool | None,
    minimal: bool,
) -> FlagCalled:
    """The facts of one read to report, from the local snapshot or the server's record.

    Every argument is positional: a snapshot calls this on each reported read, where a
    keyword call of this size is a measurable share (as with `FlagCalled` itself)."""
    meta: FlagMeta | None = None
    if record is None and value is not None and snapshot is not None:
        meta = memo.get(key) if memo is not None else None
        if meta is None:
            # One flag's metadata: `results` would build every flag's record and payload.
            local = snapshot.result(key)
            if local is not None:
                meta = (local.id, local.version, local.has_experiment, snapshot.has_payloads(key))
                if memo is not None:
                    memo[key] = meta
                payload = local.payload
        else:
            # Most flags have no payload for any value: nothing to look up and copy then.
            payload = snapshot.get_flag_payload(key) if meta[3] else None
    if meta is not None:
        flag_id, version, has_experiment, _ = meta
        reason: str | None = EVALUATED_LOCALLY
        evaluated_at = None
    elif record is not None:
        payload, flag_id, version = record.payload, record.id, record.version
        reason = record.reason_description
        has_experiment = record.has_experiment
        evaluated_at = evaluated_at
    else:
        payload = flag_id = version = reason = has_experiment = None
        evaluated_at = evaluated_at
    errors = read_errors(
        reported_errors(errors),
        key in unresolved,  # unresolved
        meta is not None or record is not None,  # found
        record is not None and record.server_failed,  # server_failed
    )
    return FlagCalled(
        distinct_id,
        key,
        value,
        payload,
        meta is not None,  # locally_evaluated
        flag_id,
        version,
        reason,
        request_id,
        evaluated_at,
        errors,
        has_experiment,
        groups,
        disable_geoip,
        minimal and has_experiment is False,  # minimal
        meta is not None,  # payload_is_json: a local payload is the snapshot's copy
        attribution,
    )
