"""Tracker health on the real qBittorrents of the matrix, with three kinds of tracker on loopback hosts:

- 127.0.0.3: a real opentracker (working);
- 127.0.0.2:1: a closed port (not working: "Connection refused", reason down);
- 127.0.0.1: a loopback HTTP tracker answering the bencoded `failure reason` "Unregistered torrent"
  (4.x and 5.1 report it as status 4, 5.2+ as 5 "tracker error");
- 127.0.0.4: a loopback tracker that works until the test flips it to "Unregistered torrent" for all of
  its torrents at once: a tracker that lost its database.

The real exporter scans them the cheapest way each version offers (4.5: torrents/trackers one by one;
5.1: torrents/info?includeTrackers; 5.x: the 5.2 announce flags), shows each host's torrents by status
and reason, tags only the unregistered torrent once its grace period (3 s here) is over, and holds the
flipped tracker's torrents back (the outage guard), logging it once and counting it.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from exporter.sandbox import bencode, info_hash, make_payload, make_torrent
from tests.kit import versions
from tests.kit.opentracker import OpenTracker
from tests.kit.processes import http_get, sample, wait_for
from tests.kit.torrents import Restarts, exporter_args, torrent_of

pytestmark = pytest.mark.integration

ANNOUNCE_OK = bencode({"interval": 1800, "peers": b""})
UNREGISTERED = bencode({"failure reason": "Unregistered torrent"})
CONFIG = """\
tracker_scan: {interval: 1s, requests_per_second: 20, burst: 5, recheck_after: 1s, stale_after: 1m}
control:
  interval: 1s
  unregistered: {enabled: true, after: 3s, outage_min_torrents: 2, outage_share: 0.5, outage_window: 1h}
