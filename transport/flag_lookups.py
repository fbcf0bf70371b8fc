"""The parts of a flag read beside the snapshot path.

A single flag's local value without building a snapshot, a local snapshot on its own,
one `/flags` exchange for the older reads, and merging a planned request's outcome into
the snapshot (step 4 of `FlagService.evaluate`).
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hogkit.core import FlagSet
from hogkit.core.flag_requests import fallback_keys, merge_remote
from hogkit.core.flags_request import encode_flags_request, flags_request_body
from hogkit.core.remote import FlagsResponse, RemoteFlag
from hogkit.core.snapshot import Snapshot

from .contexts import current_context, flag_identity
from .evaluations import FlagCalledSink, FlagEvaluations
from .local_definitions import LocalDefinitions
from .remote_flags import FlagsRequest, Outcome, RemoteFlags

__all__ = ["FlagLookups"]

log = logging.getLogger("hogkit.transport.flags")


class FlagLookups:
    """Local lookups and `/flags` exchanges that the facade's reads are built from."""

    def __init__(
        self,
        api_key: str,
        local: LocalDefinitions,
        remote: RemoteFlags,
        now: Callable[[], _dt.datetime],
        disable_geoip: bool,
        sink: FlagCalledSink,
    ) -> None:
        """`sink` receives the flag events of the snapshots made here."""
        self._api_key = api_key
        self.local = local
        self.remote = remote
        self._now = now
        self.disable_geoip = disable_geoip
        self.sink = sink

    def complete(self, request: FlagsRequest, outcome: Outcome) -> FlagEvaluations:
        """Step 4 of `evaluate`: the snapshot once the planned `/flags` request is done."""
        response, error = outcome
        minimal = request.minimal
        remembered = None
        if response is not None:
            minimal = response.minimal_flag_called_events
            self.remote.remember(request.distinct_id, response)
        else:
            keys = fallback_keys(request.local, request.unresolved, request.flag_keys)
            remembered = self.remote.recall(request.distinct_id, keys)
        merged = merge_remote(
            request.local, request.unresolved, request.flag_keys, response, error, remembered
        )
        return FlagEvaluations(
            request.distinct_id,
            local=request.local,
            remote=merged.remote,
            unresolved=merged.unresolved,
            groups=request.groups,
            disable_geoip=request.disable_geoip,
            request_id=response.request_id if response is not None else None,
            evaluated_at=response.evaluated_at if response is not None else None,
            errors=merged.errors,
            minimal=minimal,
            sink=self.sink,
            meta=request.meta,
        )

    def local_value(
        self,
        key: str,
        distinct_id: str,
        person_properties: Mapping[str, Any] | None,
        groups: Mapping[str, Any] | None,
        group_properties: Mapping[str, Mapping[str, Any]] | None,
        device_id: str | None,
    ) -> bool | str | None:
        """One flag's local value, as `evaluate_locally(..., (key,))[1].get_flag(key)`
        gives it (None: no definitions, or the server must decide), without building a
        snapshot: the hot path of single-flag reads that report nothing."""
        fs = self.local.definitions()
        if fs is None:
            return None
        if device_id is None and current_context() is not None:
            _, device_id = flag_identity(distinct_id, None)
        try:
            return fs.flag_value(
                key,
                distinct_id,
                self._now(),
                person_properties,
                groups,
                group_properties,
                device_id,
            )
        except Exception:  # the core promises not to raise; a bug must not reach callers
            log.exception("local flag evaluation failed")
            return None

    def evaluate_locally(
        self,
        distinct_id: str,
        person_properties: Mapping[str, Any] | None,
        groups: Mapping[str, Any] | None,
        group_properties: Mapping[str, Mapping[str, Any]] | None,
        device_id: str | None,
        flag_keys: Sequence[str] | None,
    ) -> tuple[FlagSet | None, Snapshot | None]:
        """The definitions for a read and, when they hold any flag, the local snapshot of
        `flag_keys` (every flag when None). Never asks the server. A read that names no
        device id takes the current context's (`FlagService.plan` settles it itself)."""
        if device_id is None and current_context() is not None:
            _, device_id = flag_identity(distinct_id, None)
        fs = self.local.definitions()
        return fs, self.snapshot(
            fs, distinct_id, person_properties, groups, group_properties, device_id, flag_keys
        )

    def snapshot(
        self,
        fs: FlagSet | None,
        distinct_id: str,
        person_properties: Mapping[str, Any] | None,
        groups: Mapping[str, Any] | None,
        group_properties: Mapping[str, Mapping[str, Any]] | None,
        device_id: str | None,
        flag_keys: Sequence[str] | None,
    ) -> Snapshot | None:
        """`fs`' local snapshot of `flag_keys` (every flag when None); None when `fs` holds
        no flag, or when evaluating it fails."""
        if fs is None or not fs.keys:
            return None
        try:
            return fs.evaluate(
                distinct_id,
                person_properties=person_properties,
                groups=groups,
                group_properties=group_properties,
                device_id=device_id,
                flag_keys=flag_keys,
                now=self._now(),
            )
        except Exception:  # the core promises not to raise; a bug must not reach callers
            log.exception("local flag evaluation failed")
            return None

    def ask(
        self,
        distinct_id: object,
        groups: Mapping[str, Any] | None,
        person_properties: Mapping[str, Any] | None,
        group_properties: Mapping[str, Mapping[str, Any]] | None,
        disable_geoip: bool | None,
        device_id: str | None,
        flag_keys: Sequence[str] | None,
        *,
        group_keys: bool = True,
    ) -> tuple[dict[str, Any] | None, FlagsResponse | None, str | None]:
        """One `/flags` request: (the answer as sent, the answer read, the error code).

        `group_keys=False` sends `group_properties` exactly as given, without adding each
        group's `$group_key` (what the decision getters have always sent). A client with
        offline definitions never asks.
        """
        if self.local.local_only:
            return None, None, None
        distinct_id, device_id = flag_identity(distinct_id, device_id)
        body = self.request_body(
            distinct_id, groups, person_properties, group_properties, disable_geoip, device_id,
            flag_keys,
        )  # fmt: skip
        if not group_keys:
            body["group_properties"] = dict(group_properties or {})
        document, response, error = self.remote.exchange(encode_flags_request(body))
        if response is not None:
            self.remote.remember(str(distinct_id), response)
        return document, response, error

    def request_body(
        self,
        distinct_id: object,
        groups: Mapping[str, Any] | None,
        person_properties: Mapping[str, Any] | None,
        group_properties: Mapping[str, Mapping[str, Any]] | None,
        disable_geoip: bool | None,
        device_id: str | None,
        flag_keys: Sequence[str] | None,
        group_keys: bool = True,
    ) -> dict[str, Any]:
        """The `/flags` request body for a read, sent now (the client's `disable_geoip`
        unless the call chose; `group_keys`: see `flags_request_body`)."""
        return flags_request_body(
            api_key=self._api_key,
            distinct_id=distinct_id,
            groups=groups,
            person_properties=person_properties,
            group_properties=group_properties,
            disable_geoip=self.disable_geoip if disable_geoip is None else disable_geoip,
            device_id=device_id,
            flag_keys=flag_keys,
            sent_at=self._now(),
            group_keys=group_keys,
        )

    def remembered(self, distinct_id: str, keys: Sequence[str] | None) -> dict[str, RemoteFlag]:
        """Earlier answers for `keys` from the fallback store (empty without one)."""
        return self.remote.recall(distinct_id, keys)
