"""What differs between the qBittorrent versions of the matrix, on the real binaries (tests/kit/versions.py),
and that the exporter copes with each difference:

- 5.2+: login answers 204 (older: 200 "Ok."), wrong credentials 401 (older: 200 "Fails."), the session
  cookie is QBT_SID_<WebUI port> (older: SID); API keys (app/rotateAPIKey) authenticate as a Bearer token;
- 5.0+: torrents/stop and torrents/start (pause and resume answer 404), states stoppedUP/stoppedDL;
- 5.1+: a torrent's `tracker` field names its first tracker when none works (older: ""), so tracker
  hosts must come from sync/maindata's `trackers` map;
- newer versions send fields older ones do not (5.0+: private, popularity, reannounce...; 5.2+:
  has_tracker_error, share_limit_action...): equivalent torrents give the same metrics on every version.

Each test runs on the versions it concerns; where the point is that nothing changes, 4.5 is the baseline.
What a version should do comes from the version its binary reports, never from a string in the test.
"""

from __future__ import annotations

import pytest
import requests

from exporter.qbt import decode
from exporter.qbt.connection import Connection, ConnectionSettings, QBittorrentError
from exporter.sandbox import bencode, info_hash, make_payload, make_torrent
from tests.kit import versions
from tests.kit.processes import http_get, sample, wait_for
from tests.kit.torrents import DEAD, Restarts, add_stalled, exporter_args, seed_on, torrent_of

pytestmark = pytest.mark.integration

ANNOUNCE_OK = bencode({"interval": 1800, "peers": b""})  # a tracker's answer: no peers, come back later


def login(q, password: str | None = None) -> requests.Response:
    return requests.post(
        q.url + "/api/v2/auth/login",
        data={"username": q.username, "password": q.password if password is None else password},
        timeout=10,
    )


def session_of(q) -> requests.Session:
    """A raw Web API session on `q`, logged in."""
    session = requests.Session()
    answer = session.post(
        q.url + "/api/v2/auth/login", data={"username": q.username, "password": q.password}, timeout=10
    )
    assert answer.ok and session.cookies, answer.status_code
    return session


def settings_for(q, **changes) -> ConnectionSettings:
    return ConnectionSettings(**{"url": q.url, "username": q.username, "password": q.password, **changes})


@pytest.mark.qbt51
def test_login_answer_and_session_cookie_of_each_version(qbt, qbt_version):
    ok, bad = login(qbt), login(qbt, password="wrong")
    if versions.qbittorrent_at_least(qbt_version, (5, 2)):
        assert (ok.status_code, ok.text) == (204, "")
        assert list(ok.cookies.keys()) == [f"QBT_SID_{qbt.webui_port}"]
        assert bad.status_code == 401
    else:
        assert (ok.status_code, ok.text) == (200, "Ok.")
        assert list(ok.cookies.keys()) == ["SID"]
        assert (bad.status_code, bad.text) == (200, "Fails.")
    assert not bad.cookies
    session = requests.get(qbt.url + "/api/v2/app/version", cookies=ok.cookies, timeout=10)
    assert session.text == versions.qbittorrent_version(qbt_version)

    conn = Connection(settings_for(qbt))  # the exporter's own login, on this version's answers
    assert conn.login().version == versions.qbittorrent_version(qbt_version)
    conn.close()
    with pytest.raises(QBittorrentError) as refused:
        Connection(settings_for(qbt, password="wrong-XYZZY")).login()
    assert refused.value.reason == "auth" and "XYZZY" not in str(refused.value)


def api_key_exporter(exporter_factory, q, key_file):
    return exporter_factory(
        [
            "--qbittorrent.url",
            q.url,
            "--qbittorrent.api-key-file",
            str(key_file),
            "--qbittorrent.min-sync-age",
            "0",
        ]
    )


def everything_printed(exporter) -> str:
    """The exporter's log and every answer a user or Prometheus can read."""
    pages = [http_get(exporter.url + path)[1] for path in ("/metrics", "/readyz", "/api/report")]
    return exporter.log() + "".join(pages)


