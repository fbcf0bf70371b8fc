"""`FlagEvaluations` on its own: reads, copies, access tracking across threads, and exactly
what it hands its sink for `$feature_flag_called`."""

from __future__ import annotations

import datetime as _dt
import threading
from typing import Any

import msgspec
import pytest
from hogkit.core import FlagSet
from hogkit.core.flag_called import EVALUATED_LOCALLY, FlagCalled, report_of
from hogkit.core.remote import parse_flags_response
from hogkit.transport import Client
from hogkit.transport.dedup import FlagCalledCache
from hogkit.transport.evaluations import FlagEvaluations
from oracle import make_client

NOW = _dt.datetime(2026, 6, 15, 12, 0, tzinfo=_dt.timezone.utc)

FLAGS = FlagSet.from_document(
    [
        {
            "id": 1,
            "key": "on",
            "version": 3,
            "active": True,
            "has_experiment": False,
            "filters": {
                "groups": [{"properties": [], "rollout_percentage": 100}],
                "payloads": {"true": '{"a": 1}'},
            },
        },
        {
            "id": 2,
            "key": "off",
            "active": True,
            "filters": {"groups": [{"properties": [], "rollout_percentage": 0}]},
        },
    ]
    + [
        {
            "id": 10 + i,
            "key": f"k{i}",
            "active": True,
            "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]},
        }
        for i in range(8)
    ]
)

REMOTE = parse_flags_response(
    {
        "flags": {
            "remote": {"value": "blue", "metadata": {"id": 7, "version": 2, "payload": "5"}},
            "failed": {"value": True, "failed": True, "metadata": {"id": 8}},
            "garbled": {"value": True, "metadata": {"id": "not-a-number"}},
        }
    }
).flags


