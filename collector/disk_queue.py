"""A persistent, bounded FIFO of serialized OTLP requests, for upstream outages.

One file per request, ``<sequence>-<signal>-<items>.otlp``, written to a
temporary name, fsynced, renamed, and the directory fsynced (so the rename
itself survives a power loss), so a crash leaves whole entries only and a
restarted gateway finds them in order; the ``.tmp`` leftovers of a write cut
short are removed at start.  Bounded in bytes: when a new entry
does not fit, the oldest are deleted first and counted in ``dropped_requests``
/ ``dropped_items`` (spans, metrics or log records).  Thread-safe.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from otel_carbon._files import write_atomically

SUFFIX = ".otlp"
TEMPORARY = ".tmp"


@dataclass(frozen=True)
class Entry:
    path: Path
    signal: str  #: ``traces``, ``metrics`` or ``logs``
    items: int  #: spans, metrics or log records in the request
    size: int  #: bytes


def _parse(path: Path) -> Entry | None:
    try:
        sequence, signal, items = path.stem.split("-")
        int(sequence)
        return Entry(path, signal, int(items), path.stat().st_size)
    except (ValueError, OSError):
        return None


class DiskQueue:
    """FIFO of request payloads under ``directory``, at most ``max_bytes`` in all."""

    def __init__(self, directory: str | Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("the disk queue needs a positive size")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.directory.glob(f"*{TEMPORARY}"):  # a write cut short: never acknowledged
            leftover.unlink(missing_ok=True)
        self.max_bytes = max_bytes
        self.dropped_requests = 0
        self.dropped_items = 0
        self._changed = threading.Condition()
        found = [entry for path in self.directory.glob(f"*{SUFFIX}") if (entry := _parse(path)) is not None]
        found.sort(key=lambda entry: int(entry.path.stem.split("-")[0]))
        self._entries: deque[Entry] = deque(found)
        self._bytes = sum(entry.size for entry in found)
        self._sequence = int(found[-1].path.stem.split("-")[0]) + 1 if found else 0

    def __len__(self) -> int:
        with self._changed:
            return len(self._entries)

    @property
    def items(self) -> int:
        """Spans, metrics and log records waiting."""
        with self._changed:
            return sum(entry.items for entry in self._entries)

    def oldest_age_s(self) -> float:
        """Seconds the oldest waiting request has been on disk (0 when none)."""
        with self._changed:
            head = self._entries[0] if self._entries else None
        if head is None:
            return 0.0
        try:
            return max(0.0, time.time() - head.path.stat().st_mtime)
        except OSError:  # delivered meanwhile
            return 0.0

    def put(self, signal: str, payload: bytes, items: int) -> None:
        """Persist one request; drop the oldest entries (counted) to make room."""
        with self._changed:
            if len(payload) > self.max_bytes:
                self._count_drop(items)
                return
            while self._entries and self._bytes + len(payload) > self.max_bytes:
                oldest = self._entries.popleft()
                self._bytes -= oldest.size
                self._count_drop(oldest.items)
                oldest.path.unlink(missing_ok=True)
            path = self.directory / f"{self._sequence:016d}-{signal}-{items}{SUFFIX}"
            self._sequence += 1
            write_atomically(path, payload, suffix=TEMPORARY)
            self._sync_directory()
            self._entries.append(Entry(path, signal, items, len(payload)))
            self._bytes += len(payload)
            self._changed.notify_all()

    def oldest(self, timeout_s: float) -> tuple[Entry, bytes] | None:
        """The oldest entry and its payload, waiting up to ``timeout_s`` for one; it stays queued."""
        with self._changed:
            if not self._entries:
                self._changed.wait(timeout_s)
            while self._entries:
                entry = self._entries[0]
                try:
                    return entry, entry.path.read_bytes()
                except OSError:  # deleted under us: count it lost and move on
                    self._entries.popleft()
                    self._bytes -= entry.size
                    self._count_drop(entry.items)
            return None

    def remove(self, entry: Entry) -> None:
        """Delete ``entry`` (delivered, or refused for good); no-op if it was dropped meanwhile."""
        with self._changed:
            if self._entries and self._entries[0] == entry:
                self._entries.popleft()
                self._bytes -= entry.size
                entry.path.unlink(missing_ok=True)

    def _sync_directory(self) -> None:
        """fsync the directory, making the latest rename durable."""
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _count_drop(self, items: int) -> None:
        self.dropped_requests += 1
        self.dropped_items += items