@pytest.mark.qbt_versions("5.x")
def test_an_api_key_made_on_the_real_instance_syncs_and_a_wrong_one_is_an_auth_error(
    qbt, qbt_client, qbt_version, exporter_factory, tmp_path
):
    assert versions.qbittorrent_at_least(qbt_version, (5, 2)), "API keys came with 5.2"
    key = session_of(qbt).post(qbt.url + "/api/v2/app/rotateAPIKey", timeout=10).json()["apiKey"]
    assert key.startswith("qbt_") and len(key) > 8
    h = add_stalled(qbt_client, qbt, tmp_path, "keyed.bin")
    (tmp_path / "key").write_text(key + "\n")
    wrong = "qbt_" + "".join("A" if c != "A" else "B" for c in key[4:])  # same shape, another key
    (tmp_path / "wrong").write_text(wrong + "\n")

    good = api_key_exporter(exporter_factory, qbt, tmp_path / "key")
    s = wait_for(
        lambda: (s := good.scrape()) and sample(s, "qbittorrent_up") == 1 and s,
        timeout=15,
        what="a sync with the API key",
    )
    assert sample(s, "qbittorrent_torrents", state="stalledDL", status="stalled", category="") == 1
    assert sample(s, "qbittorrent_exporter_sync_errors_total", reason="auth") in (None, 0)

    bad = api_key_exporter(exporter_factory, qbt, tmp_path / "wrong")
    s = wait_for(
        lambda: (
            (s := bad.scrape())
            and (sample(s, "qbittorrent_exporter_sync_errors_total", reason="auth") or 0) >= 1
            and s
        ),
        timeout=15,
        what="the wrong key counted as an auth error",
    )
    assert sample(s, "qbittorrent_up") == 0
    assert http_get(bad.url + "/readyz")[0] == 503
    for exporter in (good, bad):
        printed = everything_printed(exporter)
        assert key not in printed and wrong not in printed and key[4:] not in printed
    assert torrent_of(qbt_client, h)["state"] == "stalledDL"  # the key changed nothing in qBittorrent


@pytest.mark.qbt_versions("4.5", "5.1")
def test_an_api_key_given_to_a_version_without_api_keys_is_an_auth_error(
    qbt, qbt_version, exporter_factory, tmp_path
):
    assert not versions.qbittorrent_at_least(qbt_version, (5, 2))
    key = "qbt_NoSuchKeyOnThisVersion0000000"
    (tmp_path / "key").write_text(key + "\n")
    exporter = api_key_exporter(exporter_factory, qbt, tmp_path / "key")
    s = wait_for(
        lambda: (
            (s := exporter.scrape())
            and (sample(s, "qbittorrent_exporter_sync_errors_total", reason="auth") or 0) >= 1
            and s
        ),
        timeout=15,
        what="the API key refused as an auth error",
    )
    assert sample(s, "qbittorrent_up") == 0
    assert key not in everything_printed(exporter) and "Traceback" not in exporter.log()


@pytest.mark.qbt51
def test_stop_and_start_use_the_versions_endpoints_and_state_names(qbt, qbt_client, qbt_version, tmp_path):
    h = add_stalled(qbt_client, qbt, tmp_path, "toggled.bin")
    five = versions.qbittorrent_at_least(qbt_version, (5, 0))
    gone = ("pause", "resume") if five else ("stop", "start")
    session = session_of(qbt)
    for endpoint in gone:
        answer = session.post(f"{qbt.url}/api/v2/torrents/{endpoint}", data={"hashes": h}, timeout=10)
        assert answer.status_code == 404, endpoint

    conn = Connection(settings_for(qbt))  # what the action jobs call
    conn.login()
    conn.stop([h])
    stopped = "stoppedDL" if five else "pausedDL"
    wait_for(lambda: torrent_of(qbt_client, h)["state"] == stopped, timeout=10, what=f"state {stopped}")
    conn.start([h])
    wait_for(lambda: torrent_of(qbt_client, h)["state"] == "stalledDL", timeout=10, what="running again")
    conn.close()


