"""Frames made from a dict of groups, for the tests of what is derived from a frame."""

from __future__ import annotations

from teleinforeader.tic import Frame, decode, encode_frame

HISTORIC_HCHP = {  # a historic single-phase meter on the HC/HP option, every group it sends
    "ADCO": "021861348497",
    "OPTARIF": "HC..",
    "ISOUSC": "45",
    "HCHC": "001000000",
    "HCHP": "002000000",
    "PTEC": "HP..",
    "IINST": "010",
    "IMAX": "090",
    "PAPP": "02380",
    "HHPHC": "A",
    "MOTDETAT": "000000",
}


def frame(groups: dict[str, str], mode: str = "historic") -> Frame:
    """The frame of a meter sending `groups`, checksums right."""
    (decoded,) = decode(encode_frame(groups, mode))
    return decoded


def without(groups: dict[str, str], *labels: str) -> dict[str, str]:
    return {label: value for label, value in groups.items() if label not in labels}
