"""The page's files, served from the installed package: nothing comes from the internet.

Each file is read once, when first asked for, and kept with its ETag (a browser then gets
"304 Not Modified" for a few bytes) and, for a browser that accepts it, a gzip copy made once.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

from teleinforeader.record import Record
from teleinforeader.sinks.http.protocol import Reply, Request, Status

FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
# The page may load only what this server serves, and talk only to it.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class _File(Record):
    body: bytes
    compressed: bytes
    etag: str
    content_type: str


class StaticFiles:
    def __init__(self) -> None:
        self._cache: dict[str, _File] = {}

    def __contains__(self, name: str) -> bool:
        return name in FILES

    def _load(self, name: str) -> _File:
        cached = self._cache.get(name)
        if cached is None:
            body = (resources.files(__package__) / "static" / name).read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            compressed = gzip.compress(body, mtime=0)
            cached = _File(body, compressed, etag, FILES[name])
            self._cache[name] = cached
        return cached

    def reply(self, name: str, request: Request) -> Reply:
        """The file `name` (one of FILES), or 304 when the browser's copy is current."""
        file = self._load(name)
        headers = [("ETag", file.etag), ("Cache-Control", "no-cache"), ("Vary", "Accept-Encoding")]
        if name == "index.html":
            headers.append(("Content-Security-Policy", PAGE_POLICY))
            headers.append(("Referrer-Policy", "no-referrer"))
        if request.headers.get("if-none-match") == file.etag:
            return Reply(Status.NOT_MODIFIED, b"", file.content_type, tuple(headers))
        body = file.body
        if "gzip" in request.headers.get("accept-encoding", "") and len(file.compressed) < len(
            body
        ):
            body = file.compressed
            headers.append(("Content-Encoding", "gzip"))
        return Reply(Status.OK, body, file.content_type, tuple(headers))
