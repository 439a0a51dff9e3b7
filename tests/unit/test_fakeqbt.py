"""The benchmark's fake qBittorrent must speak real sync/maindata `rid` semantics, or the benchmark lies.

The core check: a client that starts from a full update and merges every delta by qBittorrent's rules
ends up with exactly what a fresh full update says, through churn, additions and removals.
"""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request

import pytest

from bench.fakeqbt.profiles import PROFILES
from bench.fakeqbt.server import FakeQbittorrent
from bench.fakeqbt.world import SyncSession, World


def world(version: str = "4.5.2", size: int = 300, **kw) -> World:
    return World(PROFILES[version], size, seed=7, epoch=1_700_000_000, **kw)


def merge(state: dict, payload: dict) -> dict:
    """A client's view after applying one sync/maindata payload, by qBittorrent's documented rules."""
    if payload.get("full_update"):
        state = {"torrents": {}, "trackers": {}, "server_state": {}, "categories": {}, "tags": set()}
    for h, t in payload.get("torrents", {}).items():
        state["torrents"].setdefault(h, {}).update(t)
    for h in payload.get("torrents_removed", []):
        del state["torrents"][h]  # KeyError: removal of a torrent the client never had
    state["trackers"].update(payload.get("trackers", {}))
    for url in payload.get("trackers_removed", []):
        del state["trackers"][url]
    state["server_state"].update(payload.get("server_state", {}))
    state["categories"].update(payload.get("categories", {}))
    state["tags"] |= set(payload.get("tags", []))
    return state


def normalised(state: dict) -> dict:
    return {
        **state,
        "trackers": {u: sorted(hs) for u, hs in state["trackers"].items()},
        "tags": sorted(state["tags"]),
    }


@pytest.mark.parametrize("version", sorted(PROFILES))
def test_merged_deltas_equal_a_fresh_full_update(version):
    w = world(version, added=3, removed=4)
    first = json.loads(w.maindata("client", 0))
    assert first["full_update"] is True and len(first["torrents"]) == 300
    state, rid = merge({}, first), first["rid"]
    for _ in range(6):
        w.tick()
        delta = json.loads(w.maindata("client", rid))
        assert "full_update" not in delta
        assert len(delta["torrents_removed"]) == 4
        state, rid = merge(state, delta), delta["rid"]
    fresh = merge({}, json.loads(w.maindata("someone-else", 0)))
    assert normalised(state) == normalised(fresh)
    assert len(state["torrents"]) == 300 - 6


def test_a_delta_carries_only_changed_keys_of_changed_torrents():
    w = world(churn=0.05, added=0, removed=0)
    rid = json.loads(w.maindata("c", 0))["rid"]
    before = {h: dict(r) for h, r in w.records.items()}
    w.tick()
    delta = json.loads(w.maindata("c", rid))
    assert 0 < len(delta["torrents"]) <= 15
    for h, partial in delta["torrents"].items():
        assert partial and all(before[h][k] != v for k, v in partial.items())
        assert {k for k in before[h] if before[h][k] != w.records[h][k]} == set(partial)
    assert "trackers" not in delta and "torrents_removed" not in delta


def test_rid_rules_last_sent_acknowledged_unknown_and_per_session():
    w = world(size=50, added=1, removed=1)
    r1 = json.loads(w.maindata("a", 0))["rid"]
    w.tick()
    d2 = json.loads(w.maindata("a", r1))  # r1 is the last rid sent: delta
    assert "full_update" not in d2 and d2["rid"] == r1 + 1
    w.tick()
    lost = json.loads(w.maindata("a", d2["rid"]))  # the client loses this answer and asks with d2's rid again
    again = json.loads(w.maindata("a", d2["rid"]))  # the acknowledged rid: a delta that still holds tick 2
    assert "full_update" not in again and again["torrents"] == lost["torrents"]
    assert json.loads(w.maindata("a", 999))["full_update"] is True  # unknown rid
    assert json.loads(w.maindata("a", r1))["full_update"] is True  # too old
    assert json.loads(w.maindata("b", r1))["full_update"] is True  # another session knows nothing
    nothing = json.loads(w.maindata("b", json.loads(w.maindata("b", 0))["rid"]))
    assert set(nothing) == {"rid"}