@pytest.mark.qbt51
def test_tracker_hosts_come_from_the_trackers_map_whatever_the_tracker_field_says(
    qbt, qbt_client, qbt_version, password_file, exporter_factory, receivers, tmp_path
):
    working = receivers(200, body=ANNOUNCE_OK)
    # Refused at once, and a host of its own without a DNS lookup: 127.0.0.2 is loopback too.
    dead = "http://127.0.0.2:1/announce"
    payload = make_payload(tmp_path / "src", "two-trackers.bin", 256 * 1024, seed=3)
    both = make_torrent(payload, tmp_path / "both.torrent", [dead, working.url("/announce")])
    qbt_client.torrents_add(torrent_files=both, save_path=str(payload.parent))
    h_both = info_hash(both)
    h_dead = add_stalled(qbt_client, qbt, tmp_path, "dead-only.bin", tracker=dead)

    def statuses(h: str) -> list[int]:
        """qBittorrent's status of each of h's trackers: 1 not contacted, 2 working, 3 updating, 4 failed."""
        return [t["status"] for t in qbt_client.torrents_trackers(h) if t["url"].startswith("http")]

    # The second tier is tried once the first fails: ~1.5 s, rarely a 15 s connect timeout; now and then
    # qBittorrent leaves the announce "updating" (seen once on 5.x in CI): see Restarts.
    restarts, last = Restarts(qbt_client), []

    def second_working() -> bool:
        last[:] = [statuses(h_both)]
        if last[0] in ([1, 2], [3, 2], [4, 2]):
            return True
        restarts.nudge([h_both], last[0])
        return False

    try:
        wait_for(second_working, timeout=75, what="the second tracker working (the first never does)")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; qBittorrent's statuses {last}, restarted {restarts.done}") from None
    assert working.requests and working.requests[0].path.startswith("/announce?info_hash=")
    assert 2 not in statuses(h_dead)
    fallback = versions.qbittorrent_at_least(qbt_version, (5, 1))
    assert torrent_of(qbt_client, h_dead)["tracker"] == (dead if fallback else "")  # though not working

    exporter = exporter_factory(exporter_args(qbt, password_file))
    s = wait_for(
        lambda: (s := exporter.scrape()) and sample(s, "qbittorrent_up") == 1 and s, what="the first sync"
    )
    per_host = {
        dict(labels)["tracker"]: value
        for (n, labels), value in s.items()
        if n == "qbittorrent_tracker_torrents"
    }
    assert per_host == {"127.0.0.2": 2, "127.0.0.1": 1}


@pytest.mark.qbt51
def test_tracker_lists_come_in_the_plain_form_a_delta_is_diffed_in(qbt, qbt_client, tmp_path):
    """qBittorrent resends a tracker's whole hash list when one torrent joins it; the mirror decodes only
    the part that differs from the last one (decode.list_diff), which reads the plain form: every
    version must write it (else each list is decoded whole: right, but the cost this avoids)."""
    first = [add_stalled(qbt_client, qbt, tmp_path, f"plain-{i}.bin", tracker=DEAD) for i in range(2)]
    session = session_of(qbt)

    def sync(rid: int) -> tuple[int, bytes | None]:
        body = session.post(qbt.url + "/api/v2/sync/maindata", data={"rid": rid}, timeout=10).content
        top = decode.top(body)
        return top.rid, bytes(top.trackers[DEAD]) if top.trackers and DEAD in top.trackers else None

    rid, last = sync(0)
    assert last is not None and decode.plain_count(last) == 2
    third = add_stalled(qbt_client, qbt, tmp_path, "plain-2.bin", tracker=DEAD)
    seen: list[bytes] = []

    def grown() -> bool:
        nonlocal rid
        rid, raw = sync(rid)
        if raw is not None:
            seen.append(raw)
        return bool(seen) and decode.plain_count(seen[-1]) == 3

    wait_for(grown, timeout=15, what="the tracker's list with the third torrent in a delta")
    diff = decode.list_diff(last if len(seen) == 1 else seen[-2], 2, seen[-1])
    assert diff is not None and diff.added == {third} and not diff.gone and diff.size == 3
    assert set(first) | {third} == set(decode.strings(seen[-1]))


# -- fields only newer versions send -----------------------------------------------------------------

