"""Tracker rows -> (announce status, reason): every version's codes, every built-in phrase, redaction."""

from __future__ import annotations

import pytest

from exporter.managers.tracker_health import (
    BUILTIN_PHRASES,
    REASONS,
    TrackerEntry,
    classify,
    redact,
    tracker_entries,
    uses_new_codes,
)

V45, V50, V51, V52, V53 = "2.8.19", "2.11.2", "2.11.4", "2.15.1", "2.16.2"


@pytest.mark.parametrize(
    "version, new",
    [("2.8.19", False), ("2.11.4", False), ("2.14.9", False), ("2.15.0", True), ("2.16.2", True), ("3", True)]
    + [("", False), ("garbage", False)],
    ids=["4.5", "5.1", "2.14", "2.15", "5.3", "3.x", "unknown", "garbage"],
)
def test_which_versions_use_the_5_2_codes(version, new):
    assert uses_new_codes(version) is new


STATUS_TABLE = [
    # up to 5.1: 0-4, code 3 is "updating" and hides the last result
    (V45, 0, False, ("disabled", None)),
    (V45, 1, False, ("not_contacted", None)),
    (V45, 2, False, ("working", None)),
    (V45, 3, False, ("updating", None)),
    (V45, 4, False, ("not_working", "unregistered")),
    (V45, 5, False, ("not_contacted", None)),  # not a 4.x code: says nothing
    (V45, 6, False, ("not_contacted", None)),
    (V45, 4, True, ("not_working", "unregistered")),  # no `updating` boolean before 5.2
    (V50, 3, False, ("updating", None)),
    (V50, 4, False, ("not_working", "unregistered")),
    (V51, 3, False, ("updating", None)),
    (V51, 4, False, ("not_working", "unregistered")),
    # 5.2+: 0,1,2,4,5,6; `updating` is apart and the code keeps the last result
    (V52, 0, False, ("disabled", None)),
    (V52, 1, False, ("not_contacted", None)),
    (V52, 2, False, ("working", None)),
    (V52, 3, False, ("not_contacted", None)),  # 3 is gone in 5.2
    (V52, 4, False, ("not_working", "unregistered")),
    (V52, 5, False, ("error", "unregistered")),
    (V52, 6, False, ("unreachable", "down")),  # unreachable: the tracker said nothing
    (V52, 5, True, ("updating", "unregistered")),
    (V52, 2, True, ("updating", None)),
    (V53, 5, False, ("error", "unregistered")),
    (V53, 6, False, ("unreachable", "down")),
    (V53, 9, False, ("not_contacted", None)),
    (V52, -1, False, ("not_contacted", None)),
]


@pytest.mark.parametrize(
    "version, code, updating, expected",
    STATUS_TABLE,
    ids=[f"{v}-code{c}{'-updating' if u else ''}" for v, c, u, _ in STATUS_TABLE],
)
def test_status_codes_by_version(version, code, updating, expected):
    assert classify(code, "Unregistered torrent", version, updating=updating) == expected


EVERY_PHRASE = [(reason, phrase) for reason in REASONS for phrase in BUILTIN_PHRASES[reason]]


@pytest.mark.parametrize("reason, phrase", EVERY_PHRASE, ids=[f"{r}:{p}" for r, p in EVERY_PHRASE])
def test_every_built_in_phrase_gives_its_reason(reason, phrase):
    # upper case, surrounded by other words: matching ignores case and finds substrings
    msg = f"Tracker: {phrase.upper()}  (code 1)"
    assert classify(4, msg, V45) == ("not_working", reason)
    assert classify(5, msg, V52) == ("error", reason)


