"""Stored frames read back: power over time, and energy per tariff period from index differences.

For the web page and its API, on both backends. Plan:
- One read-only connection of its own (`Backend.connect_read_only`), never the writer's, opened
  on first use and again after an error; the caller runs every query from one thread.
- Every query is bounded by the (reader, timestamp) index and by the caller's range; the result
  size is bounded by the number of steps, which the caller limits (`MAX_POWER_POINTS`,
  `MAX_ENERGY_BUCKETS`).
- Power: one GROUP BY per request, averaging each step (the rows in a step are read once).
- Energy: an index never goes down (the guard sees to it), so a step's energy is the first
  index value of the next step minus its own first value: two index seeks per step, whatever
  the number of rows (30 days of 5 s rows: 60 seeks, not 518,400 rows). The last step, or one
  followed by a step without rows, ends at its own last row. Summed over steps in a row, the
  differences give exactly the last index minus the first; energy used while nothing was stored
  between two steps belongs to neither.
- Steps are aligned on the local wall clock, as rows are stored: a day step runs from local
  midnight to local midnight.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from teleinforeader.record import Record
from teleinforeader.sinks.database.backend import Backend
from teleinforeader.sinks.database.schema import TABLES, Table, format_timestamp
from teleinforeader.tic import HISTORIC
from teleinforeader.tic.tariffs import INSTANT_POWER, STANDARD_TOTAL, energy_indexes

MAX_POWER_POINTS = 2000
MAX_ENERGY_BUCKETS = 400
_EPOCH = datetime(1970, 1, 1)  # naive: steps count local wall-clock seconds from here
# Seconds of local wall-clock time since _EPOCH, for grouping rows into steps.
_WALL_SECONDS = {
    "sqlite": "CAST(strftime('%s', {column}) AS INTEGER)",
    "mariadb": "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {column})",
}


class Meter(Record):
    mode: str
    meter: str  # its serial number (ADCO, ADSC)


class PowerPoint(Record):
    start: datetime  # local, naive: the start of the step
    mean: float
    peak: int
    rows: int


class EnergyStep(Record):
    start: datetime  # local, naive
    first: dict[str, int]  # the first index values stored in the step, by label
    energy: dict[str, int | None]  # Wh used in the step, by index label (empty: no rows)
    total: int | None  # Wh withdrawn in the step (EAST, or the sum of the tariff indexes)


def align(moment: datetime, step: int) -> datetime:
    """`moment` (local, naive) down to a multiple of `step` seconds of local wall-clock time."""
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    return _EPOCH + timedelta(seconds=seconds - seconds % step)


class History:
    """Queries the frames one reader stored (`reader`: `[database] reader` resolved)."""

    def __init__(self, backend: Backend, reader: str) -> None:
        self.backend = backend
        self.reader = reader
        self._connection: Any = None

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                connection.close()

    def _cursor(self) -> Any:
        if self._connection is None:
            self._connection = self.backend.connect_read_only()
        return self._connection.cursor()

    def _query(self, sql: str, parameters: Sequence[object]) -> list[tuple[Any, ...]]:
        """Rows of one statement; any error drops the connection, so the next call reconnects."""
        try:
            cursor = self._cursor()
            cursor.execute(sql, tuple(parameters))
            return list(cursor.fetchall())
        except Exception:
            self.close()
            raise

    # -- which meter ---------------------------------------------------------------------------

    def latest_meter(self) -> Meter | None:
        """The meter of this reader's newest row, in either table, or None when there is none."""
        q = self.backend.dialect.quote
        newest: tuple[str, Meter] | None = None
        # Standard first, so that it wins a tie: with [database] teleinfomonitor a standard
        # frame also has a row in teleinfoframes, at the same time (TeleInfoMonitor's columns).
        for mode, table in reversed(TABLES.items()):
            meter_column = table.key[2]
            rows = self._query(
                f"SELECT {q('timestamp')}, {q(meter_column)} FROM {q(table.name)} "
                f"WHERE {q('reader')} = ? ORDER BY {q('timestamp')} DESC LIMIT 1",
                (self.reader,),
            )
            if rows:
                stamp = str(rows[0][0])
                if newest is None or stamp > newest[0]:
                    newest = (stamp, Meter(mode, str(rows[0][1])))
        return None if newest is None else newest[1]

    # -- power ---------------------------------------------------------------------------------

    def power(self, meter: Meter, start: datetime, end: datetime, step: int) -> list[PowerPoint]:
        """Apparent power (VA) averaged over each `step` seconds from `start` to `end`."""
        table = TABLES[meter.mode]
        column = _power_column(table)
        q = self.backend.dialect.quote
        bucket = _WALL_SECONDS[self.backend.dialect.name].format(column=q("timestamp"))
        rows = self._query(
            f"SELECT {bucket} - {bucket} % ?, AVG({q(column)}), MAX({q(column)}), COUNT(*) "
            f"FROM {q(table.name)} WHERE {_range_filter(q, table)} AND {q(column)} IS NOT NULL "
            "GROUP BY 1 ORDER BY 1",
            (step, self.reader, meter.meter, format_timestamp(start), format_timestamp(end)),
        )
        return [
            PowerPoint(_EPOCH + timedelta(seconds=int(at)), float(mean), int(peak), int(count))
            for at, mean, peak, count in rows
        ]

    # -- energy --------------------------------------------------------------------------------

    def energy(self, meter: Meter, start: datetime, end: datetime, step: int) -> list[EnergyStep]:
        """Energy per index in each `step` seconds from `start` (aligned) to `end`."""
        table = TABLES[meter.mode]
        labels = energy_indexes(meter.mode)
        columns = [_index_column(table, label) for label in labels]
        bounds = []
        moment = align(start, step)
        while moment < end:
            bounds.append(moment)
            moment += timedelta(seconds=step)
        firsts = [self._edge(table, columns, meter, b, min(b + _step(step), end)) for b in bounds]
        steps = []
        for i, begin in enumerate(bounds):
            first = firsts[i]
            following = firsts[i + 1] if i + 1 < len(firsts) else None
            if first is not None and following is None:
                following = self._edge(
                    table, columns, meter, begin, min(begin + _step(step), end), last=True
                )
            steps.append(_energy_step(begin, labels, first, following, meter.mode))
        return steps

    def _edge(
        self,
        table: Table,
        columns: Sequence[str],
        meter: Meter,
        start: datetime,
        end: datetime,
        last: bool = False,
    ) -> tuple[Any, ...] | None:
        """The index columns of the first (or last) row in [start, end), or None."""
        q = self.backend.dialect.quote
        order = "DESC" if last else "ASC"
        rows = self._query(
            f"SELECT {', '.join(q(column) for column in columns)} FROM {q(table.name)} "
            f"WHERE {_range_filter(q, table)} ORDER BY {q('timestamp')} {order} LIMIT 1",
            (self.reader, meter.meter, format_timestamp(start), format_timestamp(end)),
        )
        return rows[0] if rows else None


