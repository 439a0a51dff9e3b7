"""Reading tracker lists: the answers' shapes checked whole (qbt/trackers.py), and Connection's two reads
against a loopback Web API (the request each version gets, a 404 for a removed torrent, a bad body, the
deadline); no error message carries a tracker URL."""

from __future__ import annotations

import time

import pytest

from exporter.qbt.connection import Connection, ConnectionSettings, QBittorrentError
from exporter.qbt.maindata import PayloadError
from exporter.qbt.trackers import check_torrents_with_trackers, check_tracker_rows
from tests.kit.qbt_fake import API_KEY, PASSWORD, FakeQbt5
from tests.kit.receiver import Response

PASSKEY_URL = "https://t.example/announce?passkey=SECRET123"
ROWS = [
    {"url": "** [DHT] **", "status": 2, "msg": "", "tier": -1},
    {"url": PASSKEY_URL, "status": 4, "msg": "Unregistered torrent", "tier": 0},
]


@pytest.mark.parametrize(
    "payload, error",
    [
        (ROWS, None),
        ([], None),
        ({"url": PASSKEY_URL}, "torrents/trackers response is not a list of objects"),
        ([PASSKEY_URL], "torrents/trackers response is not a list of objects"),
        (None, "torrents/trackers response is not a list of objects"),
    ],
    ids=["rows", "none", "object", "strings", "null"],
)
def test_tracker_rows_are_a_list_of_objects(payload, error):
    if error is None:
        assert check_tracker_rows(payload) is payload
    else:
        with pytest.raises(PayloadError, match=error) as err:
            check_tracker_rows(payload)
        assert "SECRET" not in str(err.value)


@pytest.mark.parametrize(
    "payload, error",
    [
        ([{"hash": "AB", "trackers": ROWS}, {"hash": "cd", "trackers": []}], None),
        ({"ab": ROWS}, "torrents/info response is not a list"),
        ([ROWS], "holds a torrent that is not an object"),
        ([{"trackers": ROWS}], "holds a torrent without a hash"),
        ([{"hash": 7, "trackers": ROWS}], "holds a torrent without a hash"),
        ([{"hash": "ab"}], "sent no 'trackers' .qBittorrent before 5.1"),
        ([{"hash": "ab", "trackers": {"url": PASSKEY_URL}}], "'trackers' of a torrent is not a list"),
        ([{"hash": "ab", "trackers": ROWS}, {"hash": "cd", "trackers": [PASSKEY_URL]}], "not a list of obj"),
    ],
    ids=["ok", "object", "list", "no-hash", "int-hash", "pre-5.1", "rows-object", "second-bad"],
)
def test_torrents_with_trackers_are_checked_whole(payload, error):
    if error is None:
        assert check_torrents_with_trackers(payload) == {"ab": ROWS, "cd": []}  # hashes lower-cased
    else:
        with pytest.raises(PayloadError, match=error) as err:
            check_torrents_with_trackers(payload)
        assert "SECRET" not in str(err.value)


def connection(server: FakeQbt5, timeout: float = 4.0) -> Connection:
    return Connection(ConnectionSettings(url=server.url(), api_key=API_KEY, timeout=timeout))


def test_torrent_trackers_reads_one_torrent_and_a_removed_one_is_none():
    with FakeQbt5(routes={"/api/v2/torrents/trackers": ROWS}) as server:
        conn = connection(server)
        assert conn.torrent_trackers("ab") == ROWS
        assert server.requests[-1][0] == "/api/v2/torrents/trackers" and server.requests[-1][2] == {
            "hash": "ab"
        }
    with FakeQbt5() as server:  # no such torrent: qBittorrent answers 404
        assert connection(server).torrent_trackers("ab") is None


