"""Regression tests for what the module-level differential
(`property_tests/test_module_differential.py`) found: each makes the same module-level
calls on `posthog` and on `hogkit` against one loopback server and compares what the
server received."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import posthog
import pytest
from twin import (
    DEFS,
    KIT_KEY,
    REF_KEY,
    SECRET,
    Twin,
    definitions,
    event_differences,
    flag,
    personless_marked,
    sdk_key,
)

import hogkit

_SETTINGS = (
    "api_key",
    "host",
    "sync_mode",
    "debug",
    "disabled",
    "disable_geoip",
    "personal_api_key",
    "flag_definition_cache_provider",
    "default_client",
)


@pytest.fixture
def modules() -> Iterator[None]:
    """Restore both modules' settings and shut their default clients down afterwards."""
    saved = {m: {n: getattr(m, n) for n in _SETTINGS} for m in (posthog, hogkit)}
    try:
        yield
    finally:
        for module, values in saved.items():
            client = module.default_client
            if client:
                client.shutdown()
            for name, value in values.items():
                setattr(module, name, value)


def on_both(twin: Twin, calls: Callable[[Any], Any], **settings: Any) -> list[Any]:
    """`calls(module)` on posthog, then on hogkit, each module set up with its own key,
    the twin's server, synchronous sends and `settings`, its default client built
    afresh, and flushed afterwards; returns what `calls` returned on each."""
    answers = []
    for module, key in ((posthog, REF_KEY), (hogkit, KIT_KEY)):
        everything = {"api_key": key, "host": twin.server.url, "sync_mode": True, **settings}
        for name, value in everything.items():
            setattr(module, name, value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            answers.append(calls(module))
        module.flush()  # type: ignore[attr-defined]
    return answers


@pytest.mark.parametrize("cleared", [None, False, 0], ids=repr)
def test_a_default_client_cleared_with_a_false_value_is_built_again(
    cleared: Any, modules: None
) -> None:
    """`default_client = False` (or 0) leaves no client, as None does: the next module call
    builds one from the settings and its event is sent, where hogkit used the value as a
    client and raised AttributeError into the caller."""
    with Twin(local=False) as twin:
        answers = on_both(
            twin,
            lambda m: (
                m.capture("cleared", distinct_id="user-1") is not None,
                bool(m.default_client),
            ),
            default_client=cleared,
        )
        assert answers == [(True, True), (True, True)]
        ref, kit = twin.ref_events(), twin.kit_events()
        assert [e["event"] for e in ref] == ["cleared"]
        assert kit == ref, event_differences(ref, kit)


PERSONLESS_CALLS: dict[str, Callable[[Any], Any]] = {
    "capture": lambda m: m.capture("signed up", send_feature_flags=True),
    "capture_exception": lambda m: m.capture_exception(ValueError("boom"), send_feature_flags=True),
}


@pytest.mark.parametrize("call", list(PERSONLESS_CALLS))
def test_a_personless_event_asks_for_the_flags_of_the_id_it_is_sent_with(
    call: str, modules: None
) -> None:
    """Without a distinct id, `send_feature_flags=True` asks `/flags` for the random id the
    personless event is then sent under, as posthog does; hogkit asked for `null`."""
    with Twin(local=False) as twin:
        on_both(twin, PERSONLESS_CALLS[call], default_client=None)
        for key in (REF_KEY, KIT_KEY):
            sent = [
                e["distinct_id"]
                for r in twin.server.requests("/batch/")
                if sdk_key(r) == key
                for e in r.json()["batch"]
            ]
            asked = [
                r.json()["distinct_id"]
                for r in twin.server.requests("/flags/")
                if sdk_key(r) == key
            ]
            assert len(sent) == 1
            assert asked == sent
        ref = personless_marked(twin.ref_events())
        kit = personless_marked(twin.kit_events())
        if call == "capture_exception":  # the frames are two different SDKs' own
            ref = [{**e, "properties": {}} for e in ref]
            kit = [{**e, "properties": {}} for e in kit]
        assert kit == ref, event_differences(ref, kit)


def test_a_setting_left_none_reaches_the_default_client_as_none(modules: None) -> None:
    """`disable_geoip = None` builds a client with `disable_geoip=None` (events carry no
    `$geoip_disable`), as posthog does; hogkit dropped the None and built the Client's
    default, True."""
    with Twin(local=False) as twin:
        on_both(
            twin,
            lambda m: m.capture("signed up", distinct_id="user-1"),
            disable_geoip=None,
            default_client=None,
        )
        ref, kit = twin.ref_events(), twin.kit_events()
        assert "$geoip_disable" not in ref[0]["properties"]
        assert kit == ref, event_differences(ref, kit)


def test_a_disabled_default_client_downloads_no_definitions(modules: None) -> None:
    """`disabled = True` set after the default client was built: `load_feature_flags()`
    downloads nothing, as posthog makes no request; hogkit downloaded the definitions."""

    def disable_then_load(module: Any) -> None:
        module.setup()
        module.disabled = True
        module.load_feature_flags()

    with Twin(local=False) as twin:
        on_both(twin, disable_then_load, personal_api_key=SECRET, default_client=None)
        assert twin.requests(DEFS, "ref") == []
        assert twin.requests(DEFS, "kit") == []


@pytest.mark.parametrize("group", [("company", ""), ("", "acme"), (None, "acme")], ids=repr)
def test_group_identify_without_a_type_or_key_is_dropped_in_debug_mode_too(
    group: tuple[Any, Any], modules: None
) -> None:
    """A blank group type or key drops the call with a warning and returns None, with
    `debug = True` as well, as posthog does; hogkit raised InvalidEvent into the caller."""
    with Twin(local=False) as twin:
        answers = on_both(
            twin,
            lambda m: m.group_identify(*group, distinct_id="user-1"),
            debug=True,
            default_client=None,
        )
        assert answers == [None, None]
        assert twin.ref_events() == twin.kit_events() == []


def test_a_download_after_definitions_were_set_on_the_client_replaces_them(modules: None) -> None:
    """`default_client.feature_flags = [...]`, then `load_feature_flags()`: the download is
    made and its definitions replace the ones set, as posthog's download overwrites the
    attribute; hogkit stopped downloading for good once definitions were set."""
    given = [flag("given", 9)]

    def hand_over_then_load(module: Any) -> Any:
        client = module.setup()
        client.feature_flags = given
        before = [f["key"] for f in module.feature_flag_definitions() or []]
        module.load_feature_flags()
        after = [f["key"] for f in module.feature_flag_definitions() or []]
        read = module.get_feature_flag("given", "user-1", only_evaluate_locally=True)
        return before, after, read

    with Twin(local=True) as twin:
        ref, kit = on_both(twin, hand_over_then_load, personal_api_key=SECRET, default_client=None)
        assert ref[0] == ["given"]
        assert "given" not in ref[1]
        assert kit == ref
        assert len(twin.requests(DEFS, "ref")) == 1
        assert len(twin.requests(DEFS, "kit")) == len(twin.requests(DEFS, "ref"))


def test_a_default_client_built_disabled_downloads_definitions_once_enabled(
    modules: None,
) -> None:
    """The default client built while `disabled = True`, then `disabled = False`: a flag
    read downloads the definitions and evaluates locally, as posthog does; hogkit's client
    had no poller when built disabled, so it never downloaded any."""

    def build_disabled_then_read(module: Any) -> Any:
        module.disabled = True
        module.feature_flag_definitions()  # builds the default client, disabled
        module.disabled = False
        everything = module.get_all_flags("user-1")
        keys = [f["key"] for f in module.feature_flag_definitions() or []]
        return everything, keys

    with Twin(definitions(flag("on")), local=True) as twin:
        ref, kit = on_both(
            twin, build_disabled_then_read, personal_api_key=SECRET, default_client=None
        )
        assert ref == ({"on": True}, ["on"])
        assert kit == ref
        assert len(twin.requests(DEFS, "ref")) == 1
        assert len(twin.requests(DEFS, "kit")) == len(twin.requests(DEFS, "ref"))


class ServingProvider:
    """A definitions cache provider that never leads and always answers `document`."""

    def __init__(self, document: Any) -> None:
        self.document = document

    def should_fetch_flag_definitions(self) -> bool:
        return False

    def get_flag_definitions(self) -> Any:
        return self.document

    def on_flag_definitions_received(self, data: Any) -> None:
        """Nothing is kept: every read answers `document` again."""

    def shutdown(self) -> None:
        """Nothing to release."""


MALFORMED = {
    "flags a string": {"flags": "nope", "cohorts": []},
    "flags not objects": {"flags": [1], "group_type_mapping": {}, "cohorts": {}},
    "flags a mapping": {"flags": {"on": {}}, "group_type_mapping": {}, "cohorts": {}},
    "cohorts missing": {"flags": [flag("cached")], "group_type_mapping": {}},
    "not a mapping": ["flags", "cohorts"],
}


def with_a_cache(cached: Any, served: list[Any], calls: Callable[[Any], Any]) -> tuple[Any, int]:
    """`calls` on both modules with a cache provider that never leads and answers `cached`,
    against a server serving `served`; asserts both answered alike and downloaded alike,
    and returns posthog's answer and how many downloads each made."""
    with Twin(definitions(*served), local=True) as twin:
        ref, kit = on_both(
            twin,
            calls,
            personal_api_key=SECRET,
            flag_definition_cache_provider=ServingProvider(cached),
            default_client=None,
        )
        assert kit == ref
        made = len(twin.requests(DEFS, "ref"))
        assert len(twin.requests(DEFS, "kit")) == made
        return ref, made


@pytest.mark.parametrize("document", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_cached_document_is_rejected_and_the_definitions_downloaded(
    document: Any, modules: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache provider answering a malformed document: every load downloads instead and
    the downloaded definitions are in force, as posthog does; hogkit put `{"flags":
    "nope"}` in force (its flags read `['n','o','p','e']`) and downloaded nothing. The
    rejection is logged once, never raised."""

    def load_twice(module: Any) -> Any:
        module.load_feature_flags()
        first = module.feature_flag_definitions()
        module.load_feature_flags()
        return first, module.feature_flag_definitions(), module.get_all_flags("user-1")

    caplog.set_level(logging.WARNING, logger="hogkit")
    answer, made = with_a_cache(document, [flag("on")], load_twice)
    assert [f["key"] for f in answer[1]] == ["on"]
    assert made == 2
    rejected = [r for r in caplog.records if "not a flag definitions document" in r.getMessage()]
    assert len(rejected) == 1


@pytest.mark.parametrize("served", [[], [flag("on")]], ids=["no flags", "one flag"])
def test_an_empty_cache_downloads_while_no_flag_is_loaded(served: list[Any], modules: None) -> None:
    """A cache provider that never leads and has nothing stored: each load downloads while
    the definitions in force hold no flag (an empty list counts as nothing loaded), and
    stops once one is, as posthog does; hogkit downloaded only while nothing was loaded."""

    def load_three_times(module: Any) -> Any:
        for _ in range(3):
            module.load_feature_flags()
        return module.feature_flag_definitions(), module.get_all_flags("user-1")

    assert with_a_cache(None, served, load_three_times)[1] == (3 if not served else 1)


@pytest.mark.parametrize(
    ("served", "given"),
    [([], [flag("given")]), ([flag("on")], [])],
    ids=["flags set over an empty download", "no flags set over a download"],
)
def test_an_empty_cache_counts_the_flags_set_on_the_client(
    served: list[Any], given: list[Any], modules: None
) -> None:
    """With a cache provider that never leads and has nothing stored, flags set on the
    client (`feature_flags = [...]`) count as loaded: a load downloads only while the list
    in force is empty, as posthog does; hogkit looked at its last download alone, so it
    downloaded over flags set by hand, and not over an empty list set by hand."""

    def load_set_load(module: Any) -> Any:
        module.load_feature_flags()
        module.default_client.feature_flags = given
        module.load_feature_flags()
        module.load_feature_flags()
        return module.feature_flag_definitions(), module.get_all_flags("user-1")

    assert with_a_cache(None, served, load_set_load)[1] == (1 if given else 2)
