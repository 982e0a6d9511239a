"""The fuzz properties with a small budget, so every `make test` runs them (`make fuzz` runs
them for ten minutes): the decoder on damaged real captures, the loader on random files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from teleinforeader.tic import Frame, decode
from tests.fuzz.campaign import (
    assert_sound,
    check_config,
    check_decoder,
    chunk_cuts,
    config_inputs,
    decoder_inputs,
    real_captures,
)

SUITE_BUDGET = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
CAPTURES = real_captures()


@SUITE_BUDGET
@given(decoder_inputs(CAPTURES), chunk_cuts)
def test_the_decoder_never_raises_and_yields_only_sound_groups(data: bytes, cuts: list) -> None:
    check_decoder(data, cuts)


@SUITE_BUDGET
@given(config_inputs)
def test_the_loader_gives_settings_or_one_line_naming_the_file(
    tmp_path_factory, content: bytes
) -> None:
    check_config(tmp_path_factory.mktemp("fuzz") / "teleinforeader.toml", content)


def test_the_oracle_accepts_real_frames_and_refuses_a_forged_group() -> None:
    """The properties above would pass vacuously if the oracle accepted anything."""
    clean = max(CAPTURES, key=lambda capture: len(decode(capture)))
    frames = decode(clean)
    assert check_decoder(clean, [7]) == len(frames) > 0
    forged = Frame({**frames[0], "PAPP": "99999"}, frames[0].mode)
    with pytest.raises(AssertionError, match="PAPP"):
        assert_sound(clean, [forged])
    # A frame with one value of another frame that differs in more: each group is on the wire,
    # but no STX..ETX holds them all.
    first = frames[0]
    changed = [
        [label for label in first if other.get(label, first[label]) != first[label]]
        for other in frames
    ]
    index = next(i for i, labels in enumerate(changed) if len(labels) >= 2)
    label = changed[index][0]
    glued = Frame({**first, label: frames[index][label]}, first.mode)
    with pytest.raises(AssertionError, match="mixes groups"):
        assert_sound(clean, [glued])


def test_the_config_check_sees_good_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "teleinforeader.toml"
    assert check_config(path, b"[server]\nport = 50008\n") is True
    assert check_config(path, b"[server]\nport = 0\n") is False
