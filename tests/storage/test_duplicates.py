"""Rows the database ignores because their key is already stored are counted as duplicates,
never as written: otherwise rows lost to a clash of keys hide behind the write counter."""

from __future__ import annotations

import pytest

from teleinforeader.sinks.database.schema import HISTORIC_TABLE
from teleinforeader.tic import Frame
from tests.storage.helpers import Storage, make_frames, store


def test_re_sent_rows_are_counted_as_duplicates_not_as_written(storage: Storage) -> None:
    frames = make_frames("historic-base", 8)
    first = store(storage, frames[:5]).status().counters
    assert (first["rows_written"], first["duplicates_ignored"]) == (5, 0)
    # A re-send after a commit whose outcome was unknown: three stored already, three new.
    again = store(storage, frames[2:]).status().counters
    assert (again["rows_written"], again["duplicates_ignored"]) == (3, 3)
    assert len(storage.rows(HISTORIC_TABLE)) == 8


def test_frames_sharing_a_key_in_one_batch_count_as_duplicates(storage: Storage) -> None:
    frames = make_frames("historic-base", 4)
    same_time = [Frame(dict(frame), "historic", frames[0].received_at) for frame in frames]
    counters = store(storage, same_time).status().counters
    assert (counters["rows_written"], counters["duplicates_ignored"]) == (1, 3)
    assert len(storage.rows(HISTORIC_TABLE)) == 1


@pytest.mark.mariadb
@pytest.mark.parametrize("storage", ["mariadb"], indirect=True)  # SQLite enforces no widths
def test_row_by_row_after_a_refused_row_still_tells_duplicates_from_rows_written(
    storage: Storage,
) -> None:
    frames = make_frames("historic-base", 4)
    store(storage, frames[:2])
    bad = Frame(dict(frames[2], ADCO="0" * 40), "historic", frames[2].received_at)
    counters = store(storage, [frames[0], bad, frames[1], frames[3]]).status().counters
    assert counters["rejected"] == 1
    assert (counters["rows_written"], counters["duplicates_ignored"]) == (1, 2)
    assert len(storage.rows(HISTORIC_TABLE)) == 3
