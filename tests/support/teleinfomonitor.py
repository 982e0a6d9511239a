"""TeleInfoMonitor's client side, reproduced exactly for the tests (its code is not vendored).

What its code does (jlesauce/TeleInfoMonitor, the PyQt client this daemon was written for):

- `io/socket_client.py`, `SocketClient._run_client`: a thread loops on `recv(1024)`, decodes the
  bytes as UTF-8 and hands the text to its subscriber; it catches only `ConnectionAbortedError`
  and `OSError`, so any other exception raised by the subscriber ends the thread for good, and
  an empty read (the server hung up) ends it too;
- `ui/controller.py`, `_on_new_tele_info_data_received`: builds `TeleInfoFrame(message)` and
  catches only `KeyError` (logged as "Invalid TeleInfo frame received", the frame skipped);
- `model/tele_info_data.py`, `TeleInfoFrame._update_data`: `json.loads(message)`, then
  `timestamp`, then `frame[...]` for ten labels, five of them through `int()`;
- `database/database_controller.py`: `SELECT * FROM teleinfodb.teleinfoframes WHERE (timestamp
  BETWEEN '<day> 00:00:00' AND '<day> 23:59:59')`, and `TeleInfoFrame.from_raw_data` takes the
  row's first eleven values by position.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from datetime import date
from typing import Any, Callable, NamedTuple

# TeleInfoFrame's attributes, in from_raw_data's order (values[0] .. values[10]).
FIELDS = (
    "timestamp",
    "meter_identifier",
    "subscription_type",
    "subscription_power_in_a",
    "total_base_index_in_wh",
    "current_pricing_period",
    "instantaneous_intensity_in_a",
    "intensity_max_in_a",
    "power_consumption_in_va",
    "peak_off_peak_schedule",
    "meter_state_code",
)
# The label _update_data reads for each attribute after the timestamp, and whether through int().
LABELS = (
    ("ADCO", False),
    ("OPTARIF", False),
    ("ISOUSC", True),
    ("BASE", True),
    ("PTEC", False),
    ("IINST", True),
    ("IMAX", True),
    ("PAPP", True),
    ("HHPHC", False),
    ("MOTDETAT", False),
)
RECV_SIZE = 1024  # SocketClient._run_client: size = 1024


def frame_from_message(message: str) -> dict[str, Any]:
    """TeleInfoFrame(message): the attributes it sets, or the exception it raises."""
    json_data = json.loads(message)
    values: dict[str, Any] = {"timestamp": json_data["timestamp"]}
    frame = json_data["frame"]
    for name, (label, numeric) in zip(FIELDS[1:], LABELS):
        values[name] = int(frame[label]) if numeric else frame[label]
    return values


def frame_from_row(row: tuple) -> dict[str, Any]:
    """TeleInfoFrame.from_raw_data(row): the first eleven values, by position."""
    return {name: row[index] for index, name in enumerate(FIELDS)}


def daily_query(day: date) -> str:
    """DatabaseController._create_select_tele_info_frames_by_date_request, character for
    character (`date` is a datetime.date: the calendar's selected day)."""
    return (
        "SELECT * FROM teleinfodb.teleinfoframes "
        "WHERE (timestamp BETWEEN "
        f"'{day} 00:00:00'"
        " AND "
        f"'{day} 23:59:59'"
        ")"
    )


class Failure(NamedTuple):
    read: bytes
    error: str


class TeleInfoMonitorClient:
    """One connection as TeleInfoMonitor holds it: a reader thread that dies on anything but a
    KeyError. Every read is kept, so a test can say what each one held."""

    def __init__(self, address: tuple[str, int], timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.reads: list[bytes] = []  # every non-empty recv, as received
        self.messages: list[dict[str, Any]] = []  # json.loads of each read that decoded
        self.frames: list[dict[str, Any]] = []  # TeleInfoFrame attributes, frames it showed
        self.invalid: list[Failure] = []  # KeyError: logged by the controller, frame skipped
        self.failure: Failure | None = None  # what ended the reader thread, if not a hang-up
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._run, name="teleinfomonitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                try:
                    data = self.sock.recv(RECV_SIZE)
                except OSError:
                    return  # SocketClient logs it; closed by stop() here
                if not data:
                    return  # "probably disconnected from server": the thread stops
                self.reads.append(data)
                try:
                    message = data.decode("utf-8")
                    self.messages.append(json.loads(message))
                    self.frames.append(frame_from_message(message))
                except KeyError as error:
                    self.invalid.append(Failure(data, f"KeyError: {error}"))
                except Exception as error:  # exactly what ends TeleInfoMonitor's reader thread
                    self.failure = Failure(data, f"{type(error).__name__}: {error}")
                    return
        finally:
            self.ended.set()

    def stop(self) -> None:
        """The Stop button: close the socket (the reader thread then ends)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(10)


def reads_reach(monitor: TeleInfoMonitorClient, count: int) -> Callable[[], bool]:
    """For wait_for: the monitor has read `count` times, or its reader thread ended."""
    return lambda: len(monitor.reads) >= count or monitor.ended.is_set()
