"""Drop-in details side by side with posthog 7.91.1: the definitions as loaded, and reads
for an empty or None distinct id. Every expectation is what the reference did in the same
run."""

from __future__ import annotations

import asyncio
import inspect
import warnings
from typing import Any

import posthog
import pytest
from httpserver import Reply
from twin import (
    KitClient,
    Twin,
    definitions,
    event_differences,
    flag,
    flags_response,
    person_rule,
    personless_marked,
    record,
)

import hogkit

EXTRA = {"id": 9, "key": "extra", "active": False, "filters": {}, "custom": [1, {"x": None}]}
DOC = definitions(
    flag("on", 1),
    EXTRA,
    flag(
        "gated", 2, groups=[{"properties": [person_rule("plan", "pro")], "rollout_percentage": 100}]
    ),
    # Bucketing shows which text an id is evaluated as.
    flag("half", 3, groups=[{"properties": [], "rollout_percentage": 50}]),
)


def test_definitions_come_back_as_loaded() -> None:
    with Twin(DOC) as twin:
        twin.run(lambda c: c.load_feature_flags())
        ref, kit = twin.both("feature_flag_definitions")
        assert kit == ref
        assert isinstance(kit, list) and kit[1] == EXTRA
        # a fresh copy: changing it leaves what the client evaluates untouched
        kit.clear()
        assert twin.kit.feature_flag_definitions() == ref


def test_definitions_before_any_load() -> None:
    with Twin(local=False) as twin:
        ref, kit = twin.both("feature_flag_definitions")
        assert kit == ref


def test_definitions_after_the_server_refuses_them() -> None:
    with Twin(DOC, definition_replies=[Reply.json(DOC)]) as twin:
        twin.script_definitions(then=Reply(401))
        twin.run(lambda c: c.load_feature_flags())
        ref, kit = twin.both("feature_flag_definitions")
        assert kit == ref


# (method, the flag key it reads or None for a bulk read, local only). A bulk read that
# may ask takes the server's whole answer ("gated" needs it), so only a local-only one
# shows how the id was bucketed.
READS: list[tuple[str, str | None, bool]] = [
    ("get_feature_flag", "on", False),
    ("get_feature_flag", "gated", False),
    ("get_feature_flag", "half", False),
    ("feature_enabled", "on", False),
    ("feature_enabled", "half", False),
    ("get_feature_flag_result", "on", False),
    ("get_feature_flag_payload", "on", False),
    ("get_all_flags", None, False),
    ("get_all_flags", None, True),
    ("get_all_flags_and_payloads", None, False),
    ("get_all_flags_and_payloads", None, True),
]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str, int, float, dict, list)):
        return value
    return {k: getattr(value, k) for k in ("key", "enabled", "variant", "payload")}


def _flags_bodies(twin: Twin, sdk: str) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in r.json().items() if k not in ("api_key", "sent_at")}
        for r in twin.requests("/flags/", sdk)
    ]


@pytest.mark.parametrize("distinct_id", ["", None], ids=["empty", "None"])
@pytest.mark.parametrize("local", [True, False], ids=["local", "remote"])
@pytest.mark.parametrize(
    ("method", "key", "local_only"),
    READS,
    ids=[f"{m}-{k}{'-local-only' if only else ''}" for m, k, only in READS],
)
def test_empty_and_none_distinct_id_reads(
    local: bool, method: str, key: str | None, local_only: bool, distinct_id: str | None
) -> None:
    """An empty id and a None id are evaluated (None as the text "None", which the 50%
    flag shows), asked for with the id as given, and reported personless."""
    # No record for "half": a bulk read keeps its local value beside the server's answer.
    answer = flags_response(record("on", True, fid=1), record("gated", "arm", fid=2))
    args = (distinct_id,) if key is None else (key, distinct_id)
    with Twin(DOC, [Reply.json(answer)], local=local) as twin:
        options = {"only_evaluate_locally": True} if local_only else {}
        ref, kit = twin.both(method, *args, **options)
        assert _plain(kit) == _plain(ref)
        ref_events, kit_events = map(personless_marked, twin.flag_events())
        assert kit_events == ref_events, event_differences(ref_events, kit_events)
        if method in ("get_feature_flag", "feature_enabled", "get_feature_flag_result"):
            assert kit_events  # the read is reported, under a fresh personless id
        assert _flags_bodies(twin, "kit") == _flags_bodies(twin, "ref")


@pytest.mark.parametrize("local", [True, False], ids=["local", "remote"])
def test_empty_distinct_id_evaluate_flags(local: bool) -> None:
    answer = flags_response(record("on", True, fid=1), record("gated", "arm", fid=2))
    with Twin(DOC, [Reply.json(answer)], local=local) as twin:
        ref, kit = twin.both("evaluate_flags", "")
        assert sorted(kit.keys) == sorted(ref.keys)
        for key in ("on", "gated", "extra"):
            assert kit.get_flag(key) == ref.get_flag(key)
            assert kit.is_enabled(key) == ref.is_enabled(key)
        ref_events, kit_events = twin.flag_events()
        assert kit_events == ref_events, event_differences(ref_events, kit_events)


