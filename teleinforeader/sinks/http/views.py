"""What the page and the JSON API show: the latest frame as a reading, the daemon's health.

Plain dicts ready for `json`: built in the HTTP thread, only when someone asks (a request, or a
browser on the live stream), never in the pipeline's thread.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from teleinforeader import __version__
from teleinforeader.sinks.base import SinkStatus
from teleinforeader.tic import HISTORIC, LABELS, Frame
from teleinforeader.tic.tariffs import (
    current_period,
    energy_indexes,
    index_period,
    instant_power,
    subscribed_power,
    tempo_colours,
    total_energy,
)

# Labels shown as the currents and voltages now, by mode.
_CURRENTS = {
    HISTORIC: ("IINST", "IINST1", "IINST2", "IINST3"),
    "standard": ("IRMS1", "IRMS2", "IRMS3"),
}
_VOLTAGES = {HISTORIC: (), "standard": ("URMS1", "URMS2", "URMS3")}
UNKNOWN = "unknown"  # a Tempo colour not known (yet)


def age_seconds(frame: Frame, now: datetime | None = None) -> float | None:
    """How long ago the frame was received."""
    if frame.received_at is None:
        return None
    now = now or datetime.now(timezone.utc)
    return max((now - frame.received_at).total_seconds(), 0.0)


def reading(frame: Frame) -> dict[str, Any]:
    """The latest frame as the page shows it: values in their units, the meter, its status."""
    spec = LABELS[frame.mode]
    received = frame.received_at.astimezone() if frame.received_at else None
    power = instant_power(frame)
    period = current_period(frame)
    colours = tempo_colours(frame)
    subscription = subscribed_power(frame)
    return {
        "time": received.isoformat() if received else None,
        "epoch": received.timestamp() if received else None,
        "mode": frame.mode,
        "meter": frame.meter_id,
        "option": _option(frame),
        "subscribed": None
        if subscription is None
        else {"value": subscription[0], "unit": subscription[1]},
        "power": None if power is None else _measure(frame, power),
        "currents": [_measure(frame, label) for label in _CURRENTS[frame.mode] if label in frame],
        "voltages": [_measure(frame, label) for label in _VOLTAGES[frame.mode] if label in frame],
        "period": None
        if period is None
        else {"index": period.index, "code": period.code, "name": period.name},
        "tempo": None
        if colours is None
        else {"today": colours[0] or UNKNOWN, "tomorrow": colours[1] or UNKNOWN},
        "indexes": [
            {
                "label": label,
                "value": frame.int(label),
                "unit": "Wh",
                "period": index_period(frame.mode, label),
            }
            for label in energy_indexes(frame.mode)
            if label in frame and frame.int(label)  # unused registers read 0
        ],
        "total_energy": total_energy(frame),
        "status": _status(frame),
        "values": frame.typed_values(),
        "units": {label: spec[label].typed_unit for label in frame if label in spec},
        "rejected": len(frame.rejected),
    }


def _measure(frame: Frame, label: str) -> dict[str, Any]:
    return {"label": label, "value": frame.int(label), "unit": LABELS[frame.mode][label].typed_unit}


def _option(frame: Frame) -> str | None:
    """The tariff option (OPTARIF) or, in standard mode, the supplier's calendar (NGTF)."""
    raw = frame.get("OPTARIF") if frame.mode == HISTORIC else frame.get("NGTF")
    return raw.strip().rstrip(".") if raw else None


def _status(frame: Frame) -> dict[str, Any] | None:
    """The status word decoded: every STGE field; MOTDETAT has no public meaning but zero."""
    if frame.mode == HISTORIC:
        raw = frame.get("MOTDETAT")
        if raw is None:
            return None
        meaning = "normal" if raw == "000000" else "not zero: reserved for the distributor"
        return {"label": "MOTDETAT", "raw": raw, "fields": {"state": meaning}}
    stge = frame.stge
    if stge is None:
        return None
    fields = stge._asdict()
    del fields["value"]
    return {"label": "STGE", "raw": frame["STGE"], "fields": fields}


def daemon_status(
    counters: Mapping[str, int],
    sinks: Sequence[tuple[str, SinkStatus]],
    started: float,
    latest: Frame | None,
) -> dict[str, Any]:
    """Uptime, frames, rejections by reason, guard holds and every sink's figures."""
    rejected = {
        name[len("rejected_") :]: n for name, n in counters.items() if name.startswith("rejected_")
    }
    return {
        "version": __version__,
        "uptime": round(time.monotonic() - started, 3),
        "frames": counters.get("frames", 0),
        "published": counters.get("published", 0),
        "rejected": rejected,
        "guard": {name: counters.get(name, 0) for name in ("held", "confirmed", "resets")},
        "last_frame_age": None if latest is None else age_seconds(latest),
        "counters": dict(counters),
        "sinks": {
            name: {
                "alive": status.alive,
                "backlog": status.backlog,
                "counters": dict(status.counters),
            }
            for name, status in sinks
        },
    }
