"""`Client.evaluate_flags` end to end against a real loopback PostHog: definitions, local-first
evaluation, the single `/flags` fallback, `$feature_flag_called`, and the deprecated API."""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import posthog
import pytest
from hogkit.transport import Client, FlagEvaluations, flag_reads
from httpserver import LoopbackServer, Reply

DEFS = "/flags/definitions"
FLAGS = "/flags/"


def _flag(key: str, fid: int, groups: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    filters = {"groups": groups, **extra.pop("filters", {})}
    return {"id": fid, "key": key, "active": True, "version": fid * 10, "filters": filters, **extra}


DOCUMENT: dict[str, Any] = {
    "flags": [
        _flag(
            "local-on",
            1,
            [{"properties": [], "rollout_percentage": 100}],
            filters={"payloads": {"true": '{"color": "blue"}'}},
        ),
        _flag("local-off", 2, [{"properties": [], "rollout_percentage": 0}]),
        _flag(
            "multi",
            3,
            [{"properties": [], "rollout_percentage": 100}],
            filters={
                "multivariate": {"variants": [{"key": "only", "rollout_percentage": 100}]},
                "payloads": {"only": "[1, 2]"},
            },
        ),
        _flag(
            "continuity",
            4,
            [{"properties": [], "rollout_percentage": 100}],
            ensure_experience_continuity=True,
        ),
        _flag(
            "pro-only",
            5,
            [
                {
                    "properties": [
                        {"key": "plan", "type": "person", "operator": "exact", "value": "pro"}
                    ],
                    "rollout_percentage": 100,
                }
            ],
        ),
    ],
    "group_type_mapping": {},
    "cohorts": {},
}


def _v4(value: Any, fid: int, **extra: Any) -> dict[str, Any]:
    return {
        "value": value,
        "reason": {"code": "condition_match", "description": "Matched condition set 1"},
        "metadata": {"id": fid, "version": 7, "payload": None, "has_experiment": False},
        **extra,
    }


REMOTE: dict[str, Any] = {
    "flags": {
        "local-on": _v4(False, 1),  # the server disagrees: the local value must win
        "continuity": _v4("remote-variant", 4),
        "pro-only": _v4(True, 5),
        "server-only": {**_v4(True, 9), "metadata": {"id": 9, "version": 1, "payload": '"hi"'}},
        "broken": _v4(True, 10, failed=True),
    },
    "requestId": "req-123",
    "evaluatedAt": 1750000000000,
    "errorsWhileComputingFlags": False,
}


@pytest.fixture
def server(loopback: LoopbackServer) -> Iterator[LoopbackServer]:
    loopback.script(DEFS, then=Reply.json(DOCUMENT, headers={"ETag": '"d1"'}))
    loopback.script(FLAGS, then=Reply.json(REMOTE))
    yield loopback


def make_client(server: LoopbackServer, **kwargs: Any) -> Client:
    kwargs.setdefault("secret_key", "phs_secret")
    kwargs.setdefault("sync_mode", True)
    kwargs.setdefault("poll_interval", 3600)
    return Client("phc_project", host=server.url, **kwargs)


def flag_requests(server: LoopbackServer) -> list[Any]:
    return server.requests(FLAGS)


def called(server: LoopbackServer) -> list[dict[str, Any]]:
    return [e for e in server.events() if e["event"] == "$feature_flag_called"]


# ------------------------------------------------------------------------------ merging


def test_local_first_then_one_request_and_local_values_win(server: LoopbackServer) -> None:
    with make_client(server) as client:
        flags = client.evaluate_flags("user-1")
        assert len(server.requests(DEFS)) == 1
        assert len(flag_requests(server)) == 1
        body = flag_requests(server)[0].json()
        assert body["distinct_id"] == "user-1"
        assert "flag_keys_to_evaluate" not in body
        assert flags.flag_values == {
            "local-on": True,
            "local-off": False,
            "multi": "only",
            "continuity": "remote-variant",
            "pro-only": True,
            "server-only": True,
        }
        assert flags.keys == (
            "local-on",
            "local-off",
            "multi",
            "continuity",
            "pro-only",
            "server-only",
        )
        assert flags.get_flag_payload("local-on") == {"color": "blue"}
        assert flags.get_flag_payload("multi") == [1, 2]
        assert flags.get_flag_payload("server-only") == "hi"
        assert flags.get_flag("broken", send_feature_flag_events=False) is None
        assert flags.unresolved == {}
        assert flags.request_id == "req-123"


def test_only_evaluate_locally_never_calls_the_server(server: LoopbackServer) -> None:
    with make_client(server) as client:
        flags = client.evaluate_flags("user-1", only_evaluate_locally=True)
        assert flag_requests(server) == []
        assert flags.flag_values == {"local-on": True, "local-off": False, "multi": "only"}
        assert dict(flags.unresolved) == {
            "continuity": "experience_continuity",
            "pro-only": "missing_context",
        }


def test_everything_local_needs_no_request(server: LoopbackServer) -> None:
    with make_client(server) as client:
        flags = client.evaluate_flags(
            "user-1", person_properties={"plan": "pro"}, flag_keys=["local-on", "pro-only"]
        )
        assert flags.flag_values == {"local-on": True, "pro-only": True}
        assert flag_requests(server) == []


def test_requested_key_without_local_definition_goes_remote_once(server: LoopbackServer) -> None:
    with make_client(server) as client:
        flags = client.evaluate_flags("user-1", flag_keys=["local-on", "server-only", "unknown"])
        assert len(flag_requests(server)) == 1
        body = flag_requests(server)[0].json()
        assert body["flag_keys_to_evaluate"] == ["local-on", "server-only", "unknown"]
        assert flags.flag_values == {"local-on": True, "server-only": True}


def test_no_secret_key_means_everything_remote(server: LoopbackServer) -> None:
    with make_client(server, secret_key=None) as client:
        flags = client.evaluate_flags("user-1", person_properties={"plan": "pro"})
        assert server.requests(DEFS) == []
        assert len(flag_requests(server)) == 1
        assert flags.flag_values["local-on"] is False  # the server's answer: no local definitions
        assert flags.flag_values["server-only"] is True


def test_failed_record_keeps_the_flag_unresolved(server: LoopbackServer) -> None:
    failing = {
        "flags": {"continuity": _v4(True, 4, failed=True)},
        "requestId": "r2",
    }
    server.script(FLAGS, Reply.json(failing))
    with make_client(server) as client:
        flags = client.evaluate_flags("user-1", person_properties={"plan": "pro"})
        assert "continuity" not in flags.keys
        assert dict(flags.unresolved) == {"continuity": "experience_continuity"}
        assert flags.get_flag("continuity") is None
    event = called(server)[0]["properties"]
    assert event["$feature_flag_error"] == "evaluation_failed,local_evaluation_inconclusive"


def test_remote_body_matches_the_reference_client(server: LoopbackServer) -> None:
    call = {
        "person_properties": {"plan": "pro", "$geoip_city_name": "Berlin"},
        "groups": {"company": "acme"},
        "group_properties": {"company": {"seats": 5}},
        "flag_keys": ["server-only"],
        "device_id": "device-1",
    }
    ph = posthog.Client("phc_project", host=server.url, sync_mode=True, send=False)
    ph.evaluate_flags("user-7", **call)
    ph.shutdown()
    with make_client(server, secret_key=None) as client:
        client.evaluate_flags("user-7", **call)
    theirs, ours = (r for r in flag_requests(server))
    assert ours.target == theirs.target == "/flags/?v=4"
    assert ours.headers["content-type"] == theirs.headers["content-type"] == "application/json"
    assert "authorization" not in ours.headers
    a, b = ours.json(), theirs.json()
    a.pop("sent_at"), b.pop("sent_at")
    assert list(a) == list(b)
    assert a == b


# ------------------------------------------------------------------------------ failures


def test_slow_flags_request_is_cut_at_the_configured_timeout(server: LoopbackServer) -> None:
    server.script(FLAGS, then=Reply.hang())
    with make_client(server, feature_flags_request_timeout_seconds=0.3) as client:
        client.load_feature_flags()
        began = time.monotonic()
        flags = client.evaluate_flags("user-1")
        elapsed = time.monotonic() - began
        assert elapsed < 10  # bounded by the 0.3 s setting, not the server
        assert flags.flag_values == {"local-on": True, "local-off": False, "multi": "only"}
        assert flags.errors == ("timeout",)
        assert flags.is_enabled("local-on")
        assert flags.get_flag("continuity") is None
    props = [e["properties"] for e in called(server)]
    # A request that failed outright is no read's error: a read reports what it lacks.
    assert "$feature_flag_error" not in props[0]
    assert props[1]["$feature_flag_error"] == "local_evaluation_inconclusive"


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (Reply.json({"flags": {}, "quotaLimited": ["feature_flags"]}), "quota_limited"),
        (Reply(500, b'{"detail": "boom"}'), "api_error_500"),
        (Reply(200, b"<html>not json"), "unknown_error"),
        (Reply.drop(), "connection_error"),
    ],
)
def test_errors_leave_local_values_and_are_reported(
    server: LoopbackServer, reply: Reply, code: str
) -> None:
    server.script(FLAGS, then=reply)
    with make_client(server) as client:
        flags = client.evaluate_flags("user-1")
        assert flags.flag_values == {"local-on": True, "local-off": False, "multi": "only"}
        assert flags.get_flag("pro-only") is None
        assert flags.unresolved["pro-only"] == "missing_context"
    event = called(server)[0]["properties"]
    # Only a quota is reported by every read; other failures leave what the read lacks.
    reported = "quota_limited," if code == "quota_limited" else ""
    assert event["$feature_flag_error"] == f"{reported}local_evaluation_inconclusive"