def test_torrents_with_trackers_asks_for_hashes_or_a_page_sorted_by_hash():
    answer = [{"hash": "ab", "name": "x", "trackers": ROWS}]
    with FakeQbt5(routes={"/api/v2/torrents/info": answer}) as server:
        conn = connection(server)
        assert conn.torrents_with_trackers(hashes=["ab", "cd"]) == {"ab": ROWS}
        assert conn.torrents_with_trackers(offset=500, limit=500) == {"ab": ROWS}
        forms = [form for path, _, form in server.requests if path == "/api/v2/torrents/info"]
    assert forms == [
        {"includeTrackers": "true", "hashes": "ab|cd"},
        {"includeTrackers": "true", "sort": "hash", "offset": "500", "limit": "500"},
    ]


@pytest.mark.parametrize(
    "route, answer",
    [
        ("trackers", Response(200, b"<html>not json", {"Content-Type": "text/html"})),
        ("trackers", [{"url": PASSKEY_URL}, "row"]),
        ("info", [{"hash": "ab"}]),  # 5.0 ignores includeTrackers: refused, not read as "no trackers"
        ("info", Response(500, b"boom")),
    ],
    ids=["not-json", "bad-row", "no-trackers-key", "http-500"],
)
def test_a_bad_answer_is_a_short_error_without_the_url(route, answer):
    with FakeQbt5(routes={f"/api/v2/torrents/{route}": answer}) as server:
        conn = connection(server)
        with pytest.raises(QBittorrentError) as err:
            conn.torrent_trackers("ab") if route == "trackers" else conn.torrents_with_trackers(["ab"])
    expected = "http" if route == "info" and isinstance(answer, Response) else "response"
    assert err.value.reason == expected
    assert "SECRET" not in str(err.value) and "\n" not in str(err.value)


def test_a_hung_tracker_read_ends_within_the_request_deadline():
    with FakeQbt5(
        hang=3.0, hang_path="/api/v2/torrents/trackers", routes={"/api/v2/torrents/trackers": ROWS}
    ) as s:
        conn = connection(s, timeout=0.3)
        conn.login()
        started = time.monotonic()
        with pytest.raises(QBittorrentError) as err:
            conn.torrent_trackers("ab")
        assert err.value.reason == "timeout" and time.monotonic() - started < 1.5


def test_tracker_reads_go_straight_and_a_404_or_a_403_the_full_way(monkeypatch):
    answer = [{"hash": "ab", "name": "x", "trackers": ROWS}]
    routes = {"/api/v2/torrents/trackers": ROWS, "/api/v2/torrents/info": answer}
    with FakeQbt5(routes=routes) as server:
        conn = Connection(ConnectionSettings(url=server.url(), password=PASSWORD))
        through: list[str] = []
        post_cast = conn._client._post_cast
        monkeypatch.setattr(
            conn._client, "_post_cast", lambda **kw: through.append(kw["_method"]) or post_cast(**kw)
        )
        conn.login()
        through.clear()  # the login goes qbittorrentapi's way
        assert conn.torrent_trackers("ab") == ROWS
        assert conn.torrents_with_trackers(hashes=["ab", "cd"]) == {"ab": ROWS}
        assert through == []  # both straight (_post_direct), with the forms qbittorrentapi sends:
        forms = [(path, form) for path, _, form in server.requests if path.startswith("/api/v2/torrents/")]
        assert forms == [
            ("/api/v2/torrents/trackers", {"hash": "ab"}),
            ("/api/v2/torrents/info", {"includeTrackers": "true", "hashes": "ab|cd"}),
        ]
        del server.routes["/api/v2/torrents/trackers"]  # the torrent is gone: a 404, worded the full way
        assert conn.torrent_trackers("ab") is None and through == ["trackers"]
        server.sessions.clear()  # qBittorrent restarted: a 403 straight, and the full way logs in again
        logins = server.count("/api/v2/auth/login")
        assert conn.torrents_with_trackers(offset=0, limit=10) == {"ab": ROWS}
        assert through[1:2] == ["info"] and server.count("/api/v2/auth/login") == logins + 1
        conn.close()
