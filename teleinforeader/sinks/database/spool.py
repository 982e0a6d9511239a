"""The durable on-disk queue of rows waiting for the database: append-only JSON lines.

Plan: rows that overflow the writer's memory bound (and all of them at shutdown while the
database is away) are appended, one JSON object per line, and fsynced once per append call.
Replay reads them back in order, in batches; a batch is released only after its rows are
committed, and the file is emptied once everything is released, so a crash between commit and
release re-sends rows the idempotent insert then ignores. A line cut short by a crash is found
at open time and cut off (logged); a line that is not valid JSON is skipped (logged, counted).
"""

from __future__ import annotations

import json
import logging
import os

log = logging.getLogger(__name__)


class Spool:
    """An append-only file of JSON records with a read cursor; one thread uses it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self.corrupt = 0  # records lost to a crash or a damaged file
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._file = open(path, "a+b")  # noqa: SIM115 - kept open for the spool's lifetime
        self._read_offset = 0
        self._consumed = 0  # lines the last read() covered, forgotten by release()
        self._cut_torn_tail()
        self.pending = self._count_lines()

    def close(self) -> None:
        self._file.close()

    def append(self, records: list[dict[str, object]]) -> None:
        """Write and fsync; raises OSError (disk full, read-only) with nothing half-counted."""
        if not records:
            return
        data = b"".join(
            json.dumps(record, separators=(",", ":")).encode() + b"\n" for record in records
        )
        end = self._file.seek(0, os.SEEK_END)
        descriptor = self._file.fileno()
        try:
            # Straight to the descriptor: a failed write leaves nothing in a buffer that
            # a later flush or close would trip over.
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        except OSError:
            self._truncate_quietly(end)  # never leave a torn record behind a failed write
            raise
        self.pending += len(records)

    def read(self, limit: int) -> tuple[list[dict[str, object]], int]:
        """Up to `limit` records from the cursor, and the offset that releases them."""
        self._file.seek(self._read_offset)
        records: list[dict[str, object]] = []
        offset = self._read_offset
        lines = 0
        while lines < limit:
            line = self._file.readline()
            if not line:
                break
            offset += len(line)
            lines += 1
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                self.corrupt += 1
                log.error(
                    "spool %s: skipping a damaged record at byte %d: %s",
                    self.path,
                    offset - len(line),
                    exc,
                )
                continue
            records.append(record)
        self._consumed = lines
        return records, offset

    def release(self, offset: int) -> None:
        """The records read up to `offset` are committed: forget them."""
        self.pending -= self._consumed
        self._consumed = 0
        if offset >= self._file.seek(0, os.SEEK_END):
            self._file.truncate(0)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._read_offset = 0
            self.pending = 0
        else:
            self._read_offset = offset

    # -- internals ---------------------------------------------------------------------------

    def _cut_torn_tail(self) -> None:
        size = self._file.seek(0, os.SEEK_END)
        if size == 0:
            return
        self._file.seek(max(0, size - 1))
        if self._file.read(1) == b"\n":
            return
        # Find the end of the last complete record, reading back in blocks.
        position = size
        keep = 0
        while position > 0:
            start = max(0, position - 65536)
            self._file.seek(start)
            block = self._file.read(position - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            position = start
        self.corrupt += 1
        log.warning(
            "spool %s: cutting off %d bytes of a record left half-written by a crash",
            self.path,
            size - keep,
        )
        self._file.truncate(keep)
        self._file.flush()
        os.fsync(self._file.fileno())

    def _count_lines(self) -> int:
        remaining = self._file.seek(0, os.SEEK_END)  # bounded: a device may never end
        self._file.seek(0)
        count = 0
        while remaining > 0:
            block = self._file.read(min(remaining, 1 << 20))
            if not block:
                break
            remaining -= len(block)
            count += block.count(b"\n")
        return count

    def _truncate_quietly(self, size: int) -> None:
        try:
            self._file.truncate(size)
        except OSError:
            log.exception("spool %s: could not remove a partial write", self.path)
