"""The TIC protocol, with no I/O: labels, checksums, frames, the decoder and the encoder."""

from teleinforeader.tic.decoder import AUTO, Decoder, DecoderStats, decode
from teleinforeader.tic.frame import Frame, Horodate, Rejection
from teleinforeader.tic.labels import HISTORIC, LABELS, STANDARD, LabelSpec


def __getattr__(name: str) -> object:
    # The encoder serves the simulator and the tests, not the daemon: imported when asked for.
    if name in ("encode_frame", "encode_group"):
        from teleinforeader.tic import encoder

        return getattr(encoder, name)
    raise AttributeError(name)


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
