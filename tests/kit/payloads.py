"""Hypothesis strategies for sync/maindata payloads: well-formed ones of any JSON values (numbers as
strings, lone surrogates, huge integers, NaN...), ones with one top-level key mangled, and plain JSON
values. Shared by the merge fuzz (test_harden_maindata.py) and the decoder fuzz (test_decode.py)."""

from __future__ import annotations

from hypothesis import strategies as st

HASHES = ["h0", "h1", "h2", "h\ud800", "h\udfff"]  # the last two are both "h\ufffd" once made valid text
URLS = ["http://t0.example/announce", "udp://T1.example:80/a?passkey=x", "http://t\ud800.example/", "junk"]
CATEGORIES = ["", "c0", "c\ud800"]
TAGS = ["t0", "t1", "t\ud800"]
FIELDS = ["name", "state", "category", "tags", "size", "uploaded", "downloaded", "progress", "ratio"]
FIELDS += ["upspeed", "tracker", "force_start", "eta"]
SERVER_KEYS = ["alltime_ul", "dl_info_speed", "global_ratio", "connection_status", "queueing"]
SPECIAL = [10**400, -(10**400), 2**63, "-", "1e999", "nan", "12", "x\ud800", float("nan"), float("inf")]
SPECIAL += ["uploading", "pausedUP", "stalledDL", "hd, t\ud800", *URLS, *CATEGORIES]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=4),
    st.sampled_from(SPECIAL),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
)
torrent = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)
well_formed = st.fixed_dictionaries(
    {"rid": st.integers(0, 10**6)},
    optional={
        "full_update": st.booleans(),
        "torrents": st.dictionaries(st.sampled_from(HASHES), torrent, max_size=4),
        "torrents_removed": st.lists(st.sampled_from(HASHES), max_size=2),
        "categories": st.dictionaries(st.sampled_from(CATEGORIES), json_values, max_size=2),
        "categories_removed": st.lists(st.sampled_from(CATEGORIES), max_size=2),
        "tags": st.lists(st.sampled_from(TAGS), max_size=2),
        "tags_removed": st.lists(st.sampled_from(TAGS), max_size=2),
        "trackers": st.dictionaries(
            st.sampled_from(URLS), st.lists(st.sampled_from(HASHES), max_size=3), max_size=2
        ),
        "trackers_removed": st.lists(st.sampled_from(URLS), max_size=1),
        "server_state": st.dictionaries(st.sampled_from(SERVER_KEYS), json_values, max_size=3),
    },
)
TOP_KEYS = ["rid", "full_update", "torrents", "torrents_removed", "categories", "categories_removed", "tags"]
TOP_KEYS += ["tags_removed", "trackers", "trackers_removed", "server_state"]
mangled = st.builds(
    lambda p, key, value: {**p, key: value}, well_formed, st.sampled_from(TOP_KEYS), json_values
)
payloads = st.one_of(well_formed, well_formed, mangled, json_values)
