"""Helpers every benchmark shares: what machine ran it, a median timer, a table printer.

Benchmarks print figures for people to compare between machines and commits; they never pass or
fail. A benchmark module of this package exposes `main()`; `python -m benchmarks` runs them all.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Sequence
from typing import Callable


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (x86 "model name", ARM "Model"/"Hardware")."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            fields = dict(line.split(":", 1) for line in cpuinfo if ":" in line and line.strip())
    except OSError:
        return platform.processor() or "unknown CPU"
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for name, value in fields.items():
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """One line that says what the figures were measured on."""
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{cpu_model()}, {os.cpu_count()} cores"
    )


def median_seconds(
    run: Callable[[], object],
    repeat: int = 5,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """The median duration of `repeat` calls of `run` (the median shrugs off one slow run).

    Wall time by default; pass `clock=time.process_time` for code that runs on one thread and
    waits for nothing, so that other programs busy on the machine count for less.
    """
    durations = []
    for _ in range(repeat):
        start = clock()
        run()
        durations.append(clock() - start)
    return statistics.median(durations)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [list(header)] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        )

    print(title)
    print(line(cells[0]))
    print("  ".join("-" * width for width in widths))
    for row in cells[1:]:
        print(line(row))
    print()


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
