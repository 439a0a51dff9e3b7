"""The mirror's merge logic, replayed from sync/maindata sequences: real ones recorded from qBittorrent 4.5.2
and 5.3.0 by scripts/record-maindata (the same steps on each version), and a hand-written one for what no
real qBittorrent sends (numbers as strings, a state from the future, "-" for an unknown ratio)."""

import json
import random
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from exporter.managers.state import is_complete
from exporter.qbt.maindata import MaindataState, PayloadError
from tests.kit.builders import totals_of

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def replay(name: str) -> list:
    """The Snapshot after each step of a recorded sequence."""
    state = MaindataState("test")
    out = []
    for i, step in enumerate(json.loads((GOLDEN / name).read_text())["steps"]):
        state.apply(step["payload"])
        out.append(state.snapshot(taken_at=float(i)))
    return out


def assert_totals_consistent(snap):
    """The incrementally kept totals equal the ones computed from scratch."""
    fresh_sc, fresh_cat, fresh_tr = totals_of(snap.torrents.values()).frozen()
    assert dict(snap.by_state_category) == fresh_sc
    assert dict(snap.by_category) == fresh_cat
    assert dict(snap.by_tracker) == fresh_tr


# The real recordings, by the version that sent them. Same steps, so the same assertions hold for each.
RECORDED = ("maindata-4.5.2.json", "maindata-5.3.0.json")
ALL = (*RECORDED, "maindata-5.0.json")


def raw_steps(name: str) -> list[dict]:
    return [step["payload"] for step in json.loads((GOLDEN / name).read_text())["steps"]]


@pytest.mark.parametrize("name", RECORDED, ids=lambda n: n.removeprefix("maindata-").removesuffix(".json"))
def test_real_sequence(name):
    snaps = replay(name)
    empty, added, recategorised, stopped, second, removed, tag_created, tag_removed = snaps
    assert len(empty.torrents) == 0 and empty.server.global_ratio is None  # "-" on a fresh instance
    assert empty.server.connection_status == "firewalled"

    (first,) = added.torrents.values()
    assert first.name == "first.bin" and first.category == "movies" and first.tags == ("hd", "new")
    assert first.trackers == ("127.0.0.1", "tracker.example.org")
    assert added.categories == ("movies",) and added.tags == ("hd", "new")
    assert added.by_tracker["127.0.0.1"].torrents == added.by_tracker["tracker.example.org"].torrents == 1

    assert recategorised.torrents[first.hash].category == "tv"
    assert recategorised.torrents[first.hash].name == "first.bin"  # kept from before: partial merge
    assert is_complete(recategorised.torrents[first.hash])
    raw_state = raw_steps(name)[3]["torrents"][first.hash]["state"]
    assert raw_state == ("pausedUP" if name == "maindata-4.5.2.json" else "stoppedUP")
    assert stopped.torrents[first.hash].state == "stoppedUP"  # 4.x pausedUP, normalised
    assert len(second.torrents) == 2

    assert list(removed.torrents) != [] and first.hash not in removed.torrents
    (survivor,) = removed.torrents.values()
    assert survivor.trackers == ("127.0.0.1",)
    assert "tracker.example.org" not in removed.by_tracker  # trackers_removed honoured
    assert tag_created.categories == ("tv",) and tag_created.tags == ("hd", "new", "tmp")
    assert tag_removed.tags == ("hd", "new")
    before, after = tag_created.torrents[survivor.hash], tag_removed.torrents[survivor.hash]
    if name == "maindata-4.5.2.json":  # no announce flags before 5.2; nothing changed, not even the object
        assert after is before and after.has_tracker_error is after.has_other_announce_error is None
    else:  # 5.3's last delta: has_other_announce_error (and reannounce, which the model does not read)
        assert (before.has_tracker_error, before.has_other_announce_error) == (False, False)
        assert (after.has_tracker_error, after.has_other_announce_error) == (False, True)
        assert after.name == before.name and after.state == before.state
    for snap in snaps:
        assert_totals_consistent(snap)


