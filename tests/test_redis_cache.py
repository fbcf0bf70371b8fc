"""`RedisDefinitionCache`, `run_sync`, `hogkit sync` and `flag_fallback_cache_url` against a
real redis-server and a loopback PostHog: the stored shape, the lock's owner checks, a 304
keeping the copy alive, and remembered `/flags` answers during a server failure."""

from __future__ import annotations

import io
import os
import threading
import time
from typing import Any

import msgspec
import pytest
import redis
from hogkit.cli.main import Streams, run
from hogkit.fleet import RedisDefinitionCache, RedisFallbackCache, run_sync
from hogkit.fleet.fallback import redis_url
from hogkit.transport import Client
from hogkit.transport.definitions_cache import CacheBridge
from hogkit.transport.fallback_cache import DEFAULT_RECORDS, MemoryFallbackCache, open_fallback
from hogkit.transport.flags_transport import HttpFlagsTransport
from hogkit.transport.poller import DefinitionsPoller
from httpserver import LoopbackServer, Reply
from redisserver import RedisServer, free_port

DEFS = "/flags/definitions"
FLAGS = "/flags/"

DOCUMENT: dict[str, Any] = {
    "flags": [
        {
            "id": 3,
            "key": "held",
            "active": True,
            "filters": {
                "groups": [{"properties": [], "rollout_percentage": 100}],
                "holdout": {"id": 9, "exclusion_percentage": 25},
            },
        }
    ],
    "group_type_mapping": {"0": "company"},
    "cohorts": {"5": {"type": "AND", "values": []}},
    "property_matching_version": 2,
}


def poller(server: LoopbackServer, cache: RedisDefinitionCache) -> DefinitionsPoller:
    transport = HttpFlagsTransport("phc_project", server.url, secret_key="phs_secret")
    return DefinitionsPoller(transport, interval=3600, cache=CacheBridge(cache))


def store(url: str, **kwargs: Any) -> RedisDefinitionCache:
    kwargs.setdefault("interval", 1.0)
    return RedisDefinitionCache(url, "phc_project", **kwargs)


def script_etag(server: LoopbackServer) -> None:
    """The definitions once with ETag "e1", then 304 Not Modified for that ETag."""
    server.script(
        DEFS,
        Reply.json(DOCUMENT, headers={"ETag": '"e1"'}),
        then=Reply(304, b"", headers={"ETag": '"e1"'}),
    )


def test_stored_copy_shape_etag_and_follower_takes_the_etag(
    loopback: LoopbackServer, redis_server: RedisServer
) -> None:
    script_etag(loopback)
    leader_store, follower_store = store(redis_server.url), store(redis_server.url)
    leader, follower = poller(loopback, leader_store), poller(loopback, follower_store)
    before = time.time()
    assert leader.poll_once()
    raw = redis.Redis.from_url(redis_server.url).get(leader_store.key)
    assert raw is not None
    stored = msgspec.json.decode(raw)
    assert {k: stored[k] for k in DOCUMENT} == DOCUMENT  # holdouts and the version kept
    assert stored["etag"] == '"e1"'
    assert stored["minimal_flag_called_events"] is False
    assert before * 1000 - 1 <= stored["fetched_at"] <= time.time() * 1000 + 1

    assert follower.poll_once()
    assert len(loopback.requests(DEFS)) == 1
    assert follower.status().source == "cache"
    assert follower.status().etag == '"e1"'
    assert follower.flagset is not None and leader.flagset is not None
    assert follower.flagset.keys == leader.flagset.keys == ("held",)

    # The follower takes over: it asks with the shared ETag and gets a 304, not a download.
    leader_store.shutdown()
    assert follower.poll_once()
    assert loopback.requests(DEFS)[-1].headers["if-none-match"] == '"e1"'
    assert follower.status().source == "fetched"
    assert follower_store.leader


def test_not_modified_keeps_the_copy_alive_and_rewrites_a_lost_one(
    loopback: LoopbackServer, redis_server: RedisServer
) -> None:
    script_etag(loopback)
    cache = store(redis_server.url, ttl=600)
    leader = poller(loopback, cache)
    assert leader.poll_once()
    db = redis.Redis.from_url(redis_server.url)
    db.pexpire(cache.key, 5000)
    assert leader.poll_once()  # 304
    assert db.pttl(cache.key) > 500_000
    db.delete(cache.key)  # Redis restarted empty, say
    assert leader.poll_once()  # 304 again: the copy is written back from memory
    raw = db.get(cache.key)
    assert raw is not None and msgspec.json.decode(raw)["flags"] == DOCUMENT["flags"]
    assert len(loopback.requests(DEFS)) == 3