def test_empty_distinct_id_experiment_exposure() -> None:
    meta = {
        "id": 201,
        "version": 7,
        "config_version": 2,
        "has_experiment": True,
        "rule_type": "experiment",
        "rule_id": "10000000-0000-4000-8000-000000000001",
        "experiment_id": 301,
        "variant_key": "arm_a",
    }
    split = {
        "key": "layout",
        "value": "arm_a",
        "reason": {"code": "experiment_split"},
        "metadata": meta,
    }
    with Twin(None, [Reply.json(flags_response(split))], local=False) as twin:
        ref, kit = twin.both("get_feature_flag", "layout", "")
        assert kit == ref
        ref_events, kit_events = map(personless_marked, twin.flag_events())
        assert [e["event"] for e in ref_events] == [
            "$feature_flag_called",
            "$experiment_exposure",
        ]
        assert kit_events == ref_events, event_differences(ref_events, kit_events)


def _definitions_read_back(client: Any) -> tuple[Any, ...]:
    return (
        client.feature_flags,
        client.group_type_mapping,
        client.cohorts,
        client.feature_flag_definitions(),
        client.feature_flags_by_key,
    )


TABLES = definitions(
    flag("on", 1),
    group_type_mapping={"0": "company"},
    cohorts={"5": {"type": "AND", "values": [{"type": "AND", "values": []}]}},
)


def test_definition_attributes_read_back_nothing_before_a_download() -> None:
    """Neither downloads before the first flag read."""
    with Twin(TABLES) as twin:
        ref, kit = twin.run(_definitions_read_back)
        assert kit == ref
        assert ref[0] is None


def test_definition_attributes_read_back_what_was_downloaded() -> None:
    """`client.feature_flags`, `group_type_mapping` and `cohorts` after a download, and
    after the server refused the next."""
    with Twin(TABLES, definition_replies=[Reply.json(TABLES)]) as twin:
        seen = []
        twin.run(lambda c: c.load_feature_flags())
        seen.append(twin.run(_definitions_read_back))
        twin.script_definitions(then=Reply(401))
        twin.run(lambda c: c.load_feature_flags())
        seen.append(twin.run(_definitions_read_back))
        for ref, kit in seen:
            assert kit == ref
        assert seen[0][0][1] == TABLES["group_type_mapping"]


SET_DIRECTLY: dict[str, Any] = {
    "flags": lambda c: setattr(c, "feature_flags", [flag("set", 7)]),
    "all three": lambda c: (
        setattr(c, "feature_flags", [flag("set", 7)]),
        setattr(c, "group_type_mapping", {"1": "org"}),
        setattr(c, "cohorts", None),
    ),
}


@pytest.mark.parametrize("loaded", [True, False], ids=["after-a-download", "never-loaded"])
@pytest.mark.parametrize("setting", list(SET_DIRECTLY))
def test_definitions_set_directly_read_back(setting: str, loaded: bool) -> None:
    with Twin(TABLES, local=loaded) as twin:
        if loaded:
            twin.run(lambda c: c.load_feature_flags())
        twin.run(SET_DIRECTLY[setting])
        ref, kit = twin.run(_definitions_read_back)
        assert kit == ref
        assert ref[3] == [flag("set", 7)]


ATTRIBUTES_THAT_DIFFER = {
    "gzip": "hogkit compresses batches by default (README: what differs on purpose)",
    "capture_compression": "follows `gzip`, so it reads GZIP where posthog-python reads NONE",
    "in_app_modules": "a tuple of prefixes, () for none (posthog-python: None)",
    "metrics": "the metrics API is outside hogkit: the option reads back as given",
}


