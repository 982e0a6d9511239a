"""/metrics: the latest frame and the daemon's own figures in the Prometheus text format (0.0.4).

Meter values (`teleinfo_*`) come from the latest frame the guard let through, labelled by the
meter's serial number: each energy index a counter in its unit, labelled with its tariff
period; powers, currents and voltages gauges. Daemon figures (`teleinforeader_*`): every
pipeline counter, rejected groups by reason, and each sink's liveness, backlog and figures.
Written by hand (the format is a few lines of text): no client library on a Pi.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from teleinforeader import __version__
from teleinforeader.record import Record
from teleinforeader.sinks.base import SinkStatus
from teleinforeader.sinks.http.views import age_seconds
from teleinforeader.tic import LABELS, Frame
from teleinforeader.tic.groups import CHARSET, CHECKSUM, DUPLICATE, FORMAT, MALFORMED, TOO_LONG
from teleinforeader.tic.labels import CURRENT, INDEX, POWER, VOLTAGE
from teleinforeader.tic.tariffs import current_period, index_period

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Family(Record):
    name: str
    type: str  # counter | gauge
    help: str


# (label kind, unit of the typed value) -> the metric family its values go to
_METER_FAMILIES: dict[tuple[str, str], Family] = {
    (INDEX, "Wh"): Family("teleinfo_energy_wh", "counter", "Energy index (Wh), by tariff period"),
    (INDEX, "VArh"): Family(
        "teleinfo_reactive_energy_varh", "counter", "Reactive energy index (VArh)"
    ),
    (INDEX, "dal"): Family("teleinfo_fluid_index_dal", "counter", "Other fluid index (dal)"),
    (POWER, "VA"): Family("teleinfo_apparent_power_va", "gauge", "Apparent power (VA)"),
    (POWER, "W"): Family("teleinfo_active_power_w", "gauge", "Active power (W)"),
    (CURRENT, "A"): Family("teleinfo_current_a", "gauge", "Current (A)"),
    (VOLTAGE, "V"): Family("teleinfo_voltage_v", "gauge", "Voltage (V)"),
}
# The decoder counts a reason once it happens; a scraper wants every series from the start.
_DECODER_REASONS = (CHECKSUM, FORMAT, CHARSET, MALFORMED, TOO_LONG, DUPLICATE)


def render(
    latest: Frame | None,
    counters: Mapping[str, int],
    sinks: Sequence[tuple[str, SinkStatus]],
    started: float,
) -> bytes:
    """The whole exposition, meter first, then the daemon."""
    lines: list[str] = []
    if latest is not None and latest.meter_id is not None:
        _meter(latest, lines)
    _daemon(counters, sinks, started, lines)
    return ("\n".join(lines) + "\n").encode()


def _meter(frame: Frame, lines: list[str]) -> None:
    meter = frame.meter_id or ""
    samples: dict[Family, list[str]] = {}
    specs = LABELS[frame.mode]
    for label in frame:
        spec = specs.get(label)
        value = frame.int(label)
        if spec is None or value is None or spec.typed_unit is None:
            continue
        family = _METER_FAMILIES.get((spec.kind, spec.typed_unit))
        if family is None:
            continue
        names = {"meter": meter, "label": label}
        if spec.kind == INDEX:
            names["period"] = index_period(frame.mode, label)
        samples.setdefault(family, []).append(_sample(family, names, value))
    period = current_period(frame)
    info = Family("teleinfo_meter_info", "gauge", "The meter behind the reader")
    _family(lines, info)
    lines.append(_sample(info, {"meter": meter, "mode": frame.mode}, 1))
    if period is not None:
        family = Family("teleinfo_tariff_period", "gauge", "The tariff period running now")
        _family(lines, family)
        names = {"meter": meter, "period": period.name, "index": period.index or ""}
        lines.append(_sample(family, names, 1))
    for family, family_samples in samples.items():
        _family(lines, family)
        lines.extend(family_samples)
    age = age_seconds(frame)
    if age is not None:
        family = Family("teleinfo_frame_age_seconds", "gauge", "Seconds since the latest frame")
        _family(lines, family)
        lines.append(_sample(family, {"meter": meter}, round(age, 3)))


def _daemon(
    counters: Mapping[str, int],
    sinks: Sequence[tuple[str, SinkStatus]],
    started: float,
    lines: list[str],
) -> None:
    info = Family("teleinforeader_info", "gauge", "The reader's version")
    _family(lines, info)
    lines.append(_sample(info, {"version": __version__}, 1))
    uptime = Family("teleinforeader_uptime_seconds", "gauge", "Seconds since the daemon started")
    _family(lines, uptime)
    lines.append(_sample(uptime, {}, round(time.monotonic() - started, 3)))
    rejected = Family(
        "teleinforeader_groups_rejected", "counter", "Groups refused by the decoder or the guard"
    )
    _family(lines, rejected)
    reasons = dict.fromkeys(_DECODER_REASONS, 0)
    reasons.update(
        (name[len("rejected_") :], value)
        for name, value in counters.items()
        if name.startswith("rejected_")
    )
    lines.extend(_sample(rejected, {"reason": reason}, n) for reason, n in reasons.items())
    for name, value in counters.items():
        if name.startswith("rejected_"):
            continue
        family = Family(f"teleinforeader_{name}", "counter", f"Pipeline counter {name}")
        _family(lines, family)
        lines.append(_sample(family, {}, value))
    up = Family("teleinforeader_sink_up", "gauge", "1 while the sink's thread is alive")
    backlog = Family("teleinforeader_sink_backlog", "gauge", "Frames the sink has yet to handle")
    figure = Family("teleinforeader_sink_figure", "gauge", "A sink's own figures (summary line)")
    for family, values in (
        (up, [({"sink": name}, int(status.alive)) for name, status in sinks]),
        (backlog, [({"sink": name}, status.backlog) for name, status in sinks]),
        (
            figure,
            [
                ({"sink": name, "name": key}, value)
                for name, status in sinks
                for key, value in status.counters.items()
            ],
        ),
    ):
        _family(lines, family)
        lines.extend(_sample(family, names, value) for names, value in values)


def _family(lines: list[str], family: Family) -> None:
    # The text format names a counter's family by its sample name, `_total` included.
    lines.append(f"# HELP {_name(family)} {family.help}")
    lines.append(f"# TYPE {_name(family)} {family.type}")


def _name(family: Family) -> str:
    return family.name + ("_total" if family.type == "counter" else "")


def _sample(family: Family, names: Mapping[str, str], value: float) -> str:
    return f"{_name(family)}{_labels(names.items())} {value}"


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    text = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return "{" + text + "}" if text else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
