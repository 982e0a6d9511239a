"""Raw captures for tests and benchmarks: a steady single-phase meter whose BASE index goes up by
one Wh a frame, so that every frame carries a unique mark (and the plausibility guard, which
allows several Wh a frame, passes it untouched) while current and power vary as on a real line."""

from __future__ import annotations

from pathlib import Path

from teleinforeader.tic import encode_frame

FIRST_INDEX = 1_000_000


def historic_frame(index: int) -> bytes:
    """A historic BASE frame (30 A subscription) with energy index `index`."""
    return encode_frame(
        {
            "ADCO": "021728123456",
            "OPTARIF": "BASE",
            "ISOUSC": "30",
            "BASE": f"{index:09d}",
            "PTEC": "TH..",
            "IINST": f"{index % 30:03d}",
            "IMAX": "090",
            "PAPP": f"{(index * 37) % 6000:05d}",
            "HHPHC": "A",
            "MOTDETAT": "000000",
        },
        "historic",
    )


def write_capture(path: Path, count: int, first_index: int = FIRST_INDEX) -> list[int]:
    """`count` frames into `path`; returns their BASE indexes."""
    indexes = list(range(first_index, first_index + count))
    path.write_bytes(b"".join(historic_frame(index) for index in indexes))
    return indexes