def test_hand_written_sequence_of_what_no_recording_shows():
    full, partial, renamed, completed = replay("maindata-5.0.json")
    a, b, c = (full.torrents[h] for h in ("aaaa", "bbbb", "cccc"))
    assert a.state == "stoppedUP" and a.tracker == "tracker.example.org" and a.seeding_time == 86400
    assert c.state == "unknown"  # a state we do not know does not crash anything
    assert full.server.global_ratio == 2.5 and full.server.dht_nodes == 312
    assert full.by_state_category[("unknown", "linux")] == 1

    assert partial.server.global_ratio is None  # "-": unknown
    assert partial.server.dl_info_speed == 2048 and partial.server.free_space_on_disk == 4_000_000_000
    assert partial.server.alltime_ul == 2500  # partial server_state keeps the rest
    assert partial.torrents["bbbb"].progress == 0.5 and partial.torrents["bbbb"].name == "ubuntu.iso"
    assert partial.torrents["aaaa"] is full.torrents["aaaa"]  # unchanged field -> same object

    assert "cccc" not in renamed.torrents and renamed.tags == ()
    assert renamed.torrents["aaaa"].state == "uploading"
    assert renamed.by_tracker["open.tracker.test"].torrents == 1
    assert is_complete(completed.torrents["bbbb"]) and completed.server.global_ratio == 1.75
    for snap in (full, partial, renamed, completed):
        assert_totals_consistent(snap)


def test_no_secret_reaches_the_model():
    for name in ALL:
        for snap in replay(name):
            for t in snap.torrents.values():
                assert "SECRET" not in repr(t)
            assert "SECRET" not in repr(dict(snap.by_tracker))


def test_full_update_replaces_everything():
    state = MaindataState()
    state.apply(
        {"rid": 1, "full_update": True, "torrents": {"x": {"name": "x", "size": 1}}, "categories": {"a": {}}}
    )
    state.apply({"rid": 2, "full_update": True, "torrents": {"y": {"name": "y", "size": 2}}})
    snap = state.snapshot(0)
    assert list(snap.torrents) == ["y"] and snap.categories == ()
    assert dict(snap.by_category) == {"": type(snap.by_category[""])(1, 2, 0, 0)}


def test_snapshot_is_immutable_and_stable():
    state = MaindataState()
    state.apply({"rid": 1, "full_update": True, "torrents": {"x": {"name": "x"}}})
    snap = state.snapshot(1.0)
    with pytest.raises(TypeError):
        snap.torrents["y"] = snap.torrents["x"]  # type: ignore[index]
    with pytest.raises(FrozenInstanceError):
        snap.torrents["x"].name = "changed"  # type: ignore[misc]
    state.apply({"rid": 2, "torrents": {"x": {"name": "renamed"}}})
    assert snap.torrents["x"].name == "x"  # the old snapshot did not change
    assert state.snapshot(2.0).torrents["x"].name == "renamed"
    state.apply({"rid": 3})
    again = state.snapshot(3.0)
    assert again.generation == state.snapshot(4.0).generation  # nothing changed: same generation


@pytest.mark.parametrize(
    "payload",
    [None, [], {"rid": "1"}, {"torrents": {}}, {"rid": 1, "torrents": []}],
    ids=["none", "list", "rid-string", "no-rid", "torrents-list"],
)
def test_malformed_payload_is_rejected(payload):
    with pytest.raises(PayloadError):
        MaindataState().apply(payload)


def test_random_deltas_keep_totals_consistent():
    """Many random partial updates, removals and tracker changes: totals never drift."""
    rng = random.Random(7)
    states = ["uploading", "stalledUP", "pausedDL", "stoppedDL", "downloading", "error", "weird"]
    hosts = [f"http://t{i}.example/announce" for i in range(4)]
    state = MaindataState()
    state.apply({"rid": 1, "full_update": True})
    members: dict[str, set] = {u: set() for u in hosts}
    alive: set[str] = set()
    for rid in range(2, 300):
        payload: dict = {"rid": rid, "torrents": {}, "trackers": {}}
        for _ in range(rng.randint(0, 6)):
            h = f"h{rng.randint(0, 40)}"
            payload["torrents"][h] = {
                k: v
                for k, v in {
                    "state": rng.choice(states),
                    "category": rng.choice(["", "a", "b"]),
                    "size": rng.randint(0, 10**9),
                    "uploaded": rng.randint(0, 10**9),
                    "downloaded": rng.randint(0, 10**9),
                }.items()
                if rng.random() < 0.6
            }
            alive.add(h)
        if alive and rng.random() < 0.3:
            gone = rng.choice(sorted(alive))
            alive.discard(gone)
            payload["torrents"].pop(gone, None)
            payload["torrents_removed"] = [gone]
            for m in members.values():
                m.discard(gone)
        url = rng.choice(hosts)
        if alive and rng.random() < 0.5:
            members[url] ^= {rng.choice(sorted(alive))}
            members[url] &= alive
            if members[url]:
                payload["trackers"][url] = sorted(members[url])
            else:
                payload["trackers_removed"] = [url]
        state.apply(payload)
        snap = state.snapshot(float(rid))
        assert_totals_consistent(snap)
        for h, t in snap.torrents.items():
            expected = tuple(sorted({u.split("/")[2] for u, m in members.items() if h in m}))
            assert t.trackers == expected