# What may differ between two instances with equivalent torrents: the exporter's own timings and counts,
# the instances' disks and clocks, and qbittorrent_info, whose labels are the versions (compared apart).
# Not about the torrents' fields: the tracker scan's gauges follow each qBittorrent's own announces (when
# it tried which tracker), so two instances agree on them only by chance (test_tracker_health_real.py).
VOLATILE = (
    "qbittorrent_exporter_",
    "qbittorrent_free_space_bytes",
    "qbittorrent_info",
    "_seeding_time_",
    "qbittorrent_tracker_announce_",
    "qbittorrent_tracker_problem_",
)
FIELDS_5_0 = {"private", "popularity", "reannounce", "has_metadata", "comment", "root_path"}
FIELDS_5_2 = {"has_tracker_error", "has_tracker_warning", "has_other_announce_error", "share_limit_action"}


def equivalent_torrents(q, tmp_path) -> list[str]:
    """The same torrents on `q` as on any other instance: a private seed with a category and a tag, a
    stalled and a stopped download (same payloads, so the same hashes)."""
    client = q.client()
    client.torrents_create_category(name="movies")
    h_seed, _ = seed_on(client, tmp_path, "seed.bin")
    client.torrents_set_category(category="movies", torrent_hashes=h_seed)
    client.torrents_add_tags(tags="hd", torrent_hashes=h_seed)
    private = make_payload(tmp_path / "private", "private.bin", 256 * 1024, seed=5)
    data = make_torrent(private, tmp_path / "private.torrent", ["http://127.0.0.1:1/x"], private=True)
    client.torrents_add(torrent_files=data, save_path=str(private.parent))
    return [
        h_seed,
        info_hash(data),
        add_stalled(client, q, tmp_path, "stalled.bin"),
        add_stalled(client, q, tmp_path, "stopped.bin", paused=True),
    ]


def comparable(samples: dict) -> dict:
    """The samples two equivalent instances must agree on, without the `qbittorrent` label (the name of
    each instance: its host:port)."""
    return {
        (name, frozenset((k, v) for k, v in labels if k != "qbittorrent")): value
        for (name, labels), value in samples.items()
        if not any(part in name for part in VOLATILE)
    }


@pytest.mark.qbt_versions("5.1", "5.x")
def test_fields_only_newer_versions_send_change_no_metric(
    qbt_factory, qbt_version, password_file, exporter_factory, tmp_path
):
    old, new = qbt_factory("old", version="4.5"), qbt_factory("new")
    hashes = equivalent_torrents(old, tmp_path / "old")
    assert equivalent_torrents(new, tmp_path / "new") == hashes

    sent = [
        set().union(*(t.keys() for t in q.client().sync_maindata(rid=0)["torrents"].values()))
        for q in (old, new)
    ]
    expected_new = FIELDS_5_0 | (FIELDS_5_2 if versions.qbittorrent_at_least(qbt_version, (5, 2)) else set())
    assert expected_new <= sent[1] and not expected_new & sent[0], "the test would show nothing"

    args = ("--metrics.per-torrent", "true")
    exporters = [exporter_factory(exporter_args(q, password_file, *args)) for q in (old, new)]

    def same():
        a, b = (comparable(e.scrape()) for e in exporters)
        return (a, b) if a == b and sample(a, "qbittorrent_up") == 1 else None

    try:
        a, b = wait_for(same, timeout=20, what="the same metrics from both versions")
    except AssertionError:
        a, b = (comparable(e.scrape()) for e in exporters)
        diff = sorted(
            (k[0], sorted(k[1]), a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)
        )
        raise AssertionError(f"4.5 vs {qbt_version}: {diff}") from None
    assert sample(a, "qbittorrent_torrents", state="stoppedDL", status="paused", category="") == 1
    assert sample(a, "qbittorrent_torrents", state="stalledDL", status="stalled", category="") == 1
    assert (
        sum(
            v
            for (n, labels), v in a.items()
            if n == "qbittorrent_torrents" and ("category", "movies") in labels
        )
        == 1
    )
    assert len([k for k in a if k[0] == "qbittorrent_torrent_info"]) == len(hashes)
