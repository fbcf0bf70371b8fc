"""The definitions a poller holds, and what it knows about them: one mutable record.

The fetch, the shared-store round and the polling thread each change part of this record;
keeping it in one place lets them be separate objects without copying state between them,
and gives `status()` a single source. Replacing the compiled set is one reference
assignment, so a reader sees either the old set or the new one, never a mixture.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from typing import Any

import attrs
import msgspec
import xxhash
from hogkit.core import FlagSet

from .definitions_cache import FlagDefinitionCacheData

__all__ = ["DefinitionsState", "DefinitionsStatus"]

log = logging.getLogger("hogkit.transport.poller")


@attrs.frozen
class DefinitionsStatus:
    """Where the definitions in force came from and how fresh they are.

    `source`: "fetched" (downloaded by this process), "cache" (read from a shared store),
    "file" (given to the client), or None (nothing loaded). `age`: seconds since they were
    last confirmed current (a download, a 304, or a read of the shared copy). `refused`:
    401 or 402 while the server refuses this project's definitions (they are dropped then,
    so callers can tell "refused" from "not loaded yet"), None once it answers again.
    """

    source: str | None
    age: float | None
    etag: str | None
    last_error: str | None
    flags: int
    fetches: int
    refused: int | None = None


class DefinitionsState:
    """The compiled set in force, its ETag and origin, and the last problem (logged once)."""

    def __init__(self, on_error: Callable[[Exception], None] | None = None) -> None:
        self.flagset: FlagSet | None = None
        # The JSON document the set in force was compiled from, kept as received so
        # callers wanting the definitions themselves get them as the server sent them.
        self.document: bytes | None = None
        self.etag: str | None = None
        self.body_hash: int | None = None
        self.source: str | None = None
        self.confirmed: float | None = None
        self.shared: FlagDefinitionCacheData | None = None
        self.fetches = 0
        # Documents put in force so far (downloaded or read from a shared store), changed
        # or not: what tells definitions handed over "until the next download" it came.
        self.installs = 0
        self.last_error: str | None = None
        self.refused: int | None = None
        # `document` decoded, with the bytes it was decoded from (see `document_part`).
        self._decoded: tuple[bytes, Any] | None = None
        self._logged: set[str] = set()
        self._on_error = on_error
        # Told of every install, on the thread that made it (see `DefinitionsPoller.on_install`).
        self.on_install: Callable[[], None] | None = None

    def install(self, encoded: bytes, digest: int | None = None) -> None:
        """Compile `encoded` unless it hashes like what is in force; publish it only when
        its flags differ, so an unchanged document keeps the same `FlagSet` object."""
        digest = xxhash.xxh3_64_intdigest(encoded) if digest is None else digest
        if digest != self.body_hash or self.flagset is None:
            fresh = FlagSet.from_json(encoded)
            current = self.flagset
            if current is None or fresh.fingerprint != current.fingerprint:
                self.flagset = fresh
            self.document = encoded
            self.body_hash = digest
        self.installs += 1
        if self.on_install is not None:
            self.on_install()

    def loaded(self, source: str) -> None:
        """The definitions in force were confirmed current just now, from `source`."""
        self.source = source
        self.confirmed = time.monotonic()
        self.last_error = None
        self.refused = None
        self._logged.clear()

    def clear(self) -> None:
        """Drop the definitions: the server refuses them to this project."""
        self.flagset = None
        self.document = None
        self.source = None
        self.shared = None
        self.etag = None
        self.body_hash = None

    def document_part(self, name: str) -> Any:
        """`name` ("flags", "group_type_mapping" or "cohorts") of the document in force, or
        None when nothing is loaded; an empty list or dict when the document has none. Group
        types or cohorts of another JSON type read back as the document holds them (as
        posthog-python keeps them), though evaluation reads them as none.

        The document is decoded once per download, not per read (a large one takes
        milliseconds), so each call returns a new list or dict of the same decoded flags,
        group types or cohorts. Changing them changes what later reads return, never what
        is evaluated.
        """
        encoded = self.document
        if encoded is None or self.flagset is None:
            return None
        decoded = self._decoded
        if decoded is None or decoded[0] is not encoded:
            decoded = self._decoded = (encoded, msgspec.json.decode(encoded))
        document = decoded[1]
        if name == "flags":
            flags = document.get("flags") if isinstance(document, dict) else document
            return list(flags) if isinstance(flags, list) else []
        if not isinstance(document, dict) or name not in document:
            return {}
        part = document[name]
        return copy.copy(part) if isinstance(part, (dict, list)) else part

    def holds_flags(self) -> bool:
        """Whether the document in force lists at least one flag (an empty list counts as
        nothing loaded: with a shared store that has none, only a download can bring some)."""
        return bool(self.document_part("flags"))

    def problem(self, kind: str, level: int, message: str, detail: object) -> None:
        """Record a failure; log it once per kind until the next success."""
        text = message % (detail if detail is not None else "no definitions used",)
        self.last_error = text
        if kind not in self._logged:
            self._logged.add(kind)
            log.log(level, "%s", text)
        if self._on_error is not None and isinstance(detail, Exception):
            try:
                self._on_error(detail)
            except Exception:
                log.debug("on_error callback failed", exc_info=True)

    def status(self) -> DefinitionsStatus:
        """Where the definitions in force came from, their age, ETag and the last problem."""
        confirmed = self.confirmed
        flagset = self.flagset
        return DefinitionsStatus(
            source=self.source if flagset is not None else None,
            age=None if confirmed is None else max(0.0, time.monotonic() - confirmed),
            etag=self.etag,
            last_error=self.last_error,
            flags=len(flagset.keys) if flagset is not None else 0,
            fetches=self.fetches,
            refused=self.refused,
        )
