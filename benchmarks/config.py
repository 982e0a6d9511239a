"""The configuration loader on hostile files: how long, and how much memory, a huge string costs.

A careless paste or an attacker can put megabytes in one value or key. The loader must refuse a
file over its size bound before parsing it, and give a short error for a long value without
copying it, comparing it with every known name or escaping it character by character. Each case
is timed (median of a few loads, CPU time) with the peak of Python allocations (tracemalloc).
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path

from benchmarks.common import machine, median_seconds, print_table
from teleinforeader.config import ConfigError, load_settings, render_settings

TEN_MB = 10_000_000
NEAR_BOUND = 1_000_000 - 100  # a string just under the file's size bound (1 MiB)


def _cases() -> list[tuple[str, str]]:
    return [
        ("10 MB string (file over the bound)", f'[source]\ndevice = "{"x" * TEN_MB}"\n'),
        ("1 MB string where a name is expected", f'[source]\nmode = "{"x" * NEAR_BOUND}"\n'),
        ("1 MB unknown key", f'[server]\n"{"x" * NEAR_BOUND}" = 1\n'),
        ("1 MB network", f'[server]\nallow = ["{"x" * NEAR_BOUND}"]\n'),
        ("1 MB valid value, loaded and rendered", f'[source]\ndevice = "{"x" * NEAR_BOUND}"\n'),
    ]


def _load(path: Path) -> str:
    try:
        return render_settings(load_settings(path))[:20]
    except ConfigError as error:
        return str(error)


def _peak_mib(path: Path) -> float:
    tracemalloc.start()
    try:
        _load(path)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "teleinforeader.toml"
        for name, text in _cases():
            path.write_text(text)
            seconds = median_seconds(lambda: _load(path), repeat=3, clock=time.process_time)
            rows.append((name, f"{seconds * 1000:,.0f} ms", f"{_peak_mib(path):,.1f} MiB"))
    print_table(
        f"Configuration loader, hostile files ({machine()})",
        ("file", "CPU time", "peak Python memory"),
        rows,
    )


if __name__ == "__main__":
    main()
