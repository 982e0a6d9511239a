"""Raw captures for tests and benchmarks: a steady single-phase meter whose BASE index goes up by
one Wh a frame, so that every frame carries a unique mark (and the plausibility guard, which
allows several Wh a frame, passes it untouched) while current and power vary as on a real line."""

from __future__ import annotations

from pathlib import Path

from teleinforeader.tic import encode_frame

# Captures under a permissive licence are copied into the project; the others are read from the
# shared folder next to the repository and never copied (see tests/data/SOURCES.md).
PROJECT_CAPTURES = Path(__file__).resolve().parents[1] / "data"
SHARED_CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "captures"

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


def load_capture(name: str) -> bytes:
    """A capture by file name: the project's copy, else the shared folder (the test is
    skipped, saying why, when the capture is not redistributable and that folder is absent)."""
    import pytest  # benchmarks use this module too, without pytest

    local = PROJECT_CAPTURES / name
    if local.exists():
        return local.read_bytes()
    if not SHARED_CAPTURES.is_dir():
        pytest.skip(f"{name} is not redistributable and {SHARED_CAPTURES} is absent")
    return (SHARED_CAPTURES / name).read_bytes()