def _step(step: int) -> timedelta:
    return timedelta(seconds=step)


def _range_filter(q: Any, table: Table) -> str:
    """Rows of one reader and meter in [?, ?): what the (reader, timestamp) index serves."""
    return (
        f"{q('reader')} = ? AND {q(table.key[2])} = ? "
        f"AND {q('timestamp')} >= ? AND {q('timestamp')} < ?"
    )


def _power_column(table: Table) -> str:
    return _index_column(table, INSTANT_POWER[table.mode][0])


def _index_column(table: Table, label: str) -> str:
    for column in table.columns:
        if column.label == label and not column.horodate:
            return column.name
    raise KeyError(label)


def _energy_step(
    start: datetime,
    labels: Sequence[str],
    first: tuple[Any, ...] | None,
    following: tuple[Any, ...] | None,
    mode: str,
) -> EnergyStep:
    if first is None or following is None:
        return EnergyStep(start, {}, {}, None)
    firsts: dict[str, int] = {}
    energy: dict[str, int | None] = {}
    for label, begin, finish in zip(labels, first, following):
        if begin is None:
            continue
        firsts[label] = int(begin)
        energy[label] = None if finish is None else max(int(finish) - int(begin), 0)
    if mode == HISTORIC:
        known = [value for value in energy.values() if value is not None]
        total = sum(known) if known else None
    else:
        total = energy.get(STANDARD_TOTAL)
    return EnergyStep(start, firsts, energy, total)


def steps_between(start: datetime, end: datetime, step: int) -> int:
    """How many steps of `step` seconds, aligned, cover [start, end)."""
    return max(math.ceil((end - align(start, step)).total_seconds() / step), 0)
