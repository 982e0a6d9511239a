"""A remote MariaDB over TLS: the writer encrypts and checks the server's certificate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from teleinforeader.settings import DatabaseSettings, MariaDBSettings
from teleinforeader.sinks.database.mariadb import MariaDBBackend
from teleinforeader.sinks.database.schema import HISTORIC_TABLE
from tests.storage.helpers import Storage, make_frames, store
from tests.support.certificates import make_certificates
from tests.support.mariadb_server import MariaDBServer

pytestmark = pytest.mark.mariadb


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    base = tmp_path_factory.mktemp("mariadb-tls")
    certificates = base / "tls"
    make_certificates(certificates)
    server = MariaDBServer(
        base / "server",
        server_options=[
            f"--ssl-ca={certificates / 'ca.pem'}",
            f"--ssl-cert={certificates / 'server.pem'}",
            f"--ssl-key={certificates / 'server.key'}",
        ],
    )
    server.start()
    root = server.root_connection()
    root.cursor().execute(f"ALTER USER '{server.user}'@'%' REQUIRE SSL")
    root.close()
    yield server
    server.stop()


def _settings(server: MariaDBServer, **tls: object) -> MariaDBSettings:
    return MariaDBSettings(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        database="tls_test",
        connect_timeout=2,
        **tls,  # type: ignore[arg-type]
    )


def test_frames_are_stored_over_a_verified_tls_connection(
    tls_server: MariaDBServer, tmp_path: Path
) -> None:
    ca = str(tls_server.base_directory.parent / "tls" / "ca.pem")
    mariadb = _settings(tls_server, tls=True, tls_ca=ca, tls_verify=True)
    backend = MariaDBBackend(mariadb)
    storage = Storage(
        "mariadb-tls",
        tmp_path,
        DatabaseSettings(backend="mariadb", reader="pi-test", mariadb=mariadb),
        lambda: backend,
        lambda: None,
        lambda: None,
    )
    sink = store(storage, make_frames("historic-base", 3))
    assert sink.status().counters["rows_written"] == 3
    assert len(storage.rows(HISTORIC_TABLE)) == 3
    (cipher,) = storage.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
    assert cipher[1]  # an encrypted session


def test_the_server_refuses_a_plain_connection(tls_server: MariaDBServer, tmp_path: Path) -> None:
    backend = MariaDBBackend(_settings(tls_server))
    with pytest.raises(Exception, match="Access denied"):
        backend.connect().close()
