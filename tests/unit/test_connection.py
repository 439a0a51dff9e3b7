"""Connection against a 5.2-shaped fake Web API: API key, stop/start, HTTPS with a CA file, timeouts."""

from __future__ import annotations

import json
import ssl

import pytest

from exporter.qbt import connection
from exporter.qbt.connection import Connection, ConnectionSettings, QBittorrentError
from exporter.qbt.mirror import Mirror
from exporter.qbt.transport import is_local
from exporter.sandbox import free_port
from tests.kit.certs import make_pki
from tests.kit.processes import sample
from tests.kit.qbt_fake import API_KEY, PASSWORD, ROUTES, FakeQbt5


@pytest.fixture
def fake(request):
    with FakeQbt5(routes=getattr(request, "param", None)) as server:
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


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://app.localhost", True),
        ("http://[::1]:8080", True),
        ("http://10.0.0.5:8080", True),
        ("http://172.16.3.4", True),
        ("https://192.168.1.10/", True),
        ("http://169.254.1.1", True),
        ("http://[fe80::1]", True),
        ("http://[fd00::1]", True),
        ("http://qbittorrent:8080", True),  # a container name or a hosts-file alias
        ("http://nas.local:8080", True),
        ("http://nas.lan", True),
        ("http://nas.home.arpa", True),
        ("http://qbt.internal.", True),
        ("http://qbt.example.com:8080", False),
        ("https://seedbox.example.net/qbt/", False),
        ("http://8.8.8.8", False),
        ("http://[2001:4860:4860::8888]", False),
        ("http://localhost.example.com", False),
        ("http://nas.local.example.com", False),
    ],
)
def test_is_local(url, local):
    assert is_local(url) is local


def test_local_full_sync_is_asked_uncompressed_and_a_remote_one_gzipped(fake):
    conn = Connection(ConnectionSettings(url=fake.url(), api_key=API_KEY))
    conn.maindata(0)
    conn.maindata(1)
    assert fake.accept_encodings("/api/v2/sync/maindata") == ["identity", "identity"]
    assert "gzip" in fake.accept_encodings("/api/v2/app/version")[0]  # only sync/maindata is raw
    assert Connection(ConnectionSettings(url="https://qbt.example.com", api_key=API_KEY)).compress


def test_uncompressed_full_sync_that_times_out_falls_back_to_gzip():
    with FakeQbt5(hang=0.5, hang_path="/api/v2/sync/maindata") as server:
        conn = Connection(
            ConnectionSettings(url=server.url(), api_key=API_KEY, timeout=0.2, full_sync_timeout=0.2)
        )
        with pytest.raises(QBittorrentError):  # a delta timing out changes nothing
            conn.maindata(1)
        with pytest.raises(QBittorrentError) as err:
            conn.maindata(0)
        assert err.value.reason == "timeout"
        server.hang = 0.0
        assert conn.maindata(0)["full_update"] is True
        assert [e.split(",")[0] for e in server.accept_encodings("/api/v2/sync/maindata")] == [
            "identity",
            "identity",
            "gzip",
        ]


def test_uncompressed_full_sync_slower_than_gzip_would_be_falls_back_to_gzip(fake, monkeypatch):
    monkeypatch.setattr(connection, "RAW_JUDGED_SIZE", 100)  # the fake's body is small: judge it anyway
    size = len(json.dumps(ROUTES["/api/v2/sync/maindata"]))
    ticks = iter([0.0, size / connection.RAW_MIN_RATE / 2, 10.0, 10.0 + size / connection.RAW_MIN_RATE * 2])
    conn = Connection(ConnectionSettings(url=fake.url(), api_key=API_KEY), clock=lambda: next(ticks))
    conn.maindata(0)  # twice the rate gzip pays below: stays raw
    assert not conn.compress
    conn.maindata(0)  # half of it
    assert conn.compress
    assert [e.split(",")[0] for e in fake.accept_encodings("/api/v2/sync/maindata")] == [
        "identity",
        "identity",
    ]


def test_the_time_qbittorrent_takes_to_build_the_body_is_not_counted_as_a_slow_link(monkeypatch):
    size = len(json.dumps(ROUTES["/api/v2/sync/maindata"]))
    monkeypatch.setattr(connection, "RAW_JUDGED_SIZE", 100)
    monkeypatch.setattr(connection, "RAW_MIN_RATE", size / 0.5)  # the body in over 0.5 s is a slow link
    with FakeQbt5(hang=1.0, hang_path="/api/v2/sync/maindata") as server:  # answers after 1 s
        conn = Connection(ConnectionSettings(url=server.url(), api_key=API_KEY, full_sync_timeout=3))
        conn.maindata(0)
        assert not conn.compress  # it came at once after that second


