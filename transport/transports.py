"""Where a batch of encoded events goes: PostHog over HTTP, memory, or a JSON-lines file.

The Client depends only on the `Transport` protocol, so embedders and tests swap the
destination without touching the queue, the worker or the event building. A batch is a
sequence of events already encoded by the core (`encode_event`), one JSON object each; a
transport reports what it delivered and what it gave up on, and never raises for a
delivery failure.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs
import msgspec
from hogkit.core.batch import encode_batch
from hogkit.core.errors import HogkitError
from hogkit.core.retry import batch_retry_delay, parse_retry_after

from . import http
from .hosts import ingestion_host, redacted

__all__ = [
    "BATCH_PATH",
    "Cancelled",
    "FileTransport",
    "HttpTransport",
    "MemoryTransport",
    "SendResult",
    "Transport",
    "decode_events",
]

log = logging.getLogger("hogkit.transport")
# Retry jitter from the system's randomness: it keeps no state, so a forked child draws
# its own, and the application's `random` stream (which it may seed) is left alone.
_JITTER = random.SystemRandom()

BATCH_PATH = "/batch/"


class Cancelled(HogkitError):
    """Delivery stopped because the client is shutting down."""


@attrs.frozen
class SendResult:
    """What happened to one batch: how many events arrived, and which did not and why.

    `retried` counts events sent more than once; `duplicated` those of them sent again
    after an attempt the server may have stored (an error answer, or one that never came
    in time), so the server may hold them twice.
    """

    delivered: int
    failed: tuple[bytes, ...] = ()
    error: Exception | None = None
    retried: int = 0
    duplicated: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


@runtime_checkable
class Transport(Protocol):
    """Delivers batches of encoded events.

    `send` may block (HTTP retries with backoff) and must return once `stop` is set, at the
    latest when its current network wait ends; it must not raise for a delivery failure.
    It is called from one thread at a time per client (the worker, or the caller in
    `sync_mode`), but a transport shared between clients must be thread-safe.
    """

    def send(
        self, events: Sequence[bytes], *, stop: threading.Event | None = None
    ) -> SendResult: ...


def decode_events(events: Sequence[bytes]) -> list[dict[str, Any]]:
    """Encoded events back into dicts, for `on_error` callbacks and inspection."""
    decoder = msgspec.json.Decoder(dict[str, Any])
    return [decoder.decode(event) for event in events]


# ---------------------------------------------------------------------------------------------
# HTTP


class HttpTransport:
    """PostHog's `/batch/` endpoint over the process's shared urllib3 pool.

    Retries network errors, 408, 429 and 5xx `max_retries` times with `retry_delay`
    backoff; a 413 splits the batch in halves, each sent (and retried) on its own, down to
    single events; any other status below 200 or from 300 up is final. Any 2xx is success:
    the server took the batch, and resending it would duplicate events.

    `timeout` bounds each attempt as a whole (connect, sending, and reading the whole
    answer). A 307 or 308 is followed, up to `MAX_REDIRECTS` times per attempt, to the same
    host (http may move to https, never the other way): the body carries the project key,
    which must not go to a host the user did not name.
    """

    def __init__(
        self,
        api_key: str,
        host: str | None = None,
        *,
        gzip: bool = True,
        timeout: float = http.DEFAULT_TIMEOUT,
        max_retries: int = 3,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        historical_migration: bool = False,
    ) -> None:
        self.host = ingestion_host(host)
        self.url = self.host + BATCH_PATH
        self.gzip = gzip
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = max(0.0, float(backoff_base))
        self.backoff_cap = max(0.0, float(backoff_cap))
        self.historical_migration = historical_migration
        self._api_key = api_key

    def __repr__(self) -> str:
        return f"HttpTransport(host={redacted(self.host)!r})"

    def send(self, events: Sequence[bytes], *, stop: threading.Event | None = None) -> SendResult:
        delivered = 0
        failed: list[bytes] = []
        error: Exception | None = None
        tally = _Tally()
        pending: list[Sequence[bytes]] = [events] if events else []
        while pending:
            chunk = pending.pop()
            outcome = self._send_chunk(chunk, stop, tally)
            if outcome is None:
                delivered += len(chunk)
            elif _is_too_large(outcome) and len(chunk) > 1:
                middle = len(chunk) // 2
                log.info("batch of %d events too large (413); sending it in halves", len(chunk))
                pending.append(chunk[middle:])
                pending.append(chunk[:middle])
            else:
                failed.extend(chunk)
                error = outcome
        return SendResult(delivered, tuple(failed), error, tally.retried, tally.duplicated)

    def _send_chunk(
        self, chunk: Sequence[bytes], stop: threading.Event | None, tally: _Tally
    ) -> Exception | None:
        """None when the server took `chunk`, else the error that ended the attempts."""
        error: Exception | None = None
        attempt = 0
        maybe_stored = False
        if stop is not None and stop.is_set():
            return Cancelled("shut down before delivery")
        while True:
            if attempt:
                status = error.status if isinstance(error, http.StatusError) else None
                delay = batch_retry_delay(
                    attempt,
                    status,
                    max_retries=self.max_retries,
                    base=self.backoff_base,
                    cap=self.backoff_cap,
                    retry_after=error.retry_after if isinstance(error, http.StatusError) else None,
                    jitter=_JITTER.random(),
                )
                if delay is None:
                    return error
                log.debug("retrying a batch of %d in %.2fs after: %s", len(chunk), delay, error)
                if _wait(stop, delay):
                    return Cancelled(f"shut down before delivery; last error: {error}")
                tally.retried += len(chunk)
                tally.duplicated += len(chunk) if maybe_stored else 0
            attempt += 1
            sent_at = _dt.datetime.now(_dt.timezone.utc)
            body = encode_batch(
                chunk, self._api_key, sent_at, historical_migration=self.historical_migration
            )
            try:
                response = self._post(body)
            except http.NetworkError as exc:
                error = exc
                maybe_stored = exc.kind == "timeout"  # the body may have arrived
                continue
            maybe_stored = True
            if 200 <= response.status < 300:
                log.debug("sent a batch of %d events (HTTP %d)", len(chunk), response.status)
                return None
            error = http.StatusError(
                response.status,
                http.detail_of(response, (self._api_key,)),
                parse_retry_after(response.header("Retry-After"), sent_at),
            )

    def _post(self, body: bytes) -> http.Response:
        """One attempt: the POST, and the 307/308 redirects it is allowed to follow."""
        url = self.url
        for _hop in range(MAX_REDIRECTS + 1):
            response = http.request(
                "POST",
                url,
                body=body,
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
                gzip=self.gzip,
            )
            target = _redirect_target(url, response)
            if target is None:
                return response
            log.debug("batch redirected (HTTP %d); following it", response.status)
            url = target
        return response


class _Tally:
    """Events sent again (and possibly duplicated) during one `send`."""

    __slots__ = ("duplicated", "retried")

    def __init__(self) -> None:
        self.retried = 0
        self.duplicated = 0


MAX_REDIRECTS = 3


def _redirect_target(url: str, response: http.Response) -> str | None:
    """Where a 307/308 answer to a POST to `url` may be followed, or None (not a redirect,
    or to somewhere the body must not go: another host, a downgrade to http)."""
    location = response.header("Location")
    if response.status not in (307, 308) or not location:
        return None
    target = urllib.parse.urljoin(url, location)
    old, new = urllib.parse.urlsplit(url), urllib.parse.urlsplit(target)
    same_host = (old.hostname, old.port) == (new.hostname, new.port)
    upgrade = old.scheme == "http" and new.scheme == "https" and old.hostname == new.hostname
    if (same_host and new.scheme == old.scheme) or upgrade:
        return target
    log.warning("not following a redirect of the batch to another host or to plain http")
    return None


def _is_too_large(error: Exception) -> bool:
    return isinstance(error, http.StatusError) and error.status == 413


def _wait(stop: threading.Event | None, seconds: float) -> bool:
    """Sleep `seconds`; True if `stop` was set meanwhile (the caller should give up)."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)


