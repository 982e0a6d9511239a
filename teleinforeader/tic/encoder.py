"""The encoder: groups -> wire bytes, exactly as a meter sends them.

Used by the simulated meter (so everything downstream runs as with a real line) and by tests
(round trips). It does not validate values against the label table: tests need to build bad
frames too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Optional, Union

from teleinforeader.tic.groups import checksum
from teleinforeader.tic.labels import HISTORIC, STANDARD

GroupSpec = Union[tuple[str, str], tuple[str, Optional[str], str]]


def encode_group(label: str, value: str, mode: str, horodate: str | None = None) -> bytes:
    """LF label SEP [horodate SEP] value SEP checksum CR."""
    if mode == HISTORIC:
        if horodate is not None:
            raise ValueError("historic groups carry no horodate")
        region = f"{label} {value}".encode("ascii")
        return b"\n" + region + b" " + bytes((checksum(region),)) + b"\r"
    if mode != STANDARD:
        raise ValueError(f"mode must be {HISTORIC!r} or {STANDARD!r}, not {mode!r}")
    if horodate is None:
        region = f"{label}\t{value}\t".encode("ascii")
    else:
        region = f"{label}\t{horodate}\t{value}\t".encode("ascii")
    return b"\n" + region + bytes((checksum(region),)) + b"\r"


def encode_frame(
    groups: Mapping[str, str] | Iterable[GroupSpec],
    mode: str,
    horodates: Mapping[str, str] | None = None,
) -> bytes:
    """STX, the groups in the order given, ETX.

    `groups` is a mapping label -> value (with `horodates` label -> horodate for standard
    labels that carry one), or an iterable of (label, value) / (label, horodate, value) tuples.
    """
    items: Iterable[GroupSpec]
    if isinstance(groups, Mapping):
        stamps = horodates or {}
        items = [(label, stamps.get(label), value) for label, value in groups.items()]
    else:
        items = groups
    parts = [b"\x02"]
    for item in items:
        if len(item) == 2:
            label, value = item  # type: ignore[misc]
            horodate = None
        else:
            label, horodate, value = item  # type: ignore[misc]
        parts.append(encode_group(label, value, mode, horodate))
    parts.append(b"\x03")
    return b"".join(parts)