"""
FLIPPED = ("flip1", "flip2", "flip3")
NAMES_OF_HOST = {"127.0.0.3": ("ok",), "127.0.0.2": ("dead",), "127.0.0.1": ("unreg",), "127.0.0.4": FLIPPED}


def torrents_for(tmp_path, urls: dict[str, str]) -> dict[str, bytes]:
    """name -> .torrent bytes announcing to urls[name] (the flipped ones to urls["flip"])."""
    out = {}
    for i, name in enumerate(["ok", "dead", "unreg", *FLIPPED]):
        payload = make_payload(tmp_path / "nowhere", f"{name}.bin", 256 * 1024, seed=100 + i)
        out[name] = make_torrent(payload, None, [urls["flip" if name in FLIPPED else name]])
    return out


def per_host(s: dict, name: str, key: str) -> dict[tuple[str, str], float]:
    """{(tracker, status or reason): value} of a per-host family, non-zero ones only."""
    out = {}
    for (n, labels), value in s.items():
        d = dict(labels)
        if n == name and value:
            out[(d["tracker"], d[key])] = value
    return out


@pytest.mark.qbt51
def test_gauges_per_host_the_unregistered_tag_after_its_grace_and_the_outage_guard(
    qbt, qbt_client, qbt_version, password_file, exporter_factory, receivers, tmp_path
):
    started = time.monotonic()
    unreg = receivers(200, body=UNREGISTERED)
    flip = receivers(200, body=ANNOUNCE_OK, host="127.0.0.4")
    placeholder = torrents_for(
        tmp_path, dict.fromkeys(("ok", "dead", "unreg", "flip"), "http://x.invalid/announce")
    )
    hashes = {name: info_hash(data) for name, data in placeholder.items()}  # the info hash ignores trackers
    tracker = OpenTracker(tmp_path / "opentracker", [hashes["ok"]]).start()
    try:
        urls = {
            "ok": tracker.announce,
            "dead": "http://127.0.0.2:1/announce",
            "unreg": unreg.url("/announce?passkey=SECRET0123456789"),
            "flip": flip.url("/announce"),
        }
        for data in torrents_for(tmp_path, urls).values():
            qbt_client.torrents_add(torrent_files=data, save_path=str(qbt.downloads))
        cfg = tmp_path / "exporter.yml"
        cfg.write_text(CONFIG)
        exporter = exporter_factory(exporter_args(qbt, password_file, config=cfg, data_dir=tmp_path / "data"))

        # 1. every host's torrents by announce status and by reason
        expected_status = {
            ("127.0.0.3", "working"): 1,
            ("127.0.0.2", "not_working"): 1,
            (
                "127.0.0.1",
                "error" if versions.qbittorrent_at_least(qbt_version, (5, 2)) else "not_working",
            ): 1,
            ("127.0.0.4", "working"): 3,
        }
        expected_reason = {("127.0.0.2", "down"): 1, ("127.0.0.1", "unregistered"): 1}

        seen: list[tuple[dict, dict]] = []
        restarts = Restarts(qbt_client, started)  # a host qBittorrent leaves "updating" (see Restarts)

        def settled():
            s = exporter.scrape()
            status = per_host(s, "qbittorrent_tracker_announce_torrents", "status")
            reason = per_host(s, "qbittorrent_tracker_problem_torrents", "reason")
            seen[:] = [(status, reason)]
            stuck = sorted(host for (host, st) in status if st == "updating")
            restarts.nudge([hashes[n] for host in stuck for n in NAMES_OF_HOST.get(host, ())], stuck)
            return s if (status, reason) == (expected_status, expected_reason) else None

        try:
            s = wait_for(settled, timeout=75, interval=0.5, what="each tracker host's statuses and reasons")
        except AssertionError as exc:
            said = {
                n: [
                    (t["status"], t.get("updating"))
                    for t in qbt_client.torrents_trackers(h)
                    if "://" in t["url"]
                ]
                for n, h in hashes.items()
            }
            raise AssertionError(
                f"{exc}; last (status, reason) per host: {seen}; restarted (s, hosts): {restarts.done}; "
                f"qBittorrent's own (status, updating) per torrent now: {said}"
            ) from None
        source = (
            "flagged"
            if versions.qbittorrent_at_least(qbt_version, (5, 2))
            else "include_trackers"
            if versions.qbittorrent_at_least(qbt_version, (5, 1))
            else "per_torrent"
        )
        assert sample(s, "qbittorrent_exporter_tracker_scan_source", source=source) == 1

        # 2. only the unregistered torrent is tagged, once its grace period is over
        def tags(name: str) -> str:
            return (torrent_of(qbt_client, hashes[name]) or {}).get("tags", "")

        wait_for(lambda: tags("unreg") == "unregistered", timeout=20, what="the unregistered torrent tagged")
        assert all(tags(n) == "" for n in ("ok", "dead", *FLIPPED))
        audit = json.loads(http_get(exporter.url + "/api/audit")[1])["audit"]
        [tagged] = [row for row in audit if row["action"] == "tag_unregistered"]
        assert tagged["hash"] == hashes["unreg"]
        observed = re.search(r"for (\d+)s", tagged["reason"])
        assert observed and int(observed.group(1)) >= 3, tagged["reason"]  # the grace period was kept

        # 3. the flipped tracker: all of its torrents unregistered at once, none tagged
        flip.body = UNREGISTERED
        flipped = [hashes[n] for n in FLIPPED]
        qbt_client.torrents_stop(torrent_hashes=flipped)  # a restart announces at once, on every version
        qbt_client.torrents_start(torrent_hashes=flipped)
        again = Restarts(qbt_client)  # these announces too may be left "updating" (once in CI on 5.x)

        def flipped_unregistered():
            s = exporter.scrape()
            if (
                sample(s, "qbittorrent_tracker_problem_torrents", tracker="127.0.0.4", reason="unregistered")
                == 3
            ):
                return s
            flip_status = {
                st: n
                for (host, st), n in per_host(s, "qbittorrent_tracker_announce_torrents", "status").items()
                if host == "127.0.0.4"
            }
            again.nudge(flipped, flip_status)
            return None

        try:
            wait_for(
                flipped_unregistered,
                timeout=60,
                interval=0.5,
                what="the flipped tracker's three torrents unregistered",
            )
        except AssertionError as exc:
            said = [
                (t["status"], t.get("updating"), t.get("msg"))
                for h in flipped
                for t in qbt_client.torrents_trackers(h)
                if "127.0.0.4" in t["url"]
            ]
            raise AssertionError(
                f"{exc}; restarted (s, statuses): {again.done}; "
                f"qBittorrent's own (status, updating, msg): {said}"
            ) from None
        wait_for(
            lambda: sample(exporter.scrape(), "qbittorrent_exporter_unregistered_torrents") == 3,
            timeout=20,
            what="the three past their grace period, held back",
        )
        s = exporter.scrape()
        assert sample(s, "qbittorrent_exporter_unregistered_outages_total", tracker="127.0.0.4") == 1
        assert all(tags(n) == "" for n in FLIPPED)
        log = exporter.log()
        assert log.count("taken for a tracker outage") == 1, log
        assert "SECRET0123456789" not in log + json.dumps(audit) + http_get(exporter.url + "/api/report")[1]
    finally:
        tracker.stop()
    print(
        f"\n{qbt_version}: {time.monotonic() - started:.1f}s, restarted {restarts.done}, {again.done}"
    )  # for the record
