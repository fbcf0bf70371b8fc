"""A fleet of separate processes sharing one real Redis and one loopback definitions server:
one download per interval between them, leadership handed over when the leader dies, changes
reaching every process promptly, and a Redis outage survived and recovered from."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import redis
from hogkit.fleet import RedisDefinitionCache
from httpserver import LoopbackServer, Reply
from redisserver import RedisServer

DEFS_PATH = "/flags/definitions"
CHILD = str(Path(__file__).with_name("fleet_child.py"))
INTERVAL = 1.0


def flag(key: str) -> dict[str, Any]:
    return {
        "id": 1,
        "key": key,
        "active": True,
        "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]},
    }


class Definitions:
    """The definitions server's state: a document and its ETag; 304 when the ETag matches."""

    def __init__(self, server: LoopbackServer) -> None:
        self.version = 1
        self.lock = threading.Lock()
        server.handle(DEFS_PATH, self.reply)

    def set(self, version: int) -> None:
        with self.lock:
            self.version = version

    def reply(self, request: Any) -> Reply:
        with self.lock:
            version = self.version
        etag = f'"v{version}"'
        if request.headers.get("if-none-match") == etag:
            return Reply(304, b"", headers={"ETag": etag})
        body = {"flags": [flag(f"v{version}")], "group_type_mapping": {}, "cohorts": {}}
        return Reply.json(body, headers={"ETag": etag})


class Child:
    """One fleet process and the lines it printed."""

    def __init__(self, redis_url: str, host: str, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, CHILD, redis_url, host, str(INTERVAL), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[list[str]] = []
        self.errors: list[str] = []
        threading.Thread(
            target=self._read, args=(self.process.stdout, self.lines), daemon=True
        ).start()
        threading.Thread(target=self._log, daemon=True).start()

    def _read(self, stream: Any, into: list[list[str]]) -> None:
        for line in stream:
            into.append(line.split())

    def _log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line.rstrip())

    def token(self) -> str | None:
        return next((line[1] for line in self.lines if line[0] == "token"), None)

    def loaded_at(self, key: str) -> float | None:
        return next((float(ln[1]) for ln in self.lines if ln[0] == "defs" and ln[2] == key), None)

    def missing(self) -> list[list[str]]:
        return [line for line in self.lines if line[0] == "missing"]

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def requests_between(server: LoopbackServer, start: float, end: float) -> list[float]:
    return [r.time for r in server.requests(DEFS_PATH) if start <= r.time < end]


def lock_holder(redis_url: str) -> str | None:
    key = RedisDefinitionCache(redis_url, "phc_fleet").lock_key
    value = redis.Redis.from_url(redis_url).get(key)
    return value.decode() if value is not None else None


def test_eight_processes_one_download_per_interval_handover_and_prompt_changes(
    loopback: LoopbackServer, redis_server: RedisServer
) -> None:
    definitions = Definitions(loopback)
    children = [Child(redis_server.url, loopback.url) for _ in range(8)]
    try:
        assert wait_until(lambda: all(c.loaded_at("v1") is not None for c in children))
        assert wait_until(lambda: all(c.token() for c in children))
        # Steady state: count downloads at the server over several intervals.
        time.sleep(INTERVAL)
        start = time.monotonic()
        time.sleep(6 * INTERVAL)
        seen = requests_between(loopback, start, time.monotonic())
        assert 5 <= len(seen) <= 7, seen  # one per interval (8 without sharing: about 48)
        gaps = [b - a for a, b in itertools.pairwise(seen)]
        assert all(gap > INTERVAL / 2 for gap in gaps), gaps  # never two in one interval

        # A change reaches every process within a second of the leader's download.
        definitions.set(2)
        assert wait_until(lambda: all(c.loaded_at("v2") is not None for c in children))
        changed = [r for r in loopback.requests(DEFS_PATH) if r.reply.status == 200]
        fetched_at = changed[-1].time
        lag = max(c.loaded_at("v2") or 0.0 for c in children) - fetched_at
        assert 0 <= lag < 1.0, lag

        # Killing the leader hands the lock to another process within two intervals.
        leader_token = lock_holder(redis_server.url)
        leader = next(c for c in children if c.token() == leader_token)
        killed_at = time.monotonic()
        leader.kill()
        others = {c.token() for c in children if c is not leader}
        assert wait_until(lambda: lock_holder(redis_server.url) in others, 4 * INTERVAL)
        assert time.monotonic() - killed_at <= 2 * INTERVAL
        handed = requests_between(loopback, killed_at, killed_at + 3 * INTERVAL)
        assert wait_until(lambda: len(requests_between(loopback, killed_at, 1e12)) >= 1)
        assert len(handed) <= 4
        assert not any(c.missing() for c in children)
    finally:
        for child in children:
            child.close()


def test_redis_outage_keeps_evaluating_fetches_directly_and_rejoins(
    loopback: LoopbackServer, redis_server: RedisServer
) -> None:
    Definitions(loopback)
    children = [Child(redis_server.url, loopback.url) for _ in range(4)]
    try:
        assert wait_until(lambda: all(c.loaded_at("v1") is not None for c in children))
        time.sleep(INTERVAL)
        redis_server.stop()
        down_at = time.monotonic()
        time.sleep(4 * INTERVAL)
        during = requests_between(loopback, down_at + INTERVAL, time.monotonic())
        assert len(during) >= 6, during  # every process downloads for itself (about 12)

        redis_server.start()
        up_at = time.monotonic()
        assert wait_until(lambda: lock_holder(redis_server.url) is not None, 10)
        time.sleep(2 * INTERVAL)
        start = time.monotonic()
        time.sleep(4 * INTERVAL)
        after = requests_between(loopback, start, time.monotonic())
        assert 3 <= len(after) <= 5, after  # back to one per interval
        assert up_at > down_at
        for child in children:
            warnings = [e for e in child.errors if "definitions cache failed" in e]
            assert len(warnings) == 1, child.errors
            assert any("works again" in e for e in child.errors), child.errors
            assert child.missing() == []
    finally:
        for child in children:
            child.close()


def test_follower_only_processes_never_download_and_sync_fills_the_store(
    loopback: LoopbackServer, redis_server: RedisServer
) -> None:
    from hogkit.fleet import run_sync

    Definitions(loopback)
    children = [Child(redis_server.url, loopback.url, "follower") for _ in range(3)]
    stop = threading.Event()
    try:
        assert wait_until(lambda: all(c.token() for c in children))
        time.sleep(2 * INTERVAL)
        assert loopback.requests(DEFS_PATH) == []  # followers never ask PostHog
        filler = threading.Thread(
            target=run_sync,
            args=(redis_server.url, "phc_fleet", "phs_fleet", loopback.url, INTERVAL),
            kwargs={"stop": stop},
            daemon=True,
        )
        filler.start()
        assert wait_until(lambda: all(c.loaded_at("v1") is not None for c in children))
        start = time.monotonic()
        time.sleep(3 * INTERVAL)
        assert 2 <= len(requests_between(loopback, start, time.monotonic())) <= 4
        assert all(r.headers["authorization"] == "Bearer phs_fleet" for r in loopback.requests())
    finally:
        stop.set()
        for child in children:
            child.close()
