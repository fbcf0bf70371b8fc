"""Every event shape, pinned field by field against posthog==7.91.1 building the same call.

The reference client runs with `send=False` and a `before_send` hook that records the
message it would send; that message goes through the reference's own JSON serialiser, and
hogkit's event through `encode_event`, so what is compared is the JSON on the wire. Both
sides get the same timestamp and uuid, so only `$lib` and `$lib_version` differ.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import uuid as uuidlib
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import posthog
import pytest
from hogkit.core import (
    Event,
    EventContext,
    InvalidEvent,
    alias,
    capture,
    encode_event,
    format_epoch,
    format_timestamp,
    group_identify,
    identify,
    normalize_uuid,
    pageview,
    set_once,
    set_properties,
)
from oracle import recording_clients
from posthog.utils import system_context

TS = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.timezone.utc)
UUID = "0b0e7bd4-6a3c-4a8d-9d7e-3f1b2c4d5e6f"
IGNORED = ("$lib", "$lib_version")

Recorder = Callable[..., posthog.Client]


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Recorder, list[dict[str, Any]]]]:
    """A factory for recording reference clients, and the wire messages they produced."""
    monkeypatch.delenv("POSTHOG_RELEASE_ID", raising=False)
    with recording_clients() as recorder:
        yield recorder


def wire(event: Event) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(encode_event(event))
    return decoded


def assert_same(ours: Event, theirs: dict[str, Any], *, ignore_distinct_id: bool = False) -> None:
    mine = wire(ours)
    theirs = json.loads(json.dumps(theirs))
    assert mine["properties"]["$lib"] == "hogkit"
    assert isinstance(mine["properties"]["$lib_version"], str)
    for msg in (mine, theirs):
        for key in IGNORED:
            msg["properties"].pop(key, None)
        if ignore_distinct_id:
            msg.pop("distinct_id")
    assert set(mine) == set(theirs)
    for field in theirs:
        if field == "properties":
            assert set(mine["properties"]) == set(theirs["properties"])
            for key, value in theirs["properties"].items():
                assert mine["properties"][key] == value, key
        else:
            assert mine[field] == theirs[field], field


def ctx_for(**options: Any) -> EventContext:
    return EventContext(system_properties=system_context(), **options)


# ---------------------------------------------------------------------------------------
# capture


def test_capture_plain(reference: Any) -> None:
    make, sent = reference
    make().capture(
        "signed up", distinct_id="u1", properties={"plan": "pro", "n": 3}, timestamp=TS, uuid=UUID
    )
    ours = capture(
        ctx_for(),
        "signed up",
        distinct_id="u1",
        properties={"plan": "pro", "n": 3},
        timestamp=TS,
        uuid=UUID,
    )
    assert_same(ours, sent[0])
    assert ours.properties["$geoip_disable"] is True
    assert ours.properties["$is_server"] is True


def test_capture_without_properties_or_groups(reference: Any) -> None:
    make, sent = reference
    make().capture("bare", distinct_id="u1", timestamp=TS, uuid=UUID)
    assert_same(capture(ctx_for(), "bare", distinct_id="u1", timestamp=TS, uuid=UUID), sent[0])


@dataclasses.dataclass
class Order:
    sku: str
    qty: int
    tags: tuple[str, ...]


def test_capture_normalises_values_like_the_reference(reference: Any) -> None:
    make, sent = reference
    props = {
        "when": dt.datetime(2025, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc),
        "naive": dt.datetime(2025, 5, 6, 7, 8, 9),
        "day": dt.date(2025, 5, 6),
        "price": decimal.Decimal("12.50"),
        "id": uuidlib.UUID(UUID),
        "set": {"only"},
        "tuple": (1, "two", 3.5),
        "frozen": frozenset({7}),
        "order": Order("A-1", 2, ("x", "y")),
        "raw": b"caf\xc3\xa9",
        "nan": float("nan"),
        "inf": float("-inf"),
        "nested": {"deep": [{"x": decimal.Decimal("1.5")}, None, True]},
        "$set": {"email": "a@b.c"},
        "$set_once": {"first_seen": dt.date(2024, 1, 1)},
    }
    make().capture("rich", distinct_id="u1", properties=props, timestamp=TS, uuid=UUID)
    ours = capture(ctx_for(), "rich", distinct_id="u1", properties=props, timestamp=TS, uuid=UUID)
    assert_same(ours, sent[0])
    assert ours.properties["$set"] == {"email": "a@b.c"}


def test_capture_personless_gets_anonymous_id_and_no_profile(reference: Any) -> None:
    make, sent = reference
    make().capture("anon", properties={"k": "v"}, timestamp=TS, uuid=UUID)
    anon = str(uuidlib.UUID(int=42))
    ours = capture(
        ctx_for(),
        "anon",
        distinct_id=None,
        anonymous_id=anon,
        properties={"k": "v"},
        timestamp=TS,
        uuid=UUID,
    )
    assert_same(ours, sent[0], ignore_distinct_id=True)
    assert ours.distinct_id == anon
    assert ours.properties["$process_person_profile"] is False
    uuidlib.UUID(sent[0]["distinct_id"])  # the reference also sends a generated uuid


def test_capture_empty_distinct_id_is_personless(reference: Any) -> None:
    make, sent = reference
    make().capture("anon", distinct_id="", timestamp=TS, uuid=UUID)
    ours = capture(ctx_for(), "anon", distinct_id="", anonymous_id="gen", timestamp=TS, uuid=UUID)
    assert_same(ours, sent[0], ignore_distinct_id=True)
    assert ours.distinct_id == "gen"


def test_capture_personless_keeps_explicit_process_person_profile(reference: Any) -> None:
    make, sent = reference
    props = {"$process_person_profile": True}
    make().capture("anon", properties=props, timestamp=TS, uuid=UUID)
    ours = capture(
        ctx_for(),
        "anon",
        distinct_id=None,
        anonymous_id="gen",
        properties=props,
        timestamp=TS,
        uuid=UUID,
    )
    assert_same(ours, sent[0], ignore_distinct_id=True)
    assert ours.properties["$process_person_profile"] is True


def test_capture_without_any_id_is_rejected() -> None:
    with pytest.raises(InvalidEvent):
        capture(ctx_for(), "x", distinct_id=None, timestamp=TS, uuid=UUID)


def test_capture_non_string_distinct_id_is_stringified(reference: Any) -> None:
    make, sent = reference
    make().capture("x", distinct_id=12345, timestamp=TS, uuid=UUID)
    ours = capture(ctx_for(), "x", distinct_id=12345, timestamp=TS, uuid=UUID)  # type: ignore[arg-type]
    assert_same(ours, sent[0])
    assert ours.distinct_id == "12345"


def test_capture_groups(reference: Any) -> None:
    make, sent = reference
    groups = {"company": "acme", "team": 7}
    props = {"$groups": {"ignored": "x"}, "a": 1}
    make().capture("g", distinct_id="u1", properties=props, groups=groups, timestamp=TS, uuid=UUID)
    ours = capture(
        ctx_for(), "g", distinct_id="u1", properties=props, groups=groups, timestamp=TS, uuid=UUID
    )
    assert_same(ours, sent[0])
    assert ours.properties["$groups"] == {"company": "acme", "team": 7}


def test_capture_system_properties_override_user_properties_like_the_reference(
    reference: Any,
) -> None:
    # posthog-python lets its system context override a caller's `$os`/`$python_version`
    # (a known complaint, section 9.15). The acceptance contract is parity, so hogkit
    # matches it; callers who need their own `$os` can set it as a super property.
    make, sent = reference
    props = {"$os": "MyOS", "$python_version": "0.0.1"}
    make().capture("os", distinct_id="u1", properties=props, timestamp=TS, uuid=UUID)
    ours = capture(ctx_for(), "os", distinct_id="u1", properties=props, timestamp=TS, uuid=UUID)
    assert_same(ours, sent[0])
    assert ours.properties["$os"] == system_context()["$os"]


def test_super_properties_win_over_everything_but_is_server(reference: Any) -> None:
    make, sent = reference
    supers = {"app": "shop", "plan": "super", "$geoip_disable": False, "$is_server": False}
    props = {"plan": "mine", "other": 1}
    make(super_properties=supers).capture(
        "s", distinct_id="u1", properties=props, timestamp=TS, uuid=UUID
    )
    ours = capture(
        ctx_for(super_properties=supers),
        "s",
        distinct_id="u1",
        properties=props,
        timestamp=TS,
        uuid=UUID,
    )
    assert_same(ours, sent[0])
    assert ours.properties["plan"] == "super"
    assert ours.properties["$is_server"] is True


@pytest.mark.parametrize("client_geoip", [True, False])
@pytest.mark.parametrize("call_geoip", [None, True, False])
def test_geoip_disable_default_and_override(
    reference: Any, client_geoip: bool, call_geoip: bool | None
) -> None:
    make, sent = reference
    props = {"$geoip_disable": "caller"}
    make(disable_geoip=client_geoip).capture(
        "geo", distinct_id="u1", properties=props, timestamp=TS, uuid=UUID, disable_geoip=call_geoip
    )
    ours = capture(
        ctx_for(disable_geoip=client_geoip),
        "geo",
        distinct_id="u1",
        properties=props,
        timestamp=TS,
        uuid=UUID,
        disable_geoip=call_geoip,
    )
    assert_same(ours, sent[0])


def test_is_server_false_leaves_it_out(reference: Any) -> None:
    make, sent = reference
    make(is_server=False).capture("x", distinct_id="u1", timestamp=TS, uuid=UUID)
    ours = capture(ctx_for(is_server=False), "x", distinct_id="u1", timestamp=TS, uuid=UUID)
    assert_same(ours, sent[0])
    assert "$is_server" not in ours.properties


def test_release_id_is_added_only_when_absent(
    reference: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make, sent = reference
    monkeypatch.setenv("POSTHOG_RELEASE_ID", "rel-9")
    client = make()
    client.capture("r", distinct_id="u1", timestamp=TS, uuid=UUID)
    client.capture(
        "r", distinct_id="u1", properties={"$release_id": "mine"}, timestamp=TS, uuid=UUID
    )
    ctx = ctx_for(release_id="rel-9")
    assert_same(capture(ctx, "r", distinct_id="u1", timestamp=TS, uuid=UUID), sent[0])
    explicit = capture(
        ctx, "r", distinct_id="u1", properties={"$release_id": "mine"}, timestamp=TS, uuid=UUID
    )
    assert_same(explicit, sent[1])
    assert explicit.properties["$release_id"] == "mine"


def test_timestamps_are_utc_isoformat(reference: Any) -> None:
    make, sent = reference
    plus_two = dt.datetime(2026, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    client = make()
    client.capture("t", distinct_id="u1", timestamp=plus_two, uuid=UUID)
    client.capture("t", distinct_id="u1", timestamp="2026-01-02T03:04:05Z", uuid=UUID)
    client.capture("t", distinct_id="u1", timestamp="2026-01-02T08:34:05+0530", uuid=UUID)
    ctx = ctx_for()
    for i, when in enumerate([plus_two, "2026-01-02T03:04:05Z", "2026-01-02T08:34:05+0530"]):
        ours = capture(ctx, "t", distinct_id="u1", timestamp=when, uuid=UUID)
        assert_same(ours, sent[i])
        assert ours.timestamp == "2026-01-02T03:04:05+00:00"


def test_unusable_timestamp_or_uuid_is_rejected() -> None:
    ctx = ctx_for()
    with pytest.raises(InvalidEvent):
        capture(ctx, "t", distinct_id="u", timestamp="2026-01-02", uuid=UUID)
    with pytest.raises(InvalidEvent):
        capture(ctx, "t", distinct_id="u", timestamp=TS, uuid=uuidlib.UUID(UUID).bytes)  # type: ignore[arg-type]


def test_uuid_objects_are_accepted(reference: Any) -> None:
    make, sent = reference
    make().capture("u", distinct_id="u1", timestamp=TS, uuid=uuidlib.UUID(UUID))
    ours = capture(ctx_for(), "u", distinct_id="u1", timestamp=TS, uuid=uuidlib.UUID(UUID))
    assert_same(ours, sent[0])


# ---------------------------------------------------------------------------------------
# flags attached to capture

DEFINITIONS = [
    {
        "id": 1,
        "key": "beta",
        "active": True,
        "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]},
    },
    {
        "id": 2,
        "key": "off",
        "active": True,
        "filters": {"groups": [{"properties": [], "rollout_percentage": 0}]},
    },
    {
        "id": 3,
        "key": "alpha-multi",
        "active": True,
        "filters": {
            "groups": [{"properties": [], "rollout_percentage": 100}],
            "multivariate": {"variants": [{"key": "blue", "rollout_percentage": 100}]},
        },
    },
]


def snapshot_of(client: posthog.Client) -> Any:
    client.feature_flags = DEFINITIONS
    return client.evaluate_flags("u1", only_evaluate_locally=True)


def test_flags_snapshot_adds_feature_properties(reference: Any) -> None:
    make, sent = reference
    client = make()
    snap = snapshot_of(client)
    client.capture("f", distinct_id="u1", properties={"a": 1}, flags=snap, timestamp=TS, uuid=UUID)
    values = {"beta": True, "off": False, "alpha-multi": "blue"}
    ours = capture(
        ctx_for(), "f", distinct_id="u1", properties={"a": 1}, flags=values, timestamp=TS, uuid=UUID
    )
    assert_same(ours, sent[0])
    assert ours.properties["$active_feature_flags"] == ["alpha-multi", "beta"]
    assert ours.properties["$feature/off"] is False


def test_flags_from_an_object_with_flag_values(reference: Any) -> None:
    make, sent = reference
    client = make()
    client.capture("f", distinct_id="u1", flags=snapshot_of(client), timestamp=TS, uuid=UUID)

    @dataclasses.dataclass(frozen=True)
    class Snap:
        flag_values: dict[str, bool | str]

    snap = Snap({"alpha-multi": "blue", "beta": True, "off": False})
    assert_same(
        capture(ctx_for(), "f", distinct_id="u1", flags=snap, timestamp=TS, uuid=UUID), sent[0]
    )


def test_explicit_properties_win_over_flag_properties(reference: Any) -> None:
    make, sent = reference
    client = make()
    props = {"$feature/beta": "mine", "$active_feature_flags": ["x"]}
    client.capture(
        "f", distinct_id="u1", properties=props, flags=snapshot_of(client), timestamp=TS, uuid=UUID
    )
    values = {"beta": True, "off": False, "alpha-multi": "blue"}
    ours = capture(
        ctx_for(), "f", distinct_id="u1", properties=props, flags=values, timestamp=TS, uuid=UUID
    )
    assert_same(ours, sent[0])
    assert ours.properties["$feature/beta"] == "mine"


def test_no_active_flags_omits_active_feature_flags(reference: Any) -> None:
    make, sent = reference
    client = make()
    client.feature_flags = [DEFINITIONS[1]]
    snap = client.evaluate_flags("u1", only_evaluate_locally=True)
    client.capture("f", distinct_id="u1", flags=snap, timestamp=TS, uuid=UUID)
    ours = capture(ctx_for(), "f", distinct_id="u1", flags={"off": False}, timestamp=TS, uuid=UUID)
    assert_same(ours, sent[0])
    assert "$active_feature_flags" not in ours.properties


def test_undecided_flags_are_left_out() -> None:
    ours = capture(
        ctx_for(), "f", distinct_id="u1", flags={"x": None, "y": True}, timestamp=TS, uuid=UUID
    )
    assert "$feature/x" not in ours.properties
    assert ours.properties["$active_feature_flags"] == ["y"]


# ---------------------------------------------------------------------------------------
# pageview, set, set_once, identify, alias, group_identify


def test_pageview_is_capture_with_current_url(reference: Any) -> None:
    make, sent = reference
    url = "https://example.com/pricing?x=1"
    make().capture(
        "$pageview",
        distinct_id="u1",
        properties={"$current_url": url, "ref": "ad"},
        timestamp=TS,
        uuid=UUID,
    )
    ours = pageview(
        ctx_for(), url, distinct_id="u1", properties={"ref": "ad"}, timestamp=TS, uuid=UUID
    )
    assert_same(ours, sent[0])
    assert ours.event == "$pageview"


def test_set_and_set_once(reference: Any) -> None:
    make, sent = reference
    client = make(super_properties={"sp": 1})
    props = {"email": "a@b.c", "since": dt.date(2024, 2, 3)}
    client.set(distinct_id="u1", properties=props, timestamp=TS, uuid=UUID)
    client.set_once(distinct_id="u1", properties=props, timestamp=TS, uuid=UUID)
    ctx = ctx_for(super_properties={"sp": 1})
    a = set_properties(ctx, distinct_id="u1", properties=props, timestamp=TS, uuid=UUID)
    b = set_once(ctx, distinct_id="u1", properties=props, timestamp=TS, uuid=UUID)
    assert a is not None and b is not None
    assert_same(a, sent[0])
    assert_same(b, sent[1])
    assert a.set == {"email": "a@b.c", "since": "2024-02-03"}
    assert "$os" not in a.properties  # no system properties on person updates


def test_set_without_id_or_properties_is_nothing(reference: Any) -> None:
    make, sent = reference
    client = make()
    assert client.set(distinct_id="u1", properties={}, timestamp=TS, uuid=UUID) is None
    assert client.set(properties={"a": 1}, timestamp=TS, uuid=UUID) is None
    assert sent == []
    ctx = ctx_for()
    assert set_properties(ctx, distinct_id="u1", properties={}, timestamp=TS, uuid=UUID) is None
    assert set_once(ctx, distinct_id=None, properties={"a": 1}, timestamp=TS, uuid=UUID) is None


def test_alias(reference: Any) -> None:
    make, sent = reference
    make().alias(previous_id="anon-1", distinct_id="user-1", timestamp=TS, uuid=UUID)
    ours = alias(ctx_for(), previous_id="anon-1", distinct_id="user-1", timestamp=TS, uuid=UUID)
    assert_same(ours, sent[0])
    assert ours.distinct_id == "anon-1"
    assert ours.properties["alias"] == "user-1"


def test_alias_needs_both_ids() -> None:
    with pytest.raises(InvalidEvent):
        alias(ctx_for(), previous_id="", distinct_id="u", timestamp=TS, uuid=UUID)
    with pytest.raises(InvalidEvent):
        alias(ctx_for(), previous_id="a", distinct_id=None, timestamp=TS, uuid=UUID)  # type: ignore[arg-type]


def test_group_identify_with_distinct_id(reference: Any) -> None:
    make, sent = reference
    props = {"name": "Acme", "employees": 11}
    make().group_identify("company", "acme", props, distinct_id="u1", timestamp=TS, uuid=UUID)
    ours = group_identify(
        ctx_for(), "company", "acme", properties=props, distinct_id="u1", timestamp=TS, uuid=UUID
    )
    assert_same(ours, sent[0])


def test_group_identify_without_distinct_id_uses_type_and_key(reference: Any) -> None:
    # Deliberate difference from posthog-python 7.91.1, which sends a random uuid4 here
    # (a new throwaway person per call): hogkit sends `$<group_type>_<group_key>`, as the
    # Ruby SDK's documentation specifies; every other field still matches posthog-python.
    make, sent = reference
    make().group_identify("company", 42, {"name": "Acme"}, timestamp=TS, uuid=UUID)
    ours = group_identify(
        ctx_for(),
        "company",
        42,
        properties={"name": "Acme"},
        timestamp=TS,
        uuid=UUID,  # type: ignore[arg-type]
    )
    assert_same(ours, sent[0], ignore_distinct_id=True)
    assert ours.distinct_id == "$company_42"
    assert sent[0]["distinct_id"] != "$company_42"
    assert ours.properties["$group_key"] == 42
    assert ours.properties["$group_set"] == {"name": "Acme"}


def test_group_identify_needs_type_and_key() -> None:
    with pytest.raises(InvalidEvent):
        group_identify(ctx_for(), "", "k", timestamp=TS, uuid=UUID)


def test_identify_shape() -> None:
    # posthog-python has had no identify() since 6.0, so there is no reference call to
    # compare with: the shape is its pre-6.0 one (top-level `$set`, common properties
    # only), with posthog-js's `$anon_distinct_id` when an anonymous id is linked.
    ctx = ctx_for(super_properties={"sp": 1})
    ours = identify(
        ctx,
        distinct_id="u1",
        properties={"email": "a@b.c"},
        set_once_properties={"first": dt.date(2024, 1, 1)},
        anon_distinct_id="anon-9",
        timestamp=TS,
        uuid=UUID,
    )
    msg = wire(ours)
    assert msg == {
        "event": "$identify",
        "distinct_id": "u1",
        "$set": {"email": "a@b.c"},
        "$set_once": {"first": "2024-01-01"},
        "properties": {
            "$anon_distinct_id": "anon-9",
            "$lib": "hogkit",
            "$lib_version": ctx.lib_version,
            "$geoip_disable": True,
            "sp": 1,
            "$is_server": True,
        },
        "timestamp": TS.isoformat(),
        "uuid": UUID,
    }
    bare = identify(ctx, distinct_id="u2", timestamp=TS, uuid=UUID)
    assert bare.set == {} and bare.set_once is None
    assert "$anon_distinct_id" not in bare.properties
    with pytest.raises(InvalidEvent):
        identify(ctx, distinct_id="", timestamp=TS, uuid=UUID)


# ---------------------------------------------------------------------------------------
# the message round trip used around before_send hooks


def test_to_message_is_the_wire_dict_and_fresh() -> None:
    ev = capture(ctx_for(), "m", distinct_id="u1", properties={"a": 1}, timestamp=TS, uuid=UUID)
    msg = ev.to_message()
    assert msg == wire(ev)
    msg["properties"]["a"] = 2
    msg["event"] = "changed"
    assert ev.properties["a"] == 1 and ev.event == "m"


def test_from_message_normalises_a_hooks_result() -> None:
    ev = capture(ctx_for(), "m", distinct_id="u1", timestamp=TS, uuid=UUID)
    msg = ev.to_message()
    msg["properties"]["added"] = {1: decimal.Decimal("2.5"), "when": dt.date(2020, 1, 1)}
    msg["timestamp"] = dt.datetime(2026, 1, 2, 4, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    msg["distinct_id"] = 99
    msg["context"] = {"ip": "1.2.3.4"}
    back = Event.from_message(msg)
    assert back.properties["added"] == {"1": 2.5, "when": "2020-01-01"}
    assert back.timestamp == "2026-01-02T03:04:05+00:00"
    assert back.distinct_id == "99"
    assert back.extra == {"context": {"ip": "1.2.3.4"}}
    assert wire(back)["context"] == {"ip": "1.2.3.4"}
    assert Event.from_message(ev.to_message()) == ev


def test_from_message_uuid_fallback_and_errors() -> None:
    ev = capture(ctx_for(), "m", distinct_id="u1", timestamp=TS, uuid=UUID)
    msg = ev.to_message()
    msg["uuid"] = "not-a-uuid"
    with pytest.raises(InvalidEvent):
        Event.from_message(msg)
    fresh = str(uuidlib.UUID(int=7))
    assert Event.from_message(msg, fallback_uuid=fresh).uuid == fresh
    for key, bad in [
        ("event", None),
        ("distinct_id", ""),
        ("timestamp", "nope"),
        ("properties", [1]),
    ]:
        broken = ev.to_message()
        broken[key] = bad
        with pytest.raises(InvalidEvent):
            Event.from_message(broken)
    with pytest.raises(InvalidEvent):
        Event.from_message([1, 2])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# helpers the shell uses for caller-supplied timestamps and ids


def test_normalize_uuid() -> None:
    assert normalize_uuid(uuidlib.UUID(UUID)) == UUID
    assert normalize_uuid(UUID.upper()) == UUID.upper()  # kept as given, like the reference
    assert normalize_uuid(UUID.replace("-", "")) == UUID.replace("-", "")
    assert normalize_uuid("{" + UUID + "}") == "{" + UUID + "}"
    for bad in (None, "", "nope", 12, UUID + "0"):
        assert normalize_uuid(bad) is None


def test_format_timestamp() -> None:
    assert format_timestamp(TS) == "2026-01-02T03:04:05.123456+00:00"
    assert format_timestamp(dt.datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05+00:00"
    assert format_timestamp("2026-01-02T04:04:05+01:00") == "2026-01-02T03:04:05+00:00"
    assert format_timestamp("2026-01-02T03:04:05") == "2026-01-02T03:04:05+00:00"
    for bad in ("2026-01-02", "20260102", "yesterday", None, 1767322445):
        assert format_timestamp(bad) is None


def test_epoch_seconds_format_like_datetime() -> None:
    moment = TS.timestamp()
    assert format_epoch(moment) == TS.isoformat()
    assert format_epoch(1767323045.0) == "2026-01-02T03:04:05+00:00"  # no fraction, as isoformat
    assert format_epoch(1767323045.9999996) == "2026-01-02T03:04:06+00:00"  # rounds up a second
    assert format_epoch(-1.5) == "1969-12-31T23:59:58.500000+00:00"
    for bad in (float("nan"), float("inf"), 1e20):
        with pytest.raises(InvalidEvent):
            format_epoch(bad)
    ev = capture(EventContext(), "e", distinct_id="u", timestamp=moment, uuid=UUID)
    assert ev.timestamp == TS.isoformat()


def test_event_context_is_an_immutable_value() -> None:
    ctx = EventContext(system_properties={"$os": "Linux"}, super_properties={"app": (1, 2)})
    assert ctx.super_properties == {"app": [1, 2]}  # normalised once, here
    assert ctx == EventContext(system_properties={"$os": "Linux"}, super_properties={"app": [1, 2]})
    assert ctx != EventContext(system_properties={"$os": "Linux"}, disable_geoip=False)
    assert "super_properties={'app': [1, 2]}" in repr(ctx)
    with pytest.raises(AttributeError):
        ctx.lib = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del ctx.release_id  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(ctx)


def _flag_properties_by_the_rules(values: dict[Any, Any]) -> dict[str, Any]:
    """`$feature/<key>` per decided flag and the sorted active names, spelled out plainly."""
    out: dict[str, Any] = {}
    active: list[str] = []
    for key, value in values.items():
        if value is None:
            continue
        name = str(key)
        out[f"$feature/{name}"] = value
        if value is not False:
            active.append(name)
    if active:
        out["$active_feature_flags"] = sorted(active)
    return out


FLAG_VALUE_CASES: list[dict[Any, Any]] = [
    {f"flag-{i:02d}": (i % 3 == 0) or f"v{i}" for i in reversed(range(40))},
    {"b": True, "a": False, "c": "control"},
    {"only": True},
    {"only": False},
    {"x": None, "y": True, "z": False},  # undecided flags are left out
    {"empty-variant": "", "on": True},  # "" is a value, and active
    {"z": 1, "a": 2.5},  # values that are not bool or str
    {"ключ": "значение", "plain": True},  # non-ASCII keys
    {1: True, "1": False},  # equal names from different keys: the later wins
    {"off": False, "zero": 0, "one": 1, "on": True},  # 0 equals False, yet is active
    {"list": [1], "on": True},  # an unhashable value
]


@pytest.mark.parametrize("values", FLAG_VALUE_CASES, ids=range(len(FLAG_VALUE_CASES)))
def test_flag_fragment_is_the_json_of_flag_properties_or_declines(
    values: dict[Any, Any],
) -> None:
    import msgspec
    from hogkit.core.events import flag_fragment, flag_properties
    from hogkit.core.flag_properties import FlagLayouts

    layouts = FlagLayouts()
    expected = msgspec.json.encode(flag_properties(values))[1:-1]
    # With a memo of layouts or without (the per-flag loop): the same properties.
    assert flag_properties(values, layouts) == flag_properties(values)
    fragment = flag_fragment(values, layouts)
    plain = all(type(v) in (bool, str) and v != "" for v in values.values())
    distinct_keys = all(type(k) is str for k in values)
    if plain and distinct_keys:
        assert fragment == expected
    else:
        assert fragment is None


def test_flag_fragment_of_a_snapshot_reads_its_columns() -> None:
    import msgspec
    from hogkit.core import FlagSet
    from hogkit.core.events import flag_fragment, flag_properties
    from hogkit.core.flag_properties import FlagLayouts

    layouts = FlagLayouts()
    doc = [
        {"key": k, "active": True, "filters": {"groups": [{"rollout_percentage": p}]}}
        for k, p in (("on", 100), ("off", 0), ("also", 100))
    ]
    flagset = FlagSet.from_document(doc)
    snap = flagset.evaluate("u1", now=TS)
    assert snap.flag_columns() == (("on", "off", "also"), (True, False, True))
    assert snap.flag_columns()[0] is flagset.keys  # all resolved: the shared tuple
    fragment = flag_fragment(snap, layouts)
    assert fragment == msgspec.json.encode(flag_properties(snap))[1:-1]
    assert fragment is not None and b'"$active_feature_flags":["also","on"]' in fragment
    assert flag_fragment(snap.only([]), layouts) == b""
    subset = flagset.evaluate("u1", flag_keys=["also", "off"], now=TS)
    assert subset.flag_columns() == (("off", "also"), (False, True))
    assert flag_fragment(subset, layouts) == msgspec.json.encode(flag_properties(subset))[1:-1]
    # A flag local evaluation cannot decide is missing from the columns, as from the values.
    needs_email = {
        "key": "mail",
        "active": True,
        "filters": {
            "groups": [{"properties": [{"key": "email", "operator": "icontains", "value": "x"}]}]
        },
    }
    partial = FlagSet.from_document([*doc, needs_email]).evaluate("u1", now=TS)
    assert "mail" in partial.unresolved
    assert partial.flag_columns() == (("on", "off", "also"), (True, False, True))
    assert flag_fragment(partial, layouts) == fragment


@pytest.mark.parametrize("values", FLAG_VALUE_CASES, ids=range(len(FLAG_VALUE_CASES)))
def test_flag_properties_follow_the_rules_whether_or_not_the_layout_is_memoised(
    values: dict[Any, Any],
) -> None:
    from hogkit.core.events import flag_properties
    from hogkit.core.flag_properties import FlagLayouts

    layouts = FlagLayouts()
    expected = _flag_properties_by_the_rules(values)
    first = flag_properties(values, layouts)  # works the layout out
    again = flag_properties(dict(values), layouts)  # a new mapping, same keys: memoised
    assert first == again == flag_properties(values) == expected
    assert list(first) == list(expected)  # same order too: `$feature/...` in key order


def test_flag_properties_of_snapshots_sharing_keys_keep_their_own_values() -> None:
    from hogkit.core.events import flag_properties
    from hogkit.core.flag_properties import FlagLayouts

    layouts = FlagLayouts()
    keys = [f"k{i}" for i in range(10)]
    for n in range(5):
        values = {k: (i + n) % 2 == 0 for i, k in enumerate(keys)}
        props = flag_properties(values, layouts)
        assert props["$active_feature_flags"] == sorted(k for k in keys if values[k])
        assert all(props[f"$feature/{k}"] is values[k] for k in keys)


def test_the_layout_memo_stays_bounded_and_answers_as_without_it() -> None:
    from hogkit.core.flag_properties import FlagLayouts, flag_properties

    layouts = FlagLayouts()
    for i in range(FlagLayouts.LIMIT + 10):
        values = {f"bounded-{i}": True, f"other-{i}": False}
        assert flag_properties(values, layouts) == flag_properties(values)
        assert len(layouts._by_keys) <= FlagLayouts.LIMIT