def test_errors_while_computing_are_reported_on_reads(server: LoopbackServer) -> None:
    server.script(FLAGS, then=Reply.json({**REMOTE, "errorsWhileComputingFlags": True}))
    with make_client(server) as client:
        client.evaluate_flags("user-1").get_flag("server-only")
    assert called(server)[0]["properties"]["$feature_flag_error"] == "errors_while_computing_flags"


# ------------------------------------------------------------------------------ events


def test_flag_called_properties_local_and_remote(server: LoopbackServer) -> None:
    with make_client(server) as client:
        flags = client.evaluate_flags("user-1", groups={"company": "acme"})
        assert flags.is_enabled("local-on") is True
        assert flags.get_flag("continuity") == "remote-variant"
        assert flags.get_flag("nope") is None
    local, remote, missing = (e["properties"] for e in called(server))
    assert local["$feature_flag"] == "local-on"
    assert local["$feature_flag_response"] is True
    assert local["$feature/local-on"] is True
    assert local["locally_evaluated"] is True
    assert local["$feature_flag_reason"] == "Evaluated locally"
    assert (local["$feature_flag_id"], local["$feature_flag_version"]) == (1, 10)
    assert local["$feature_flag_payload"] == {"color": "blue"}
    assert local["$feature_flag_request_id"] == "req-123"
    assert "$feature_flag_evaluated_at" not in local
    assert "$feature_flag_error" not in local
    assert local["$groups"] == {"company": "acme"}
    assert remote["locally_evaluated"] is False
    assert remote["$feature_flag_response"] == "remote-variant"
    assert remote["$feature_flag_reason"] == "Matched condition set 1"
    assert remote["$feature_flag_evaluated_at"] == 1750000000000
    assert (remote["$feature_flag_id"], remote["$feature_flag_version"]) == (4, 7)
    assert remote["$feature_flag_has_experiment"] is False
    assert missing["$feature_flag_response"] is None
    assert missing["$feature_flag_error"] == "flag_missing"
    assert all(e["distinct_id"] == "user-1" for e in called(server))


