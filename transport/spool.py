"""An on-disk spool of encoded events that outlives a crash of the process that wrote it.

Layout. A spool is a directory of segment files, `<ns>-<pid>-<n>.seg` (names sort in the
order they were started). Each process appends only to its own segment and holds an
exclusive `flock` on it while it is open. A segment is a run of records:

    b"HK" | length: uint32 LE | crc32(length bytes + payload): uint32 LE | payload

Why this shape:
- Append-only files with a checksum per record: a crash tears at most the record being
  written; replay checks every record, skips one that fails, and counts it (`torn`),
  never raising on what it reads.
- One writer per file and `flock` as the ownership test: the kernel drops a dead process's
  lock, even after `kill -9`, so "is the writer gone?" needs no pid guessing, and a second
  process pointed at the same directory neither writes into nor replays a live segment.
  A replayer holds the lock while it replays, so two replayers never share a segment.
- Acknowledgement by offset: `Segment.ack()` records, in `<segment>.ack` (written to a
  temporary name and renamed into place), how far delivery got. A crash during replay
  repeats at most the records handed out after the last ack. A segment fully acknowledged
  is deleted.

Durability (`fsync`): "never" (the default) leaves data in the page cache, which survives
the process dying in any way but not the machine losing power; "append" fsyncs after every
`append` call, which survives power loss and costs a disk flush per call.

Budget: `max_bytes` bounds the directory's segments; `append` stores what fits and returns
how many records it stored, so the caller can report the rest as lost.

Requires POSIX `fcntl.flock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import struct
import threading
import time
import weakref
import zlib
from collections.abc import Generator, Iterable, Iterator

__all__ = ["HEADER", "MAGIC", "Segment", "Spool", "frame", "parse"]

MAGIC = b"HK"
HEADER = struct.Struct("<2sII")
_LENGTH = struct.Struct("<I")
SUFFIX = ".seg"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024
MAX_RECORD_BYTES = 64 * 1024 * 1024


def frame(payload: bytes) -> bytes:
    """One record as it is stored."""
    length = _LENGTH.pack(len(payload))
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload


def parse(data: bytes, start: int = 0) -> Iterator[tuple[bytes | None, int]]:
    """Records in `data` from `start`: `(payload, end)` for an intact record and
    `(None, end)` for a damaged one. A damaged length cannot be trusted to find the next
    record, so the rest of the data counts as one damaged record and parsing stops."""
    at = start
    while at < len(data):
        if len(data) - at < HEADER.size:
            yield None, len(data)
            return
        magic, length, crc = HEADER.unpack_from(data, at)
        end = at + HEADER.size + length
        if magic != MAGIC or length > MAX_RECORD_BYTES or end > len(data):
            yield None, len(data)
            return
        payload = data[at + HEADER.size : end]
        intact = zlib.crc32(payload, zlib.crc32(_LENGTH.pack(length))) == crc
        yield (payload if intact else None), end
        at = end


class Segment:
    """A sealed segment this process has claimed for replay (it holds the segment's lock)."""

    def __init__(self, path: str, fd: int, spool: Spool) -> None:
        self.path = path
        self.torn = 0
        self._fd = fd
        self._spool = spool
        self._handed = self._acked = _read_ack(path)
        self._size = os.fstat(fd).st_size

    def records(self) -> Iterator[bytes]:
        """The intact records not yet acknowledged, in the order they were appended."""
        with open(self.path, "rb") as file:
            data = file.read()
        for payload, end in parse(data, self._acked):
            self._handed = end
            if payload is None:
                self.torn += 1
                self._spool.torn += 1
                continue
            yield payload

    def ack(self) -> None:
        """Every record handed out so far was delivered: never replay them again. When that
        is the whole segment, the segment is deleted."""
        self._acked = self._handed
        if self._acked >= self._size:
            self._remove()
            return
        temporary = f"{self.path}.ack.{os.getpid()}"
        with open(temporary, "w") as file:
            file.write(str(self._acked))
        os.replace(temporary, self.path + ".ack")

    def release(self) -> None:
        """Give the segment back unfinished (another replay will resume after the last ack)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _remove(self) -> None:
        for path in (self.path, self.path + ".ack"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self.release()


def _read_ack(path: str) -> int:
    try:
        with open(path + ".ack") as file:
            return max(0, int(file.read().strip() or 0))
    except (OSError, ValueError):
        return 0


_live: weakref.WeakSet[Spool] = weakref.WeakSet()


class Spool:
    """Append encoded events to disk; replay the segments no live process is writing."""

    def __init__(
        self,
        directory: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        fsync: str = "never",
    ) -> None:
        if fsync not in ("never", "append"):
            raise ValueError(f"fsync must be 'never' or 'append', not {fsync!r}")
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.torn = 0
        self._lock = threading.Lock()
        self._fd = -1
        self._written = 0
        self._names = itertools.count()
        self._used = self._disk_usage()
        _live.add(self)

    # -- writing --------------------------------------------------------------------------------

    def append(self, records: Iterable[bytes]) -> int:
        """Store records in order, up to the disk budget; returns how many were stored."""
        framed: list[bytes] = []
        size = 0
        with self._lock:
            for record in records:
                piece = frame(record)
                if self._used + size + len(piece) > self.max_bytes:
                    break
                framed.append(piece)
                size += len(piece)
            if not framed:
                return 0
            if self._fd < 0 or self._written >= self.segment_bytes:
                self._rotate()
            os.write(self._fd, b"".join(framed))
            if self.fsync == "append":
                os.fsync(self._fd)
            self._written += size
            self._used += size
        return len(framed)

    def _rotate(self) -> None:
        self._seal()
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._names)}{SUFFIX}"
        fd = os.open(os.path.join(self.directory, name), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd, self._written = fd, 0

    def _seal(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # releases the lock: the segment is now replayable
            self._fd = -1

    @property
    def writing(self) -> bool:
        """True while this process holds a segment open for appending (not replayable)."""
        return self._fd >= 0

    def close(self) -> None:
        """Seal the segment being written; its records stay on disk for a replay."""
        with self._lock:
            self._seal()

    # -- replaying ------------------------------------------------------------------------------

    def replay(self) -> Generator[Segment, None, None]:
        """Claim, oldest first, each segment whose writer is gone (or sealed it).

        Segments being written, or claimed by another replayer, are skipped. A segment left
        unacknowledged is released when the iterator moves past it.
        """
        for path in self._segments():
            segment = self._claim(path)
            if segment is None:
                continue
            try:
                yield segment
            finally:
                segment.release()
                with self._lock:
                    self._used = self._disk_usage()

    def _claim(self, path: str) -> Segment | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(path).st_ino:  # replayed and deleted meanwhile
                raise FileNotFoundError(path)
        except OSError:
            os.close(fd)
            return None
        return Segment(path, fd, self)

    def _disk_usage(self) -> int:
        total = 0
        for path in self._segments():
            with contextlib.suppress(FileNotFoundError):  # replayed and deleted meanwhile
                total += os.path.getsize(path)
        return total

    def _segments(self) -> list[str]:
        names = sorted(n for n in os.listdir(self.directory) if n.endswith(SUFFIX))
        return [os.path.join(self.directory, n) for n in names]

    def _after_fork_in_child(self) -> None:
        """The parent's segment and its lock stay the parent's; the child starts its own."""
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1
        self._lock = threading.Lock()


def _after_fork_in_child() -> None:
    for spool in list(_live):
        spool._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