def test_options_left_to_their_defaults_read_back_the_same() -> None:
    """Every constructor option posthog-python keeps as an attribute reads back the value it
    filled in (the code-variable pattern lists, `capture_mode`, ...), apart from the few
    listed above."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ref = posthog.Client("phc_project", host="http://127.0.0.1:9", send=False)
        kit = KitClient("phc_project", host="http://127.0.0.1:9", send=False)
    try:
        names = list(inspect.signature(posthog.Client.__init__).parameters)[1:]
        kept = [
            n
            for n in names
            if hasattr(ref, n) and not n.startswith("_") and n not in ATTRIBUTES_THAT_DIFFER
        ]
        assert "code_variables_mask_patterns" in kept
        assert {n: getattr(kit, n) for n in kept} == {n: getattr(ref, n) for n in kept}
        patterns = kit.code_variables_mask_patterns + ["(?i)ssn"]  # noqa: RUF005 - as apps do
        assert patterns[-1] == "(?i)ssn"
    finally:
        ref.shutdown()
        kit.shutdown()


UNKNOWN_KEYWORDS: dict[str, Any] = {
    "capture": lambda c: c.capture("clicked", distinct_id="user-1", context={"a": 1}),
    "set": lambda c: c.set(distinct_id="user-1", properties={"plan": "pro"}, message_id="m"),
    "set_once": lambda c: c.set_once(distinct_id="user-1", properties={"a": 1}, context={}),
    "capture_exception": lambda c: c.capture_exception(
        ValueError("boom"), distinct_id="user-1", context={}
    ),
}


@pytest.mark.parametrize("method", list(UNKNOWN_KEYWORDS))
def test_an_unknown_keyword_is_ignored_as_posthog_ignores_it(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    """posthog-python's capture methods take `**kwargs`: an old or misspelt keyword is
    ignored and the event sent. hogkit sends it too, with a warning, instead of raising."""
    with Twin(local=False) as twin:
        ref, kit = twin.run(UNKNOWN_KEYWORDS[method])
        assert isinstance(ref, str) and isinstance(kit, str)
        ref_events, kit_events = twin.ref_events(), twin.kit_events()
        for event in ref_events + kit_events:
            event["properties"].pop("$exception_list", None)  # frames name the calling line
        assert kit_events == ref_events, event_differences(ref_events, kit_events)
    assert any(r.name.startswith("hogkit") and method in r.getMessage() for r in caplog.records)


def test_the_async_client_ignores_an_unknown_keyword_too() -> None:
    async def both(url: str) -> list[Any]:
        answers = []
        for client in (
            posthog.AsyncClient("phc_reference", host=url),
            hogkit.AsyncClient("phc_hogkit", host=url),
        ):
            answers.append(client.capture("clicked", distinct_id="user-1", context={}))
            answers.append(await client.capture_immediate("sent", distinct_id="u", context={}))
            await client.shutdown()
        return answers

    with Twin(local=False) as twin:
        answers = asyncio.run(both(twin.server.url))
        assert all(isinstance(a, str) for a in answers)
        names = {e["event"] for e in twin.server.events()}
        assert names == {"clicked", "sent"}


def test_definitions_are_decoded_once_per_download() -> None:
    """An application may read `client.feature_flags` per request: the document is not
    decoded again for each read (each read is a new list of the same decoded flags), and
    the next download's definitions replace them."""
    changed = definitions(flag("on", 1), flag("new", 3))
    with Twin(DOC, definition_replies=[Reply.json(DOC)]) as twin:
        twin.run(lambda c: c.load_feature_flags())
        first, second = twin.kit.feature_flags, twin.kit.feature_flags
        assert first == second and first is not second
        assert all(a is b for a, b in zip(first, second, strict=True))
        twin.script_definitions(then=Reply.json(changed))
        twin.run(lambda c: c.load_feature_flags())
        ref, kit = twin.both("feature_flag_definitions")
        assert kit == ref == changed["flags"]


def _definitions_read(client: Any) -> dict[str, Any]:
    """Every getter of the definitions in force, and what they decide locally."""
    by_key = client.feature_flags_by_key
    return {
        "feature_flags": client.feature_flags,
        "feature_flags_by_key": by_key,
        "feature_flag_definitions": client.feature_flag_definitions(),
        "group_type_mapping": client.group_type_mapping,
        "cohorts": client.cohorts,
        "local": client.get_all_flags("user-1", only_evaluate_locally=True),
    }


NOTHING_TO_LOAD_FROM = {
    "no personal key": (False, lambda c: c.load_feature_flags()),
    "no personal key, flags set": (
        False,
        lambda c: (setattr(c, "feature_flags", [flag("given")]), c.load_feature_flags()),
    ),
    "no personal key, group types set": (
        False,
        lambda c: (setattr(c, "group_type_mapping", {"0": "x"}), c.load_feature_flags()),
    ),
    "disabled after a download": (
        True,
        lambda c: (c.load_feature_flags(), setattr(c, "disabled", True), c.load_feature_flags()),
    ),
    "disabled after a download, then enabled": (
        True,
        lambda c: (
            c.load_feature_flags(),
            setattr(c, "disabled", True),
            c.load_feature_flags(),
            setattr(c, "disabled", False),
        ),
    ),
}


@pytest.mark.parametrize(
    ("local", "steps"), list(NOTHING_TO_LOAD_FROM.values()), ids=list(NOTHING_TO_LOAD_FROM)
)
def test_a_load_with_nothing_to_load_from_puts_no_flags_in_force(local: bool, steps: Any) -> None:
    """`load_feature_flags()` on a client without a personal API key, or disabled: posthog
    puts an empty flag list in force (its getters answer [] and {}, group types and cohorts
    stay), where hogkit kept what was in force (None before any load)."""
    document = definitions(flag("on"), group_type_mapping={"0": "company"})
    with Twin(document, local=local) as twin:
        twin.run(steps)
        ref, kit = twin.run(_definitions_read)
        assert ref["feature_flag_definitions"] == []
        assert kit == ref