def test_flag_called_is_deduplicated_per_value(server: LoopbackServer) -> None:
    with make_client(server) as client:
        pro = {"plan": "pro"}
        first = client.evaluate_flags("user-1", person_properties=pro, only_evaluate_locally=True)
        first.is_enabled("pro-only")
        first.get_flag("pro-only")
        client.evaluate_flags("user-1", person_properties=pro).is_enabled("pro-only")
        assert len(called(server)) == 1
        client.evaluate_flags("user-1", person_properties={"plan": "free"}).get_flag("pro-only")
        assert [e["properties"]["$feature_flag_response"] for e in called(server)] == [True, False]
        client.evaluate_flags("user-2", person_properties=pro).get_flag("pro-only")
        client.evaluate_flags("user-1", person_properties=pro, groups={"g": "1"}).get_flag(
            "pro-only"
        )
        assert len(called(server)) == 4


def test_flag_called_cache_is_bounded(server: LoopbackServer) -> None:
    with make_client(server, send=False, flag_called_cache_size=10) as client:
        for i in range(500):
            client.evaluate_flags(f"user-{i}", only_evaluate_locally=True).get_flag("local-on")
        assert len(client._flags.reported) == 10


def test_a_flag_called_event_before_send_drops_is_not_offered_again(
    server: LoopbackServer,
) -> None:
    """As in posthog 7.91.1: the hook chose to drop it, and would only drop it again."""
    offered: list[str] = []

    def before_send(event: dict[str, Any]) -> dict[str, Any] | None:
        if event["event"] == "$feature_flag_called":
            offered.append(event["event"])
            return None
        return event

    with make_client(server, before_send=before_send) as client:
        flags = client.evaluate_flags("user-1", only_evaluate_locally=True)
        for _ in range(3):
            flags.get_flag("local-on")
    assert called(server) == [] and len(offered) == 1