@pytest.mark.parametrize(
    "msg, expected",
    [
        ("Unregistered torrent", "unregistered"),
        ("Torrent not registered with this tracker.", "unregistered"),
        ("torrent not found", "unregistered"),
        ("InfoHash not found.", "unregistered"),
        ("Torrent has been deleted.", "unregistered"),
        ("Trumped by a better release", "unregistered"),
        ("Torrent is not authorized for use on this tracker", "unregistered"),
        ("Invalid passkey (abc)", "unauthorized"),
        ("Unregistered passkey", "unauthorized"),  # the passkey is named: never the torrent's fault
        ("403 Forbidden", "unauthorized"),
        ("Connection timed out", "down"),
        ("Connection refused", "down"),
        ("Host not found (authoritative)", "down"),
        ("HTTP error 503", "down"),
        ("tracker status 502", "down"),
        ("Bad Gateway", "down"),
        ("Tracker is down for maintenance", "down"),
        ("unregistered\n torrent", "unregistered"),
        ("Too many requests", "other"),
        ("Error 404", "other"),  # only 5xx is down
        ("", "other"),
    ],
    ids=lambda v: v if isinstance(v, str) and v else None,
)
def test_real_messages(msg, expected):
    assert classify(4, msg, V45)[1] == expected


@pytest.mark.parametrize(
    "extra, msg, expected",
    [
        (
            {"unregistered": ["Season pack uploaded"]},
            "season pack UPLOADED, this one is gone",
            "unregistered",
        ),
        ({"down": ["cloudflare"]}, "Cloudflare error", "down"),
        ({"other": ["unregistered torrent (maintenance)"]}, "Unregistered torrent (maintenance)", "other"),
        ({"down": ["unregistered"]}, "Unregistered torrent", "down"),  # configured before built-in
        ({"nonsense": ["unregistered"]}, "Unregistered torrent", "unregistered"),  # unknown reason: ignored
        ({"unregistered": ["", "  "]}, "fine", "other"),  # blank phrases match nothing
        ({}, "Season pack uploaded", "other"),
    ],
    ids=["extends", "extends-down", "other-neutralises", "configured-first", "unknown-key", "blank", "none"],
)
def test_configured_phrases(extra, msg, expected):
    assert classify(4, msg, V45, extra)[1] == expected


@pytest.mark.parametrize(
    "msg, expected",
    [
        ("Unregistered torrent", "Unregistered torrent"),
        (
            "failed: https://user:pw@tracker.example:443/a1b2c3d4e5f6a7b8/announce?x=1 said no",
            "failed: tracker.example said no",
        ),
        ("passkey=0123abcd invalid", "passkey=*** invalid"),
        ("Key: supersecret rejected", "Key=*** rejected"),
        ("bad /announce/0a1b2c3d path", "bad /*** path"),
        ("query ?authkey=x&uid=2 denied", "query ?*** denied"),
        ("token 0123456789abcdef0123456789abcdef here", "token *** here"),
        ("token dGhpcyBpcyBhIHNlY3JldA== here", "token *** here"),
        ("internationalization is a long word", "internationalization is a long word"),
        ("N/A", "N/A"),
        ("x" * 300, "x" * 157 + "..."),
    ],
    ids=[
        "plain",
        "url",
        "pair",
        "pair-colon",
        "path",
        "query",
        "hex",
        "base64",
        "long-word",
        "slash",
        "long",
    ],
)
def test_redact(msg, expected):
    assert redact(msg) == expected


def test_tracker_entries_keep_real_trackers_by_host_only():
    rows = [
        {"url": "** [DHT] **", "status": 2, "msg": ""},
        {"url": "** [PeX] **", "status": 2, "msg": ""},
        {"url": "** [LSD] **", "status": 2, "msg": ""},
        {
            "url": "https://T.Example/0a1b2c3d4e5f60718293a4b5c6d7e8f9/announce",
            "status": 4,
            "msg": "Unregistered",
        },
        {"url": "udp://u.example:6969", "status": "2", "msg": "ok /secret-path"},
        {"url": "", "status": 2},
        {"url": None, "status": 2},
        {"status": 2},
        {
            "url": "http://x.example/a?passkey=1",
            "status": 5,
            "msg": "passkey=abc123 invalid",
            "updating": True,
        },
    ]
    assert tracker_entries(rows, V45) == (
        TrackerEntry("t.example", 4, "not_working", "unregistered", "Unregistered"),
        TrackerEntry("u.example", 2, "working", None, ""),  # no problem: no message kept
        TrackerEntry("x.example", 5, "not_contacted", None, ""),  # 5 means nothing before 5.2
    )
    assert tracker_entries(rows[-1:], V52) == (
        TrackerEntry("x.example", 5, "updating", "unauthorized", "passkey=*** invalid"),
    )
