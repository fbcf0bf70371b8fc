"""`flag_definition_cache_provider=`: a provider written against posthog-python 7.91.1's
documented four-method protocol (written here, not imported from posthog) works unchanged,
sync or async, receives what the reference gives it, and never runs on the evaluation path."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import posthog
import pytest
from hogkit.transport import Client
from httpserver import LoopbackServer, Reply

DEFS = "/flags/definitions"

DOCUMENT: dict[str, Any] = {
    "flags": [
        {
            "id": 1,
            "key": "held",
            "active": True,
            "filters": {
                "groups": [{"properties": [], "rollout_percentage": 100}],
                "holdout": {"id": 7, "exclusion_percentage": 10},
            },
        },
        {
            "id": 2,
            "key": "plain",
            "active": True,
            "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]},
        },
    ],
    "group_type_mapping": {"0": "company"},
    "cohorts": {},
    "property_matching_version": 2,
}


class DictCache:
    """A provider per posthog-python's documentation: one shared dict, the first caller leads."""

    def __init__(self, shared: dict[str, Any], leader: bool) -> None:
        self.shared = shared
        self.leader = leader
        self.calls: list[tuple[str, str]] = []

    def _note(self, name: str) -> None:
        self.calls.append((name, threading.current_thread().name))

    def should_fetch_flag_definitions(self) -> bool:
        self._note("should_fetch")
        return self.leader

    def get_flag_definitions(self) -> dict[str, Any] | None:
        self._note("get")
        return self.shared.get("data")

    def on_flag_definitions_received(self, data: dict[str, Any]) -> None:
        self._note("received")
        self.shared["data"] = data

    def shutdown(self) -> None:
        self._note("shutdown")


class AsyncDictCache(DictCache):
    """The same provider with async methods (the protocol allows either)."""

    async def should_fetch_flag_definitions(self) -> bool:  # type: ignore[override]
        await asyncio.sleep(0)
        return super().should_fetch_flag_definitions()

    async def get_flag_definitions(self) -> dict[str, Any] | None:  # type: ignore[override]
        await asyncio.sleep(0)
        return super().get_flag_definitions()

    async def on_flag_definitions_received(self, data: dict[str, Any]) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        super().on_flag_definitions_received(data)

    async def shutdown(self) -> None:  # type: ignore[override]
        super().shutdown()


def client(server: LoopbackServer, provider: Any, **kwargs: Any) -> Client:
    kwargs.setdefault("secret_key", "phs_secret")
    return Client(
        "phc_project",
        host=server.url,
        send=False,
        poll_interval=3600,
        flag_definition_cache_provider=provider,
        **kwargs,
    )


def reference_data(server: LoopbackServer) -> dict[str, Any]:
    """What posthog-python 7.91.1 hands the same provider after the same download."""
    shared: dict[str, Any] = {}
    ref = posthog.Client(
        "phc_project",
        host=server.url,
        secret_key="phs_secret",
        send=False,
        flag_definition_cache_provider=DictCache(shared, leader=True),
    )
    try:
        ref.load_feature_flags()
    finally:
        ref.shutdown()
    return dict(shared["data"])


@pytest.mark.parametrize("kind", [DictCache, AsyncDictCache])
def test_leader_shares_what_the_reference_shares_and_follower_reads_it(
    loopback: LoopbackServer, kind: type[DictCache]
) -> None:
    loopback.script(DEFS, then=Reply.json(DOCUMENT, headers={"ETag": '"e1"'}))
    expected = reference_data(loopback)
    before = len(loopback.requests(DEFS))

    shared: dict[str, Any] = {}
    leader_cache, follower_cache = kind(shared, leader=True), kind(shared, leader=False)
    with client(loopback, leader_cache) as leader:
        leader.evaluate_flags("someone", only_evaluate_locally=True)  # waits for the first load
        assert shared["data"] == expected  # the same document, field for field
        assert shared["data"]["flags"][0]["filters"]["holdout"] == {
            "id": 7,
            "exclusion_percentage": 10,
        }
        with client(loopback, follower_cache) as follower:
            values = follower.evaluate_flags("someone", only_evaluate_locally=True).flag_values
            assert set(values) == {"held", "plain"}
            assert follower.flag_definitions_status().source == "cache"
        assert leader.flag_definitions_status().source == "fetched"
        assert leader.flag_definitions_status().etag == '"e1"'
    assert len(loopback.requests(DEFS)) - before == 1  # only the leader downloaded
    assert [name for name, _ in follower_cache.calls].count("shutdown") == 1


