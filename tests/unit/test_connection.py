"""Connection against a 5.2-shaped fake Web API: API key, stop/start, HTTPS with a CA file, timeouts."""

from __future__ import annotations

import ssl

import pytest

from exporter.qbt.connection import Connection, ConnectionSettings, QBittorrentError
from exporter.qbt.mirror import Mirror
from exporter.sandbox import free_port
from tests.kit.certs import make_pki
from tests.kit.processes import sample
from tests.kit.qbt_fake import API_KEY, PASSWORD, FakeQbt5


@pytest.fixture
def fake():
    with FakeQbt5() as server:
        yield server


def test_api_key_is_sent_as_bearer_and_no_login_is_made(fake):
    mirror = Mirror(Connection(ConnectionSettings(url=fake.url(), api_key=API_KEY)))
    snap = mirror.refresh()
    assert snap is not None and snap.app.version == "v5.2.0" and snap.app.uses_stop_start
    assert snap.torrents["abcd"].state == "stoppedDL" and snap.server.global_ratio == 0.5
    assert "/api/v2/auth/login" not in fake.paths()
    assert all(authorized for _, authorized, _ in fake.requests)
    mirror.close()
    assert "/api/v2/auth/logout" not in fake.paths()  # nothing to log out of with an API key


def test_wrong_api_key_is_an_auth_error_without_the_key(fake):
    conn = Connection(ConnectionSettings(url=fake.url(), api_key="wrong-key-ZZZ"))
    with pytest.raises(QBittorrentError) as err:
        conn.login()
    assert err.value.reason == "auth" and "ZZZ" not in str(err.value)


def test_5x_uses_stop_and_start(fake):
    conn = Connection(ConnectionSettings(url=fake.url(), api_key=API_KEY))
    conn.login()
    conn.stop(["abcd"])
    conn.start(["abcd"])
    torrent_calls = [(p, form) for p, _, form in fake.requests if p.startswith("/api/v2/torrents/")]
    assert torrent_calls == [
        ("/api/v2/torrents/stop", {"hashes": "abcd"}),
        ("/api/v2/torrents/start", {"hashes": "abcd"}),
    ]  # not pause/resume (4.x)


def test_https_with_ca_file_and_insecure_option(tmp_path):
    pki = make_pki(tmp_path / "pki")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server_crt"], pki["server_key"])
    with FakeQbt5(tls=ctx) as server:
        untrusted = Connection(ConnectionSettings(url=server.url(), api_key=API_KEY))
        with pytest.raises(QBittorrentError) as err:
            untrusted.login()
        assert err.value.reason == "tls"
        assert (
            Connection(ConnectionSettings(url=server.url(), api_key=API_KEY, ca_file=pki["ca"]))
            .login()
            .version
        )
        insecure = ConnectionSettings(url=server.url(), api_key=API_KEY, insecure_skip_verify=True)
        assert Connection(insecure).login().version == "v5.2.0"


def test_hung_qbittorrent_is_a_timeout():
    with FakeQbt5(hang=1.0) as server:
        conn = Connection(ConnectionSettings(url=server.url(), api_key=API_KEY, timeout=0.2))
        with pytest.raises(QBittorrentError) as err:
            conn.login()
        assert err.value.reason == "timeout"


def test_unreachable_is_a_connection_error():
    conn = Connection(ConnectionSettings(url=f"http://127.0.0.1:{free_port()}", password="pw-QQQ"))
    with pytest.raises(QBittorrentError) as err:
        conn.maindata(0)
    assert err.value.reason == "connection" and "QQQ" not in str(err.value)


def test_one_login_reused_relogin_on_403_and_logout_on_sigterm(fake, tmp_path, exporter_factory):
    """The real exporter process against the fake: login once, again only when the session expires."""
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    e = exporter_factory(
        [
            "--qbittorrent.url",
            fake.url(),
            "--qbittorrent.password-file",
            str(pw),
            "--qbittorrent.min-sync-age",
            "0",
        ]
    )
    for _ in range(5):
        assert sample(e.scrape(), "qbittorrent_up") == 1
    assert fake.count("/api/v2/auth/login") == 1
    assert fake.count("/api/v2/sync/maindata") >= 5
    fake.sessions.clear()  # qBittorrent restarted or the session timed out: requests now get 403
    assert sample(e.scrape(), "qbittorrent_up") == 1
    assert fake.count("/api/v2/auth/login") == 2
    assert e.stop() == 0  # SIGTERM: clean exit
    assert fake.paths()[-1] == "/api/v2/auth/logout"
    assert PASSWORD not in e.log()


def test_full_sync_gets_its_own_longer_timeout():
    # a big instance building its full list
    with FakeQbt5(hang=0.5, hang_path="/api/v2/sync/maindata") as server:
        quick = Connection(
            ConnectionSettings(url=server.url(), api_key=API_KEY, timeout=0.2, full_sync_timeout=0.2)
        )
        with pytest.raises(QBittorrentError) as err:
            quick.maindata(0)
        assert err.value.reason == "timeout"
        patient = Connection(
            ConnectionSettings(url=server.url(), api_key=API_KEY, timeout=0.2, full_sync_timeout=3)
        )
        assert patient.maindata(0)["full_update"] is True
        with pytest.raises(QBittorrentError):  # a delta keeps the short timeout
            patient.maindata(1)
