"""Decoder throughput: frames/s on realistic streams of both modes, with full validation.

Each stream is built with the encoder as a meter would send it: indexes grow, power and current
vary every frame, and in standard mode DATE changes every frame, so the decoder's memo of
repeating groups only helps where a real meter repeats itself too. The stream is fed in 4 KiB
chunks (what a serial read returns when data waits). Times are the process's CPU time: the
decoder runs on one thread and waits for nothing, so other work on the machine skews it less
than wall time. Target on a desktop core: >= 100,000 historic and >= 25,000 standard frames/s
(a Pi Zero is about 20x slower and must decode one frame a second with room to spare).
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from typing import Callable

from benchmarks.common import machine, median_seconds, print_table
from teleinforeader.tic import Decoder, encode_frame

FRAMES = 2000
CHUNK = 4096
Groups = list[tuple]


def _historic_base(n: int, rng: random.Random) -> Groups:
    amps = rng.randint(1, 30)
    return [
        ("ADCO", "021861348497"),
        ("OPTARIF", "BASE"),
        ("ISOUSC", "30"),
        ("BASE", f"{5104639 + n // 3:09d}"),
        ("PTEC", "TH.."),
        ("IINST", f"{amps:03d}"),
        ("IMAX", "090"),
        ("PAPP", f"{amps * 230 // 10 * 10:05d}"),
        ("HHPHC", "A"),
        ("MOTDETAT", "000000"),
    ]


def _historic_tempo(n: int, rng: random.Random) -> Groups:
    amps = rng.randint(1, 45)
    return [
        ("ADCO", "021861348497"),
        ("OPTARIF", "BBR("),
        ("ISOUSC", "45"),
        ("BBRHCJB", f"{18328702 + n // 2:09d}"),
        ("BBRHPJB", "023739545"),
        ("BBRHCJW", "001466099"),
        ("BBRHPJW", "002132883"),
        ("BBRHCJR", "000860118"),
        ("BBRHPJR", "000844115"),
        ("PTEC", "HCJB"),
        ("DEMAIN", "ROUG"),
        ("IINST", f"{amps:03d}"),
        ("IMAX", "090"),
        ("PAPP", f"{amps * 230 // 10 * 10:05d}"),
        ("HHPHC", "A"),
        ("MOTDETAT", "000000"),
    ]


def _historic_three_phase(n: int, rng: random.Random) -> Groups:
    amps = [rng.randint(0, 20) for _ in range(3)]
    return [
        ("ADCO", "021330274552"),
        ("OPTARIF", "BASE"),
        ("ISOUSC", "30"),
        ("BASE", f"{73260524 + n // 2:09d}"),
        ("PTEC", "TH.."),
        *[(f"IINST{phase}", f"{a:03d}") for phase, a in zip("123", amps)],
        ("IMAX1", "031"),
        ("IMAX2", "032"),
        ("IMAX3", "036"),
        ("PMAX", "15020"),
        ("PAPP", f"{sum(amps) * 230:05d}"),
        ("MOTDETAT", "000000"),
        ("PPOT", "00"),
    ]


def _horodate(moment: datetime) -> str:
    return moment.strftime("H%y%m%d%H%M%S")


def _standard_common(n: int, rng: random.Random, now: datetime, va: int) -> Groups:
    east = 21849106 + n // 4
    return [
        ("ADSC", "041776199277"),
        ("VTIC", "02"),
        ("DATE", _horodate(now), ""),
        ("NGTF", "     TEMPO      "),
        ("LTARF", "   HC  BLANC    "),
        ("EAST", f"{east:09d}"),
        ("EASF01", f"{east // 3:09d}"),
        ("EASF02", f"{east // 3:09d}"),
        *[(f"EASF{i:02d}", "000000000") for i in range(3, 11)],
        ("EASD01", f"{east // 2:09d}"),
        ("EASD02", f"{east // 2:09d}"),
        ("EASD03", "000000000"),
        ("EASD04", "000000000"),
        ("IRMS1", f"{va // 230:03d}"),
        ("URMS1", f"{rng.randint(228, 242):03d}"),
        ("PREF", "12"),
        ("PCOUP", "12"),
        ("SINSTS", f"{va:05d}"),
        ("SMAXSN", "H200214175135", "10802"),
        ("SMAXSN-1", "H200213190244", "09720"),
        ("CCASN", "H200214230000", "02136"),
        ("CCASN-1", "H200214223000", "02410"),
        ("UMOY1", "H200214230000", "236"),
        ("STGE", "013A0000"),
        ("MSG1", "PAS DE          MESSAGE         "),
        ("PRM", "07361794479930"),
        ("RELAIS", "000"),
        ("NTARF", "03"),
        ("NJOURF", "00"),
        ("NJOURF+1", "00"),
        ("PJOURF+1", "00004001 06004002 22004001" + " NONUTILE" * 8),
    ]


def _standard_single_phase(n: int, rng: random.Random) -> Groups:
    now = datetime(2020, 2, 14, 23, 8, 4) + timedelta(seconds=n)
    return _standard_common(n, rng, now, rng.randint(100, 9000))


def _standard_three_phase_producer(n: int, rng: random.Random) -> Groups:
    now = datetime(2020, 2, 14, 23, 8, 4) + timedelta(seconds=n * 1.3)
    phases = [rng.randint(50, 3000) for _ in range(3)]
    return [
        *_standard_common(n, rng, now, sum(phases)),
        ("EAIT", f"{671631 + n // 5:09d}"),
        *[(f"ERQ{q}", f"{1000 * q + n // 50:09d}") for q in range(1, 5)],
        *[(f"IRMS{p}", f"{va // 230:03d}") for p, va in zip("23", phases[1:])],
        *[(f"URMS{p}", f"{rng.randint(228, 242):03d}") for p in "23"],
        *[(f"SINSTS{p}", f"{va:05d}") for p, va in zip("123", phases)],
        *[(f"SMAXSN{p}", "H200214175135", "03411") for p in "123"],
        *[(f"SMAXSN{p}-1", "H200213101142", "03366") for p in "123"],
        *[(f"UMOY{p}", "H200214230000", "237") for p in "23"],
        ("SINSTI", f"{rng.randint(0, 3000):05d}"),
        ("SMAXIN", "H200214121000", "02990"),
        ("SMAXIN-1", "H200213123000", "03120"),
        ("CCAIN", "H200214230000", "00000"),
        ("CCAIN-1", "H200214223000", "00000"),
    ]


STREAMS: list[tuple[str, str, Callable[[int, random.Random], Groups]]] = [
    ("historic BASE, single-phase", "historic", _historic_base),
    ("historic Tempo, single-phase", "historic", _historic_tempo),
    ("historic BASE, three-phase", "historic", _historic_three_phase),
    ("standard, single-phase", "standard", _standard_single_phase),
    ("standard, three-phase producer", "standard", _standard_three_phase_producer),
]


def build_stream(mode: str, frame_groups: Callable[[int, random.Random], Groups]) -> bytes:
    rng = random.Random(54)  # the same stream on every run and machine
    return b"".join(encode_frame(frame_groups(n, rng), mode) for n in range(FRAMES))


def decode_all(stream: bytes) -> int:
    decoder = Decoder()
    frames = 0
    for start in range(0, len(stream), CHUNK):
        frames += len(decoder.feed(stream[start : start + CHUNK]))
    if decoder.stats.rejected_groups or frames != FRAMES:
        raise RuntimeError(f"benchmark stream did not decode cleanly: {decoder.stats}")
    return frames


def main() -> None:
    rows = []
    for name, mode, frame_groups in STREAMS:
        stream = build_stream(mode, frame_groups)
        seconds = median_seconds(lambda stream=stream: decode_all(stream), clock=time.process_time)
        groups = len(frame_groups(0, random.Random(0)))
        rows.append((name, groups, len(stream) // FRAMES, FRAMES / seconds, seconds / FRAMES * 1e6))
    print_table(
        f"TIC decoder, {FRAMES} frames per stream, median CPU time of 5 runs",
        ["stream", "groups", "bytes/frame", "frames/s", "µs/frame"],
        rows,
    )


if __name__ == "__main__":
    print(machine())
    print()
    main()