def test_a_flag_called_event_a_failing_hook_lost_is_sent_by_the_next_read(
    server: LoopbackServer,
) -> None:
    fails = [True]

    def before_send(event: dict[str, Any]) -> dict[str, Any] | None:
        if event["event"] == "$feature_flag_called" and fails:
            fails.pop()
            raise RuntimeError("hook failed once")
        return event

    with make_client(server, before_send=before_send) as client:
        flags = client.evaluate_flags("user-1", only_evaluate_locally=True)
        flags.get_flag("local-on")
        assert called(server) == []
        flags.get_flag("local-on")
        flags.get_flag("local-on")
    assert len(called(server)) == 1


def test_payload_reads_send_nothing_and_are_not_accesses(server: LoopbackServer) -> None:
    with make_client(server) as client:
        flags = client.evaluate_flags("user-1")
        assert flags.get_flag_payload("local-on") == {"color": "blue"}
        assert flags.get_flag_payload("server-only") == "hi"
        assert flags.only_accessed().keys == ()
        assert flags.accessed == ()
    assert called(server) == []


def test_suppressed_reads_count_as_accesses(server: LoopbackServer) -> None:
    with make_client(server) as client:
        flags = client.evaluate_flags("user-1", only_evaluate_locally=True)
        flags.is_enabled("multi", send_feature_flag_events=False)
        assert flags.only_accessed().keys == ("multi",)
    assert called(server) == []


def test_empty_distinct_id_gives_an_empty_silent_snapshot(server: LoopbackServer) -> None:
    with make_client(server) as client:
        flags = client.evaluate_flags("")
        assert flags.keys == () and flags.is_enabled("local-on", default_value=True) is True
        assert client.evaluate_flags("user-1", flag_keys=[]).keys == ()
    assert called(server) == [] and flag_requests(server) == []


# ------------------------------------------------------------------------------ capture(flags=)


def test_only_accessed_is_order_dependent_and_capture_attaches_it(server: LoopbackServer) -> None:
    with make_client(server) as client:
        flags = client.evaluate_flags("user-1", only_evaluate_locally=True)
        before = flags.only_accessed()
        assert before.keys == ()
        flags.get_flag("multi")
        flags.is_enabled("local-off")
        after = flags.only_accessed()
        flags.is_enabled("local-on")  # a later read does not change the earlier copy
        assert after.flag_values == {"multi": "only", "local-off": False}
        requests_before = len(server.requests())
        client.capture("checkout", distinct_id="user-1", flags=after)
        client.capture("nothing", distinct_id="user-1", flags=before)
        client.capture(
            "everything", distinct_id="user-1", flags=flags, properties={"$feature/multi": "mine"}
        )
        # three /batch/ requests (sync mode), no flag requests
        assert len(server.requests()) == requests_before + 3
    events = {e["event"]: e["properties"] for e in server.events()}
    checkout = events["checkout"]
    assert checkout["$feature/multi"] == "only"
    assert checkout["$feature/local-off"] is False
    assert checkout["$active_feature_flags"] == ["multi"]
    assert "$feature/local-on" not in checkout
    assert not any(
        k.startswith("$feature") or k == "$active_feature_flags" for k in events["nothing"]
    )
    everything = events["everything"]
    assert everything["$active_feature_flags"] == ["local-on", "multi"]
    assert everything["$feature/multi"] == "mine"


