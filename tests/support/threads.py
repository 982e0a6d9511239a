"""The threads of this process as the kernel sees them: how often each went to sleep."""

from __future__ import annotations

import time
from pathlib import Path

TASKS = Path("/proc/self/task")
SETTLE = 0.1  # seconds a thread must stay asleep to count as settled


def thread_sleeps(native_id: int) -> int:
    """How often the thread blocked and was woken (its voluntary context switches): a thread
    that does not wake keeps the same count."""
    for line in (TASKS / str(native_id) / "status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"no context switch count for thread {native_id}")


def sleeps(name: str) -> int:
    """`thread_sleeps` summed over the threads called `name` (the name `Worker` gives them)."""
    total = 0
    for task in TASKS.iterdir():
        try:
            if (task / "comm").read_text().strip() == name:
                total += thread_sleeps(int(task.name))
        except OSError:  # a thread that just ended
            continue
    return total


def settled_sleeps(name: str, timeout: float = 10.0) -> int:
    """`sleeps(name)` once those threads have gone to sleep and stay asleep (a thread that is
    starting may still block on the way, on the GIL or its first wait)."""
    deadline = time.monotonic() + timeout
    count = sleeps(name)
    while True:
        time.sleep(SETTLE)
        again = sleeps(name)
        if again == count and again > 0:
            return count
        if time.monotonic() > deadline:
            raise AssertionError(f"the {name} threads never settled")
        count = again
