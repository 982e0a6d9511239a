"""The writer thread wakes for frames to store, not on a clock: on a Pi Zero's single core each
wake-up costs more than a frame, and with `store_interval` most frames are not stored."""

from __future__ import annotations

import time

from tests.storage.helpers import Storage, caught_up_sink, make_frames
from tests.support.threads import settled_sleeps, sleeps
from tests.support.waiting import wait_for

WRITER = "database-writer"
FLUSH_INTERVAL = 0.02  # seconds: a writer waking on a clock would wake many times below


def test_an_idle_writer_sleeps_until_a_frame_is_due_then_stores_it(storage: Storage) -> None:
    first, second, third = make_frames("historic-base", 3)
    sink = caught_up_sink(storage, [first], store_interval=0, flush_interval=FLUSH_INTERVAL)
    asleep = settled_sleeps(WRITER)
    time.sleep(25 * FLUSH_INTERVAL)
    assert sleeps(WRITER) == asleep
    sink.submit(second)
    wait_for(lambda: sink.status().counters["rows_written"] == 2, what="the second row")
    sink.submit(third)
    wait_for(lambda: sink.status().counters["rows_written"] == 3, what="the third row")
    assert sink.status().backlog == 0


def test_frames_store_interval_leaves_out_wake_nobody(storage: Storage) -> None:
    first, *rest = make_frames("historic-base", 20)  # received 1 s apart (STEP)
    sink = caught_up_sink(storage, [first], store_interval=3600, flush_interval=FLUSH_INTERVAL)
    asleep = settled_sleeps(WRITER)
    for frame in rest:
        sink.submit(frame)
    assert sleeps(WRITER) == asleep
    assert sink.status().counters["skipped"] == 19
