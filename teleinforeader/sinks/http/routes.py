"""Which request gets what: every endpoint of the web server, without the sockets.

`Routes.route(request, latest)` answers at once with a `Reply`, or says that the answer is a
live stream (`STREAM`) or a history job for the query thread (`Deferred`). See docs/http.md.
"""

from __future__ import annotations

import json
from typing import Union

from teleinforeader.record import Record
from teleinforeader.sinks import PipelineView
from teleinforeader.sinks.database.history import Meter
from teleinforeader.sinks.http import health, metrics
from teleinforeader.sinks.http.protocol import Reply, Request, Status
from teleinforeader.sinks.http.queries import BadRequestError, Job, history_job, json_reply
from teleinforeader.sinks.http.static import StaticFiles
from teleinforeader.sinks.http.views import daemon_status, reading
from teleinforeader.tic import Frame

EVENTS_PATH = "/api/v1/events"
STREAM = "stream"
_encode = json.JSONEncoder(separators=(",", ":")).encode


class Deferred(Record):
    job: Job


Answer = Union[Reply, Deferred, str]


def event(frame: Frame) -> bytes:
    """One server-sent event carrying the reading of `frame`."""
    return b"event: reading\ndata: " + _encode(reading(frame)).encode() + b"\n\n"


class Routes:
    def __init__(
        self,
        pipeline: PipelineView,
        silence_timeout: float,
        history: bool,
        started: float,
    ) -> None:
        self.pipeline = pipeline
        self.silence_timeout = silence_timeout
        self.history = history  # a database to query is configured
        self.started = started  # monotonic time the daemon's web server was built: its uptime
        self.static = StaticFiles()

    def route(self, request: Request, latest: Frame | None) -> Answer:
        path = request.path
        if path in ("/", "/index.html"):
            return self.static.reply("index.html", request)
        if path.startswith("/static/") and path[len("/static/") :] in self.static:
            return self.static.reply(path[len("/static/") :], request)
        if path == EVENTS_PATH:
            return STREAM
        if path == "/api/v1/latest":
            if latest is None:
                return json_reply(Status.NOT_FOUND, {"error": "no frame received yet"})
            return json_reply(Status.OK, reading(latest))
        if path == "/api/v1/status":
            return json_reply(Status.OK, self.status(latest))
        if path == "/api/v1/history":
            return self._history(request, latest)
        if path == "/metrics":
            body = metrics.render(
                latest, self.pipeline.counters(), self.pipeline.sink_statuses(), self.started
            )
            return Reply(Status.OK, body, metrics.CONTENT_TYPE)
        if path == "/healthz":
            verdict = health.judge(latest, self.pipeline.sink_statuses(), self.silence_timeout)
            status = Status.OK if verdict.healthy else Status.SERVICE_UNAVAILABLE
            return Reply(
                status,
                f"{verdict.reason}\n".encode(),
                "text/plain; charset=utf-8",
                (("Cache-Control", "no-store"),),
            )
        return json_reply(Status.NOT_FOUND, {"error": f"no such page: {path}"})

    def status(self, latest: Frame | None) -> dict[str, object]:
        document = daemon_status(
            self.pipeline.counters(), self.pipeline.sink_statuses(), self.started, latest
        )
        document["healthy"] = health.judge(
            latest, self.pipeline.sink_statuses(), self.silence_timeout
        ).healthy
        return document

    def _history(self, request: Request, latest: Frame | None) -> Answer:
        if not self.history:
            return json_reply(
                Status.SERVICE_UNAVAILABLE,
                {"error": 'no history: [database] backend = "none"'},
            )
        hint = None
        if latest is not None and latest.meter_id is not None:
            hint = Meter(latest.mode, latest.meter_id)
        try:
            return Deferred(history_job(request.query, hint))
        except BadRequestError as error:
            return json_reply(Status.BAD_REQUEST, {"error": str(error)})
