"""The completion manager: what counts as a (new) completion, baseline/backfill, filters, retry schedule."""

from __future__ import annotations

from functools import partial

import pytest

from exporter.managers.completion import (
    Filter,
    after_failure,
    completion_key,
    find_new,
    matching,
    record,
    take_baseline,
)
from tests.kit.builders import seeding, snapshot

NOW = 2_000_000.0


# The kit's builders with this file's defaults: a snapshot taken at NOW; a 100-byte torrent that
# completed 100 s before NOW.
snap = partial(snapshot, instance="inst", taken_at=NOW)
done = partial(seeding, size=100, completion_on=int(NOW - 100))


@pytest.mark.parametrize(
    "torrent, key",
    [
        (done("a", completion_on=123), ("a", 123)),
        (done("a", completion_on=123, state="stoppedUP"), ("a", 123)),
        (done("a", completion_on=123, state="queuedUP"), ("a", 123)),
        (done("a", completion_on=123, state="checkingUP"), None),
        (done("a", completion_on=123, state="checkingResumeData"), None),
        (done("a", completion_on=123, state="moving"), None),  # wait until content_path is final
        (done("a", completion_on=123, state="missingFiles"), None),
        (
            done("a", completion_on=0, state="metaDL", size=0),
            None,
        ),  # no metadata: amount_left 0 means nothing
        (done("a", completion_on=0, state="downloading", amount_left=5), None),
        (done("a", completion_on=-1), ("a", 0)),  # qBittorrent's "never" is not a key part
    ],
    ids=[
        "seeding",
        "stopped",
        "queued",
        "checking",
        "checking-resume",
        "moving",
        "missing-files",
        "metadata",
        "downloading",
        "no-completion-on",
    ],
)
def test_completion_key(torrent, key):
    assert completion_key(torrent) == key


def test_find_new_skips_known_keys_and_sorts_by_completion_time():
    s = snap(
        done("b", completion_on=300),
        done("a", completion_on=200),
        done("c", completion_on=100),
        done("x", completion_on=50, state="downloading", amount_left=1),
    )
    assert [t.hash for t in find_new(s, {("b", 300)})] == ["c", "a"]


def test_a_new_completion_on_after_a_recheck_is_a_new_completion():
    known = {("a", 100)}
    assert find_new(snap(done("a", completion_on=100)), known) == []
    assert [t.completion_on for t in find_new(snap(done("a", completion_on=500)), known)] == [500]


@pytest.mark.parametrize(
    "backfill, handled",
    [(0, []), (3600, ["recent"]), (10**9, ["old", "recent"])],
    ids=["no-backfill", "one-hour", "everything"],
)
def test_baseline_records_complete_torrents_as_seen_except_inside_backfill(backfill, handled):
    s = snap(done("old", completion_on=int(NOW - 86400)), done("recent", completion_on=int(NOW - 60)))
    seen, new = take_baseline(s, NOW, backfill)
    assert sorted(t.hash for t in new) == handled
    assert sorted(h for h, _ in seen) == sorted({"old", "recent"} - set(handled))


@pytest.mark.parametrize(
    "f, matches",
    [
        (Filter(), True),
        (Filter(categories=frozenset({"movies"})), True),
        (Filter(categories=frozenset({"tv"})), False),
        (Filter(trackers=frozenset({"b.example"})), True),
        (Filter(trackers=frozenset({"c.example"})), False),
        (Filter(tags=frozenset({"x", "keep"})), True),
        (Filter(categories=frozenset({"movies"}), tags=frozenset({"nope"})), False),
    ],
    ids=[
        "empty",
        "category",
        "other-category",
        "any-tracker",
        "other-tracker",
        "any-tag",
        "all-sets-must-match",
    ],
)
def test_filters(f, matches):
    rec = record(
        done("a", category="movies", tags=("keep",), tracker="a.example", trackers=("a.example", "b.example"))
    )
    assert f.matches(rec) is matches


def test_matching_keeps_configuration_order():
    rec = record(done("a", category="movies"))
    handlers = [("z", Filter()), ("tv", Filter(categories=frozenset({"tv"}))), ("a", Filter())]
    assert matching(handlers, rec) == ["z", "a"]


def test_record_holds_what_handlers_need_and_no_more():
    rec = record(
        done(
            "a",
            completion_on=77,
            category="c",
            tags=("t",),
            save_path="/s",
            content_path="/s/x",
            tracker="h.example",
        ),
        instance="inst",
    )
    assert rec["hash"] == "a" and rec["completion_on"] == 77 and rec["content_path"] == "/s/x"
    assert rec["tags"] == ["t"] and rec["tracker"] == "h.example" and rec["trackers"] == ["h.example"]
    assert "magnet_uri" not in rec


@pytest.mark.parametrize(
    "attempts, retries, expected",
    [
        (1, 3, ("pending", 130.0)),
        (2, 3, ("pending", 160.0)),
        (3, 3, ("pending", 220.0)),
        (4, 3, ("dead", 0.0)),
        (1, 0, ("dead", 0.0)),
        (20, 100, ("pending", 100.0 + 3600)),
    ],
    ids=["first", "second", "third", "exhausted", "no-retries", "capped"],
)
def test_retry_backoff_then_dead_letter(attempts, retries, expected):
    assert after_failure(attempts, retries, 100.0, 30.0) == expected


def test_find_new_skips_the_same_objects_it_looked_at_before():
    old, kept = done("a"), done("b")
    first = snap(old, kept)
    assert [t.hash for t in find_new(first, frozenset())] == ["a", "b"]
    # "a" and "b" were recorded; then "c" completes and "b" changes (a recheck gave it a new completion_on)
    recomputed = done("b", completion_on=int(NOW - 5))
    later = snap(old, recomputed, done("c"))
    known = {("a", int(NOW - 100)), ("b", int(NOW - 100))}
    assert [t.hash for t in find_new(later, known, first.torrents)] == ["c", "b"]  # oldest first
    # a torrent looked at before, as the same object, is not looked at again (even if not in known)
    assert [t.hash for t in find_new(later, frozenset(), later.torrents)] == []
