"""The reference oracle: posthog==7.91.1's local evaluation, driven without any network.

Tests, the conformance generator and benchmarks ask it for the answer hogkit must give.
`now` is pinned by swapping the oracle's view of the clock, so relative dates and bare
years are reproducible.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import time
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import posthog.feature_flags as _ph_flags
from posthog import Client as _PHClient
from posthog.request import DatetimeSerializer

_REAL_DATETIME = _dt.datetime


class _DateTimeMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, _REAL_DATETIME)


def _frozen_datetime_module(now: _dt.datetime) -> types.SimpleNamespace:
    """A stand-in for the `datetime` module whose `datetime.now()` answers `now`."""

    class FrozenDateTime(_REAL_DATETIME, metaclass=_DateTimeMeta):
        @classmethod
        def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
            if tz is None:
                return now.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            return now.astimezone(tz)

    namespace = types.SimpleNamespace(
        **{k: getattr(_dt, k) for k in dir(_dt) if not k.startswith("__")}
    )
    namespace.datetime = FrozenDateTime
    return namespace


@contextlib.contextmanager
def frozen_now(now: _dt.datetime) -> Iterator[None]:
    """posthog's clock pinned to `now`. Its cache of date filters found valid is emptied
    first: a bare year is valid or not depending on the day (`2025` names no 29 February),
    so a cached verdict from another `now` would give the answer of a process that had
    seen that filter on another day, not the answer for this one."""
    _ph_flags._assert_date_filter_supported.cache_clear()
    original = _ph_flags.datetime
    _ph_flags.datetime = _frozen_datetime_module(now)  # type: ignore[assignment]
    try:
        yield
    finally:
        _ph_flags.datetime = original


@contextlib.contextmanager
def local_zone(name: str) -> Iterator[None]:
    """The process's local time zone set to `name` (an IANA name) for a while: both SDKs
    read a naive time of the last few seconds as local time, which only shows off UTC."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()


def offline_client(api_key: str = "phc_reference", **options: Any) -> _PHClient:
    """A reference client that sends no events: sync mode, no sends, no polling, and a host
    where nothing listens. `options` may replace any of these (a host to ask for flags)."""
    settings: dict[str, Any] = {
        "host": "http://127.0.0.1:9",
        "send": False,
        "sync_mode": True,
        "enable_local_evaluation": False,
        **options,
    }
    return _PHClient(api_key, **settings)


@contextlib.contextmanager
def recording_clients() -> Iterator[tuple[Callable[..., _PHClient], list[dict[str, Any]]]]:
    """A factory of offline reference clients, and the messages they produced as JSON.

    The messages are taken by `before_send`, so they are the events the reference would
    send; every client made is shut down on exit.
    """
    sent: list[dict[str, Any]] = []
    clients: list[_PHClient] = []

    def record(msg: dict[str, Any]) -> dict[str, Any]:
        sent.append(json.loads(json.dumps(msg, cls=DatetimeSerializer)))
        return msg

    def make(**options: Any) -> _PHClient:
        client = offline_client(before_send=record, **options)
        clients.append(client)
        return client

    try:
        yield make, sent
    finally:
        for client in clients:
            client.shutdown()


def make_client(document: Mapping[str, Any] | Sequence[Any]) -> _PHClient:
    """A reference client loaded with `document` (a definitions document or a bare flag list)."""
    if not isinstance(document, Mapping):
        document = {"flags": list(document)}
    client = offline_client("phc_oracle", secret_key="phs_oracle")
    flags = [f for f in document.get("flags") or [] if isinstance(f, dict)]
    client.feature_flags = flags
    client.group_type_mapping = dict(document.get("group_type_mapping") or {})
    client.cohorts = dict(document.get("cohorts") or {})
    client._property_matching_version = document.get("property_matching_version", 1)
    return client


def evaluate(
    document: Mapping[str, Any] | Sequence[Any],
    distinct_id: str,
    *,
    person_properties: Mapping[str, Any] | None = None,
    groups: Mapping[str, str] | None = None,
    group_properties: Mapping[str, Mapping[str, Any]] | None = None,
    device_id: str | None = None,
    flag_keys: Sequence[str] | None = None,
    now: _dt.datetime | None = None,
    client: _PHClient | None = None,
) -> dict[str, dict[str, Any]]:
    """Every flag's outcome: `{"value": v, "payload": p}` or `{"unresolved": reason}`."""
    ph = client if client is not None else make_client(document)
    when = now or _REAL_DATETIME(2026, 6, 15, 12, 0, tzinfo=_dt.timezone.utc)
    with frozen_now(when):
        snap = ph.evaluate_flags(
            distinct_id,
            person_properties=dict(person_properties or {}),
            groups=dict(groups or {}),
            group_properties={k: dict(v) for k, v in (group_properties or {}).items()},
            device_id=device_id,
            flag_keys=list(flag_keys) if flag_keys is not None else None,
            only_evaluate_locally=True,
        )
    outcome: dict[str, dict[str, Any]] = {}
    for key in snap.keys:
        value = snap.get_flag(key, send_feature_flag_events=False)
        outcome[key] = {"value": value, "payload": snap.get_flag_payload(key)}
    for key, reason in snap.unresolved_flags.items():
        outcome[key] = {"unresolved": getattr(reason, "value", str(reason))}
    return outcome
