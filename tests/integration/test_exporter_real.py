"""The exporter against a real qbittorrent-nox on 127.0.0.1 (started per test with a throwaway profile)."""

from __future__ import annotations

import re

import pytest

from exporter.sandbox import make_payload, make_torrent
from tests.kit import versions
from tests.kit.processes import http_get, sample, wait_for
from tests.kit.torrents import exporter_args

pytestmark = pytest.mark.integration

PASSKEY = "0123456789abcdefSECRETPASSKEY"


def add_torrents(q, client, tmp_path):
    """A seed (category movies, private tracker with passkey), a stalled download, a stopped download."""
    data = tmp_path / "data"
    seed = make_payload(data, "seed.bin", 256 * 1024, seed=1)
    client.torrents_add(
        torrent_files=make_torrent(
            seed, tmp_path / "seed.torrent", [f"http://tracker.example.org:1/{PASSKEY}/announce"]
        ),
        save_path=str(data),
        category="movies",
    )
    for name in ("stalled", "stopped"):
        payload = make_payload(tmp_path / "elsewhere", f"{name}.bin", 128 * 1024, seed=hash(name) % 1000)
        client.torrents_add(
            torrent_files=make_torrent(
                payload, tmp_path / f"{name}.torrent", ["http://127.0.0.1:1/announce"]
            ),
            save_path=str(q.downloads),
            is_paused=(name == "stopped"),
        )


def state_count(samples, state, category=""):
    return sum(
        v
        for (n, labels), v in samples.items()
        if n == "qbittorrent_torrents" and ("state", state) in labels and ("category", category) in labels
    )


@pytest.mark.qbt51
def test_real_torrents_are_counted_by_state_category_and_tracker_host(
    qbt, qbt_client, password_file, exporter_factory, tmp_path, qbt_version
):
    add_torrents(qbt, qbt_client, tmp_path)
    exporter = exporter_factory(exporter_args(qbt, password_file))

    def settled():
        s = exporter.scrape()
        ok = (
            state_count(s, "stalledUP", "movies") + state_count(s, "uploading", "movies") == 1
            and state_count(s, "stalledDL") == 1
            and state_count(s, "stoppedDL") == 1
        )
        return s if ok else None

    s = wait_for(settled, timeout=20, what="seed, stalled and stopped torrents to settle")
    assert sample(s, "qbittorrent_up") == 1
    info = {  # what this version's binary and Web API say about themselves
        "version": versions.qbittorrent_version(qbt_version),
        "webapi_version": qbt_client.app_web_api_version(),
        "libtorrent": qbt_client.app_build_info()["libtorrent"],
    }
    assert sample(s, "qbittorrent_info", **info) == 1, [k for k in s if k[0] == "qbittorrent_info"]
    assert sample(s, "qbittorrent_tracker_torrents", tracker="tracker.example.org") == 1
    assert sample(s, "qbittorrent_tracker_torrents", tracker="127.0.0.1") == 2
    assert sample(s, "qbittorrent_category_size_bytes", category="movies") == 256 * 1024
    assert (
        sample(s, "qbittorrent_torrents", state="stoppedDL", status="paused", category="") == 1
    )  # 4.x pausedDL, 5.x stoppedDL
    assert sample(s, "qbittorrent_torrents", state="error", status="errored", category="movies") == 0
    assert sample(s, "qbittorrent_free_space_bytes") > 0
    assert sample(s, "qbittorrent_connection_status", status="connected") is not None
    assert "qbittorrent_global_ratio" not in {n for n, _ in s}  # fresh instance reports "-"
    status, body = http_get(exporter.url + "/metrics")
    assert PASSKEY not in body and "SECRETPASSKEY" not in exporter.log()
    assert http_get(exporter.url + "/readyz")[0] == 200


@pytest.mark.qbt51
def test_qbittorrent_down_then_back_without_restarting_the_exporter(
    qbt, qbt_client, password_file, exporter_factory, tmp_path
):
    add_torrents(qbt, qbt_client, tmp_path)
    exporter = exporter_factory(exporter_args(qbt, password_file))
    wait_for(lambda: sample(exporter.scrape(), "qbittorrent_up") == 1, what="first sync")
    qbt.stop()

    def down():
        s = exporter.scrape()  # the exporter keeps answering
        return s if sample(s, "qbittorrent_up") == 0 else None

    s = wait_for(down, timeout=15, what="qbittorrent_up 0")
    names = {n for n, _ in s}
    assert not any(n.startswith("qbittorrent_torrents") or n.startswith("qbittorrent_alltime") for n in names)
    assert "qbittorrent_info" not in names
    assert sample(s, "qbittorrent_exporter_sync_errors_total", reason="connection") >= 1
    assert http_get(exporter.url + "/readyz")[0] == 503
    assert http_get(exporter.url + "/healthz")[0] == 200

    qbt.start()  # same profile and port: the torrents are still there
    s = wait_for(
        lambda: (lambda s: s if sample(s, "qbittorrent_up") == 1 else None)(exporter.scrape()),
        timeout=45,
        interval=0.5,
        what="recovery after qBittorrent restarted",
    )
    assert sum(v for (n, _), v in s.items() if n == "qbittorrent_torrents") == 3
    assert sample(s, "qbittorrent_exporter_full_syncs_total") >= 2  # resynced in full after the error
    assert exporter.proc.poll() is None


def test_wrong_password_gives_a_clear_error_and_backs_off(qbt_factory, exporter_factory, tmp_path):
    q = qbt_factory(max_auth_fail_count=5)  # qBittorrent's default: 5 failures and the IP is banned
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not-the-password-XYZZY\n")
    exporter = exporter_factory(exporter_args(q, wrong))
    for _ in range(12):  # scrapes keep coming; logins must not
        s = exporter.scrape()
        assert sample(s, "qbittorrent_up") == 0
    assert sample(s, "qbittorrent_exporter_sync_errors_total", reason="auth") == 1
    log = exporter.log()
    assert "login failed" in log and "XYZZY" not in log
    status, body = http_get(exporter.url + "/readyz")
    assert status == 503 and "login failed" in body and "XYZZY" not in body
    qlog = wait_for(lambda: q.log_file.exists() and q.log_file.read_text(), what="qBittorrent log")
    failures = re.findall(r"login failure", qlog, flags=re.IGNORECASE)
    assert len(failures) == 1, qlog
    q.client().app_version()  # not banned: the right password still works