# ---------------------------------------------------------------------------------------------
# In memory


class MemoryTransport:
    """Keeps every batch in memory: for tests, and for embedders that forward events themselves.

    `limit` bounds the events held; past it the oldest batches are discarded and counted in
    `discarded`, so a forgotten MemoryTransport cannot grow without end.
    """

    def __init__(self, limit: int = 1_000_000) -> None:
        self.limit = limit
        self.discarded = 0
        self._lock = threading.Lock()
        self._batches: list[tuple[bytes, ...]] = []
        self._held = 0

    def send(self, events: Sequence[bytes], *, stop: threading.Event | None = None) -> SendResult:
        batch = tuple(events)
        with self._lock:
            self._batches.append(batch)
            self._held += len(batch)
            while self._held > self.limit and len(self._batches) > 1:
                dropped = self._batches.pop(0)
                self._held -= len(dropped)
                self.discarded += len(dropped)
        return SendResult(len(batch))

    @property
    def batches(self) -> list[list[dict[str, Any]]]:
        """Every batch received, oldest first, as decoded events."""
        with self._lock:
            raw = list(self._batches)
        return [decode_events(batch) for batch in raw]

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event received, in order."""
        return [event for batch in self.batches for event in batch]

    def clear(self) -> None:
        with self._lock:
            self._batches.clear()
            self._held = 0


# ---------------------------------------------------------------------------------------------
# JSON lines


class FileTransport:
    """Appends each event as one JSON line to `path`, for offline use or later replay.

    Every line is an event exactly as it would appear in a `/batch/` body. Clients sharing
    one FileTransport never interleave lines; separate processes appending to the same file
    should each use their own file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileTransport({self.path!r})"

    def send(self, events: Sequence[bytes], *, stop: threading.Event | None = None) -> SendResult:
        if not events:
            return SendResult(0)
        data = b"".join(event + b"\n" for event in events)
        try:
            with self._lock, open(self.path, "ab") as handle:
                handle.write(data)
        except OSError as exc:
            return SendResult(0, tuple(events), exc)
        return SendResult(len(events))
