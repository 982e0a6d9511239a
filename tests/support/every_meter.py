"""Frames of every kind of meter the daemon reads, for the TeleInfoMonitor view tests: each
simulator profile, each real capture (the shared ones when they are here), and the storage
tests' hand-made frames (an EJP single-phase meter and a three-phase producer, which no
capture in the project has)."""

from __future__ import annotations

from datetime import datetime, timedelta

from teleinforeader.sources.simulator import PROFILES, Simulator
from teleinforeader.tic import Decoder, Frame
from tests.storage.helpers import METERS, make_frames
from tests.support.captures import PROJECT_CAPTURES, SHARED_CAPTURES
from tests.tic.test_golden import CASES

SIMULATED_FRAMES = 6  # per profile: the guard's first hold, then steady frames


def simulated(profile: str, count: int = SIMULATED_FRAMES) -> list[Frame]:
    frames = Simulator(profile).frames()
    decoder = Decoder()
    return [decoder.feed(next(frames))[0] for _ in range(count)]


def captured(name: str) -> list[Frame] | None:
    """The frames of a capture, or None when it is neither in the project nor shared here."""
    case = next(case for case in CASES if case.name == name)
    for folder in (PROJECT_CAPTURES, SHARED_CAPTURES):
        if (folder / name).exists():
            return Decoder().feed(case.convert((folder / name).read_bytes()))
    return None


def every_meter() -> dict[str, list[Frame]]:
    """Source name -> its frames."""
    sources: dict[str, list[Frame]] = {
        f"simulator {profile}": simulated(profile) for profile in PROFILES
    }
    for case in CASES:
        frames = captured(case.name)
        if frames:
            sources[case.name] = frames
    for meter in METERS:
        sources[f"hand-made {meter}"] = make_frames(meter, 2)
    return sources


def stamped(frames: list[Frame], start: datetime, step: timedelta) -> list[Frame]:
    """The frames again, received `step` apart from `start` (a row's key is its time)."""
    return [
        Frame(
            dict(frame),
            frame.mode,
            start + index * step,
            dict(frame.raw_horodates),
            frame.rejected,
            frame.unknown,
        )
        for index, frame in enumerate(frames)
    ]
