"""The older flag methods side by side with posthog 7.91.1 over real HTTP.

`get_feature_variants`, `get_feature_payloads`, `get_feature_flags_and_payloads`,
`get_flags_decision`, `get_remote_config_payload` and the evaluation-runtime helpers: the
same call on both SDKs must return the same data and send the same events.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from compare import decision_view
from httpserver import Reply
from twin import Twin, definitions, event_differences, flag, flags_response, record

REMOTE = flags_response(
    record("beta", True, fid=1, payload='{"ok": true}'),
    record("layout", "wide", fid=2, payload="42"),
    record("off", False, fid=3),
    {**record("broken", False, fid=4), "failed": True},
    record("text", True, fid=5, payload="not json"),
)


READS: dict[str, Callable[[Any], Any]] = {
    "get_feature_variants": lambda c: c.get_feature_variants("user-1"),
    "get_feature_payloads": lambda c: c.get_feature_payloads("user-1"),
    "get_feature_flags_and_payloads": lambda c: c.get_feature_flags_and_payloads("user-1"),
    "get_flags_decision": lambda c: decision_view(c.get_flags_decision("user-1")),
    "get_feature_variants_some_keys": lambda c: c.get_feature_variants(
        "user-1", flag_keys_to_evaluate=["beta", "layout"]
    ),
}


def assert_same(twin: Twin, read: Callable[[Any], Any]) -> None:
    ref, kit = twin.run(read)
    assert kit == ref, f"returned: reference {ref!r}, hogkit {kit!r}"
    ref_events, kit_events = twin.ref_events(), twin.kit_events()
    assert kit_events == ref_events, event_differences(ref_events, kit_events)


class _Anything:
    """Equal to any value: stands for fields that differ by construction (a send time)."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


_same = _Anything()


@pytest.mark.parametrize("method", sorted(READS))
def test_older_flag_method_returns_the_references_answer(method: str) -> None:
    with Twin(remote=[Reply.json(REMOTE)], local=False) as twin:
        assert_same(twin, READS[method])
        sent = [r.json() for r in twin.requests("/flags/", "ref")]
        assert [r.json() for r in twin.requests("/flags/", "kit")] == [
            {**body, "api_key": "phc_hogkit", "sent_at": _same} for body in sent
        ]


@pytest.mark.parametrize("method", sorted(READS))
def test_older_flag_method_when_the_server_fails(method: str) -> None:
    with Twin(remote=[Reply(500)], local=False) as twin:
        assert_same(twin, READS[method])


REMOTE_CONFIG = "/api/projects/@current/feature_flags/secret-config/remote_config"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b'{"ok": true}', {"Content-Type": "application/json"}),
        Reply(200, b'"{\\"nested\\": 1}"', {"Content-Type": "application/json"}),
        Reply(404, b'{"detail": "Not found."}'),
        Reply(500),
    ],
    ids=["object", "json-text", "404", "500"],
)
def test_remote_config_payload(reply: Reply) -> None:
    with Twin(definitions(flag("secret-config", 1))) as twin:
        twin.server.script(REMOTE_CONFIG, then=reply)
        assert_same(twin, lambda c: c.get_remote_config_payload("secret-config"))
        ref_hits = [r for r in twin.server.requests(REMOTE_CONFIG) if "phc_reference" in r.target]
        kit_hits = [r for r in twin.server.requests(REMOTE_CONFIG) if "phc_hogkit" in r.target]
        assert len(kit_hits) == len(ref_hits)
        assert [r.headers.get("authorization") for r in kit_hits] == [
            r.headers.get("authorization") for r in ref_hits
        ]


@pytest.mark.parametrize("body", ["NaN", "-Infinity", "[1e400, 2]", '{"n": NaN}', "not json"])
def test_remote_config_bodies_are_read_as_python_reads_json(body: str) -> None:
    """posthog-python reads the body with requests' `.json()`, that is Python's json
    module: NaN and Infinity are numbers and a number beyond a double is infinite."""
    reply = Reply(200, body.encode(), {"Content-Type": "application/json"})
    with Twin(definitions(flag("secret-config", 1))) as twin:
        twin.server.script(REMOTE_CONFIG, then=reply)
        ref, kit = twin.run(lambda c: json.dumps(c.get_remote_config_payload("secret-config")))
        assert kit == ref


RUNTIME_DOC = definitions(
    {**flag("server-only", 1), "evaluation_runtime": "server"},
    {**flag("client-only", 2), "evaluation_runtime": "client"},
    {**flag("everywhere", 3), "evaluation_runtime": "all"},
    flag("unspecified", 4),
)


def _runtime(value: Any) -> Any:
    """An evaluation runtime as its string value (each SDK has its own enum type)."""
    return getattr(value, "value", value)


@pytest.mark.parametrize("key", ["server-only", "client-only", "everywhere", "unspecified", "nope"])
def test_evaluation_runtime_of_a_flag(key: str) -> None:
    with Twin(RUNTIME_DOC) as twin:
        twin.run(lambda c: c.load_feature_flags())
        assert_same(twin, lambda c: _runtime(c.get_feature_flag_evaluation_runtime(key)))


@pytest.mark.parametrize("runtime", ["server", "client", "all"])
def test_flag_keys_by_evaluation_runtime(runtime: str) -> None:
    with Twin(RUNTIME_DOC) as twin:
        twin.run(lambda c: c.load_feature_flags())
        assert_same(twin, lambda c: c.get_feature_flag_keys_by_evaluation_runtime(runtime))


def test_evaluation_runtime_flags_in_all_flags() -> None:
    """Which runtimes' flags a server SDK evaluates locally at all."""
    with Twin(RUNTIME_DOC, [Reply(500)]) as twin:
        assert_same(twin, lambda c: c.get_all_flags("user-1", only_evaluate_locally=True))
