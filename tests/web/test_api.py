"""The JSON API, /metrics and /healthz of a real daemon, on SQLite and on MariaDB.

The database holds three earlier days of a HC/HP meter (a row every 5 minutes), then the test
sends live frames through the daemon; energy per day must be the index differences of exactly
those frames, whichever backend stores them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.waiting import wait_for
from tests.web.http_helpers import (
    METER,
    Reading,
    Response,
    WebDaemon,
    database_sections,
    local_midnight,
    seed_database,
    seed_readings,
    wait_published,
    web_daemon,
)

DAYS = 3


class Seeded(NamedTuple):
    daemon: WebDaemon
    readings: list[tuple[datetime, Reading]]
    midnight: datetime  # today's, as the readings were seeded: they end there


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Seeded]:
    server = database = None
    if request.param == "mariadb":
        server = request.getfixturevalue("mariadb_server")
        database = request.getfixturevalue("mariadb_database")
    sections, settings = database_sections(request.param, tmp_path, server, database)
    midnight = local_midnight()
    readings = seed_readings(DAYS, midnight)
    seed_database(settings, tmp_path / "state", readings)
    with web_daemon(tmp_path, sections) as daemon:
        yield Seeded(daemon, readings, midnight)


def send_live(daemon: WebDaemon, first: Reading, count: int) -> list[Reading]:
    """`count` frames after `first` (off-peak, 3 Wh each), waiting until the last is out."""
    sent = []
    for n in range(count):
        reading = Reading(first.hchc + 3 * n, first.hchp, 1000 + n)
        daemon.meter.send(reading)
        sent.append(reading)
    wait_published(daemon, sent[-1].papp)
    return sent


def stored(daemon: WebDaemon, count: int) -> None:
    wait_for(
        lambda: (
            daemon.json("/api/v1/status")["sinks"]["database"]["counters"]["rows_written"] >= count
        ),
        20,
        f"{count} rows written",
    )


def test_history_energy_is_the_index_differences_of_the_frames(seeded: Seeded) -> None:
    daemon, readings, midnight = seeded
    last_seeded = readings[-1][1]
    live = send_live(daemon, Reading(last_seeded.hchc + 10, last_seeded.hchp, 0), 6)
    stored(daemon, len(live))

    energy = daemon.json(f"/api/v1/history?series=energy&meter={METER}")
    assert energy["meter"] == METER and energy["mode"] == "historic"
    assert energy["periods"] == {"HCHC": "off-peak", "HCHP": "peak"}
    assert len(energy["steps"]) == 30
    days = [step for step in energy["steps"] if step["energy"]]
    assert len(days) >= DAYS + 1  # the seeded days and today
    for label, attribute in (("HCHC", "hchc"), ("HCHP", "hchp")):
        first = getattr(readings[0][1], attribute)
        last = getattr(live[-1], attribute)
        assert sum(step["energy"][label] for step in days) == last - first
    # Each earlier day: its first index to the next day's first, from the seeded rows.
    for back in range(DAYS, 1, -1):
        start, end = midnight - timedelta(days=back), midnight - timedelta(days=back - 1)
        day = [r for moment, r in readings if start <= moment < end]
        following = next(r for moment, r in readings if moment >= end)
        step = next(s for s in days if s["start"] == int(start.timestamp()))
        assert step["first"] == {"HCHC": day[0].hchc, "HCHP": day[0].hchp}
        assert step["energy"] == {
            "HCHC": following.hchc - day[0].hchc,
            "HCHP": following.hchp - day[0].hchp,
        }
        assert step["total"] == sum(step["energy"].values())
    today = energy["steps"][-1]
    assert today["energy"]["HCHC"] == live[-1].hchc - live[0].hchc


def test_power_history_latest_and_status(seeded: Seeded) -> None:
    daemon, readings, midnight = seeded
    last_seeded = readings[-1][1]
    live = send_live(daemon, Reading(last_seeded.hchc + 10, last_seeded.hchp, 0), 3)
    stored(daemon, len(live))

    before = datetime.now()
    power = daemon.json("/api/v1/history?series=power")
    after = datetime.now()
    assert power["unit"] == "VA" and power["label"] == "PAPP" and power["step"] == 60
    assert 0 < len(power["points"]) <= 1440

    def peak(now: datetime) -> int:
        """The highest power of the 24 hours before `now`, the live frames included."""
        day = [r.papp for moment, r in readings if moment >= now - timedelta(days=1)]
        return max(day + [r.papp for r in live])

    # The daemon's 24 hours end when it answered: between `before` and `after`.
    assert peak(after) <= max(point[2] for point in power["points"]) <= peak(before)
    since = (midnight - timedelta(DAYS)).isoformat()
    coarse = daemon.json(f"/api/v1/history?series=power&step=3600&from={since}")
    assert len(coarse["points"]) == DAYS * 24 + 1  # three seeded days by the hour, and now
    assert all(point[1] <= point[2] for point in coarse["points"])

    latest = daemon.json("/api/v1/latest")
    assert latest["meter"] == METER and latest["option"] == "HC"
    assert latest["power"] == {"label": "PAPP", "value": live[-1].papp, "unit": "VA"}
    assert latest["period"] == {"index": "HCHC", "code": "HC..", "name": "off-peak"}
    assert latest["subscribed"] == {"value": 30, "unit": "A"}
    assert latest["status"]["fields"] == {"state": "normal"}
    assert latest["total_energy"] == live[-1].hchc + live[-1].hchp

    status = daemon.json("/api/v1/status")
    assert status["healthy"] is True
    assert status["frames"] >= len(live)
    assert set(status["sinks"]) == {"database", "http"}
    assert status["guard"]["held"] >= 2  # each index's first value waits for confirmation


def test_history_bounds_and_errors(seeded: Seeded) -> None:
    daemon = seeded.daemon
    for query, message in (
        ("series=volts", "series"),
        ("series=power&step=1&from=2020-01-01", "from, to"),
        ("series=power&step=1", "at most 2000 steps"),
        ("series=energy&step=60", "at most 400 steps"),
        ("series=power&from=yesterday", "ISO 8601"),
        ("series=power&from=2030-01-02&to=2030-01-01", "before"),
    ):
        response = daemon.get(f"/api/v1/history?{query}")
        assert response.status == 400, query
        assert message in json.loads(response.body)["error"], query
    assert daemon.get("/api/v1/nothing").status == 404


def test_metrics_parse_as_prometheus_text(seeded: Seeded) -> None:
    daemon, readings, _ = seeded
    last_seeded = readings[-1][1]
    live = send_live(daemon, Reading(last_seeded.hchc + 10, last_seeded.hchp, 0), 3)

    response = daemon.get("/metrics")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.body.decode())}
    energy = families["teleinfo_energy_wh"]
    assert energy.type == "counter"
    values = {s.labels["label"]: (s.value, s.labels) for s in energy.samples}
    assert values["HCHC"][0] == live[-1].hchc
    assert values["HCHC"][1] == {"meter": METER, "label": "HCHC", "period": "off-peak"}
    assert values["HCHP"][0] == live[-1].hchp
    power = families["teleinfo_apparent_power_va"]
    assert power.type == "gauge"
    assert [(s.labels["label"], s.value) for s in power.samples] == [("PAPP", live[-1].papp)]
    assert families["teleinfo_current_a"].type == "gauge"
    assert families["teleinforeader_frames"].samples[0].value >= len(live)
    reasons = {s.labels["reason"] for s in families["teleinforeader_groups_rejected"].samples}
    assert {"checksum", "decrease", "unconfirmed"} <= reasons
    up = {s.labels["sink"]: s.value for s in families["teleinforeader_sink_up"].samples}
    assert up == {"database": 1.0, "http": 1.0}
    assert families["teleinforeader_uptime_seconds"].samples[0].value > 0


def healthy_while_fed(daemon: WebDaemon, frames: Iterator[Reading]) -> Response:
    """/healthz, asked after each frame sent, until it says 200. Not two frames then one
    request: with a silence_timeout this short the line may be reopened meanwhile (what comes
    during a reopen is lost), and a loaded machine may answer once the latest frame aged past it."""
    answers: list[Response] = []

    def healthy() -> bool:
        with contextlib.suppress(OSError):  # sent as the line is closed: lost, as on a real one
            daemon.meter.send(next(frames))
        answers.append(daemon.get("/healthz"))
        return answers[-1].status == 200

    wait_for(healthy, 20, "/healthz saying 200 while frames come", interval=0.2)
    return answers[-1]


def test_healthz_goes_503_on_a_silent_line_and_back(tmp_path: Path) -> None:
    sections, _ = database_sections("sqlite", tmp_path, None, None)
    with web_daemon(tmp_path, sections, silence_timeout=1.5) as daemon:
        response = daemon.get("/healthz")
        assert response.status == 503 and b"no frame received yet" in response.body
        frames = (Reading(1000 + n, 2000, 500 + n) for n in itertools.count())
        assert healthy_while_fed(daemon, frames).body.startswith(b"ok: last frame")
        silent: list[Response] = []
        wait_for(
            lambda: silent.append(daemon.get("/healthz")) or silent[-1].status == 503,
            20,
            "503 on a silent line",
        )
        assert b"the line is silent" in silent[-1].body
        assert healthy_while_fed(daemon, frames).body.startswith(b"ok: last frame")
