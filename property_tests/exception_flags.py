"""Flags on a captured exception, for the exception differential: what `capture_exception`
is given (`flags=` a snapshot of `evaluate_flags`, `send_feature_flags=` True, False or
options, or both), and the loopback server both SDKs then ask.

The definitions, `/flags` answers, snapshot reads and `send_feature_flags` options are the
client differential's (`client_strategies`), so a captured exception meets the same flag
kinds, record shapes and failures a capture does there.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from typing import Any, NamedTuple

from client_compare import PerSdk, flags_bodies, flags_reply
from client_strategies import (
    KEYS,
    Read,
    ServerReply,
    capture_reads,
    evaluate_reads,
    replies,
    structured_documents,
)
from httpserver import LoopbackServer, Reply, Request
from hypothesis import strategies as st

__all__ = [
    "FLAGS_OPTIONS",
    "FlagBench",
    "FlagUse",
    "flag_arguments",
    "flag_uses",
    "flags_requests",
    "wants_a_person",
]

DEFINITIONS = "/flags/definitions"
SECRET = "phx_personal_key"

# Options both clients get when they ask for flags: no retry (posthog sleeps before one),
# and a deadline a loaded machine does not turn an answer into a timeout with.
FLAGS_OPTIONS: dict[str, Any] = {
    "poll_interval": 3600,
    "feature_flags_request_timeout_seconds": 2.0,
    "feature_flags_request_max_retries": 0,
}

# The fields of a `/flags` body that differ by construction: which SDK sent it, and when.
VOLATILE_BODY_FIELDS = frozenset({"api_key", "sent_at"})

PERSONLESS = "<personless>"


class FlagUse(NamedTuple):
    """Flags on one example's capture: the definitions (None: no local evaluation), what
    `/flags` answers, the `evaluate_flags` read whose snapshot is passed as `flags` (None:
    no snapshot), and the `capture_exception` keywords besides it (`send_feature_flags`,
    the `groups` its options go with, and now and then the caller's `properties`, which
    then stand in for the example's, and `disable_geoip`)."""

    document: dict[str, Any] | None
    reply: ServerReply
    snapshot: Read | None
    keywords: dict[str, Any]


@st.composite
def flag_uses(draw: st.DrawFn) -> FlagUse:
    document = draw(st.none() | structured_documents())
    known = tuple(f["key"] for f in document["flags"]) if document else KEYS[:3]
    snapshot = draw(st.none() | evaluate_reads(known))
    choice = draw(st.integers(0, 3))
    if choice == 0 and snapshot is not None:
        keywords: dict[str, Any] = {}
    elif choice == 1:
        keywords = {"send_feature_flags": False}
    else:
        keywords = dict(draw(capture_reads(known)).kwargs)
    return FlagUse(document, draw(replies(known)), snapshot, keywords)


def wants_a_person(use: FlagUse | None) -> bool:
    """Whether a capture with `use` evaluates flags locally for its own id: it must then name
    a person, or each SDK evaluates for a random id of its own."""
    return use is not None and use.document is not None and _asks(use)


def _asks(use: FlagUse) -> bool:
    option = use.keywords.get("send_feature_flags")
    return option is True or isinstance(option, dict)


def flag_arguments(client: Any, use: FlagUse | None) -> dict[str, Any]:
    """The `capture_exception` keywords `use` draws, on `client`: its own snapshot, read as
    the example says and narrowed as its last step says, then `send_feature_flags`."""
    if use is None:
        return {}
    out = dict(use.keywords)
    read = use.snapshot
    if read is None:
        return out
    snapshot = client.evaluate_flags(*read.args, **read.kwargs)
    for method, key, kwargs in read.then:
        if method == "capture":
            snapshot = _narrowed(snapshot, kwargs)
        else:
            getattr(snapshot, method)(key, **kwargs)
    out["flags"] = snapshot
    return out


def _narrowed(snapshot: Any, how: dict[str, Any]) -> Any:
    if "only" in how:
        return snapshot.only(how["only"])
    return snapshot.only_accessed() if how["only_accessed"] else snapshot


class FlagBench:
    """One loopback server for every example: definitions and `/flags` as the example
    drawn, each SDK told apart by the project key it sends (a fresh pair per example)."""

    def __init__(self) -> None:
        self.server = LoopbackServer()
        self._numbers = itertools.count()
        self._document: dict[str, Any] = {}
        self._flags = PerSdk()
        self.server.handle(DEFINITIONS, self._definitions)
        self.server.handle("/flags/", self._flags)

    def _definitions(self, request: Request) -> Reply:
        return Reply.json(self._document)

    def keys(self) -> tuple[str, str]:
        """A fresh pair of project keys: the reference's, hogkit's."""
        n = next(self._numbers)
        return f"phc_reference_{n}", f"phc_hogkit_{n}"

    def options(self, use: FlagUse | None) -> dict[str, Any]:
        """Client options for `use` (none without it: the clients then ask nothing)."""
        if use is None:
            return {}
        self._document = use.document or {}
        self._flags.load([flags_reply(use.reply)])
        options = {"host": self.server.url, **FLAGS_OPTIONS}
        if use.document is None:
            return {**options, "enable_local_evaluation": False}
        return {**options, "personal_api_key": SECRET, "enable_local_evaluation": True}

    def load(self, use: FlagUse | None, *clients: Any) -> None:
        """The definitions of `use`, if it has any, downloaded by each of `clients`."""
        if use is not None and use.document is not None:
            for client in clients:
                client.load_feature_flags()

    def close(self) -> None:
        self.server.close()


def flags_requests(
    server: LoopbackServer, key: str, events: Collection[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The `/flags` bodies the SDK with project key `key` sent, without their volatile
    fields; one asking for a personless event's random id names a marker instead."""
    personless = {
        e["distinct_id"]
        for e in events
        if e.get("properties", {}).get("$process_person_profile") is False
    }
    bodies = flags_bodies(server, key, VOLATILE_BODY_FIELDS)
    for body in bodies:
        if body.get("distinct_id") in personless:
            body["distinct_id"] = PERSONLESS
    return bodies
