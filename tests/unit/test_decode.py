"""The typed decoder (exporter/qbt/decode.py) gives exactly what the general one gives.

MaindataState.apply_body decodes well-typed bodies with msgspec, in chunks, and anything else the general
way; apply takes parsed JSON. For the real recordings, for fuzzed payloads (the strategies of
test_harden_maindata.py) and for bodies built to trip the chunking, both must end in the same state, or
both refuse the payload and change nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.fakeqbt.profiles import PROFILES
from bench.fakeqbt.world import World
from exporter.qbt import decode, maindata
from exporter.qbt.maindata import MaindataBody, MaindataState, PayloadError
from tests.kit.payloads import payloads

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
RECORDINGS = ("maindata-4.5.2.json", "maindata-5.3.0.json", "maindata-5.0.json")


def body(payload) -> bytes:
    return json.dumps(payload).encode()


def compact(payload) -> bytes:
    """As qBittorrent writes JSON: no spaces (a body with spaces is never consumed: see decode.py)."""
    return json.dumps(payload, separators=(",", ":")).encode()


def state_of(s: MaindataState):
    snap = s.snapshot(0.0)
    return (
        s.rid,
        dict(snap.torrents),
        snap.categories,
        snap.tags,
        snap.server,
        dict(snap.by_state_category),
        dict(snap.by_category),
        dict(snap.by_tracker),
    )


def outcome(state: MaindataState, apply) -> str:
    try:
        apply()
    except PayloadError:
        return "refused"
    return "applied"


def steps(name: str) -> list:
    return [step["payload"] for step in json.loads((GOLDEN / name).read_text())["steps"]]


@pytest.mark.parametrize("name", RECORDINGS)
def test_recordings_decode_the_same_both_ways(name):
    general, typed = MaindataState("t"), MaindataState("t")
    for payload in steps(name):
        general.apply(payload)
        typed.apply(MaindataBody(body(payload)))
        assert state_of(typed) == state_of(general)


@pytest.mark.parametrize("name", RECORDINGS[:2])
def test_real_qbittorrent_bodies_take_the_typed_path(name):
    for payload in steps(name):
        top = decode.top(body(payload))  # no Mismatch: what qBittorrent sends is well typed
        for chunk in decode.chunks(top.torrents, top.full_update):
            assert all(isinstance(h, str) for h in chunk)


def test_numbers_as_strings_take_the_general_path():
    payload = {"rid": 1, "full_update": True, "torrents": {"a" * 40: {"size": "12", "state": "uploading"}}}
    top = decode.top(body(payload))
    with pytest.raises(decode.Mismatch):
        list(decode.chunks(top.torrents, True))
    state = MaindataState()
    state.apply(MaindataBody(body(payload)))
    assert state.snapshot(0).torrents["a" * 40].size == 12


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, min_size=1, max_size=8))
def test_any_payload_decodes_the_same_both_ways(sequence):
    assert_decodes_the_same_both_ways(sequence, body)


def assert_decodes_the_same_both_ways(sequence, encode) -> None:
    """Each payload applied as parsed JSON and as the body `encode` makes of it: the same outcome and
    the same state, and a refused one changes nothing."""
    general, typed = MaindataState(), MaindataState()
    for payload in sequence:
        before = state_of(typed)
        a = outcome(general, lambda p=payload: general.apply(p))
        b = outcome(typed, lambda p=payload: typed.apply(MaindataBody(encode(p))))
        assert a == b
        if b == "refused":
            assert state_of(typed) == before
        assert state_of(typed) == state_of(general)


EPOCH = 1_750_000_000  # both worlds of a test the same: built from time.time() they differed across a second


def world_body(n: int, ticks: int = 0) -> tuple[bytes, list[bytes]]:
    w = World(PROFILES["4.5.2"], n, seed=3, epoch=EPOCH)
    full = w.maindata("s", 0)
    deltas = []
    for _ in range(ticks):
        w.tick()
        deltas.append(w.maindata("s", w.sessions["s"].last_sent_rid))
    return full, deltas


def test_chunked_full_update_and_deltas_equal_the_general_merge(monkeypatch):
    full, deltas = world_body(300, ticks=3)
    monkeypatch.setattr(decode, "CHUNK", 2000)  # ~5 torrents a chunk: many cuts
    seen = []
    real = decode.chunks

    def counting(raw, is_full, size=2000):
        for chunk in real(raw, is_full, size):
            seen.append(len(chunk))
            yield chunk

    monkeypatch.setattr(decode, "chunks", counting)
    general, typed = MaindataState(), MaindataState()
    for b in (full, *deltas):
        general.apply(json.loads(b))
        typed.apply(MaindataBody(b))
        assert state_of(typed) == state_of(general)
    assert len(seen) > 20 and sum(seen[: len(seen)]) >= 300


def test_a_nested_object_that_looks_like_a_torrent_boundary_is_never_split_wrong():
    h1, h2, nested = "1" * 40, "2" * 40, "3" * 40
    filler = "x" * 3000
    payload = {
        "rid": 1,
        "full_update": True,
        "torrents": {
            h1: {"name": filler, "weird": {"a": {}, nested: {"size": 5}}, "size": 7},
            h2: {"name": filler, "size": 9},
        },
    }
    raw = json.dumps(payload, separators=(",", ":")).encode()
    assert b'},"' + nested.encode() + b'":{' in raw  # a boundary the chunker would cut at
    top = decode.top(raw)
    with pytest.raises(decode.Mismatch):  # the cut makes invalid chunks, never wrong torrents
        list(decode.chunks(top.torrents, True, size=100))
    state = MaindataState()
    state.apply_body(raw)
    assert {h: t.size for h, t in state.snapshot(0).torrents.items()} == {h1: 7, h2: 9}


def test_a_full_resync_keeps_unchanged_torrents_as_the_same_objects():
    full, deltas = world_body(200, ticks=1)
    state = MaindataState()
    state.apply_body(full)
    before = dict(state.snapshot(0).torrents)
    state.apply_body(full)  # qBittorrent lost our rid: the same torrents again, in full
    after = state.snapshot(1).torrents
    assert all(after[h] is before[h] for h in before)
    changed = json.loads(deltas[0])["torrents"]
    w = World(PROFILES["4.5.2"], 200, seed=3, epoch=EPOCH)
    w.tick()
    state.apply_body(w.maindata("other", 0))
    again = state.snapshot(2).torrents
    assert {h for h in again if again[h] is not after.get(h)} == set(changed)


def test_a_full_update_that_fails_late_changes_nothing():
    full, _ = world_body(50)
    state = MaindataState()
    state.apply_body(full)
    before = state.snapshot(0)
    payload = json.loads(full)
    payload["rid"] = 99
    last = list(payload["torrents"])[-1]
    payload["torrents"][last] = ["not", "an", "object"]  # after every other torrent was decoded
    with pytest.raises(PayloadError):
        state.apply_body(body(payload))
    assert state.rid == 1 and state.snapshot(0) is before


@pytest.mark.parametrize("text", [b"", b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_body_that_is_no_json_object_is_refused(text):
    state = MaindataState()
    with pytest.raises(PayloadError):
        state.apply_body(text)
    with pytest.raises(PayloadError):
        dict(MaindataBody(text))
    assert state.rid == 0


def test_a_body_reads_as_the_payload_it_holds():
    payload = {"rid": 3, "full_update": True, "torrents": {"a": {"name": "x"}}}
    mapping = MaindataBody(body(payload))
    assert mapping["full_update"] is True and mapping["rid"] == 3
    assert dict(mapping) == payload


# -- full updates consumed while decoded (a bytearray as read from qBittorrent) -------------------------


@pytest.fixture
def consuming(monkeypatch):
    """Every full update consumed, in parts of ~5 torrents."""
    monkeypatch.setattr(maindata, "CONSUME_FROM", 0)
    monkeypatch.setattr(decode, "CHUNK", 2000)


def test_a_consumed_full_update_equals_the_general_merge_and_leaves_the_body_empty(consuming):
    full, deltas = world_body(300, ticks=3)
    general, typed = MaindataState(), MaindataState()
    read = bytearray(full)
    typed.apply(MaindataBody(read))
    general.apply(json.loads(full))
    assert state_of(typed) == state_of(general)
    assert read.endswith(b'"torrents":{')  # cut off as they were decoded: only what came before is left
    for b in deltas:  # deltas are decoded whole (nothing to gain), then applied
        general.apply(json.loads(b))
        typed.apply(MaindataBody(bytearray(b)))
        assert state_of(typed) == state_of(general)


def test_a_category_or_tag_named_torrents_is_not_taken_for_the_torrents(consuming):
    full, _ = world_body(100)
    payload = json.loads(full)
    payload["categories"]["torrents"] = {"name": "torrents", "savePath": "/t"}
    payload["tags"] = [*payload.get("tags", []), "torrents"]
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    assert raw.count(b'"torrents":') == 2
    general, typed = MaindataState(), MaindataState()
    general.apply(payload)
    read = bytearray(raw)
    typed.apply(MaindataBody(read))
    assert state_of(typed) == state_of(general) and read.endswith(b'"torrents":{')


def test_a_consumed_full_update_not_typed_as_qbittorrent_sends_it_is_refused_once(consuming):
    full, _ = world_body(100)
    payload = json.loads(full)
    first = next(iter(payload["torrents"]))
    payload["torrents"][first]["size"] = str(payload["torrents"][first]["size"])  # decoded last
    raw = json.dumps(payload, separators=(",", ":")).encode()  # compact, as qBittorrent writes it
    state = MaindataState()
    state.apply_body(bytearray(full))
    before = state_of(state)
    with pytest.raises(PayloadError, match="not typed as qBittorrent sends it"):
        state.apply_body(bytearray(raw))
    assert state_of(state) == before and not state.consume_bodies  # nothing changed; next: whole
    state.apply_body(bytearray(raw))  # the general way: the same result as from the parsed payload
    general = MaindataState()
    general.apply(payload)
    assert state_of(state)[1:] == state_of(general)[1:] and not state.consume_bodies


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, min_size=1, max_size=8))
def test_any_payload_consumed_decodes_the_same_or_is_refused_once(sequence):
    with pytest.MonkeyPatch.context() as m:
        m.setattr(maindata, "CONSUME_FROM", 0)
        general, typed = MaindataState(), MaindataState()
        for payload in sequence:
            before = state_of(typed)
            a = outcome(general, lambda p=payload: general.apply(p))
            b = outcome(typed, lambda p=payload: typed.apply(MaindataBody(bytearray(compact(p)))))
            if a == "applied" and b == "refused":  # consumed before a part not typed as qBittorrent's
                assert state_of(typed) == before and not typed.consume_bodies
                b = outcome(typed, lambda p=payload: typed.apply(MaindataBody(bytearray(compact(p)))))
            assert a == b
            assert state_of(typed) == state_of(general)


# -- tracker lists: decoded from where they differ from the last one ----------------------------------

LIST_HASHES = [f"{i:040x}" for i in range(12)]


def plain(strings) -> bytes:
    return compact(list(strings))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(LIST_HASHES), unique=True, max_size=10),
    st.lists(st.tuples(st.integers(0, 12), st.sampled_from(LIST_HASHES), st.booleans()), max_size=4),
)
def test_a_tracker_list_diff_is_the_set_difference(old, edits):
    new = list(old)
    for at, h, insert in edits:  # insertions and removals anywhere; a hash may come twice
        if insert or not new:
            new.insert(min(at, len(new)), h)
        else:
            del new[at % len(new)]
    diff = decode.list_diff(plain(old), len(old), plain(new))
    assert diff is not None  # both plain
    assert diff.size == len(new)
    assert (set(old) - diff.gone) | diff.added == set(new)
    if len(set(new)) == len(new):
        assert diff.added == set(new) - set(old) and diff.gone == set(old) - set(new)


@pytest.mark.parametrize(
    "new",
    [
        b'["a","b",]',
        b'["a",,"b"]',
        b'["a","b"',
        b'["a""b"]',
        b'["a",1,"b"]',
        b'["a","b\x01"]',
        b'["a",]',
        b'[,"b"]',
        b'["a" ,"b"]',
        b'["a","\\u0062"]',
        b'["a","c,d","b"]',
    ],
)
def test_a_tracker_list_that_is_not_plain_json_strings_is_never_taken_from_its_bytes(new):
    """Against the plain ["a","b"]: no answer (decode the list whole) or Mismatch, never a diff."""
    try:
        diff = decode.list_diff(b'["a","b"]', 2, new)
    except decode.Mismatch:
        return
    assert diff is None


def test_plain_count_reads_only_the_plain_form():
    assert decode.plain_count(b"[]") == 0
    assert decode.plain_count(b'["a"]') == 1
    assert decode.plain_count(b'["a","b","c"]') == 3
    for other in (b'["a", "b"]', b'["a","b,c"]', b'["a\\"b"]', b"[1]", b'["a",]', b" []"):
        assert decode.plain_count(other) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, min_size=1, max_size=8))
@example(  # one hash twice in a delta (both become h\ufffd), the first time with a tracker that is new
    [
        {"rid": 0, "torrents": {"h0": {}, "h1": {}, "h\ud800": {}}},
        {
            "rid": 0,
            "torrents": {"h0": {}, "h\ud800": {}, "h\udfff": {"size": True}},  # noqa: F601 (two keys: ruff reads both surrogates as one)
            "trackers": {"http://t0.example/announce": ["h\ud800"]},
        },
    ]
)
def test_any_payload_in_qbittorrents_compact_form_decodes_the_same_both_ways(sequence):
    """As test_any_payload_decodes_the_same_both_ways, without spaces: tracker lists then take the way
    of list_diff from the second one on (hashes twice, lists that shrink to nothing, urls removed)."""
    assert_decodes_the_same_both_ways(sequence, compact)


def test_world_deltas_take_the_tracker_list_diff_and_equal_the_general_merge(monkeypatch):
    full, deltas = world_body(400, ticks=6)
    taken = []
    real = decode.list_diff

    def counting(old, size, new):
        diff = real(old, size, new)
        taken.append(diff is not None)
        return diff

    monkeypatch.setattr(decode, "list_diff", counting)
    general, typed = MaindataState(), MaindataState()
    for b in (full, *deltas):
        general.apply(json.loads(b))
        typed.apply(MaindataBody(b))
        assert state_of(typed) == state_of(general)
        assert {u: set(hs) for u, hs in typed._tracker_urls.items()} == general._tracker_urls
    assert taken and all(taken)


# -- what the mirror keeps for the jobs: the downloads, and which torrents changed since a snapshot ----


def assert_downloads_kept(snap) -> None:
    from exporter.managers.state import is_downloading

    assert snap.downloading is not None
    assert dict(snap.downloading) == {h: t for h, t in snap.torrents.items() if is_downloading(t)}
    assert all(snap.torrents[h] is t for h, t in snap.downloading.items())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, min_size=1, max_size=8))
def test_the_downloads_kept_are_the_downloads_after_any_payload(sequence):
    state = MaindataState()
    for payload in sequence:
        outcome(state, lambda p=payload: state.apply(MaindataBody(compact(p))))
        assert_downloads_kept(state.snapshot(0.0))


def test_changed_since_names_every_torrent_that_differs_from_an_earlier_snapshot():
    w = World(PROFILES["4.5.2"], 600, seed=5, epoch=EPOCH)
    state = MaindataState()
    state.apply_body(bytearray(w.maindata("s", 0)))
    snaps = [state.snapshot(0.0)]
    for i in range(8):
        w.tick()
        state.apply_body(bytearray(w.maindata("s", w.sessions["s"].last_sent_rid)))
        snaps.append(state.snapshot(float(i + 1)))
        assert_downloads_kept(snaps[-1])
    assert snaps[0].changed_since(snaps[0].generation) is None or snaps[0].changes is None
    for i, old in enumerate(snaps):
        for new in snaps[i + 1 :]:
            changed = new.changed_since(old.generation)
            assert changed is not None
            keys = old.torrents.keys() | new.torrents.keys()
            differ = {h for h in keys if old.torrents.get(h) is not new.torrents.get(h)}
            assert differ <= changed  # and what else it names was there in neither
            assert all(h not in old.torrents and h not in new.torrents for h in changed - differ)
            assert new.changed_since(new.generation) == frozenset()
    # a full update in between: not known any more
    w.sessions.clear()
    state.apply_body(bytearray(w.maindata("s", 0)))
    after = state.snapshot(99.0)
    assert after.changed_since(snaps[-1].generation) is None
    assert after.changed_since(snaps[0].generation) is None


def test_the_jobs_decide_the_same_from_the_kept_downloads_and_changes_as_from_every_torrent():
    import dataclasses

    from exporter.managers.completion import find_new
    from exporter.managers.control import plan_emergency, plan_stalls
    from exporter.managers.policy import EmergencyPolicy, StallPolicy, TrackerPolicies

    w = World(PROFILES["4.5.2"], 800, seed=6, epoch=EPOCH)
    state = MaindataState()
    state.apply_body(bytearray(w.maindata("s", 0)))
    first = state.snapshot(float(EPOCH))
    policy = StallPolicy(stall_after=30, grace=0, cooldown=0)
    marks = plan_stalls(first, EPOCH, policy, {}, {}).progress
    for _ in range(4):
        w.tick()
        state.apply_body(bytearray(w.maindata("s", w.sessions["s"].last_sent_rid)))
    snap = state.snapshot(float(EPOCH + 60))
    walked = dataclasses.replace(snap, downloading=None)  # what a Snapshot built elsewhere gives
    assert snap.downloading
    now = EPOCH + 60.0
    assert plan_stalls(snap, now, policy, marks, {}) == plan_stalls(walked, now, policy, marks, {})
    emergency = EmergencyPolicy(margin=100.0)  # every tracker in emergency: stops from the downloads
    args = (now, TrackerPolicies(), emergency, {}, {})
    assert plan_emergency(snap, *args).stops and plan_emergency(snap, *args) == plan_emergency(walked, *args)
    known = {(t.hash, max(t.completion_on, 0)) for t in find_new(first, frozenset())}
    by_changes = find_new(snap, known, first.torrents, snap.changed_since(first.generation))
    assert by_changes and by_changes == find_new(snap, known, first.torrents) == find_new(snap, known)


# -- a full update decoded while it arrives (maindata.FullStream) --------------------------------------


def fed(state: MaindataState, body: bytes, piece: int = 777) -> MaindataBody:
    """What Connection.maindata gives for `body` read in pieces of `piece` bytes."""
    stream = state.stream()
    assert stream is not None
    for at in range(0, len(body), piece):
        stream.feed(body[at : at + piece])
    return MaindataBody(stream.body(), stream)


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(maindata, "CONSUME_FROM", 4000)  # streamed from 4 kB, ~5 torrents a part
    monkeypatch.setattr(decode, "CHUNK", 2000)


def test_a_full_update_fed_in_parts_equals_the_general_merge_and_keeps_unchanged_torrents(small_parts):
    w = World(PROFILES["4.5.2"], 300, seed=8, epoch=EPOCH)
    general, typed = MaindataState(), MaindataState()
    first = w.maindata("s", 0)
    general.apply(json.loads(first))
    typed.apply(fed(typed, first))
    for ticks in (3, 0, 2):  # deltas, then a resync with the trackers moved, and so on
        for _ in range(ticks):
            w.tick()
            b = w.maindata("s", w.sessions["s"].last_sent_rid)
            general.apply(json.loads(b))
            typed.apply(fed(typed, b))
            assert state_of(typed) == state_of(general)
        before = dict(typed.snapshot(0.0).torrents)
        w.sessions.clear()
        b = w.maindata("s", 0)
        answer = fed(typed, b)
        assert answer.streamed is not None and answer.streamed.decoded > 200  # most decoded on the way
        assert len(answer.body) < len(b) // 4
        general.apply(json.loads(b))
        typed.apply(answer)
        assert state_of(typed) == state_of(general)
        after = typed.snapshot(0.0).torrents
        kept = [h for h, t in after.items() if before.get(h) == t]
        assert kept and all(after[h] is before[h] for h in kept)  # equal ones stay the same objects
        assert_downloads_kept(typed.snapshot(0.0))


def test_a_streamed_full_update_keeps_one_string_per_hash(small_parts):
    """The tracker lists and the torrents object of a body each spell every hash: for the torrents
    decoded while the body arrived, the state keeps the torrent's own string everywhere (its key, its
    Torrent, its trackers' sets), and after a resync the one it had, not the body's copies (~10 MiB
    at 50,000 torrents)."""
    w = World(PROFILES["4.5.2"], 300, seed=8, epoch=EPOCH)
    state = MaindataState()

    def strings() -> dict[str, set[int]]:
        ids: dict[str, set[int]] = {}
        for h, t in state._torrents.items():
            ids.setdefault(h, set()).update((id(h), id(t.hash)))
        for hashes in state._tracker_urls.values():
            for h in hashes:
                ids[h].add(id(h))
        for h in state._urls_of:
            ids[h].add(id(h))
        return ids

    answer = fed(state, w.maindata("s", 0))
    streamed = set(answer.streamed.built)  # the rest, the body's last parts, are decoded after it
    assert len(streamed) > 250
    state.apply(answer)
    first = strings()
    assert all(len(first[h]) == 1 for h in streamed)
    assert sum(map(len, state._tracker_urls.values())) > 300  # the lists were there to share
    w.sessions.clear()
    answer = fed(state, w.maindata("s", 0))  # a resync: every torrent equal
    streamed &= set(answer.streamed.built)
    state.apply(answer)
    again = strings()
    assert len(streamed) > 250 and all(again[h] == first[h] for h in streamed)


def test_a_streamed_resync_moves_an_unchanged_torrent_to_its_new_trackers(small_parts):
    w = World(PROFILES["4.5.2"], 300, seed=8, epoch=EPOCH)
    typed = MaindataState()
    typed.apply(fed(typed, w.maindata("s", 0)))
    payload = json.loads(w.maindata("s", 0))
    urls = sorted(payload["trackers"], key=lambda u: -len(payload["trackers"][u]))
    moved = payload["trackers"][urls[0]][0]  # early in the body: decoded on the way
    assert moved not in payload["trackers"][urls[1]]
    payload["trackers"][urls[0]].remove(moved)
    payload["trackers"][urls[1]].append(moved)
    general = MaindataState()
    general.apply(payload)
    before = typed.snapshot(0.0).torrents[moved]
    answer = fed(typed, compact(payload))
    assert answer.streamed.built.get(moved) is before  # unchanged values: the object it was, for now
    typed.apply(answer)
    assert state_of(typed) == state_of(general)
    assert typed.snapshot(0.0).torrents[moved].trackers != before.trackers


def test_a_delta_or_a_small_body_is_kept_whole(small_parts):
    w = World(PROFILES["4.5.2"], 300, seed=8, epoch=EPOCH)
    state = MaindataState()
    state.apply(fed(state, w.maindata("s", 0)))
    for _ in range(30):
        w.tick()
    delta = w.maindata("s", w.sessions["s"].last_sent_rid)
    assert len(delta) > maindata.CONSUME_FROM
    answer = fed(state, delta)
    assert answer.streamed is not None and not answer.streamed.decoded and bytes(answer.body) == delta
    tiny = compact({"rid": 1, "full_update": True, "torrents": {"a" * 40: {"state": "uploading"}}})
    answer = fed(MaindataState(), tiny)
    assert not answer.streamed.decoded and bytes(answer.body) == tiny


def test_a_category_named_torrents_is_not_taken_for_the_torrents_when_streaming(small_parts):
    w = World(PROFILES["4.5.2"], 300, seed=8, epoch=EPOCH)
    payload = json.loads(w.maindata("s", 0))
    payload["categories"] = {"torrents": {"name": "torrents", "savePath": "/x"}, **payload["categories"]}
    b = compact(dict(sorted(payload.items())))
    general, typed = MaindataState(), MaindataState()
    general.apply(payload)
    answer = fed(typed, b)
    assert answer.streamed.decoded > 200
    typed.apply(answer)
    assert state_of(typed) == state_of(general)


def test_a_streamed_full_update_not_typed_as_qbittorrent_sends_it_changes_nothing(small_parts):
    w = World(PROFILES["4.5.2"], 300, seed=8, epoch=EPOCH)
    state = MaindataState()
    state.apply(fed(state, w.maindata("s", 0)))
    before = state_of(state)
    payload = json.loads(w.maindata("s", 0))
    hashes = list(payload["torrents"])
    early, late = dict(payload), dict(payload)
    early["torrents"] = {**payload["torrents"], hashes[20]: {**payload["torrents"][hashes[20]], "size": "12"}}
    late["torrents"] = {**payload["torrents"], hashes[-1]: {**payload["torrents"][hashes[-1]], "size": "12"}}
    with pytest.raises(decode.Mismatch):  # met while it arrives: the reader reads it again, whole
        fed(state, compact(early))
    assert state_of(state) == before and state.consume_bodies is False  # ... for the general way
    state.apply(MaindataBody(compact(early)))
    general = MaindataState()
    general.apply(early)
    assert state_of(state)[1:] == state_of(general)[1:]
    state = MaindataState()  # another one, streaming
    state.apply(fed(state, w.maindata("s", 0)))
    before = state_of(state)
    with pytest.raises(PayloadError):  # met in the rest: no general way left for this one
        state.apply(fed(state, compact(late)))
    assert state_of(state) == before and state.consume_bodies is False and state.stream() is None
    # after the torrents: a tracker URL with a lone surrogate, which only the general way reads
    state.consume_bodies = True
    odd = {**payload, "trackers": {**payload["trackers"], "http://t\ud800.example/a": [hashes[0]]}}
    answer = fed(state, json.dumps(odd, separators=(",", ":")).encode())
    assert answer.streamed is not None and answer.streamed.decoded
    with pytest.raises(PayloadError):
        state.apply(answer)
    assert state_of(state) == before