def test_provider_never_runs_on_the_evaluation_path(loopback: LoopbackServer) -> None:
    loopback.script(DEFS, then=Reply.json(DOCUMENT))
    cache = DictCache({}, leader=True)
    with client(loopback, cache) as hog:
        hog.evaluate_flags("first", only_evaluate_locally=True)
        made = len(cache.calls)
        for n in range(200):
            hog.evaluate_flags(f"user-{n}", only_evaluate_locally=True)
        assert len(cache.calls) == made
        assert {thread for name, thread in cache.calls} == {"hogkit-flag-poller"}


class Broken(DictCache):
    def __init__(self, shared: dict[str, Any], failing: set[str]) -> None:
        super().__init__(shared, leader=False)
        self.failing = failing

    def should_fetch_flag_definitions(self) -> bool:
        if "should_fetch" in self.failing:
            raise ConnectionError("cache down")
        return super().should_fetch_flag_definitions()

    def get_flag_definitions(self) -> dict[str, Any] | None:
        if "get" in self.failing:
            raise ConnectionError("cache down")
        return super().get_flag_definitions()

    def on_flag_definitions_received(self, data: dict[str, Any]) -> None:
        raise ConnectionError("cache down")


@pytest.mark.parametrize("failing", [{"should_fetch"}, {"get"}])
def test_failing_provider_means_fetching_directly_with_one_warning(
    loopback: LoopbackServer, failing: set[str], caplog: pytest.LogCaptureFixture
) -> None:
    loopback.script(DEFS, then=Reply.json(DOCUMENT))
    caplog.set_level(logging.WARNING, logger="hogkit")
    with client(loopback, Broken({}, failing)) as hog:
        for _ in range(3):
            assert hog.load_feature_flags()
        assert set(hog.evaluate_flags("x", only_evaluate_locally=True).flag_values) == {
            "held",
            "plain",
        }
        assert hog.flag_definitions_status().source == "fetched"
    # The three loads; the poller they start waits an interval before its first round.
    assert len(loopback.requests(DEFS)) == 3
    warned = [r for r in caplog.records if "definitions cache failed" in r.getMessage()]
    assert len(warned) == 1


def test_empty_cache_fetches_only_while_nothing_is_loaded(loopback: LoopbackServer) -> None:
    loopback.script(DEFS, then=Reply.json(DOCUMENT))
    cache = DictCache({}, leader=False)
    with client(loopback, cache) as hog:
        assert hog.load_feature_flags()
        assert len(loopback.requests(DEFS)) == 1  # nothing loaded: fetch anyway
        assert hog.load_feature_flags()
        assert hog.load_feature_flags()
        assert len(loopback.requests(DEFS)) == 1  # loaded: keep them, wait for a leader
        assert "data" in cache.shared  # any complete download is shared, as the reference does


def test_follower_only_never_downloads_even_with_an_empty_cache(loopback: LoopbackServer) -> None:
    loopback.script(DEFS, then=Reply.json(DOCUMENT))
    shared: dict[str, Any] = {}
    cache = DictCache(shared, leader=True)  # it would lead; follower-only never asks
    with client(loopback, cache, secret_key=None, flag_definitions_follower_only=True) as hog:
        assert hog.load_feature_flags()
        assert hog.flag_definitions_status().source is None
        shared["data"] = reference_data(loopback)
        requests = len(loopback.requests(DEFS))
        assert hog.load_feature_flags()
        assert hog.flag_definitions_status().source == "cache"
        assert len(loopback.requests(DEFS)) == requests
    assert not any(name == "should_fetch" for name, _ in cache.calls)


def test_status_of_file_and_nothing(loopback: LoopbackServer) -> None:
    with Client("phc_project", host=loopback.url, send=False, flag_definitions=DOCUMENT) as hog:
        status = hog.flag_definitions_status()
        assert (status.source, status.flags) == ("file", 2)
    with Client("phc_project", host=loopback.url, send=False) as hog:
        assert hog.flag_definitions_status().source is None


def test_unusable_shared_copy_means_fetching_directly(loopback: LoopbackServer) -> None:
    loopback.script(DEFS, then=Reply.json(DOCUMENT))
    cache = DictCache({"data": {"flags": 5, "cohorts": []}}, leader=False)
    with client(loopback, cache) as hog:
        values = hog.evaluate_flags("x", only_evaluate_locally=True).flag_values
        assert set(values) == {"held", "plain"}
        assert hog.flag_definitions_status().source == "fetched"