def test_lock_renewal_and_release_only_touch_our_own_token(redis_server: RedisServer) -> None:
    db = redis.Redis.from_url(redis_server.url)
    first, second = store(redis_server.url), store(redis_server.url)
    assert first.should_fetch_flag_definitions()
    assert not second.should_fetch_flag_definitions()
    assert db.get(first.lock_key) == first.token.encode()
    assert first.should_fetch_flag_definitions()  # renewed
    assert 0 < db.pttl(first.lock_key) <= first.lock_ms

    db.set(first.lock_key, "someone-else", px=60_000)  # the lock expired and moved on
    assert not first.should_fetch_flag_definitions()
    first.leader = True  # even believing it leads, it cannot release another's lock
    first.shutdown()
    assert db.get(first.lock_key) == b"someone-else"

    db.delete(first.lock_key)
    assert second.should_fetch_flag_definitions()
    second.shutdown()
    assert db.get(second.lock_key) is None  # released: a follower takes over at once


def test_change_notice_wakes_a_sleeping_follower(
    loopback: LoopbackServer, redis_server: RedisServer
) -> None:
    loopback.script(DEFS, then=Reply.json(DOCUMENT, headers={"ETag": '"e1"'}))
    leader_store, follower_store = store(redis_server.url), store(redis_server.url)
    assert leader_store.should_fetch_flag_definitions()
    wake = threading.Event()
    woke: list[bool] = []
    follower_store.get_flag_definitions()  # subscribes (after a short fill wait)
    listener = threading.Thread(
        target=lambda: woke.append(follower_store.wait_for_flag_definitions_change(60, wake))
    )
    listener.start()
    leader_store.on_flag_definitions_fetched({"flags": []}, '"e2"')
    listener.join(10)
    assert woke == [True]
    # Its own write does not wake the writer.
    assert not leader_store.wait_for_flag_definitions_change(0.3, threading.Event())


def test_run_sync_once_fills_the_store_or_fails(
    loopback: LoopbackServer, redis_server: RedisServer
) -> None:
    loopback.script(DEFS, Reply(500), then=Reply.json(DOCUMENT, headers={"ETag": '"e1"'}))
    args = (redis_server.url, "phc_project", "phs_secret", loopback.url, 1.0)
    assert run_sync(*args, once=True) == 1
    assert run_sync(*args, once=True) == 0
    follower = store(redis_server.url)
    shared = follower.get_flag_definitions()
    assert shared is not None and shared["flags"] == DOCUMENT["flags"]
    assert loopback.requests(DEFS)[-1].headers["authorization"] == "Bearer phs_secret"
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: nothing was shared
    assert run_sync(nowhere, *args[1:], once=True) == 1


def test_sync_command_line(loopback: LoopbackServer, redis_server: RedisServer) -> None:
    loopback.script(DEFS, then=Reply.json(DOCUMENT))
    out, err = io.StringIO(), io.StringIO()
    argv = ["sync", "--redis", redis_server.url, "--host", loopback.url, "--once"]
    argv += ["--secret-key", "phs_secret", "--project-api-key", "phc_project"]
    assert run(argv, Streams(io.StringIO(), out, err)) == 0
    assert store(redis_server.url).get_flag_definitions() is not None
    assert "phs_secret" not in err.getvalue() + out.getvalue()
    assert run(["sync", "--redis", redis_server.url, "--host", loopback.url],
               Streams(io.StringIO(), out, err)) == 2  # fmt: skip


# ------------------------------------------------------------------------- fallback cache

REMOTE = {
    "flags": {
        "remote-only": {
            "key": "remote-only",
            "enabled": True,
            "variant": "blue",
            "reason": {"code": "condition_match"},
            "metadata": {"id": 4, "version": 1, "payload": None},
        }
    },
    "requestId": "r1",
}


@pytest.mark.parametrize("scheme", ["memory", "redis"])
def test_fallback_cache_answers_while_the_server_fails(
    loopback: LoopbackServer, redis_server: RedisServer, scheme: str
) -> None:
    url = "memory://local/?ttl=300&size=10" if scheme == "memory" else f"{redis_server.url}?ttl=300"
    loopback.script(FLAGS, Reply.json(REMOTE), then=Reply(500))
    with Client("phc_project", host=loopback.url, send=False, flag_fallback_cache_url=url) as a:
        assert a.evaluate_flags("u1").get_flag("remote-only") == "blue"
        failed = a.evaluate_flags("u1")
        assert failed.get_flag("remote-only") == "blue"  # remembered
        assert a.evaluate_flags("u2").get_flag("remote-only") is None  # nothing remembered
    if scheme == "redis":  # shared: another process's client gets it too
        with Client("phc_project", host=loopback.url, send=False, flag_fallback_cache_url=url) as b:
            assert b.evaluate_flags("u1").get_flag("remote-only") == "blue"
    assert [r.reply.status for r in loopback.requests(FLAGS)][:2] == [200, 500]