class Sink:
    """Records what the snapshot reports, deduplicating like the client does."""

    def __init__(self, *, fail: bool = False) -> None:
        self.cache = FlagCalledCache()
        self.sent: list[dict[str, Any]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def claim(self, user: int, report: int) -> bool:
        return self.cache.reserve(user, report)

    def send(self, user: int, report: int, called: FlagCalled) -> None:
        if self.fail:
            raise RuntimeError("sink is broken")
        with self.lock:
            self.sent.append(msgspec.structs.asdict(called))


def snapshot(sink: Sink | None = None, **kwargs: Any) -> FlagEvaluations:
    kwargs.setdefault("request_id", "req")
    kwargs.setdefault("evaluated_at", 123)
    return FlagEvaluations(
        "user",
        local=FLAGS.evaluate("user", now=NOW),
        remote=REMOTE,
        sink=sink,
        **kwargs,
    )


def test_values_defaults_and_payloads() -> None:
    flags = snapshot()
    assert flags.is_enabled("on") is True
    assert flags.is_enabled("off", default_value=True) is False
    assert flags.is_enabled("absent", default_value=True) is True
    assert flags.is_enabled("failed", default_value=True) is True
    assert flags.get_flag("remote") == "blue"
    assert flags.get_flag("failed") is None
    assert flags.get_flag("garbled") is False  # unreadable record: disabled, not absent
    assert flags.get_flag_payload("on") == {"a": 1}
    assert flags.get_flag_payload("remote") == 5
    assert flags.get_flag_payload("off") is None
    assert flags.get_flag_payload("failed") is None
    assert "failed" not in flags.keys and "garbled" in flags.keys
    assert flags.flag_values["garbled"] is False
    assert "remote" in flags and "failed" not in flags


def test_payload_is_a_private_copy() -> None:
    flags = snapshot()
    payload = flags.get_flag_payload("on")
    payload["a"] = 99
    assert flags.get_flag_payload("on") == {"a": 1}


def test_what_the_sink_receives() -> None:
    sink = Sink()
    flags = snapshot(sink, groups={"org": "o1"}, minimal=True, errors=("quota_limited",))
    flags.get_flag("on")
    flags.get_flag("remote")
    flags.get_flag("failed")
    local, remote, failed = sink.sent
    assert local["response"] is True and local["locally_evaluated"] is True
    assert local["reason"] == EVALUATED_LOCALLY
    assert (local["flag_id"], local["flag_version"]) == (1, 3)
    assert local["payload"] == {"a": 1}
    assert local["evaluated_at"] is None and local["request_id"] == "req"
    assert local["minimal"] is True  # the gate is on and the flag has no experiment
    assert local["groups"] == {"org": "o1"}
    assert local["error"] == ("quota_limited",)
    assert remote["locally_evaluated"] is False and remote["evaluated_at"] == 123
    assert remote["payload"] == 5 and remote["flag_id"] == 7
    assert remote["minimal"] is False  # has_experiment unknown: full event
    assert failed["response"] is None and failed["flag_id"] == 8
    assert failed["error"] == ("quota_limited", "evaluation_failed")


def test_reads_deduplicate_and_payload_reads_are_silent() -> None:
    sink = Sink()
    flags = snapshot(sink)
    for _ in range(3):
        flags.is_enabled("on")
        flags.get_flag("on")
        flags.get_flag_payload("remote")
    assert [s["key"] for s in sink.sent] == ["on"]
    assert flags.accessed == ("on",)


def test_empty_distinct_id_never_reports() -> None:
    sink = Sink()
    flags = FlagEvaluations("", local=FLAGS.evaluate("user", now=NOW), sink=sink)
    flags.get_flag("on")
    assert sink.sent == [] and flags.accessed == ("on",)


def test_a_failing_sink_never_breaks_a_read(caplog: pytest.LogCaptureFixture) -> None:
    flags = snapshot(Sink(fail=True))
    assert flags.get_flag("on") is True
    assert any("feature_flag_called" in r.getMessage() for r in caplog.records)


def test_copies_track_accesses_independently() -> None:
    flags = snapshot(Sink())
    flags.get_flag("on")
    child = flags.only_accessed()
    child.get_flag("off")
    flags.get_flag("remote")
    assert flags.accessed == ("on", "remote")
    assert child.accessed == ("on", "off")
    assert child.keys == ("on",)
    assert flags.only_accessed().keys == ("on", "remote")
    picked = flags.only(["remote", "failed", "on"])
    assert picked.keys == ("on", "remote")
    sink = Sink()
    picked = FlagEvaluations(
        "user", remote=REMOTE, sink=sink, unresolved={"failed": "missing_context"}
    ).only(["failed"])
    picked.get_flag("failed")
    assert sink.sent[0]["error"] == ("evaluation_failed",)  # copies drop `unresolved`


def test_access_tracking_is_thread_safe() -> None:
    sink = Sink()
    flags = snapshot(sink)
    keys = [f"k{i}" for i in range(8)]
    barrier = threading.Barrier(8)

    def reader(offset: int) -> None:
        barrier.wait()
        for i in range(400):
            flags.get_flag(keys[(i + offset) % 8])

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(flags.accessed) == keys
    assert sorted(s["key"] for s in sink.sent) == keys  # one report per flag, not per read
    assert flags.only_accessed().keys == tuple(k for k in FLAGS.keys if k in keys)


def test_remote_payload_is_a_private_copy_too() -> None:
    remote = parse_flags_response({"flags": {"r": {"value": True, "metadata": {"payload": "[1]"}}}})
    flags = FlagEvaluations("user", remote=remote.flags)
    flags.get_flag_payload("r").append(2)
    assert flags.get_flag_payload("r") == [1]


def test_a_read_claims_the_same_report_the_dedup_helpers_name() -> None:
    sink = Sink()
    flags = snapshot(sink, groups={"org": "o1", "team": 7})
    flags.get_flag("on")
    flags.get_flag("remote")
    assert sink.cache.contains(*report_of("user", "on", True, {"team": "7", "org": "o1"}))
    assert sink.cache.contains(*report_of("user", "remote", "blue", {"org": "o1", "team": 7}))
    assert not sink.cache.contains(*report_of("user", "on", True, None))
    assert not sink.cache.contains(*report_of("user", "on", "True", {"org": "o1", "team": 7}))


def test_unresolved_flags_reads_as_posthog_python_names_it() -> None:
    document = {
        "flags": [
            {
                "id": 1,
                "key": "sticky",
                "active": True,
                "ensure_experience_continuity": True,
                "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]},
            },
            {
                "id": 2,
                "key": "plan",
                "active": True,
                "filters": {
                    "groups": [
                        {
                            "properties": [
                                {
                                    "key": "plan",
                                    "value": "pro",
                                    "operator": "exact",
                                    "type": "person",
                                }
                            ],
                            "rollout_percentage": 100,
                        }
                    ]
                },
            },
        ],
        "group_type_mapping": {},
        "cohorts": {},
    }
    reference = make_client(document).evaluate_flags("user", only_evaluate_locally=True)
    client = Client("phc_names", host="http://127.0.0.1:9", flag_definitions=document)
    try:
        flags = client.evaluate_flags("user", only_evaluate_locally=True)
        assert dict(flags.unresolved_flags) == dict(reference.unresolved_flags)
        assert {key: reason.value for key, reason in flags.unresolved_flags.items()} == {
            "sticky": "experience_continuity",
            "plan": "missing_context",
        }
        assert flags.unresolved_flags is flags.unresolved
    finally:
        client.shutdown()
