"""The database sink: one writer thread, batched inserts, and no frame lost to an outage.

Plan: `submit` (dispatch thread) only decides whether the frame is due for storage
(`store_interval`) and appends it to an in-memory deque. The writer thread wakes every
`flush_interval`, or sooner when `batch_size` frames wait, and writes them with one
parameterised `executemany` per table and one commit per batch. While the database is away it
reconnects with a doubling backoff; frames beyond `memory_backlog` move, oldest first, to the
on-disk spool, which is replayed before anything newer once the database is back and at the
next start after a crash. The key (timestamp, reader, meter) and an insert that ignores
duplicates make re-sending after an ambiguous commit harmless; what the database ignored is
counted from the cursor's rowcount as `duplicates_ignored`, never as written, so that rows lost
to a clash of keys show instead of hiding behind the write counter. Rows the server refuses are set
aside in a rejects file, never retried forever, never dropped. If the spool cannot be written
(disk full, read-only), frames stay in memory beyond the bound and the failure is logged and
counted: memory is the last place left, and the daemon keeps running.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from datetime import datetime
from itertools import groupby, islice
from pathlib import Path
from typing import Any, Callable

from teleinforeader.settings import DatabaseSettings
from teleinforeader.sinks.base import Sink, SinkStatus, Worker
from teleinforeader.sinks.database.backend import Backend
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
)


class DatabaseAwayError(Exception):
    """The connection failed or broke; the rows in hand go back to wait."""


class DatabaseSink(Sink):
    name = "database"

    def __init__(
        self,
        backend: Backend,
        settings: DatabaseSettings,
        state_directory: Path,
        *,
        reconnect_delay: float = 1.0,
        reconnect_max_delay: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.spool_path = state_directory / f"{backend.dialect.name}-spool.jsonl"
        self.rejects_path = state_directory / f"{backend.dialect.name}-rejected.jsonl"
        self._rows = RowBuilder(reader_name(settings.reader))
        self._insert_sql = {}  # table name -> statement, built on first use
        self._reconnect_delay = reconnect_delay
        self._reconnect_max_delay = reconnect_max_delay
        self._clock = clock
        self._memory: deque[Frame] = deque()
        self._in_flight: list[Frame] = []  # taken from memory, not yet committed
        self._memory_lock = threading.Lock()  # memory/in-flight vs a last-resort spill
        self._last_stored: dict[tuple[str, str | None], datetime] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._closed = False
        self._connection: Any = None
        self._spool: Spool | None = None
        self._spool_failing = False
        self._progress = 0
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self._worker = Worker("database-writer", self._run)

    # -- the Sink contract -------------------------------------------------------------------

    def start(self) -> None:
        self._open_spool()
        if self._spool is not None and self._spool.pending:
            log.info("%d rows wait in the spool %s", self._spool.pending, self.spool_path)
        self._worker.start()

    def submit(self, frame: Frame) -> None:
        if self._closed:
            raise RuntimeError("the database sink is closed")
        if not self._due(frame):
            self.counters["skipped"] += 1
            return
        self._memory.append(frame)
        self.counters["accepted"] += 1
        if len(self._memory) >= self.settings.batch_size:
            self._wake.set()

    def close(self, timeout: float) -> None:
        """Write what waits (or spool it when the database is away), within `timeout`."""
        self._closed = True
        self._stopping.set()
        self._wake.set()
        if self._worker.ident is None:  # never started: nothing else will keep the frames
            self._spill(keep=0)
        elif self._worker.is_alive():
            self._worker.join(timeout)
            if self._worker.is_alive():  # stuck in a connect or a statement: keep the frames
                log.warning("database writer busy after %.1f s: spooling what waits", timeout)
                self._spill(keep=0)
        if self._spool is not None and not self._worker.is_alive():
            self._spool.close()

    def status(self) -> SinkStatus:
        spooled = self._spool.pending if self._spool is not None else 0
        return SinkStatus(
            alive=self._worker.healthy,
            backlog=len(self._memory) + len(self._in_flight) + spooled,
            progress=self._progress,
            counters=dict(self.counters),
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
                except DatabaseAwayError as exc:
                    log.warning("database connection lost: %s", exc)
                    self._disconnect()
                    next_attempt = self._clock() + delay
            if self._connection is None:
                self._spill(keep=0 if stopping else self.settings.memory_backlog)
            if stopping:
                break
            self._wake.wait(self.settings.flush_interval)
            self._wake.clear()
        self._disconnect()
        if self._spool is not None:
            self._spool.close()

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
        spool = self._spool
        while spool is not None and spool.pending:
            if stopping:  # keep the order: what is in memory joins the spool's tail
                self._spill(keep=0)
                return
            records, offset = spool.read(batch_size)
            rows = []
            for record in records:
                try:
                    rows.append(record_to_row(record))
                except (KeyError, ValueError, TypeError) as exc:
                    spool.corrupt += 1
                    log.error("spool %s: skipping a record of unknown shape: %s", spool.path, exc)
            self._write(rows)
            spool.release(offset)
            self.counters["replayed"] += len(rows)
            if len(self._memory) > self.settings.memory_backlog:
                self._spill(keep=self.settings.memory_backlog)
        while self._memory:
            with self._memory_lock:
                count = min(batch_size, len(self._memory))
                self._in_flight = [self._memory.popleft() for _ in range(count)]
            try:
                self._write([self._rows.row(frame) for frame in self._in_flight])
            except DatabaseAwayError:
                with self._memory_lock:
                    self._memory.extendleft(reversed(self._in_flight))
                    self._in_flight = []
                raise
            with self._memory_lock:
                self._in_flight = []

    def _write(self, rows: list[Row]) -> None:
        """Insert and commit `rows`; refused rows go to the rejects file."""
        if not rows:
            return
        connection = self._connection
        try:
            inserted = self._insert(connection, rows)
            connection.commit()
        except Exception as exc:
            self._rollback(connection)
            if not self.backend.is_data_error(exc):
                self.counters["write_errors"] += 1
                raise DatabaseAwayError(str(exc)) from exc
            log.error("database refused a batch (%s): retrying its rows one by one", exc)
            inserted, refused = self._write_one_by_one(connection, rows)
        else:
            refused = 0
        self.counters["rows_written"] += inserted
        self.counters["duplicates_ignored"] += len(rows) - refused - inserted
        self.counters["batches"] += 1

    def _insert(self, connection: Any, rows: list[Row]) -> int:
        """Insert `rows` (not committed); return how many the database did not ignore as
        duplicates. Both backends count an ignored row as no change: SQLite's OR IGNORE, and
        MariaDB's `ON DUPLICATE KEY UPDATE k = k`, which changes nothing (0 affected rows,
        the connection not asking for found rows)."""
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
                count = self._insert(connection, [row])
                connection.commit()
                inserted += count
            except Exception as exc:
                self._rollback(connection)
                if not self.backend.is_data_error(exc):
                    raise DatabaseAwayError(str(exc)) from exc
                log.error(
                    "database refused a row of %s (%s): kept in %s",
                    row[1][0],
                    exc,
                    self.rejects_path,
                )
                refused.append(row_to_record(*row))
        if refused:
            self.counters["rejected"] += len(refused)
            try:
                rejects = Spool(self.rejects_path)
                try:
                    rejects.append(refused)
                finally:
                    rejects.close()
            except OSError as exc:  # nowhere to keep them: the batch waits and is retried
                raise DatabaseAwayError(f"cannot keep refused rows: {exc}") from exc
        return inserted, len(refused)

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

    def _spill(self, keep: int) -> None:
        """Move all but the newest `keep` frames from memory to the spool, oldest first."""
        with self._memory_lock:
            in_flight = len(self._in_flight)  # only a last-resort spill from close() sees any
            excess = max(in_flight, in_flight + len(self._memory) - keep)
            if excess <= 0 or not self._open_spool():
                return
            moving = self._in_flight + list(islice(self._memory, excess - in_flight))
            try:
                self._spool.append([row_to_record(*self._rows.row(f)) for f in moving])  # type: ignore[union-attr]
            except OSError as exc:
                self._spool_failed(exc)
                # Reopen next time: the file may be replaced (space freed, disk remounted).
                self._spool.close()  # type: ignore[union-attr]
                self._spool = None
                return
            self._in_flight = []
            for _ in range(excess - in_flight):
                self._memory.popleft()
            self.counters["spooled"] += excess
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
