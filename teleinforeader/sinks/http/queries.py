"""/api/v1/history: its parameters, its bounds, and the thread that runs its queries.

A query may take a while on a Pi's SD card; run in the HTTP thread it would stall every live
stream and every scrape. So one worker thread owns the history connection and runs the queries
one at a time, from a short queue (a full queue answers 503 at once), and hands each response
back to the HTTP thread. It sleeps on its queue: no query, no wake-up.
"""

from __future__ import annotations

import json
import logging
import math
import queue
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Callable

from teleinforeader.sinks.base import Worker
from teleinforeader.sinks.database.history import (
    MAX_ENERGY_BUCKETS,
    MAX_POWER_POINTS,
    History,
    Meter,
    align,
    steps_between,
)
from teleinforeader.sinks.http.protocol import Reply, Status
from teleinforeader.tic.tariffs import INSTANT_POWER, energy_indexes, index_period

log = logging.getLogger(__name__)

QUEUE_LIMIT = 8  # history requests waiting at most; more get 503
DAY = 86400
DEFAULT_POWER_SPAN = timedelta(days=1)
DEFAULT_ENERGY_DAYS = 30
MAX_SPAN = timedelta(days=400)
JSON = "application/json"
_encode = json.JSONEncoder(separators=(",", ":")).encode

Job = Callable[[History], Reply]


class BadRequestError(ValueError):
    """A parameter out of its bounds: answered 400 with the message."""


def json_reply(status: int, document: object) -> Reply:
    return Reply(
        status, (_encode(document) + "\n").encode(), JSON, (("Cache-Control", "no-store"),)
    )


class QueryWorker:
    """Runs history jobs in order on its own thread; `done(token, reply)` gets each answer."""

    def __init__(self, history: Callable[[], History], done: Callable[[object, Reply], None]):
        self._make_history = history
        self._done = done
        self._jobs: queue.Queue[tuple[object, Job] | None] = queue.Queue(QUEUE_LIMIT)
        self._worker = Worker("http-history", self._run)
        self.queries = 0
        self.errors = 0

    def start(self) -> None:
        self._worker.start()

    def submit(self, token: object, job: Job) -> bool:
        """Queue `job`; False (nothing queued) when the queue is full."""
        try:
            self._jobs.put_nowait((token, job))
        except queue.Full:
            return False
        return True

    def stop(self, timeout: float) -> None:
        if not self._worker.is_alive():
            return
        while True:  # pending jobs are abandoned: their connections are closing anyway
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        self._jobs.put(None)
        self._worker.join(timeout)

    @property
    def healthy(self) -> bool:
        return self._worker.healthy

    @property
    def backlog(self) -> int:
        return self._jobs.qsize()

    def _run(self) -> None:
        history = self._make_history()
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    break
                token, job = item
                self.queries += 1
                try:
                    answer = job(history)
                except Exception as exc:
                    self.errors += 1
                    log.warning("history query failed: %s", exc)
                    answer = json_reply(
                        Status.SERVICE_UNAVAILABLE, {"error": f"database unavailable: {exc}"}
                    )
                self._done(token, answer)
        finally:
            history.close()


# -- the request -------------------------------------------------------------------------------


def history_job(query: Mapping[str, str], hint: Meter | None) -> Job:
    """The job answering `/api/v1/history?query`; raises BadRequestError at once for bad input,
    before anything is queued. `hint`: the meter of the latest frame, if any."""
    series = query.get("series", "power")
    if series not in ("power", "energy"):
        raise BadRequestError('series: expected "power" or "energy"')
    now = datetime.now()
    end = _moment(query, "to") or now
    if series == "power":
        start = _moment(query, "from") or end - DEFAULT_POWER_SPAN
    else:
        start = _moment(query, "from") or align(end, DAY) - timedelta(days=DEFAULT_ENERGY_DAYS - 1)
    if not start < end:
        raise BadRequestError("from: must be before to")
    if end - start > MAX_SPAN:
        raise BadRequestError(f"from, to: at most {MAX_SPAN.days} days apart")
    limit = MAX_POWER_POINTS if series == "power" else MAX_ENERGY_BUCKETS
    default = DAY if series == "energy" else _power_step(end - start)
    step = _integer(query, "step", default)
    if step < 1:
        raise BadRequestError("step: expected a number of seconds of at least 1")
    if steps_between(start, end, step) > limit:
        smallest = math.ceil((end - align(start, step)).total_seconds() / limit)
        raise BadRequestError(f"step: at most {limit} steps; use step={smallest} or more")
    wanted = query.get("meter")

    def job(history: History) -> Reply:
        meter = _meter(history, hint, wanted)
        if meter is None:
            document: dict[str, object] = {"series": series, "meter": None, "step": step}
            document.update(_span(start, end))
            document["points" if series == "power" else "steps"] = []
            return json_reply(Status.OK, document)
        if series == "power":
            return json_reply(Status.OK, _power(history, meter, start, end, step))
        return json_reply(Status.OK, _energy(history, meter, start, end, step))

    return job


def _meter(history: History, hint: Meter | None, wanted: str | None) -> Meter | None:
    if wanted is None:
        return hint or history.latest_meter()
    if hint is not None and hint.meter == wanted:
        return hint
    latest = history.latest_meter()
    mode = latest.mode if latest is not None else "historic"
    return Meter(mode, wanted)


def _power_step(span: timedelta) -> int:
    """A minute, or what keeps a span within 1440 points (a day at one point a minute)."""
    return max(60, math.ceil(span.total_seconds() / 1440 / 60) * 60)


def _power(history: History, meter: Meter, start: datetime, end: datetime, step: int) -> dict:
    points = history.power(meter, start, end, step)
    document: dict[str, object] = {
        "series": "power",
        "meter": meter.meter,
        "mode": meter.mode,
        "label": INSTANT_POWER[meter.mode][0],
        "unit": "VA",
        "step": step,
        **_span(start, end),
        "points": [
            [round(point.start.timestamp()), round(point.mean, 1), point.peak] for point in points
        ],
    }
    return document


def _energy(history: History, meter: Meter, start: datetime, end: datetime, step: int) -> dict:
    steps = history.energy(meter, start, end, step)
    used = {label for item in steps for label in item.energy}
    labels = [label for label in energy_indexes(meter.mode) if label in used]
    return {
        "series": "energy",
        "meter": meter.meter,
        "mode": meter.mode,
        "unit": "Wh",
        "step": step,
        **_span(start, end),
        "periods": {label: index_period(meter.mode, label) for label in labels},
        "steps": [
            {
                "start": round(item.start.timestamp()),
                "first": item.first,
                "energy": item.energy,
                "total": item.total,
            }
            for item in steps
        ],
    }


def _span(start: datetime, end: datetime) -> dict[str, str]:
    return {"from": start.astimezone().isoformat(), "to": end.astimezone().isoformat()}


def _moment(query: Mapping[str, str], name: str) -> datetime | None:
    """A time parameter: seconds since the epoch, or ISO 8601 (no offset: local time); as a
    naive local time, the way rows are stored."""
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromtimestamp(float(text))
    except (ValueError, OverflowError, OSError):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequestError(
                f"{name}: expected seconds since 1970 or an ISO 8601 time, found {text!r}"
            ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)
    return moment


def _integer(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise BadRequestError(f"{name}: expected an integer, found {text!r}") from None
