"""The publishing policies, with a clock the test moves. Pure, no broker."""

from __future__ import annotations

import pytest

from teleinforeader.sinks.mqtt.policy import PublishPolicy
from teleinforeader.tic import Frame, decode, encode_frame

GROUPS = {"ADCO": "021861348497", "OPTARIF": "BASE", "ISOUSC": "30", "BASE": "001000000",
          "PTEC": "TH..", "IINST": "008", "IMAX": "090", "PAPP": "01800", "HHPHC": "A",
          "MOTDETAT": "000000"}  # fmt: skip


def frame(papp: int = 1800) -> Frame:
    (decoded,) = decode(encode_frame(dict(GROUPS, PAPP=f"{papp:05d}"), "historic"))
    return decoded


def due_at(policy: PublishPolicy, moments: list[tuple[float, Frame]]) -> list[float]:
    return [now for now, each in moments if policy.due(each, now)]


def test_every_frame() -> None:
    policy = PublishPolicy("every_frame", 10, 300)
    assert due_at(policy, [(0, frame()), (0.1, frame()), (0.2, frame())]) == [0, 0.1, 0.2]


def test_interval_publishes_the_first_frame_then_at_most_every_interval() -> None:
    policy = PublishPolicy("interval", 10, 300)
    moments = [(t, frame()) for t in (0, 1, 9.9, 10, 11, 25)]
    assert due_at(policy, moments) == [0, 10, 25]


def test_on_change_waits_the_interval_then_a_change_or_the_heartbeat() -> None:
    policy = PublishPolicy("on_change", 10, 300)
    moments = [(0, frame()), (5, frame(1900)), (12, frame()), (13, frame(1900)),
               (30, frame(1900)), (100, frame(1900)), (313, frame(1900))]  # fmt: skip
    assert due_at(policy, moments) == [0, 13, 313]


def test_another_meter_is_due_at_once() -> None:
    policy = PublishPolicy("interval", 10, 300)
    assert policy.due(frame(), 0)
    policy.reset()
    assert policy.due(frame(), 1)


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="publish must be one of"):
        PublishPolicy("sometimes", 10, 300)


def test_a_frame_may_wait_in_the_line_as_long_as_the_interval_except_every_frame() -> None:
    assert PublishPolicy("every_frame", 10, 300).patience == 0
    assert PublishPolicy("interval", 10, 300).patience == 10
    assert PublishPolicy("on_change", 7, 300).patience == 7