def test_parsing_drops_only_what_the_model_never_reads():
    from exporter.qbt.maindata import parse_maindata

    for name in ALL:
        plain, slim = MaindataState(), MaindataState()
        for step in json.loads((GOLDEN / name).read_text())["steps"]:
            plain.apply(step["payload"])
            parsed = parse_maindata(json.dumps(step["payload"]))
            slim.apply(parsed)
            for t in (parsed.get("torrents") or {}).values():
                assert "magnet_uri" not in t
            assert dict(slim.snapshot(0).torrents) == dict(plain.snapshot(0).torrents)


def test_snapshot_says_which_torrents_changed_since_the_previous_one():
    state = MaindataState("one")
    torrents = {h: {"name": h, "state": "uploading", "size": 1} for h in ("a" * 40, "b" * 40, "c" * 40)}
    state.apply({"rid": 1, "full_update": True, "torrents": torrents})
    first = state.snapshot(1.0)
    assert first.changes is None  # after a full update: compare everything
    state.apply({"rid": 2, "torrents": {"a" * 40: {"upspeed": 5}, "c" * 40: {"name": "c" * 40}}})
    state.apply({"rid": 3, "torrents_removed": ["b" * 40]})
    second = state.snapshot(2.0)
    assert second.changes == (first.generation, frozenset({"a" * 40, "b" * 40}))  # c was sent unchanged
    state.apply({"rid": 4, "server_state": {"dl_info_speed": 1}})
    assert state.snapshot(3.0).changes == (second.generation, frozenset())


def test_snapshots_laid_over_a_shared_base_show_exactly_their_torrents_and_never_change():
    """Between two copies (a new base), a snapshot's torrents are the last base with the changes laid
    over (model.Layered). Every snapshot of a long random run shows exactly the torrents of its
    moment, through every way of reading a mapping, and still does after all the later deltas."""
    from exporter.model import Layered, torrent_dict

    rng = random.Random(11)
    state = MaindataState("one")
    state.apply({"rid": 1, "full_update": True, "torrents": {f"h{i}": {"size": i} for i in range(200)}})
    kept = []
    for rid in range(2, 400):
        payload: dict = {"rid": rid, "torrents": {}}
        for _ in range(rng.randint(0, 5)):
            payload["torrents"][f"h{rng.randint(0, 260)}"] = {"size": rng.randint(0, 9), "name": str(rid)}
        if rng.random() < 0.4:
            payload["torrents_removed"] = [f"h{rng.randint(0, 260)}" for _ in range(rng.randint(1, 3))]
        state.apply(payload)
        snap = state.snapshot(float(rid))
        kept.append((snap, dict(state._torrents)))
    layered = [s for s, _ in kept if isinstance(s.torrents, Layered)]
    assert 100 < len(layered) < len(kept)  # both kinds were made: bases, and changes laid over them
    for snap, expected in kept:
        m = snap.torrents
        assert len(m) == len(expected) and dict(m) == expected and m == expected
        assert list(m.keys()) == list(m) and sorted(m) == sorted(expected)
        assert list(m.items()) == list(zip(m, m.values(), strict=True))
        assert list(torrent_dict(m).items()) == list(m.items())  # the C copy: same torrents, same order
        for h in (f"h{i}" for i in range(270)):
            assert (h in m) is (h in expected) and m.get(h) is expected.get(h)
            if h in expected:
                assert m[h] is expected[h]
            else:
                with pytest.raises(KeyError):
                    m[h]
