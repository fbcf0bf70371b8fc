"""Sharing flag definitions across a fleet of processes through Redis (`hogkit[redis]`).

`RedisDefinitionCache` is a definitions-cache provider: pass it to the Client as
`flag_definition_cache_provider=` and one process per project downloads while the others
read its copy. `run_sync` is the separate filler process (`hogkit sync --redis URL`) for
fleets whose app servers only read (`flag_definitions_follower_only=True`).

The names are imported on first use, so `hogkit.fleet.command` (the CLI's `sync` entry)
loads without redis-py installed and can say what to install.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["RedisDefinitionCache", "RedisFallbackCache", "connect", "project_namespace", "run_sync"]

_HOMES = {
    "RedisDefinitionCache": "redis_cache",
    "connect": "redis_cache",
    "project_namespace": "redis_cache",
    "RedisFallbackCache": "fallback",
    "run_sync": "sync",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'hogkit.fleet' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