def test_capture_with_flags_sends_the_same_event_with_or_without_a_hook(
    server: LoopbackServer,
) -> None:
    # Without `before_send` the snapshot's properties are spliced in as encoded JSON; with
    # one, the event is built as a dict for the hook. Both must put the same event on the wire.
    for hooked in (False, True):
        hook = (lambda msg: msg) if hooked else None
        with make_client(server, before_send=hook) as client:
            flags = client.evaluate_flags("user-1", only_evaluate_locally=True)
            client.capture("plain", distinct_id="user-1", flags=flags)
            client.capture("mapping", distinct_id="user-1", flags=dict(flags.flag_values))
            client.capture(
                "extra", distinct_id="user-1", flags=flags, properties={"plan": "pro", "n": 1}
            )
            client.capture("anonymous", flags=flags)
    sent = [e for e in server.events() if e["event"] != "$feature_flag_called"]
    assert [e["event"] for e in sent] == ["plain", "mapping", "extra", "anonymous"] * 2
    for spliced, built in zip(sent[:4], sent[4:], strict=True):
        assert list(spliced) == list(built)
        for event in (spliced, built):
            event.pop("uuid"), event.pop("timestamp")
            if event["event"] == "anonymous":
                event.pop("distinct_id")
        assert list(spliced["properties"].items()) == list(built["properties"].items())
        assert spliced == built
    assert sent[0]["properties"]["$active_feature_flags"] == ["local-on", "multi"]
    assert sent[0]["properties"]["$feature/local-off"] is False