def test_fallback_url_forms() -> None:
    memory = open_fallback("memory://local/?ttl=5&size=2", "phc")
    assert isinstance(memory, MemoryFallbackCache) and (memory.size, memory.ttl) == (2, 5.0)
    assert memory.records == DEFAULT_RECORDS
    fewer = open_fallback("memory://local/?size=2&records=30", "phc")
    assert isinstance(fewer, MemoryFallbackCache) and fewer.records == 30
    shared = open_fallback("redis://user:pw@127.0.0.1:1/0?ttl=7", "phc")
    assert isinstance(shared, RedisFallbackCache) and shared.ttl_ms == 7000
    assert redis_url("rediss://u:p@h:1/0/?ttl=300&size=3") == "rediss://u:p@h:1/0"
    assert open_fallback("ftp://nowhere", "phc") is None
    assert open_fallback(None, "phc") is None


def test_memory_fallback_is_bounded_and_forgets_after_ttl() -> None:
    from hogkit.core.remote import RemoteFlag

    cache = MemoryFallbackCache(size=2, ttl=300)
    record = RemoteFlag(key="f", enabled=True, variant=None, payload=None)
    for user in ("a", "b", "c"):
        cache.remember(user, {"f": record})
    assert cache.recall("a", ["f"]) == {}  # the least recently used went first
    assert cache.recall("c", ["f"]) == {"f": record}
    expired = MemoryFallbackCache(size=2, ttl=0)
    expired.remember("a", {"f": record})
    assert expired.recall("a", ["f"]) == {}


def test_memory_fallback_bounds_the_answers_it_holds_in_all() -> None:
    """A `/flags` answer holds every flag of the project: the ids bound alone would let
    many flags per id fill the memory."""
    from hogkit.core.remote import RemoteFlag

    def answer(count: int) -> dict[str, RemoteFlag]:
        return {
            f"f{i}": RemoteFlag(key=f"f{i}", enabled=True, variant=None, payload=None)
            for i in range(count)
        }

    cache = MemoryFallbackCache(size=100, ttl=300, records=10)
    for user in ("a", "b", "c"):
        cache.remember(user, answer(4))
    # Twelve answers: "a", the least recently used, went whole.
    assert cache.recall("a", None) == {}
    assert len(cache.recall("b", None)) == 4 and len(cache.recall("c", None)) == 4
    cache.remember("b", answer(4))  # the same flags again take no more room
    cache.remember("d", answer(2))
    assert len(cache.recall("c", None)) == 4 and len(cache.recall("d", None)) == 2
    cache.remember("e", answer(30))  # one answer beyond the bound is still kept
    assert len(cache.recall("e", None)) == 30
    assert [user for user in "abcd" if cache.recall(user, None)] == []
    cache.remember("f", answer(1))
    assert cache.recall("e", None) == {} and len(cache.recall("f", None)) == 1


def test_a_forked_child_is_a_new_contender(redis_server: RedisServer) -> None:
    cache = store(redis_server.url)
    assert cache.should_fetch_flag_definitions()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's lock is not its lock
        try:
            answer = cache.should_fetch_flag_definitions()
            os.write(write, f"{answer} {cache.token}".encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    answer, token = os.read(read, 200).decode().split()
    os.close(read)
    assert answer == "False"
    assert token != cache.token
    assert cache.should_fetch_flag_definitions()  # the parent still leads


def test_fallback_never_overrides_a_local_value(loopback: LoopbackServer) -> None:
    local_only = {"id": 8, "key": "local-flag", "active": True,
                  "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}  # fmt: skip
    loopback.script(DEFS, then=Reply.json({"flags": [local_only]}))
    answer = {"flags": {**REMOTE["flags"], "local-flag": {**REMOTE["flags"]["remote-only"],
              "key": "local-flag", "enabled": False, "variant": None}}}  # fmt: skip
    loopback.script(FLAGS, Reply.json(answer), then=Reply(503))
    url = "memory://local/?ttl=300"
    keys = ["local-flag", "remote-only"]
    with Client("phc_project", host=loopback.url, send=False, secret_key="phs_secret",
                flag_fallback_cache_url=url) as hog:  # fmt: skip
        first = hog.evaluate_flags("u1", flag_keys=keys)
        assert (first.get_flag("local-flag"), first.get_flag("remote-only")) == (True, "blue")
        second = hog.evaluate_flags("u1", flag_keys=keys)
        assert (second.get_flag("local-flag"), second.get_flag("remote-only")) == (True, "blue")
    assert [r.reply.status for r in loopback.requests(FLAGS)] == [200, 503]


def test_posthog_python_reads_the_copy_hogkit_shares(
    loopback: LoopbackServer, redis_server: RedisServer
) -> None:
    import posthog

    loopback.script(DEFS, then=Reply.json(DOCUMENT, headers={"ETag": '"e1"'}))
    leader = poller(loopback, store(redis_server.url))
    assert leader.poll_once()
    reference = posthog.Client(
        "phc_project",
        host=loopback.url,
        secret_key="phs_secret",
        send=False,
        flag_definition_cache_provider=store(redis_server.url),
    )
    try:
        reference.load_feature_flags()
        assert [f["key"] for f in reference.feature_flags or []] == ["held"]
        assert reference.group_type_mapping == DOCUMENT["group_type_mapping"]
    finally:
        reference.shutdown()
    assert len(loopback.requests(DEFS)) == 1  # the reference followed instead of downloading
