"""The TIC protocol, with no I/O: labels, checksums, frames, the decoder and the encoder."""

from teleinforeader.tic.decoder import AUTO, Decoder, DecoderStats, decode
from teleinforeader.tic.encoder import encode_frame, encode_group
from teleinforeader.tic.frame import Frame, Horodate, Rejection
from teleinforeader.tic.labels import HISTORIC, LABELS, STANDARD, LabelSpec

__all__ = [
    "AUTO",
    "HISTORIC",
    "LABELS",
    "STANDARD",
    "Decoder",
    "DecoderStats",
    "Frame",
    "Horodate",
    "LabelSpec",
    "Rejection",
    "decode",
    "encode_frame",
    "encode_group",
]
