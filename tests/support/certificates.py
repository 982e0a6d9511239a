"""Throwaway TLS material for tests: a CA and a server certificate it signed for 127.0.0.1,
made with the `openssl` command (never a real key, never kept after the test)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*arguments: str, directory: Path) -> None:
    subprocess.run(["openssl", *arguments], cwd=directory, check=True, capture_output=True)


def make_certificates(directory: Path) -> Path:
    """`ca.pem`/`ca.key` and `server.pem`/`server.key` (for IP 127.0.0.1) in `directory`,
    which is created; returns it."""
    directory.mkdir()
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.pem", "-days", "2", "-subj", "/CN=teleinforeader test CA",
             directory=directory)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
             "-out", "server.csr", "-subj", "/CN=127.0.0.1", directory=directory)  # fmt: skip
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext",
             directory=directory)  # fmt: skip
    return directory
