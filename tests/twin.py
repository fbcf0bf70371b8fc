"""Two SDKs, one server: hogkit and the reference (posthog 7.91.1) side by side over real HTTP.

A `Twin` starts one `LoopbackServer` and builds a reference client and a hogkit client against
it with equivalent options. Both poll the same `/flags/definitions` and ask the same scripted
`/flags`; each one's requests are told apart by the project API key it sends (the `token`
query of a definitions poll, the `api_key` of a `/flags` or `/batch/` body), so a script plays
the same replies to each SDK independently.

    with Twin(definitions=DOC, remote=[Reply.json(RECORDS)]) as twin:
        ref, kit = twin.both("get_feature_flag", "beta", "user-1")
        assert kit == ref
        assert twin.kit_events() == twin.ref_events()

Events are compared as the server received them, minus the fields that legitimately differ
between two SDKs or two runs (see `VOLATILE_FIELDS` and `VOLATILE_PROPERTIES`).
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import posthog
from httpserver import LoopbackServer, Reply, Request

try:  # the top-level package, once it exports the client
    from hogkit import Client as KitClient  # type: ignore[attr-defined]
except ImportError:
    from hogkit.transport import Client as KitClient

REF_KEY = "phc_reference"
KIT_KEY = "phc_hogkit"
SECRET = "phx_personal_key"
DEFS = "/flags/definitions"
FLAGS = "/flags/"

# Envelope fields of a sent event that differ by construction: random ids and clock readings.
VOLATILE_FIELDS = frozenset({"uuid", "timestamp"})

# Properties that name the SDK (`$lib`, `$lib_version`) rather than the read being reported.
VOLATILE_PROPERTIES = frozenset({"$lib", "$lib_version"})

EMPTY_DEFINITIONS: dict[str, Any] = {"flags": [], "group_type_mapping": {}, "cohorts": {}}


def flag(key: str, fid: int = 1, **filters: Any) -> dict[str, Any]:
    """One local-evaluation flag definition; `filters` defaults to one 100% release group."""
    filters.setdefault("groups", [{"properties": [], "rollout_percentage": 100}])
    return {"id": fid, "key": key, "active": True, "version": 3, "filters": filters}


def person_rule(key: str, value: Any, operator: str = "exact") -> dict[str, Any]:
    return {"key": key, "type": "person", "operator": operator, "value": value}


def definitions(*flags: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"flags": list(flags), "group_type_mapping": {}, "cohorts": {}, **extra}


def record(
    key: str,
    value: Any,
    *,
    fid: int = 1,
    reason: str = "condition_match",
    payload: Any = None,
    **metadata: Any,
) -> dict[str, Any]:
    """One `/flags?v=4` record: value True/False or a variant string."""
    meta: dict[str, Any] = {"id": fid, "version": 7, **metadata}
    if payload is not None:
        meta["payload"] = payload
    return {
        "key": key,
        "enabled": value is not False,
        "variant": value if isinstance(value, str) else None,
        "reason": {"code": reason, "description": reason},
        "metadata": meta,
    }


def experiment_record(key: str, variant: str, fid: int = 1) -> dict[str, Any]:
    """A typed `/flags?v=4` record assigning `variant` of an experiment (config version 2,
    rule and variant named): a read of it also sends `$experiment_exposure`."""
    return {
        "key": key,
        "value": variant,
        "reason": {"code": "experiment_split", "description": "In the experiment"},
        "metadata": {
            "id": fid,
            "version": 1,
            "config_version": 2,
            "rule_id": "0f8b6c2e-4d0a-4c57-9a3e-2b8d7f1e6a90",
            "rule_type": "experiment",
            "variant_key": variant,
        },
    }


def flags_response(*records: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "flags": {r["key"]: r for r in records},
        "requestId": "req-42",
        "evaluatedAt": 1765000000000,
        "errorsWhileComputingFlags": False,
    }
    body.update(extra)
    return body


def sdk_key(request: Request) -> str:
    """Which SDK sent `request`: the project key in its query or body."""
    tokens = request.query.get("token")
    if tokens:
        return tokens[0]
    try:
        body = request.json()
    except ValueError:
        return ""
    return str(body.get("api_key") or body.get("token") or "") if isinstance(body, dict) else ""


class _PerSdkScript:
    """Successive replies for one path, played separately to each SDK, then `then` forever."""

    def __init__(self, replies: Sequence[Reply | Callable[[Request], Reply]], then: Any) -> None:
        self._replies = list(replies)
        self._then = then
        self._served: dict[str, int] = {}

    def __call__(self, request: Request) -> Reply:
        who = sdk_key(request)
        n = self._served.get(who, 0)
        self._served[who] = n + 1
        choice = self._replies[n] if n < len(self._replies) else self._then
        return choice(request) if callable(choice) else choice


class Twin:
    """A loopback server with a reference client (`ref`) and a hogkit client (`kit`)."""

    def __init__(
        self,
        definitions: Mapping[str, Any] | None = None,
        remote: Sequence[Reply] | Reply | None = None,
        *,
        definition_replies: Sequence[Reply] = (),
        local: bool = True,
        flags_timeout: float = 0.4,
        **options: Any,
    ) -> None:
        self.server = LoopbackServer()
        document = dict(definitions) if definitions is not None else EMPTY_DEFINITIONS
        self.script_definitions(*definition_replies, then=Reply.json(document))
        self.script_remote(*(remote if isinstance(remote, Sequence) else [remote or _no_flags()]))
        common: dict[str, Any] = {
            "host": self.server.url,
            "sync_mode": True,
            "poll_interval": 3600,
            "feature_flags_request_timeout_seconds": flags_timeout,
            **options,
        }
        if local:
            common["personal_api_key"] = SECRET
        else:
            common["enable_local_evaluation"] = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ref = posthog.Client(REF_KEY, **common)
            self.kit = KitClient(KIT_KEY, **common)

    # -- scripting ------------------------------------------------------------------------------

    def script_remote(self, *replies: Reply, then: Reply | None = None) -> None:
        """`/flags` replies for each SDK in turn; the last one (or `then`) repeats."""
        last = then or replies[-1]
        self.server.handle(FLAGS, _PerSdkScript(replies, last))

    def script_definitions(self, *replies: Reply, then: Reply) -> None:
        self.server.handle(DEFS, _PerSdkScript(replies, then))

    # -- calling --------------------------------------------------------------------------------

    def both(self, method: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """Call `method` on the reference, then on hogkit; returns (reference's, hogkit's)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ref = getattr(self.ref, method)(*args, **kwargs)
            kit = getattr(self.kit, method)(*args, **kwargs)
        return ref, kit

    def run(self, action: Callable[[Any], Any]) -> tuple[Any, Any]:
        """`action(client)` on the reference, then on hogkit; returns both results."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return action(self.ref), action(self.kit)

    # -- observing ------------------------------------------------------------------------------

    def requests(self, path: str, sdk: str) -> list[Request]:
        key = REF_KEY if sdk == "ref" else KIT_KEY
        return [r for r in self.server.requests(path) if sdk_key(r) == key]

    def _events(self, key: str) -> list[dict[str, Any]]:
        self.ref.flush()
        self.kit.flush()
        sent = [r for r in self.server.requests("/batch/") if r.json().get("api_key") == key]
        return [normalized(event) for r in sent for event in r.json()["batch"]]

    def ref_events(self) -> list[dict[str, Any]]:
        return self._events(REF_KEY)

    def kit_events(self) -> list[dict[str, Any]]:
        return self._events(KIT_KEY)

    def flag_events(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The flag events (`$feature_flag_called`, `$experiment_exposure`) each SDK sent."""
        names = {"$feature_flag_called", "$experiment_exposure"}
        ref = [e for e in self.ref_events() if e["event"] in names]
        kit = [e for e in self.kit_events() if e["event"] in names]
        return ref, kit

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        try:
            self.ref.shutdown()
        finally:
            try:
                self.kit.shutdown()
            finally:
                self.server.close()

    def __enter__(self) -> Twin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _no_flags() -> Reply:
    return Reply.json(flags_response())


