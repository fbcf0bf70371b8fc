"""Comparing two clients in a differential: what the loopback server received from each,
and their answers as plain data. Shared by the sync and the async differentials, which
differ only in the clients they build and the calls that make an answer."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from client_strategies import Read, ServerReply
from httpserver import LoopbackServer, Reply, Request
from twin import event_differences, normalized, personless_marked, sdk_key

# How long both clients wait for `/flags` (and a remote config): long enough that a loaded
# machine never turns an answer into a timeout. An example scripting a timeout waits
# SHORT_TIMEOUT instead, for an answer that comes SLOW_ANSWER later. SHORT_TIMEOUT is long
# enough that a loaded machine still writes the request before giving up on it: the server
# must see every request of both SDKs for their `/flags` bodies to be compared.
FLAGS_TIMEOUT = 2.0
SHORT_TIMEOUT = 0.5
SLOW_ANSWER = 2.0

__all__ = [
    "FLAGS_TIMEOUT",
    "SHORT_TIMEOUT",
    "SLOW_ANSWER",
    "PerSdk",
    "assert_server_saw_the_same",
    "batch_envelopes",
    "config_reply",
    "describe",
    "flags_bodies",
    "flags_reply",
    "plain",
    "reason_value",
    "sent_events",
    "snapshot_answer",
]


def flags_bodies(
    server: LoopbackServer, key: str, volatile: Collection[str]
) -> list[dict[str, Any]]:
    """The decoded `/flags` bodies the SDK with project key `key` sent, without the
    `volatile` fields (which differ by construction: the key's name, the send time)."""
    return [
        {k: v for k, v in r.json().items() if k not in volatile}
        for r in server.requests("/flags/")
        if sdk_key(r) == key
    ]


def sent_events(server: LoopbackServer, key: str) -> list[dict[str, Any]]:
    """The events the SDK with project key `key` sent, normalized for comparison."""
    return personless_marked(
        [
            normalized(event)
            for r in server.requests("/batch/")
            if sdk_key(r) == key
            for event in r.json()["batch"]
        ]
    )


def batch_envelopes(server: LoopbackServer, key: str) -> list[dict[str, Any]]:
    """What the `/batch/` bodies the SDK with project key `key` sent say beside their
    events, key and send time (`historical_migration`), each different envelope once: how
    a background sender splits the events into batches is timing."""
    volatile = {"batch", "api_key", "sent_at"}
    envelopes = {
        json.dumps({k: v for k, v in r.json().items() if k not in volatile}, sort_keys=True)
        for r in server.requests("/batch/")
        if sdk_key(r) == key
    }
    return [json.loads(text) for text in sorted(envelopes)]


def assert_server_saw_the_same(
    server: LoopbackServer, ref_key: str, kit_key: str, volatile: Collection[str], context: str
) -> None:
    """The two SDKs (told apart by their project keys) sent the same events and the same
    `/flags` bodies, `volatile` fields aside; `context` describes the example."""
    ref_events, kit_events = sent_events(server, ref_key), sent_events(server, kit_key)
    assert kit_events == ref_events, f"{event_differences(ref_events, kit_events)}\n{context}"
    ref_envelopes = batch_envelopes(server, ref_key)
    kit_envelopes = batch_envelopes(server, kit_key)
    assert kit_envelopes == ref_envelopes, (
        f"/batch/ bodies: posthog {ref_envelopes}, hogkit {kit_envelopes}\n{context}"
    )
    ref_bodies = flags_bodies(server, ref_key, volatile)
    kit_bodies = flags_bodies(server, kit_key, volatile)
    assert kit_bodies == ref_bodies, (
        f"/flags bodies: posthog {ref_bodies}, hogkit {kit_bodies}\n{context}"
    )


def describe(example: Any) -> str:
    """An example (a named tuple) as readable text, cut to a length a report can hold."""
    return json.dumps(example._asdict(), default=repr, indent=1)[:4000]


def plain(value: Any) -> str:
    """A return value as JSON text that keeps the types apart (True, 1 and 1.0 differ)."""
    return json.dumps(value, sort_keys=True, default=repr)


def reason_value(reason: Any) -> Any:
    """An unresolved reason as its value, whichever enum (or text) the SDK used."""
    return getattr(reason, "value", reason)


def snapshot_answer(client: Any, read: Read, snapshot: Any) -> str:
    """An `evaluate_flags` snapshot as plain data: its keys, unresolved flags, the reads
    `read.then` makes on it, and what those reads accessed."""
    out: dict[str, Any] = {
        "keys": list(snapshot.keys),
        "unresolved": {k: reason_value(v) for k, v in snapshot.unresolved_flags.items()},
        "reads": [_snapshot_read(client, read, snapshot, m, key, kw) for m, key, kw in read.then],
    }
    out["accessed"] = sorted(snapshot.only_accessed().keys)
    return plain(out)


def _snapshot_read(
    client: Any, read: Read, snapshot: Any, method: str, key: str, kwargs: dict[str, Any]
) -> Any:
    """One read of a snapshot; `capture` sends an event carrying it, with the keywords in
    `extras` (its return value is a random event id, so only the event it sent is
    compared)."""
    if method != "capture":
        return getattr(snapshot, method)(key, **kwargs)
    if "only" in kwargs:
        flags = snapshot.only(kwargs["only"])
    else:
        flags = snapshot.only_accessed() if kwargs["only_accessed"] else snapshot
    extras = kwargs.get("extras", {})
    client.capture("snapshot used", distinct_id=read.args[0], flags=flags, **extras)
    return None


def flags_reply(scripted: ServerReply) -> Reply:
    """What the loopback server does with a `/flags` request a script calls for."""
    if scripted.kind == "answer":
        return Reply.json(scripted.body)
    if scripted.kind == "error":
        return Reply(scripted.body, b'{"detail": "boom"}', {"Content-Type": "application/json"})
    if scripted.kind == "not_json":
        return Reply(200, b"this is not json", {"Content-Type": "application/json"})
    if scripted.kind == "reset":
        return Reply.reset()
    return Reply(200, b"{}", {"Content-Type": "application/json"}, delay=SLOW_ANSWER)


def config_reply(kind: str, body: Any) -> Reply:
    """What the loopback server does with a remote-config request: answer `body` (text),
    fail with status `body`, or reset the connection."""
    if kind == "answer":
        return Reply(200, body.encode(), {"Content-Type": "application/json"})
    if kind == "error":
        return Reply(body, b'{"detail": "no"}', {"Content-Type": "application/json"})
    return Reply.reset()


class PerSdk:
    """Successive replies played to each SDK separately (told apart by project key); the
    last one repeats."""

    def __init__(self) -> None:
        self.replies: list[Reply] = [Reply.json({})]
        self.served: dict[str, int] = {}

    def __call__(self, request: Request) -> Reply:
        who = sdk_key(request)
        n = self.served.get(who, 0)
        self.served[who] = n + 1
        return self.replies[min(n, len(self.replies) - 1)]

    def load(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.served = {}
