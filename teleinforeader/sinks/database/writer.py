"""The database sink: one writer thread, batched inserts, and no frame lost to an outage.

Plan: `submit` (the reader thread) only decides whether the frame is due for storage
(`store_interval`) and appends it to an in-memory deque. The writer thread sleeps until a frame
is due, then writes what waits once `flush_interval` has passed since its last write (at once
after a quiet spell, sooner when `batch_size` frames wait), with one parameterised
`executemany` per table and one commit per batch: between two stored frames it does not wake
at all. While the database is away it
reconnects with a doubling backoff. Whenever more than `memory_backlog` frames wait, whether
the database is away or merely slower than the input (a full-speed replay, a stalled SD card, a
statement hanging on a stuck server), a second thread moves the oldest to the on-disk spool, so
memory no longer depends on the writer's pace. Rows keep the frames' order: the spool always holds
older frames than memory, so the writer takes from the spool first, and from memory only when
the spool is empty; a batch being written from memory when frames overflow is copied to the
head of the spool, so whether its commit succeeds (the copy is then forgotten) or fails (the
copy is then replayed first) nothing overtakes it. The spool is replayed at the next start
after a crash too. The key (timestamp, reader, meter) and an insert that ignores
duplicates make re-sending after an ambiguous commit harmless; what the database ignored is
counted from the cursor's rowcount as `duplicates_ignored`, never as written, so that rows
lost to a clash of keys show instead of hiding behind the write counter. Each failed write is
judged by the backend from its driver's error class and code: a row the server refuses (or a
spool record that cannot be a row) is set aside in a rejects file with the reason, never
retried forever, never dropped; a table or column dropped by hand is created again and the
rows written there; anything else is an outage and the rows wait. A SQLite file deleted or
replaced under the daemon is noticed after each commit: the file is reopened and that batch
written again. If the spool cannot be written (disk full, read-only), frames stay in memory
beyond the bound and the failure is logged and
counted: memory is the last place left, and the daemon keeps running.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import Counter, deque
from datetime import datetime
from itertools import groupby, islice
from typing import Any, Callable

from teleinforeader.settings import DatabaseSettings
from teleinforeader.sinks.base import Sink, SinkStatus, Worker
from teleinforeader.sinks.database.backend import AWAY, ROW, SCHEMA, Backend
from teleinforeader.sinks.database.schema import (
    RowBuilder,
    Table,
    Value,
    reader_name,
    record_to_row,
    row_to_record,
)
from teleinforeader.sinks.database.spool import Spool
from teleinforeader.tic import Frame

log = logging.getLogger(__name__)

Row = tuple[Table, tuple[Value, ...]]
# Every counter exists from the start: status() copies them while the writer counts.
COUNTERS = (
    "accepted",  # frames due for storage
    "skipped",  # frames store_interval left out
    "rows_written",  # rows the database inserted
    "duplicates_ignored",  # rows whose key was already stored: re-sent, or a clash of stamps
    "batches",
    "connections",
    "reconnects",
    "connect_errors",
    "write_errors",
    "spooled",  # frames moved from memory to the spool
    "replayed",  # rows sent from the spool (written, or ignored as duplicates)
    "spool_errors",
    "rejected",  # rows the server refused, kept in the rejects file
    "schema_repairs",  # tables or columns found missing while writing, created again
    "file_reopened",  # SQLite: the file was deleted or replaced under the daemon
)


class DatabaseAwayError(Exception):
    """The connection failed or broke; the rows in hand go back to wait."""


class DatabaseSink(Sink):
    name = "database"

    def __init__(
        self,
        backend: Backend,
        settings: DatabaseSettings,
        state_directory: str | os.PathLike[str],
        *,
        reconnect_delay: float = 1.0,
        reconnect_max_delay: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.spool_path = os.path.join(state_directory, f"{backend.dialect.name}-spool.jsonl")
        self.rejects_path = os.path.join(state_directory, f"{backend.dialect.name}-rejected.jsonl")
        self._rows = RowBuilder(reader_name(settings.reader), settings.teleinfomonitor)
        self._insert_sql = {}  # table name -> statement, built on first use
        self._reconnect_delay = reconnect_delay
        self._reconnect_max_delay = reconnect_max_delay
        self._clock = clock
        self._memory: deque[Frame] = deque()
        self._in_flight: list[Frame] = []  # taken from memory, not yet committed
        self._in_flight_spooled = False  # ... and copied to the head of the spool
        # Held for every move between memory, in-flight and spool, and for the spool file,
        # which two threads use; it may wait on a disk, so submit() never takes it.
        self._spool_lock = threading.Lock()
        # Held only for instants, so status() counts each frame once without waiting on I/O.
        self._memory_lock = threading.Lock()
        self._last_stored: dict[tuple[str, str | None], datetime] = {}
        self._wake = threading.Event()  # write now: a full batch, or closing
        self._arrived = threading.Event()  # a frame is due: the idle writer has work
        self._last_write = -math.inf  # when the writer last wrote what waited (its clock)
        self._stopping = threading.Event()
        self._closed = False
        self._connection: Any = None
        self._spool: Spool | None = None
        self._spool_failing = False
        self._spool_closed = False  # for good: a late spill must not write to a closed file
        self._progress = 0
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self._worker = Worker("database-writer", self._run)
        self._spill_wanted = threading.Event()
        self._spiller = Worker("database-spiller", self._run_spiller)
        self._room = threading.Event()  # set when frames leave memory: a waiting replay looks again

    # -- the Sink contract -------------------------------------------------------------------

    def start(self) -> None:
        self._open_spool()
        if self._spool is not None and self._spool.pending:
            log.info("%d rows wait in the spool %s", self._spool.pending, self.spool_path)
        self._worker.start()
        self._spiller.start()

    def patience(self) -> float:
        """Frames are kept one every `store_interval` and written every `flush_interval`:
        they may wait that long in the line too."""
        return max(self.settings.store_interval, self.settings.flush_interval)

    def submit(self, frame: Frame) -> None:
        if self._closed:
            raise RuntimeError("the database sink is closed")
        if not self._due(frame):
            self.counters["skipped"] += 1
            return
        self._memory.append(frame)
        self.counters["accepted"] += 1
        if not self._arrived.is_set():
            self._arrived.set()
        if len(self._memory) >= self.settings.batch_size:
            self._wake.set()
        self._check_memory_bound()

    def wait_for_room(self, timeout: float) -> bool:
        """A replay outruns the writer and the spiller both (they share one interpreter lock
        with the reader): past `memory_backlog` and a batch, it waits for them."""
        limit = self.settings.memory_backlog + self.settings.batch_size
        deadline = time.monotonic() + timeout
        while len(self._memory) > limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed:
                return False
            self._room.clear()
            if len(self._memory) <= limit:  # taken meanwhile: the set came before the clear
                break
            self._room.wait(remaining)
        return True

    def close(self, timeout: float) -> None:
        """Write what waits (or spool it when the database is away), within `timeout`."""
        self._closed = True
        self._room.set()  # a replay paused on this sink goes on (and stops)
        self._stopping.set()
        self._spill_wanted.set()
        self._wake.set()
        self._arrived.set()
        if self._worker.ident is None:  # never started: nothing else will keep the frames
            self._spill(keep=0)
        elif self._worker.is_alive():
            self._worker.join(timeout)
            if self._worker.is_alive():  # stuck in a connect or a statement: keep the frames
                log.warning("database writer busy after %.1f s: spooling what waits", timeout)
                self._spill(keep=0)
        if not self._worker.is_alive():
            self._close_spool()

    def status(self) -> SinkStatus:
        with self._memory_lock:
            spooled = self._spool.pending if self._spool is not None else 0
            in_flight = 0 if self._in_flight_spooled else len(self._in_flight)
            memory = len(self._memory)
        return SinkStatus(
            alive=self._worker.healthy and self._spiller.healthy,
            backlog=memory + in_flight + spooled,
            progress=self._progress,
            # in_memory: frames waiting in memory now, at most memory_backlog once the
            # spiller has caught up (the batch being written is not among them).
            counters={**self.counters, "in_memory": memory},
        )

    # -- which frames become rows ------------------------------------------------------------

    def _due(self, frame: Frame) -> bool:
        interval = self.settings.store_interval
        if interval <= 0:
            return True
        moment = frame.received_at or datetime.now()
        key = (frame.mode, frame.meter_id)
        last = self._last_stored.get(key)
        try:
            due = last is None or not 0 <= (moment - last).total_seconds() < interval
        except TypeError:  # naive and aware times mixed: a new source, start afresh
            due = True
        if due:
            self._last_stored[key] = moment
        return due

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        next_attempt = 0.0
        delay = self._reconnect_delay
        while True:
            stopping = self._stopping.is_set()
            self._progress += 1
            if self._connection is None and self._clock() >= next_attempt:
                if self._connect():
                    delay = self._reconnect_delay
                else:
                    next_attempt = self._clock() + delay
                    log.warning("database unavailable; next attempt in %.1f s", delay)
                    delay = min(delay * 2, self._reconnect_max_delay)
            if self._connection is not None:
                try:
                    self._drain(stopping)
                    self._last_write = self._clock()
                except DatabaseAwayError as exc:
                    log.warning("database connection lost: %s", exc)
                    self._disconnect()
                    next_attempt = self._clock() + delay
            if stopping:
                if self._connection is None:  # nothing else will keep them now
                    self._spill(keep=0)
                break
            self._wait_for_work()
        self._disconnect()
        self._close_spool()

    def _wait_for_work(self) -> None:
        """Sleep until the next write is due. Connected with nothing waiting: until a frame
        comes, then until `flush_interval` has passed since the last write (often at once).
        Anything else (frames waiting, the database away): `flush_interval`."""
        interval = self.settings.flush_interval
        if self._connection is not None and not self._waiting():
            self._arrived.clear()
            # Checked after the clear, so that a frame (or close()) that came is not missed.
            if not self._waiting() and not self._stopping.is_set():
                self._arrived.wait()
            interval = self._last_write + interval - self._clock()
        if interval > 0:
            self._wake.wait(interval)
        self._wake.clear()

    def _waiting(self) -> bool:
        """Frames in memory or rows in the spool (read without the locks: a frame that
        arrives right after is announced by `_arrived`)."""
        spool = self._spool
        return bool(self._memory) or (spool is not None and spool.pending > 0)

    def _run_spiller(self) -> None:
        """Keep memory within `memory_backlog` whatever the writer is doing: a statement may
        hang for a minute on a stuck server while a replay submits thousands of frames."""
        while True:
            self._spill_wanted.wait()
            if self._closed:  # the writer keeps or spools what is left
                return
            self._spill_wanted.clear()
            self._spill(keep=self.settings.memory_backlog)
            if self._spool_failing:  # a full or read-only disk: retry at the writer's pace
                self._stopping.wait(self.settings.flush_interval)
                self._check_memory_bound()

    def _check_memory_bound(self) -> None:
        if len(self._memory) > self.settings.memory_backlog:
            self._spill_wanted.set()

    def _connect(self) -> bool:
        try:
            connection = self.backend.connect()
            try:
                self.backend.upgrade(connection)
            except Exception:
                connection.close()
                raise
        except Exception as exc:
            self.counters["connect_errors"] += 1
            log.warning("cannot use %s: %s", self.backend.description, exc)
            return False
        if self.counters["connections"]:
            self.counters["reconnects"] += 1
        self.counters["connections"] += 1
        self._connection = connection
        log.info("writing to %s", self.backend.description)
        return True

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # a broken connection may fail to close: it is gone either way
                log.debug("closing a broken connection", exc_info=True)

    def _drain(self, stopping: bool) -> None:
        """Spool first (it holds the oldest rows), then memory, one committed batch at a time."""
        batch_size = self.settings.batch_size
        while True:
            with self._spool_lock:
                spool = self._spool
                if spool is not None and spool.pending:
                    if stopping:
                        break
                    records, offset = spool.read(batch_size)
                elif self._memory:
                    with self._memory_lock:
                        count = min(batch_size, len(self._memory))
                        self._in_flight = [self._memory.popleft() for _ in range(count)]
                        self._in_flight_spooled = False
                    self._room.set()
                    spool = None
                else:
                    return
            if spool is None:
                self._write_in_flight()
            else:
                self._replay(spool, records, offset)
        self._spill(keep=0)  # stopping: keep the order, what is in memory joins the spool's tail

    def _replay(self, spool: Spool, records: list[dict[str, Any]], offset: int) -> None:
        rows = []
        unusable = []
        for record in records:
            try:
                rows.append(record_to_row(record))
            except ValueError as exc:
                unusable.append((record, f"not a row: {exc}"))
        if unusable:
            log.error(
                "spool %s: %d records are not rows: kept in %s",
                spool.path,
                len(unusable),
                self.rejects_path,
            )
            self._set_aside(unusable)
        self._write(rows)
        with self._spool_lock:
            # A spool reopened meanwhile (after a failed append) starts over: the rows
            # written here are sent again, and ignored as duplicates.
            if spool is self._spool:
                spool.release(offset)
        self.counters["replayed"] += len(rows)

    def _write_in_flight(self) -> None:
        rows = [row for frame in self._in_flight for row in self._rows.rows(frame)]
        try:
            self._write(rows)
        except DatabaseAwayError:
            with self._spool_lock, self._memory_lock:
                if not self._in_flight_spooled:  # else its copy heads the spool, to retry
                    self._memory.extendleft(reversed(self._in_flight))
                self._in_flight = []
            self._check_memory_bound()
            raise
        with self._spool_lock:
            if self._in_flight_spooled and self._open_spool():
                # Committed: forget its copy, which nothing can have read past (the spool
                # was empty when the batch left memory). Failing to open the spool, the
                # copy stays and is later sent again, and ignored.
                _, offset = self._spool.read(len(rows))  # type: ignore[union-attr]
                self._spool.release(offset)  # type: ignore[union-attr]
            with self._memory_lock:
                self._in_flight = []
                self._in_flight_spooled = False

    def _write(self, rows: list[Row]) -> None:
        """Insert and commit `rows`; refused rows go to the rejects file."""
        if not rows:
            return
        connection = self._connection
        try:
            inserted = self._commit(connection, rows)
        except DatabaseAwayError:
            self.counters["write_errors"] += 1
            raise
        except Exception as exc:
            self._rollback(connection)
            if self._judge(connection, exc) != ROW:
                self.counters["write_errors"] += 1
                raise DatabaseAwayError(str(exc)) from exc
            log.error("database refused a batch (%s): retrying its rows one by one", exc)
            inserted, refused = self._write_one_by_one(connection, rows)
        else:
            refused = 0
        self.counters["rows_written"] += inserted
        self.counters["duplicates_ignored"] += len(rows) - refused - inserted
        self.counters["batches"] += 1

    def _commit(self, connection: Any, rows: list[Row]) -> int:
        """Insert and commit `rows`, creating again a table or column dropped under us, and
        writing them again into a SQLite file that replaced the one they went to."""
        try:
            inserted = self._insert(connection, rows)
            connection.commit()
        except Exception as exc:
            if self.backend.error_kind(exc) != SCHEMA:
                raise
            self._rollback(connection)
            self._repair_schema(connection, exc)
            inserted = self._insert(connection, rows)
            connection.commit()
        changed = self.backend.file_changed()
        if changed:
            self.counters["file_reopened"] += 1
            log.warning(
                "%s was %s under the daemon: reopening it and writing the last %d rows again",
                self.backend.description,
                changed,
                len(rows),
            )
            raise DatabaseAwayError(f"the database file was {changed}")
        return inserted

    def _repair_schema(self, connection: Any, error: BaseException) -> None:
        self.counters["schema_repairs"] += 1
        log.warning("database: %s; creating what is missing", error)
        for line in self.backend.upgrade(connection):
            log.warning("database repaired: %s", line)

    def _judge(self, connection: Any, error: BaseException) -> str:
        """ROW, SCHEMA or AWAY for a failed write; an error the driver does not classify is
        about the rows if the connection still answers (then it cannot be retried away)."""
        kind = self.backend.error_kind(error)
        if kind is None:
            kind = ROW if self.backend.answers(connection) else AWAY
        return kind

    def _insert(self, connection: Any, rows: list[Row]) -> int:
        """Insert `rows` (not committed); return how many the database did not ignore as
        duplicates. Both backends count an ignored row as no change: SQLite's `ON CONFLICT DO
        NOTHING`, and MariaDB's `ON DUPLICATE KEY UPDATE k = k`, which changes nothing (0
        affected rows, the connection not asking for found rows)."""
        cursor = connection.cursor()
        inserted = 0
        for table, group in groupby(rows, key=lambda row: row[0]):
            cursor.executemany(self._insert_statement(table), [values for _, values in group])
            inserted += cursor.rowcount
        return inserted

    def _write_one_by_one(self, connection: Any, rows: list[Row]) -> tuple[int, int]:
        """Insert row by row; return how many were inserted and how many the server refused
        (set aside in the rejects)."""
        inserted = 0
        refused = []
        for row in rows:
            try:
                inserted += self._commit(connection, [row])
            except DatabaseAwayError:
                raise
            except Exception as exc:
                self._rollback(connection)
                if self._judge(connection, exc) != ROW:
                    raise DatabaseAwayError(str(exc)) from exc
                log.error(
                    "database refused a row of %s (%s): kept in %s",
                    row[1][0],
                    exc,
                    self.rejects_path,
                )
                refused.append((row_to_record(*row), f"refused by the database: {exc}"))
        if refused:
            self._set_aside(refused)
        return inserted, len(refused)

    def _set_aside(self, refused: list[tuple[Any, str]]) -> None:
        """Append (record, reason) pairs to the rejects file, with the time they were refused.

        Raises DatabaseAwayError when the file cannot be written: the rows then wait."""
        now = datetime.now().isoformat(sep=" ", timespec="seconds")
        lines = [{"rejected_at": now, "reason": reason, "record": r} for r, reason in refused]
        try:
            rejects = Spool(self.rejects_path)
            try:
                rejects.append(lines)
            finally:
                rejects.close()
        except OSError as exc:  # nowhere to keep them: the batch waits and is retried
            raise DatabaseAwayError(f"cannot keep refused rows: {exc}") from exc
        self.counters["rejected"] += len(refused)

    @staticmethod
    def _rollback(connection: Any) -> None:
        try:
            connection.rollback()
        except Exception:  # the connection broke: the transaction is gone with it
            log.debug("rollback failed", exc_info=True)

    def _insert_statement(self, table: Table) -> str:
        statement = self._insert_sql.get(table.name)
        if statement is None:
            statement = self._insert_sql[table.name] = self.backend.dialect.insert_sql(table)
        return statement

    # -- the spool ---------------------------------------------------------------------------

    def _open_spool(self) -> bool:
        if self._spool is None:
            try:
                self._spool = Spool(self.spool_path)
            except OSError as exc:
                self._spool_failed(exc)
                return False
        return True

    def _close_spool(self) -> None:
        with self._spool_lock:
            self._spool_closed = True
            if self._spool is not None:
                self._spool.close()

    def _spill(self, keep: int) -> None:
        """Move all but the newest `keep` frames from memory to the spool, oldest first.

        A batch in flight from memory is older than them all: a copy of it goes first, and
        with `keep` 0 (shutdown) it goes even when nothing else does."""
        with self._spool_lock:
            with self._memory_lock:
                lead = [] if self._in_flight_spooled else list(self._in_flight)
                excess = max(0, len(self._memory) - keep)
                moving = lead + list(islice(self._memory, excess))
            if self._spool_closed or not moving or not (excess or keep == 0):
                return
            if not self._open_spool():
                return
            try:
                records = [row_to_record(*row) for f in moving for row in self._rows.rows(f)]
                self._spool.append(records)  # type: ignore[union-attr]
            except OSError as exc:
                self._spool_failed(exc)
                # Reopen next time: the file may be replaced (space freed, disk remounted).
                self._spool.close()  # type: ignore[union-attr]
                self._spool = None
                return
            with self._memory_lock:
                for _ in range(excess):
                    self._memory.popleft()
                self._in_flight_spooled = self._in_flight_spooled or bool(lead)
            self._room.set()
            self.counters["spooled"] += len(moving)
            if self._spool_failing:
                log.info("spool %s writable again", self.spool_path)
                self._spool_failing = False

    def _spool_failed(self, exc: OSError) -> None:
        self.counters["spool_errors"] += 1
        if not self._spool_failing:
            log.error(
                "cannot write the spool %s (%s): frames wait in memory beyond the bound",
                self.spool_path,
                exc,
            )
            self._spool_failing = True
