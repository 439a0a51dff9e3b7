"""A sync/maindata payload is applied whole or not at all: a malformed one is a counted `response`
error, qbittorrent_up 0 for that sync and a full resync next, never stale data shown as fresh.

The fuzz test checks the merge against a from-scratch rebuild: for any payload, either MaindataState
applies it and equals one full update of everything merged so far, or it raises PayloadError and its
snapshot is untouched.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from exporter.app import App
from exporter.config import build_settings
from exporter.model import clean_text, split_tags
from exporter.qbt.maindata import MaindataState, PayloadError
from exporter.qbt.mirror import Backoff, Mirror
from tests.kit.fakes import Clock, FakeConnection
from tests.kit.payloads import URLS, payloads
from tests.kit.processes import parse_samples, sample

FULL = {
    "rid": 1,
    "full_update": True,
    "torrents": {"a": {"name": "a", "state": "uploading", "upspeed": 100}},
    "trackers": {"http://t.example/announce": ["a"]},
    "server_state": {"connection_status": "connected"},
}
DELTA = {"rid": 2, "torrents": {"a": {"state": "stalledUP", "upspeed": 0}}}

# Each: keys merged into DELTA that make it malformed.
MALFORMED = {
    "tags_removed-int": {"tags_removed": 5},
    "tags-ints": {"tags": [1, 2]},
    "categories-list": {"categories": ["movies"]},
    "categories_removed-string": {"categories_removed": "movies"},
    "trackers-list": {"trackers": ["http://t.example/announce"]},
    "tracker-hashes-string": {"trackers": {"http://t.example/announce": "a"}},
    "tracker-hashes-null": {"trackers": {"http://t.example/announce": None}},
    "trackers_removed-object": {"trackers_removed": {"http://t.example/announce": 1}},
    "torrents_removed-int": {"torrents_removed": 5},
    "torrents_removed-nested": {"torrents_removed": [["a"]]},
    "torrents-list": {"torrents": [{"state": "stalledUP"}]},
    "torrent-not-object": {"torrents": {"a": "stalledUP"}},
    "server_state-list": {"server_state": [1]},
    "rid-bool": {"rid": True},
    "full_update-string": {"full_update": "false"},
}


@pytest.mark.parametrize("extra", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_payload_changes_nothing(extra):
    state = MaindataState()
    state.apply(FULL)
    before = state.snapshot(1.0)
    with pytest.raises(PayloadError):
        state.apply({**DELTA, **extra})
    assert state.rid == 1
    assert state.snapshot(1.0) is before  # nothing was applied, so nothing changed


def scrape(app: App) -> dict:
    status, _, body, _ = app.routes["/metrics"]({}, {})
    assert status == 200
    return parse_samples(body.decode())


@pytest.mark.parametrize("extra", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_delta_is_a_response_error_then_a_full_resync(extra):
    clock = Clock()
    conn = FakeConnection([FULL, {**DELTA, **extra}, {**FULL, "rid": 7, **{"torrents": DELTA["torrents"]}}])
    mirror = Mirror(conn, clock=clock, monotonic=clock, connect_backoff=Backoff(1, 30))
    app = App(build_settings({}, {}), mirror=mirror)
    assert sample(scrape(app), "qbittorrent_up") == 1
    clock.now += 1.5
    bad = scrape(app)
    assert sample(bad, "qbittorrent_up") == 0  # this sync failed: no state shown as if fresh
    assert sample(bad, "qbittorrent_exporter_sync_errors_total", reason="response") == 1
    assert not any(name == "qbittorrent_torrents" for name, _ in bad)
    assert app.routes["/readyz"]({}, {})[0] == 503
    clock.now += 1.5  # past the 1 s backoff
    good = scrape(app)
    assert [c[1] for c in conn.calls if c[0] == "maindata"] == [0, 1, 0]  # resynced in full
    assert sample(good, "qbittorrent_up") == 1
    assert sample(good, "qbittorrent_torrents", state="stalledUP", status="seeding", category="") == 1


@pytest.mark.parametrize(
    "value,tags",
    [
        ("hd, new", ("hd", "new")),
        (" new ,, hd ,", ("hd", "new")),
        ("", ()),
        (["hd", "new"], ()),
        ({"hd": 1}, ()),
        (5, ()),
        (None, ()),
    ],
    ids=["qbittorrent-string", "spaces-and-empties", "empty", "list", "object", "number", "null"],
)
def test_only_qbittorrents_tag_string_gives_tags(value, tags):
    assert split_tags(value) == tags


# -- fuzz: incremental merge == from-scratch rebuild, or PayloadError and nothing changed ----------


class Reference:
    """The obvious merge of the raw JSON (trusting its shape), rebuilt as one full update."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.torrents: dict[str, dict[str, Any]] = {}
        self.server: dict[str, Any] = {}
        self.categories: set[str] = set()
        self.tags: set[str] = set()
        self.trackers: dict[str, set[str]] = {}

    def apply(self, p: dict[str, Any]) -> None:
        if p.get("full_update"):
            self.reset()
        self.server.update(p.get("server_state") or {})
        self.categories |= {clean_text(c) for c in p.get("categories") or {}}
        self.categories -= {clean_text(c) for c in p.get("categories_removed") or []}
        self.tags |= {clean_text(t) for t in p.get("tags") or []}
        self.tags -= {clean_text(t) for t in p.get("tags_removed") or []}
        for url, hashes in (p.get("trackers") or {}).items():
            self.trackers[url] = {clean_text(h) for h in hashes}
        for url in p.get("trackers_removed") or []:
            self.trackers.pop(url, None)
        for h in map(clean_text, p.get("torrents_removed") or []):
            self.torrents.pop(h, None)
            for members in self.trackers.values():
                members.discard(h)  # a removed torrent leaves its trackers' lists
        for key, raw in (p.get("torrents") or {}).items():
            self.torrents.setdefault(clean_text(key), {}).update(raw)

    def rebuilt(self) -> MaindataState:
        state = MaindataState()
        state.apply(
            {
                "rid": 1,
                "full_update": True,
                "torrents": {h: dict(raw) for h, raw in self.torrents.items()},
                "categories": {c: {} for c in self.categories},
                "tags": sorted(self.tags),
                "trackers": {url: sorted(hs) for url, hs in self.trackers.items() if hs},
                "server_state": dict(self.server),
            }
        )
        return state