def personless_marked(
    events: Sequence[Mapping[str, Any]], chosen: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Events with a personless event's distinct id (a fresh random UUID in both SDKs,
    checked here) replaced by a marker, so two SDKs' events compare equal. An id in
    `chosen` is one the application gave the event itself (a `before_send` hook may): it
    is left as it is, to be compared as it is."""
    out = []
    for event in events:
        personless = event["properties"].get("$process_person_profile") is False
        if personless and event["distinct_id"] not in chosen:
            assert str(uuid.UUID(event["distinct_id"])) == event["distinct_id"]
            event = {**event, "distinct_id": "<personless>"}
        out.append(dict(event))
    return out


def normalized(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event minus its volatile fields, with JSON-equal values (tuples become lists)."""
    out = {k: v for k, v in event.items() if k not in VOLATILE_FIELDS}
    props = out.get("properties") or {}
    out["properties"] = {k: v for k, v in props.items() if k not in VOLATILE_PROPERTIES}
    return json.loads(json.dumps(out))


def context_tags_in_order(event: dict[str, Any]) -> dict[str, Any]:
    """`event` (a `normalized` one) with its context's tag names sorted: posthog sends them
    from a set, in no promised order. Changed in place and returned."""
    for holder in (event.get("properties"), event.get("$set"), event.get("$set_once")):
        names = holder.get("$context_tags") if isinstance(holder, dict) else None
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            holder["$context_tags"] = sorted(names)
    return event


def snapshot_reads(flags: Any, keys: Sequence[str]) -> list[Any]:
    """Every read of an `evaluate_flags` snapshot, in a fixed order."""
    out: list[Any] = [sorted(flags.keys)]
    for key in keys:
        out += [flags.get_flag(key), flags.is_enabled(key), flags.get_flag_payload(key)]
    return out


__all__ = [
    "DEFS",
    "FLAGS",
    "KIT_KEY",
    "REF_KEY",
    "Twin",
    "context_tags_in_order",
    "definitions",
    "event_differences",
    "experiment_record",
    "flag",
    "flags_response",
    "normalized",
    "person_rule",
    "personless_marked",
    "record",
    "sdk_key",
    "snapshot_reads",
]


def event_differences(ref: Sequence[Mapping[str, Any]], kit: Sequence[Mapping[str, Any]]) -> str:
    """A short account of how two event lists differ: names, then property by property."""
    ref_names = [e["event"] for e in ref]
    kit_names = [e["event"] for e in kit]
    if ref_names != kit_names:
        return f"events: reference sent {ref_names}, hogkit sent {kit_names}"
    lines = []
    for i, (a, b) in enumerate(zip(ref, kit, strict=True)):
        pa, pb = a.get("properties", {}), b.get("properties", {})
        for name in sorted(set(pa) | set(pb)):
            if pa.get(name, "<absent>") != pb.get(name, "<absent>"):
                lines.append(
                    f"#{i} {a['event']} {name}: reference {pa.get(name, '<absent>')!r}, "
                    f"hogkit {pb.get(name, '<absent>')!r}"
                )
        rest_a = {k: v for k, v in a.items() if k != "properties"}
        rest_b = {k: v for k, v in b.items() if k != "properties"}
        if rest_a != rest_b:
            lines.append(f"#{i} envelope: reference {rest_a!r}, hogkit {rest_b!r}")
    return "; ".join(lines)