def test_no_netrc_lookup_per_request_and_the_session_still_logs_in(fake, monkeypatch):
    import requests.sessions

    looked: list[str] = []
    monkeypatch.setattr(requests.sessions, "get_netrc_auth", lambda url, *a: looked.append(url))
    conn = Connection(ConnectionSettings(url=fake.url(), password=PASSWORD))
    conn.login()
    conn.maindata(0)
    conn.maindata(1)
    assert looked == [] and "/api/v2/auth/login" in fake.paths()
    conn.close()


def test_proxy_variables_are_read_once_per_session_and_still_apply(fake, monkeypatch):
    import requests.utils

    from exporter.qbt import connection as connection_module

    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would fail every request if it applied
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    looked: list[str] = []
    real = requests.utils.get_environ_proxies
    monkeypatch.setattr(
        connection_module.requests.utils,
        "get_environ_proxies",
        lambda url, no_proxy=None: looked.append(url) or real(url, no_proxy),
    )
    conn = Connection(ConnectionSettings(url=fake.url(), password=PASSWORD))
    for rid in range(4):
        conn.maindata(rid)
    assert looked == [fake.url()]  # once, for the session; NO_PROXY kept the proxy off loopback
    session = conn._client._session
    assert session.trust_env is False and "http" not in session.proxies
    conn.close()

    monkeypatch.setenv("NO_PROXY", "")
    proxied = Connection(ConnectionSettings(url="http://qbt.invalid:8080", password=PASSWORD))
    assert proxied._client._session.proxies.get("http") == "http://127.0.0.1:9"
    proxied.close()


def test_plain_http_with_a_ca_path_stats_no_file_per_request(fake, monkeypatch, tmp_path):
    import os.path

    ca = tmp_path / "ca.pem"
    ca.write_text("not used on plain http\n")
    looked: list[str] = []
    isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda p: looked.append(str(p)) or isdir(p))
    conn = Connection(ConnectionSettings(url=fake.url(), password=PASSWORD, ca_file=str(ca)))
    for rid in range(3):
        conn.maindata(rid)
    assert str(ca) not in looked  # requests stats the CA path only to set up TLS
    conn.close()


def test_delta_syncs_go_straight_and_anything_else_the_full_way(fake, monkeypatch):
    conn = Connection(ConnectionSettings(url=fake.url(), password=PASSWORD))
    through: list[str] = []
    post_cast = conn._client._post_cast
    monkeypatch.setattr(
        conn._client,
        "_post_cast",
        lambda **kw: (kw["_method"] == "maindata" and through.append("maindata")) or post_cast(**kw),
    )
    conn.login()
    for rid in range(3):
        assert b'"full_update"' in bytes(conn.maindata(rid).body)
    assert through == [] and fake.count("/api/v2/sync/maindata") == 3  # straight, once each

    fake.sessions.clear()  # qBittorrent restarted: our SID is gone, the next request gets a 403
    logins = fake.count("/api/v2/auth/login")
    assert b'"full_update"' in bytes(conn.maindata(3).body)
    assert through == ["maindata"]  # the 403 went the full way: qbittorrentapi logged in again
    assert fake.count("/api/v2/auth/login") == logins + 1
    conn.close()


def test_a_response_over_the_size_cap_is_refused_and_asked_for_once(fake):
    conn = Connection(ConnectionSettings(url=fake.url(), password=PASSWORD, max_response_size=64))
    conn.login()
    with pytest.raises(QBittorrentError) as info:
        conn.maindata(0)
    assert info.value.reason == "response" and "larger than" in str(info.value)
    assert fake.count("/api/v2/sync/maindata") == 1
    conn.close()


def test_the_straight_sync_over_https_verifies_the_certificate(tmp_path):
    pki = make_pki(tmp_path / "pki")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server_crt"], pki["server_key"])
    with FakeQbt5(tls=ctx) as server:
        conn = Connection(ConnectionSettings(url=server.url(), api_key=API_KEY, ca_file=pki["ca"]))
        conn.login()
        with connection.deadline(4):
            started, size, answer = conn._read_maindata_direct(0, raw=True, stream=None)
            assert answer is not None and b'"full_update"' in bytes(answer.body)  # straight, over TLS
            conn._verify = True  # the system's CAs, which do not know this server's
            assert conn._read_maindata_direct(0, True, None) == (0.0, 0, None)  # refused: the full way
        conn.close()


def test_a_straight_answer_left_unread_is_closed_not_put_back_in_the_pool(fake, monkeypatch):
    """A 403's body, unread, would be the start of the next answer on a reused connection."""
    conn = Connection(ConnectionSettings(url=fake.url(), password=PASSWORD))
    conn.login()
    seen: list[tuple[int, str]] = []
    real = connection.post_direct

    def spying(*args, **kwargs):
        response = real(*args, **kwargs)
        close, release = response.close, response.release_conn
        response.close = lambda: seen.append((response.status, "closed")) or close()
        response.release_conn = lambda: seen.append((response.status, "released")) or release()
        return response

    monkeypatch.setattr(connection, "post_direct", spying)
    conn.maindata(0)
    fake.sessions.clear()
    conn.maindata(1)  # the straight one gets a 403 and leaves it; the full way logs in again
    assert seen[0] == (200, "released") and (403, "closed") in seen and (403, "released") not in seen
    conn.close()


