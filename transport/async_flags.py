"""Flag evaluation for `AsyncClient`: the service's plan on the loop, `/flags` awaited.

`plan` runs synchronously on the loop (local evaluation takes microseconds; a thread hop
would cost more than it saves); only the `/flags` request for what local evaluation could
not decide is awaited, with the same deadline and verdicts as the blocking client, and the
service's `complete` merges its outcome. The first evaluation on each loop awaits the
poller's first download once, in a thread.

The request carries `group_properties` as the caller gave them, the body posthog-python's
AsyncClient sends (its Client adds each group's `$group_key`; so does hogkit's), and the
snapshot's flag events name the groups with every key as text, as that client reports them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from hogkit.core.payloads import read_response_json

from .async_http import AsyncTransport
from .evaluations import FlagEvaluations
from .flags import FlagService
from .http import NetworkError
from .problems import short_text
from .remote_flags import FlagsRequest, Outcome

__all__ = ["AsyncFlags"]

log = logging.getLogger("hogkit.transport.async")

FirstLoads = weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future[Any]]


class AsyncFlags:
    """Awaits what a `FlagService` evaluation needs from the network, never blocking."""

    def __init__(self, service: FlagService, transport: AsyncTransport) -> None:
        self._flags = service
        self._transport = transport
        # The first evaluation on each loop awaits the poller's first download once.
        self._first_loads: FirstLoads = weakref.WeakKeyDictionary()
        self._first_load_done = False

    async def evaluate(
        self,
        distinct_id: Any,
        person_properties: Mapping[str, Any] | None,
        groups: Mapping[str, Any] | None,
        group_properties: Mapping[str, Mapping[str, Any]] | None,
        flag_keys: Sequence[str] | None,
        only_evaluate_locally: bool,
        disable_geoip: bool | None,
        device_id: str | None,
    ) -> FlagEvaluations:
        """`FlagService.evaluate`, awaiting the network instead of blocking on it."""
        if not self._first_load_done:
            await self._await_first_load()
        step = self._flags.plan(
            False,
            distinct_id,
            person_properties,
            groups,
            group_properties,
            flag_keys,
            only_evaluate_locally,
            disable_geoip,
            device_id,
            group_keys=False,
            text_groups=True,
        )
        if type(step) is FlagsRequest:
            outcome = await self._request_flags(step.body)
            if self._flags.remote.has_fallback:  # the store may be Redis: not on the loop
                return await asyncio.to_thread(self._flags.complete, step, outcome)
            return self._flags.complete(step, outcome)
        assert isinstance(step, FlagEvaluations)
        return step

    async def remote_config(self, key: str) -> Any:
        """Remote-config flag `key`'s decrypted payload, or None (logged) when the server
        does not answer 200 within the flags timeout; other failures raise."""
        timeout = self._flags.request_timeout
        try:
            reply = await asyncio.wait_for(
                self._transport.fetch_remote_config(key, timeout=timeout), timeout
            )
        except asyncio.TimeoutError:
            log.warning("remote config for %s: timed out", short_text(key))
            return None
        if reply.status != 200:
            log.warning("remote config for %s: HTTP %d", short_text(key), reply.status)
            return None
        return read_response_json(reply.body)

    async def _await_first_load(self) -> None:
        """Wait (in a thread, once, bounded by the flags timeout) for the poller's first
        download; concurrent first calls on a loop share the one wait."""
        service = self._flags
        if service.poller is None or service.flagset is not None:
            self._first_load_done = True
            return
        loop = asyncio.get_running_loop()
        waiting = self._first_loads.get(loop)
        if waiting is None:
            waiting = asyncio.ensure_future(asyncio.to_thread(service.definitions))
            self._first_loads[loop] = waiting
        await asyncio.shield(waiting)
        self._first_load_done = True

    async def _request_flags(self, encoded: bytes) -> Outcome:
        """The sync client's `/flags` exchange, awaited: same deadline, same verdicts."""
        remote = self._flags.remote
        deadline = time.monotonic() + remote.request_timeout
        retried = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return remote.timed_out()
            log.debug("POST /flags (%d bytes, %.2fs left)", len(encoded), remaining)
            reply = await self._attempt(encoded, remaining)
            verdict = remote.judge(reply, retried, deadline)
            if not isinstance(verdict, float):
                return verdict
            retried = True
            if verdict:
                await asyncio.sleep(verdict)

    async def _attempt(self, encoded: bytes, remaining: float) -> Any:
        """One `/flags` attempt: its response, or the exception it ended with."""
        try:
            return await asyncio.wait_for(
                self._transport.post_flags(encoded, timeout=remaining), remaining
            )
        except asyncio.TimeoutError:
            return NetworkError("POST /flags: timed out", "timeout")
        except Exception as exc:
            return exc
