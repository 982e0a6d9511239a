"""HTTP/1.1 as this read-only server speaks it, with no I/O: bytes in, requests out, and
responses as bytes.

Plan: `RequestReader.feed(bytes)` buffers what a connection sent; `next_request()` returns each
complete request head in turn (pipelined requests included), or None until one is complete.
Only what a browser, curl and a Prometheus scraper send is accepted: GET and HEAD, no body,
a head of at most MAX_HEAD bytes. Anything else is an `HttpError` carrying the status to answer
before hanging up, so that a peer can neither make us buffer without bound nor make us guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from teleinforeader.record import Record

MAX_HEAD = 8192  # bytes: request line and headers; browsers send well under 2 KiB
MAX_HEADERS = 64
METHODS = ("GET", "HEAD")
_SERVER = b"teleinforeader"


class Status:
    """The statuses this server answers with, as plain ints: `http.HTTPStatus` builds an enum of
    some sixty members at import, some 3 million instructions of every start."""

    OK = 200
    NOT_MODIFIED = 304
    BAD_REQUEST = 400
    FORBIDDEN = 403
    NOT_FOUND = 404
    METHOD_NOT_ALLOWED = 405
    REQUEST_ENTITY_TOO_LARGE = 413
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431
    SERVICE_UNAVAILABLE = 503


PHRASES = {  # as http.HTTPStatus words them
    Status.OK: "OK",
    Status.NOT_MODIFIED: "Not Modified",
    Status.BAD_REQUEST: "Bad Request",
    Status.FORBIDDEN: "Forbidden",
    Status.NOT_FOUND: "Not Found",
    Status.METHOD_NOT_ALLOWED: "Method Not Allowed",
    Status.REQUEST_ENTITY_TOO_LARGE: "Request Entity Too Large",
    Status.REQUEST_HEADER_FIELDS_TOO_LARGE: "Request Header Fields Too Large",
    Status.SERVICE_UNAVAILABLE: "Service Unavailable",
}


class HttpError(Exception):
    """A request we will not serve: answer `status` with `message`, then close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Request(Record):
    method: str
    path: str  # decoded, without the query
    query: Mapping[str, str]  # the last value of each parameter
    headers: Mapping[str, str]  # lower-case names
    keep_alive: bool

    @property
    def head_only(self) -> bool:
        return self.method == "HEAD"


class RequestReader:
    """The requests of one connection, from the bytes it sent."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def next_request(self) -> Request | None:
        """The next complete request, or None until its head is complete; raises HttpError."""
        buffer = self._buffer
        # A bare LF ends lines too (hand-typed requests): the earlier blank line wins.
        end, size = -1, 0
        for mark in (b"\r\n\r\n", b"\n\n"):
            at = buffer.find(mark)
            if at >= 0 and (end < 0 or at < end):
                end, size = at, at + len(mark)
        if end < 0:
            if len(buffer) > MAX_HEAD:
                raise HttpError(Status.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large")
            return None
        if size > MAX_HEAD:
            raise HttpError(Status.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large")
        head = bytes(buffer[:end])
        del buffer[:size]
        return parse_head(head)


def parse_head(head: bytes) -> Request:
    """A request line and its headers (without the blank line) as a Request."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(Status.BAD_REQUEST, "request head is not ASCII") from None
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0]:  # RFC 9112: ignore blank lines before the request line
        lines.pop(0)
    parts = lines[0].split(" ") if lines else []
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(Status.BAD_REQUEST, "malformed request line")
    method, target, version = parts
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(Status.REQUEST_HEADER_FIELDS_TOO_LARGE, "too many headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise HttpError(Status.BAD_REQUEST, "malformed header line")
        headers[name.lower()] = value.strip()
    if method not in METHODS:
        raise HttpError(Status.METHOD_NOT_ALLOWED, f"{method} is not served: read-only")
    if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
        raise HttpError(Status.REQUEST_ENTITY_TOO_LARGE, "a request body is not accepted")
    if not target.startswith("/"):
        raise HttpError(Status.BAD_REQUEST, "the target must be a path")
    # Imported by the first request, not at start-up: with `ipaddress`, which it loads, a cost
    # a Pi Zero pays at every start otherwise, for a page that may never be asked for.
    from urllib.parse import parse_qsl, unquote, urlsplit

    split = urlsplit(target)
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    return Request(
        method,
        unquote(split.path),
        dict(parse_qsl(split.query, keep_blank_values=True)),
        headers,
        keep_alive,
    )


class Reply(Record):
    """What to answer one request; `encode` makes it bytes for that request (HEAD, keep-alive)."""

    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()

    def encode(self, request: Request) -> bytes:
        return response(
            self.status,
            self.body,
            self.content_type,
            keep_alive=request.keep_alive,
            head_only=request.head_only,
            headers=self.headers,
        )


def response(
    status: int,
    body: bytes,
    content_type: str,
    *,
    keep_alive: bool = True,
    head_only: bool = False,
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A whole response with its Content-Length; HEAD gets the same head and no body."""
    lines = [
        f"HTTP/1.1 {status} {PHRASES[status]}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: keep-alive" if keep_alive else "Connection: close",
        "X-Content-Type-Options: nosniff",
        *(f"{name}: {value}" for name, value in headers),
    ]
    head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
    return b"".join((head, b"Server: ", _SERVER, b"\r\n\r\n", b"" if head_only else body))


def stream_head(content_type: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """The head of a response whose body goes on until the connection closes (event streams)."""
    lines = [
        "HTTP/1.1 200 OK",
        f"Content-Type: {content_type}",
        "Cache-Control: no-store",
        "Connection: close",
        "X-Content-Type-Options: nosniff",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def error_response(error: HttpError, head_only: bool = False) -> bytes:
    """The plain-text answer to a refused request; the connection closes after it."""
    extra = [("Allow", ", ".join(METHODS))] if error.status == Status.METHOD_NOT_ALLOWED else []
    return response(
        error.status,
        f"{error.status} {PHRASES[error.status]}: {error.message}\n".encode(),
        "text/plain; charset=utf-8",
        keep_alive=False,
        head_only=head_only,
        headers=extra,
    )