WRITES = {f"/api/v2/torrents/{m}": "" for m in ("reannounce", "recheck", "addTags", "setCategory")}


@pytest.mark.parametrize("fake", [WRITES], indirect=True)
def test_writes_go_straight_with_the_form_qbittorrentapi_sends_and_a_403_the_full_way(fake, monkeypatch):
    conn = Connection(ConnectionSettings(url=fake.url(), password=PASSWORD))
    through: list[str] = []
    post = conn._client._post

    def counting(*args, **kwargs):
        through.append(str(kwargs["_method"] if "_method" in kwargs else args[1]))
        return post(*args, **kwargs)

    monkeypatch.setattr(conn._client, "_post", counting)
    conn.login()
    conn.reannounce(["a1", "b2"])
    conn.add_tags(["a1"], ["x", "y"])
    conn.set_category(["b2"], "tv")
    conn.stop(["a1"])
    assert through == []  # all four straight
    straight = [(p, form) for p, _, form in fake.requests if p.startswith("/api/v2/torrents/")]
    conn._post_straight = lambda *args: False  # what qbittorrentapi sends for the same calls
    conn.reannounce(["a1", "b2"])
    conn.add_tags(["a1"], ["x", "y"])
    conn.set_category(["b2"], "tv")
    conn.stop(["a1"])
    assert len(through) == 4
    full = [(p, form) for p, _, form in fake.requests if p.startswith("/api/v2/torrents/")][len(straight) :]
    assert (
        straight
        == full
        == [
            ("/api/v2/torrents/reannounce", {"hashes": "a1|b2"}),
            ("/api/v2/torrents/addTags", {"hashes": "a1", "tags": "x,y"}),
            ("/api/v2/torrents/setCategory", {"hashes": "b2", "category": "tv"}),
            ("/api/v2/torrents/stop", {"hashes": "a1"}),
        ]
    )
    del conn._post_straight
    fake.sessions.clear()  # qBittorrent restarted: the straight write gets a 403, the full way logs in again
    logins = fake.count("/api/v2/auth/login")
    conn.recheck(["a1"])
    assert through[-1:] == ["recheck"] and fake.count("/api/v2/auth/login") == logins + 1
    assert fake.requests[-1][0] == "/api/v2/torrents/recheck" and fake.requests[-1][1]
    conn.close()


def test_a_large_full_sync_read_straight_is_decoded_while_it_arrives_and_a_bad_one_read_again(monkeypatch):
    from bench.fakeqbt.profiles import PROFILES
    from bench.fakeqbt.world import World
    from exporter.qbt import decode, maindata
    from exporter.qbt.maindata import MaindataState
    from tests.kit.receiver import Response

    monkeypatch.setattr(maindata, "CONSUME_FROM", 4000)
    monkeypatch.setattr(decode, "CHUNK", 2000)
    monkeypatch.setattr(connection, "CHUNK", 1000)  # the reads: many parts
    full = World(PROFILES["4.5.2"], 300, seed=4, epoch=1_750_000_000).maindata("s", 0)
    payload = json.loads(full)
    h = list(payload["torrents"])[10]
    payload["torrents"][h]["size"] = "12"  # not typed as qBittorrent sends it: only the general way reads it
    bad = json.dumps(payload, separators=(",", ":")).encode()
    for body, streamed in ((full, True), (bad, False)):
        route = Response(200, body, {"Content-Type": "application/json"})
        with FakeQbt5(routes={"/api/v2/sync/maindata": route}) as server:
            conn = Connection(ConnectionSettings(url=server.url(), password=PASSWORD))
            conn.login()
            state = MaindataState()
            answer = conn.maindata(0, state.stream())
            assert (answer.streamed is not None) is streamed
            assert server.count("/api/v2/sync/maindata") == (1 if streamed else 2)  # the bad one read again
            state.apply(answer)
            general = MaindataState()
            general.apply(json.loads(body))
            assert dict(state.snapshot(0).torrents) == dict(general.snapshot(0).torrents)
            if streamed:  # qBittorrent restarted: a 403 straight, and the full update the full way, streamed
                server.sessions.clear()
                answer = conn.maindata(1, state.stream())
                assert answer.streamed is not None and answer.streamed.decoded > 200
                state.apply(answer)
                assert dict(state.snapshot(1).torrents) == dict(general.snapshot(0).torrents)
            conn.close()
