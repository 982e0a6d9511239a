"""Helpers every benchmark shares: what machine ran it, a median timer, a table printer.

Benchmarks print figures for people to compare between machines and commits; they never pass or
fail. A benchmark module of this package exposes `main()`; `python -m benchmarks` runs them all.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from teleinforeader.sinks.base import Sink
    from teleinforeader.tic import Frame


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


def thread_cpu_seconds(thread: threading.Thread) -> float:
    """CPU seconds a running thread has used so far (a sink's own thread, for a benchmark)."""
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))  # type: ignore[arg-type]


def start_helper(module: str, *args: object) -> subprocess.Popen[str]:
    """`python -m module *args`, the clients of a benchmark in a process of their own, once it
    has printed "ready" (its sockets connected); what it prints next is on its stdout."""
    child = subprocess.Popen(
        [sys.executable, "-m", module, *map(str, args)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.kill()
        raise RuntimeError(f"{module} {' '.join(map(str, args))} did not start")
    return child


def submit_paced(
    sink: Sink, frames: Sequence[Frame], rate: float
) -> tuple[list[float], list[float]]:
    """Submit `frames` to `sink`, `rate` a second, as the reader thread would: when each
    submit began (time.monotonic) and the seconds each one took."""
    starts: list[float] = []
    calls: list[float] = []
    next_time = time.monotonic()
    for frame in frames:
        next_time += 1.0 / rate
        delay = next_time - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        start = time.monotonic()
        sink.submit(frame)
        starts.append(start)
        calls.append(time.monotonic() - start)
    return starts, calls
