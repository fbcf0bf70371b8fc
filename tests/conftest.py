"""Hypothesis profiles: `ci` (the default) keeps the run short, `deep` runs far more examples.

Choose one with HYPOTHESIS_PROFILE=deep.
"""

import os
from collections.abc import Iterator

import pytest
from httpserver import LoopbackServer
from hypothesis import HealthCheck, settings
from redisserver import RedisServer

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile(
    "deep", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A recording, scriptable HTTP server on 127.0.0.1 (see tests/httpserver.py)."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, killed by pid afterwards."""
    with RedisServer() as server:
        yield server