def test_only_drops_unknown_keys_with_one_warning(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    with make_client(server) as client:
        flags = client.evaluate_flags("user-1", only_evaluate_locally=True)
        caplog.set_level(logging.WARNING, logger="hogkit")
        subset = flags.only(["multi", "ghost", "phantom"])
        assert subset.flag_values == {"multi": "only"}
        warned = [r.getMessage() for r in caplog.records if "only()" in r.getMessage()]
        assert len(warned) == 1 and "ghost, phantom" in warned[0]


# ------------------------------------------------------------------------------ offline


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_offline_definitions_make_no_request_at_all(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(DOCUMENT["flags"]))
    for source in (str(path), path, path.read_bytes(), DOCUMENT):
        client = Client(
            "phc_project",
            host=loopback.url,
            secret_key="phs_secret",
            flag_definitions=source,
            send=False,
        )
        flags = client.evaluate_flags("user-1")
        assert flags.flag_values == {"local-on": True, "local-off": False, "multi": "only"}
        assert dict(flags.unresolved) == {
            "continuity": "experience_continuity",
            "pro-only": "missing_context",
        }
        assert client.get_feature_flag("server-only", "user-1") is None
        client.shutdown()
    assert loopback.requests() == []


def test_unreadable_offline_file_is_logged_not_raised(
    loopback: LoopbackServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="hogkit")
    client = Client(
        "phc_project",
        host=loopback.url,
        flag_definitions=str(tmp_path / "missing.json"),
        send=False,
    )
    assert client.evaluate_flags("user-1").keys == ()
    assert any("flag_definitions" in r.getMessage() for r in caplog.records)
    client.shutdown()
    assert loopback.requests() == []


# ------------------------------------------------------------------------------ deprecated API


def test_deprecated_api_uses_the_snapshot_path_and_warns_once(server: LoopbackServer) -> None:
    flag_reads._warned.clear()
    with make_client(server) as client, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert client.feature_enabled("local-on", "user-1") is True
        assert client.feature_enabled("local-on", "user-1") is True
        assert client.is_feature_enabled("local-off", "user-1") is False
        assert client.get_feature_flag("multi", "user-1") == "only"
        assert client.get_feature_flag("server-only", "user-1") is True
        assert client.get_feature_flag("ghost", "user-1", only_evaluate_locally=True) is None
        assert client.feature_enabled("ghost", "user-1", only_evaluate_locally=True) is None
        assert client.get_feature_flag_payload("local-on", "user-1") == {"color": "blue"}
        assert client.get_feature_flag_payload("multi", "user-1", match_value="other") is None
        assert client.get_all_flags("user-1", only_evaluate_locally=True) == {
            "local-on": True,
            "local-off": False,
            "multi": "only",
        }
        both = client.get_all_flags_and_payloads("user-1", only_evaluate_locally=True)
        assert both["featureFlags"] == {"local-on": True, "local-off": False, "multi": "only"}
        assert both["featureFlagPayloads"] is not None
        assert {k: json.loads(v) for k, v in both["featureFlagPayloads"].items()} == {
            "local-on": {"color": "blue"},
            "multi": [1, 2],
        }
        client.capture("legacy", distinct_id="user-1", send_feature_flags=True)
    deprecations = [w for w in caught if w.category is DeprecationWarning]
    # The bulk getters are not deprecated (see tests/test_compat_warnings.py).
    # Each warning points at the application's line, not at hogkit's.
    assert {w.filename for w in deprecations} == {__file__}
    names = [str(w.message).split("`")[1] for w in deprecations]
    assert sorted(names) == sorted(
        {
            "feature_enabled",
            "is_feature_enabled",
            "get_feature_flag",
            "get_feature_flag_payload",
            "send_feature_flags",
        }
    )
    legacy = next(e for e in server.events() if e["event"] == "legacy")["properties"]
    assert legacy["$feature/multi"] == "only"
    assert legacy["$active_feature_flags"] == ["local-on", "multi"]
    # single-flag reads report; the payload getter and bulk getters do not
    reported = [e["properties"]["$feature_flag"] for e in called(server)]
    assert reported == ["local-on", "local-off", "multi", "server-only", "ghost"]


def test_personal_api_key_still_works_with_a_warning(server: LoopbackServer) -> None:
    flag_reads._warned.discard("personal_api_key")
    with pytest.warns(DeprecationWarning, match="personal_api_key"):
        client = make_client(server, secret_key=None, personal_api_key="phx_personal")
    with client:
        assert (
            client.evaluate_flags("user-1", only_evaluate_locally=True).get_flag("multi") == "only"
        )
    assert server.requests(DEFS)[0].headers["authorization"] == "Bearer phx_personal"


def test_disabled_client_returns_empty_snapshots_without_requests(server: LoopbackServer) -> None:
    client = make_client(server, disabled=True)
    flags = client.evaluate_flags("user-1")
    assert isinstance(flags, FlagEvaluations) and flags.keys == ()
    assert client.get_all_flags("user-1") is None
    assert client.get_feature_flag("local-on", "user-1") is None
    client.shutdown()
    assert server.requests() == []


def test_disabling_a_running_client_empties_every_read_as_posthog_does(
    server: LoopbackServer,
) -> None:
    """`client.disabled = True` after construction stops reads at once, `evaluate_flags`
    included, and turning it back on restores them; posthog-python answers the same."""
    client = make_client(server)
    ref = posthog.Client(
        "phc_test", host=server.url, send=False, sync_mode=True, enable_local_evaluation=False
    )
    ref.feature_flags = DOCUMENT["flags"]
    ref.group_type_mapping, ref.cohorts = {}, {}

    def reads(sdk: Any) -> tuple[Any, ...]:
        snapshot = sdk.evaluate_flags("user-1", only_evaluate_locally=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return (
                snapshot.get_flag("local-on"),
                sdk.get_feature_flag("local-on", "user-1", only_evaluate_locally=True),
                sdk.get_feature_flag(
                    "local-on", "user-1", only_evaluate_locally=True, send_feature_flag_events=False
                ),
                sdk.get_all_flags("user-1", only_evaluate_locally=True),
            )

    try:
        before = reads(client)
        assert before[0] is True and before == reads(ref)
        client.disabled = ref.disabled = True
        assert reads(client) == reads(ref) == (None, None, None, None)
        client.disabled = ref.disabled = False
        assert reads(client) == before
    finally:
        client.shutdown()
        ref.shutdown()


def test_definitions_set_as_posthog_attributes_evaluate_locally_and_ask_for_the_rest(
    server: LoopbackServer,
) -> None:
    """Test suites hand posthog-python definitions by setting `feature_flags` (and
    `group_type_mapping`, `cohorts`) on a client: local flags are evaluated from them,
    anything else still goes to `/flags`. hogkit answers the same reads the same way."""
    kit = Client("phc_kit", host=server.url, sync_mode=True, send=False)
    ref = posthog.Client("phc_ref", host=server.url, sync_mode=True, send=False)

    def reads(sdk: Any) -> tuple[Any, ...]:
        sdk.feature_flags = DOCUMENT["flags"]
        sdk.group_type_mapping = {}
        sdk.cohorts = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return (
                sdk.get_feature_flag("local-on", "user-1"),
                sdk.get_feature_flag("multi", "user-1"),
                sdk.get_feature_flag("server-only", "user-1"),
                sdk.evaluate_flags("user-1").get_flag("server-only"),
                len(sdk.feature_flags),
            )

    def asked(key: str) -> int:
        return sum(1 for r in flag_requests(server) if r.json().get("api_key") == key)

    try:
        theirs, ours = reads(ref), reads(kit)
        assert ours == theirs == (True, "only", True, True, len(DOCUMENT["flags"]))
        assert asked("phc_kit") == asked("phc_ref") == 2  # only the flag they lack
    finally:
        kit.shutdown()
        ref.shutdown()


def test_every_person_s_report_carries_the_flag_s_metadata_and_own_payload(
    server: LoopbackServer,
) -> None:
    """The first report of a flag looks its id and version up; later snapshots of the same
    definitions reuse them, and each still gets a payload of its own."""
    with make_client(server) as client:
        for person in ("p1", "p2", "p3"):
            flags = client.evaluate_flags(person, only_evaluate_locally=True)
            assert flags.get_flag("multi") == "only"
            assert flags.is_enabled("local-on")
    events = called(server)
    assert [(e["distinct_id"], e["properties"]["$feature_flag"]) for e in events] == [
        (person, key) for person in ("p1", "p2", "p3") for key in ("multi", "local-on")
    ]
    for event in events:
        props = event["properties"]
        expected = {"multi": (3, 30, [1, 2]), "local-on": (1, 10, {"color": "blue"})}
        flag_id, version, payload = expected[props["$feature_flag"]]
        assert props["$feature_flag_id"] == flag_id and props["$feature_flag_version"] == version
        assert props["$feature_flag_payload"] == payload
        assert props["locally_evaluated"] is True
        assert props["$feature_flag_reason"] == "Evaluated locally"


def test_a_report_does_not_share_its_payload_with_the_snapshot(server: LoopbackServer) -> None:
    sent: list[dict[str, Any]] = []

    def keep(msg: dict[str, Any]) -> dict[str, Any]:
        sent.append(msg)
        return msg

    with make_client(server, before_send=keep) as client:
        first = client.evaluate_flags("p1", only_evaluate_locally=True)
        first.is_enabled("local-on")
        # A hook's message may be kept and changed later: nothing else may see it change.
        sent[0]["properties"]["$feature_flag_payload"]["color"] = "changed later"
        second = client.evaluate_flags("p2", only_evaluate_locally=True)
        assert second.get_flag_payload("local-on") == {"color": "blue"}
        second.is_enabled("local-on")
    assert [e["properties"]["$feature_flag_payload"] for e in called(server)] == [
        {"color": "blue"},
        {"color": "blue"},
    ]


def test_a_flag_read_in_an_exit_callback_is_answered(server: LoopbackServer) -> None:
    """The first flag read downloads the definitions and starts polling; in an exit
    callback no thread may start (Python 3.12.0 and 3.12.1), which must cost the polling
    only, not the answer."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import atexit
        from hogkit import Client
        client = Client("phc_project", host={server.url!r}, secret_key="phs_secret")
        atexit.register(lambda: print(client.evaluate_flags("u").get_flag("local-on")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30
    )
    assert done.stdout.split() == ["True"], done.stderr
    assert "Traceback" not in done.stderr