def assert_same(state: MaindataState, reference: Reference) -> None:
    got, want = state.snapshot(0.0), reference.rebuilt().snapshot(0.0)
    assert dict(got.torrents) == dict(want.torrents)
    assert (got.categories, got.tags, got.server) == (want.categories, want.tags, want.server)
    assert dict(got.by_state_category) == dict(want.by_state_category)
    assert dict(got.by_category) == dict(want.by_category)
    assert dict(got.by_tracker) == dict(want.by_tracker)


# A removed torrent that a tracker's list still names, then added back: the list gives it its URL again.
READDED = [
    {"rid": 1, "full_update": True, "torrents": {"h0": {}}, "trackers": {URLS[0]: ["h0"]}},
    {"rid": 2, "torrents_removed": ["h0"]},
    {"rid": 3, "trackers": {URLS[0]: ["h0", "h1"]}},
    {"rid": 4, "torrents": {"h0": {"state": "uploading"}}},
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, min_size=1, max_size=8))
@example(READDED)
def test_any_payload_applies_like_a_rebuild_or_changes_nothing(sequence):
    state, reference = MaindataState(), Reference()
    for payload in sequence:
        before, rid = state.snapshot(0.0), state.rid
        try:
            state.apply(payload)
        except PayloadError:
            assert state.rid == rid and state.snapshot(0.0) is before
        else:
            reference.apply(payload)
            assert state.rid == payload["rid"]
        assert_same(state, reference)