def test_rid_cycles_between_1_and_1000000():
    w = world(size=5)
    w.sessions["c"] = SyncSession(last_sent_rid=1_000_000, last_sent_version=w.version)
    assert json.loads(w.maindata("c", 1_000_000))["rid"] == 1


@pytest.mark.parametrize(
    "params, expect",
    [
        (
            {"filter": "downloading"},
            lambda t: (
                t["state"]
                in ("downloading", "stalledDL", "metaDL", "pausedDL", "queuedDL", "forcedDL", "checkingDL")
            ),
        ),
        ({"filter": "paused"}, lambda t: t["state"] in ("pausedUP", "pausedDL")),
        ({"category": ""}, lambda t: t["category"] == ""),
        ({"tag": "hd"}, lambda t: "hd" in t["tags"].split(", ")),
    ],
    ids=["downloading", "paused", "uncategorised", "tag"],
)
def test_torrents_info_filters(params, expect):
    w = world()
    everything = json.loads(w.torrents_info({}))
    chosen = json.loads(w.torrents_info(params))
    assert chosen and len(chosen) < len(everything)
    assert {t["hash"] for t in chosen} == {t["hash"] for t in everything if expect(t)}


def test_torrents_info_sort_limit_offset():
    w = world()
    page = json.loads(w.torrents_info({"sort": "size", "reverse": "true", "limit": "5", "offset": "2"}))
    sizes = sorted((r["size"] for r in w.records.values()), reverse=True)
    assert [t["size"] for t in page] == sizes[2:7]


def test_5x_shape_renames_states_and_adds_fields():
    t = json.loads(world("5.0.4").torrents_info({}))
    states = {x["state"] for x in t}
    assert "stoppedUP" in states and "pausedUP" not in states
    assert {"popularity", "private", "has_metadata", "root_path", "reannounce", "comment"} <= set(t[0])


def test_http_login_gzip_counters_and_recorded_writes():
    fake = FakeQbittorrent(world("5.0.4")).start()
    try:
        api = fake.url + "/api/v2/"
        with pytest.raises(urllib.error.HTTPError) as forbidden:
            urllib.request.urlopen(api + "torrents/info")
        assert forbidden.value.code == 403
        bad = urllib.request.urlopen(api + "auth/login", data=b"username=admin&password=wrong")
        assert bad.read() == b"Fails." and "SID=" not in (bad.headers.get("Set-Cookie") or "")
        ok = urllib.request.urlopen(api + "auth/login", data=b"username=admin&password=adminadmin")
        cookie = ok.headers["Set-Cookie"].split(";")[0]
        headers = {"Cookie": cookie, "Accept-Encoding": "gzip"}
        r = urllib.request.urlopen(urllib.request.Request(api + "sync/maindata?rid=0", headers=headers))
        assert r.headers["Content-Encoding"] == "gzip"
        assert len(json.loads(gzip.decompress(r.read()))["torrents"]) == 300
        h = next(iter(fake.world.records))
        before = dict(fake.world.records[h])
        stop = urllib.request.Request(api + "torrents/stop", data=f"hashes={h}".encode(), headers=headers)
        urllib.request.urlopen(stop)
        with pytest.raises(urllib.error.HTTPError) as gone:  # 5.x has no torrents/pause
            urllib.request.urlopen(
                urllib.request.Request(api + "torrents/pause", data=b"hashes=all", headers=headers)
            )
        assert gone.value.code == 404
        assert fake.writes == [{"endpoint": "torrents/stop", "params": {"hashes": h}, "version": 0}]
        assert fake.world.records[h] == before  # recorded, never applied
        stats = json.loads(urllib.request.urlopen(fake.url + "/bench/stats").read())
        md = stats["by_endpoint"]["sync/maindata"]
        assert md["requests"] == 1 and 0 < md["wire_bytes"] < md["json_bytes"]
    finally:
        fake.stop()
