"""One conditional download of the flag definitions, and what its answer means.

The request carries `If-None-Match` with the last ETag; a 304, or a body whose hash is
unchanged, keeps the compiled `FlagSet` as it is. 401 and 402 drop the definitions (the
server refuses them to this project, so flags go remote); other failures keep the current
ones, and so does a 200 answer saying the quota is used up or one that is not a definitions
document (anything but an object with a list of flags: a proxy's `{}` or error object).
Every failure is recorded on the state, and logged once per episode.
"""

from __future__ import annotations

import logging

import msgspec
import xxhash
from hogkit.core.flag_requests import is_quota_limited

from .definitions_cache import has_document_shape
from .definitions_round import SharedRound
from .definitions_state import DefinitionsState
from .flags_transport import FlagsTransport
from .http import Response

__all__ = ["DefinitionsFetch"]

log = logging.getLogger("hogkit.transport.poller")


class DefinitionsFetch:
    """Downloads `/flags/definitions` into a `DefinitionsState` (and the shared store)."""

    def __init__(
        self,
        transport: FlagsTransport,
        state: DefinitionsState,
        *,
        timeout: float,
        shared: SharedRound | None = None,
    ) -> None:
        self._transport = transport
        self._state = state
        self._timeout = timeout
        self._shared = shared

    def __call__(self) -> bool:
        """One conditional download. True when the server answered usefully."""
        state = self._state
        try:
            try:
                response = self._transport.fetch_definitions(etag=state.etag, timeout=self._timeout)
            finally:
                state.fetches += 1  # attempts finished, answered or not
            return self.apply(response)
        except Exception as exc:
            state.problem(
                "network",
                logging.WARNING,
                "could not fetch feature flag definitions (%s); keeping the current ones "
                "and retrying with backoff",
                exc,
            )
            return False

    def apply(self, response: Response) -> bool:
        """Act on one answer; True when it confirmed or replaced the definitions."""
        state, status = self._state, response.status
        log.debug("definitions poll answered HTTP %d (%d bytes)", status, len(response.body))
        if status == 304:
            # A 304 may name the current version anew; the next poll must send that one.
            state.etag = response.header("etag") or state.etag
            state.loaded("fetched")
            if self._shared is not None:
                self._shared.unchanged()
            return True
        if status in (401, 402):
            state.refused = status
            state.clear()
            self._refused(status)
            return False
        if status != 200:
            state.problem(
                "status",
                logging.ERROR,
                "feature flag definitions request failed (%s); keeping the current ones",
                f"HTTP {status}",
            )
            return False
        body = response.body
        digest = xxhash.xxh3_64_intdigest(body)
        if digest != state.body_hash and not self._usable(body):
            return False
        state.install(body, digest)  # DefinitionsError: see __call__
        state.etag = response.header("etag") or None
        state.loaded("fetched")
        if self._shared is not None:
            self._shared.share(body)
        return True

    def _usable(self, body: bytes) -> bool:
        """Whether a new 200 answer may replace the definitions in force: not one saying
        the quota is used up, and (when it is JSON at all: `install` reports text that is
        not) one with a definitions document's shape. Anything else keeps the current
        ones, so a proxy's `{}` or error object cannot switch local evaluation off."""
        try:
            document = msgspec.json.decode(body)
        except (msgspec.DecodeError, ValueError, RecursionError):
            return True
        if is_quota_limited(document):
            self._state.problem(
                "quota",
                logging.WARNING,
                "feature flags quota limited: the server sent no definitions; keeping the "
                "current ones (%s)",
                None,
            )
            return False
        if not has_document_shape(document, ("flags",)):
            self._state.problem(
                "shape",
                logging.ERROR,
                "the feature flag definitions answer is not a definitions document (an "
                "object with a list of flags); keeping the current ones (%s)",
                None,
            )
            return False
        return True

    def _refused(self, status: int) -> None:
        if status == 401:
            self._state.problem(
                "401",
                logging.ERROR,
                "feature flag definitions were refused (HTTP 401): check the project API key and "
                "secret_key. Flags are evaluated remotely until the key works (%s)",
                None,
            )
        else:
            self._state.problem(
                "402",
                logging.WARNING,
                "feature flags quota exceeded (HTTP 402): local evaluation is off until the "
                "quota resets; flags are evaluated remotely (%s)",
                None,
            )
