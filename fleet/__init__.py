"""Sharing flag definitions across a fleet of processes through Redis (`hogkit[redis]`).

`RedisDefinitionCache` is a definitions-cache provider: pass it to the Client as
`flag_definition_cache_provider=` and one process per project downloads while the others
read its copy. `run_sync` is the separate filler process (`hogkit sync --redis URL`) for
fleets whose app servers only read (`flag_definitions_follower_only=True`).
"""

from .redis_cache import RedisDefinitionCache, connect, project_namespace
from .sync import run_sync

__all__ = ["RedisDefinitionCache", "connect", "project_namespace", "run_sync"]
