"""Seeded, realistic torrent records and how they change between two requests.

`new_torrent` builds one torrent dict with every field the profile's version sends (values shaped like
the recorded 4.5.2 payloads: -1 availability when complete, eta 8640000 when there is nothing to wait
for, ratio_limit -2 ...). `churn` changes one torrent the way a busy seedbox does (speeds, transfer
counters, peers; now and then a state change or a finished download) and returns the keys whose values
really changed, as qBittorrent only sends those.

The mix (states, categories, trackers, sizes) is what a large seedbox of private-tracker torrents looks
like: mostly stalled seeds, a few percent active, ~10 % public torrents with several trackers each.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any
from urllib.parse import quote

from . import announce
from .profiles import Profile

# (4.x state name, weight in percent)
STATE_MIX = (
    ("stalledUP", 62.0),
    ("uploading", 12.0),
    ("pausedUP", 8.0),
    ("queuedUP", 2.0),
    ("forcedUP", 1.0),
    ("downloading", 3.0),
    ("stalledDL", 3.0),
    ("pausedDL", 1.5),
    ("queuedDL", 1.0),
    ("forcedDL", 0.3),
    ("metaDL", 0.7),
    ("checkingUP", 0.5),
    ("checkingDL", 0.3),
    ("checkingResumeData", 0.2),
    ("error", 0.6),
    ("missingFiles", 0.6),
    ("moving", 0.3),
)
SEEDING = frozenset({"stalledUP", "uploading", "pausedUP", "queuedUP", "forcedUP", "checkingUP"})
ACTIVE = frozenset({"uploading", "forcedUP", "downloading", "forcedDL", "metaDL"})
CATEGORIES = (
    ("", 10),
    ("movies", 16),
    ("tv", 22),
    ("music", 12),
    ("books", 5),
    ("games", 4),
    ("software", 3),
    ("anime", 8),
    ("radarr", 6),
    ("sonarr", 7),
    ("lidarr", 3),
    ("cross-seed", 4),
)
TAGS = ("hd", "uhd", "freeleech", "cross-seed", "racing", "long-term", "hnr", "manual")
PRIVATE_TRACKERS = tuple(
    f"{name}.example.org"
    for name in (
        "flacland",
        "hdzone",
        "tvvault",
        "bookshelf",
        "retrogames",
        "animebytes-test",
        "moviehub",
        "seriesnet",
        "lossless",
        "docuvault",
        "sportsarena",
        "kidsflix",
        "linuxiso",
        "concerts",
        "comicbox",
        "audiobooks",
        "oldies",
        "indiefilms",
        "ebooksplus",
        "scenezone",
    )
)
PUBLIC_TRACKERS = (
    "udp://tracker.opentrackr.test:1337/announce",
    "udp://open.demonii.test:1337/announce",
    "udp://tracker.torrent.test:6969/announce",
    "http://tracker.openbittorrent.test:80/announce",
    "udp://exodus.desync.test:6969/announce",
    "udp://tracker.moeking.test:6969/announce",
    "https://tracker.tamersunion.test:443/announce",
    "udp://explodie.test:6969/announce",
)
WORDS = (
    "alpha",
    "bravo",
    "crimson",
    "delta",
    "ember",
    "falcon",
    "glacier",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lantern",
    "meadow",
    "nebula",
    "orchid",
    "prairie",
    "quartz",
    "raven",
    "summit",
    "tundra",
    "umber",
    "vertex",
    "willow",
    "xenon",
    "yonder",
    "zephyr",
)
SUFFIXES = (
    "1080p.WEB-DL.x264-GRP",
    "2160p.UHD.BluRay.x265-HDR",
    "FLAC.24bit-LOSSLESS",
    "720p.HDTV.x264-TV",
    "EPUB-BOOKS",
    "MULTi.1080p.BluRay-REMUX",
    "S01.COMPLETE.1080p.WEB-DL",
    "v2.1.0.x64-LINUX",
)
NO_ETA = 8640000  # qBittorrent's "infinite" eta
KIB, GIB = 1024, 1024**3


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


def passkey(host: str) -> str:
    """The same passkey for every torrent of a tracker, as a private tracker gives one per user."""
    return hashlib.md5(host.encode()).hexdigest()


def tracker_urls(rng: random.Random) -> list[str]:
    if rng.random() < 0.9:
        host = rng.choice(PRIVATE_TRACKERS)
        return [f"https://{host}/announce/{passkey(host)}"]
    return rng.sample(PUBLIC_TRACKERS, rng.randint(2, 4))


def new_torrent(
    rng: random.Random,
    h: str,
    now: int,
    profile: Profile,
    urls: list[str],
    state4: str | None = None,
    added_on: int | None = None,
) -> dict[str, Any]:
    """One torrent as sync/maindata sends it (no "hash" key), in the profile's version."""
    state4 = state4 or pick(rng, STATE_MIX)
    category = pick(rng, CATEGORIES)
    name = ".".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(2, 5)))
    name += f".{rng.randint(1990, 2026)}.{rng.choice(SUFFIXES)}"
    has_metadata = state4 != "metaDL"
    size = int(math.exp(rng.uniform(math.log(50e6), math.log(60e9)))) if has_metadata else 0
    complete = state4 in SEEDING
    progress = 1 if complete else (round(rng.uniform(0, 0.99), 4) if has_metadata else 0)
    amount_left = 0 if complete else int(size * (1 - progress))
    completed = size - amount_left
    downloaded = int(completed * rng.uniform(1.0, 1.05)) if rng.random() < 0.8 else 0  # 20 % added from disk
    uploaded = (
        int(max(downloaded, completed) * rng.lognormvariate(0.0, 1.2)) if complete else int(completed * 0.1)
    )
    added_on = added_on if added_on is not None else now - rng.randint(3600, 3 * 365 * 86400)
    completion_on = added_on + rng.randint(60, 86400) if complete else profile.no_time
    completion_on = min(completion_on, now) if complete else completion_on
    active = state4 in ACTIVE
    upspeed = (
        rng.randint(1, 500) * KIB if active and complete else (rng.randint(0, 100) * KIB if active else 0)
    )
    dlspeed = rng.randint(1, 5000) * KIB if active and not complete else 0
    save_path = f"/data/torrents/{category or 'misc'}"
    private = urls[0].startswith("https://") and urls[0].split("/")[2] in PRIVATE_TRACKERS
    working = rng.random() < 0.85 and state4 not in ("pausedUP", "pausedDL", "error", "missingFiles")
    magnet = f"magnet:?xt=urn:btih:{h}&dn={quote(name, safe='')}" + "".join(
        f"&tr={quote(u, safe='')}" for u in urls
    )
    ratio = round(uploaded / downloaded, 4) if downloaded else (round(uploaded / size, 4) if size else 0)
    rec: dict[str, Any] = {
        "added_on": added_on,
        "amount_left": amount_left,
        "auto_tmm": rng.random() < 0.3,
        "availability": -1 if complete else round(rng.uniform(0, 3), 3),
        "category": category,
        "completed": completed,
        "completion_on": completion_on,
        "content_path": f"{save_path}/{name}" if has_metadata else "",
        "dl_limit": 0,
        "dlspeed": dlspeed,
        "download_path": "",
        "downloaded": downloaded,
        "downloaded_session": 0,
        "eta": NO_ETA if complete or not dlspeed else amount_left // dlspeed,
        "f_l_piece_prio": False,
        "force_start": state4 in ("forcedUP", "forcedDL"),
        "infohash_v1": h,
        "infohash_v2": "",
        "last_activity": now - rng.randint(0, 30 * 86400) if not active else now,
        "magnet_uri": magnet,
        "max_ratio": -1,
        "max_seeding_time": -1,
        "name": name,
        "num_complete": rng.randint(0, 300),
        "num_incomplete": rng.randint(0, 40),
        "num_leechs": rng.randint(0, 5) if active else 0,
        "num_seeds": rng.randint(0, 20) if active and not complete else 0,
        "priority": rng.randint(1, 50) if state4.startswith("queued") else 0,
        "progress": progress,
        "ratio": ratio,
        "ratio_limit": -2,
        "save_path": save_path,
        "seeding_time": max(0, now - completion_on) // 3 if complete else 0,
        "seeding_time_limit": -2,
        "seen_complete": now - rng.randint(0, 7 * 86400) if has_metadata else profile.no_time,
        "seq_dl": False,
        "size": size,
        "state": profile.state(state4),
        "super_seeding": False,
        "tags": ", ".join(sorted(rng.sample(TAGS, rng.choice((0, 0, 0, 1, 1, 2))))),
        "time_active": max(0, now - added_on) // 2,
        "total_size": size if has_metadata else -1,
        "tracker": urls[0] if working else "",
        "trackers_count": len(urls),
        "up_limit": 0,
        "uploaded": uploaded,
        "uploaded_session": 0,
        "upspeed": upspeed,
    }
    if "popularity" in profile.torrent_fields:
        rec.update(
            {
                "comment": rng.choice(
                    (
                        "",
                        "",
                        "Uploaded by the release group",
                        f"https://{urls[0].split('/')[2]}/t/{rng.randint(1, 10**6)}",
                    )
                ),
                "has_metadata": has_metadata,
                "inactive_seeding_time_limit": -2,
                "max_inactive_seeding_time": -1,
                "popularity": round(rng.uniform(0, 5), 4) if complete else 0,
                "private": private if has_metadata else None,
                "reannounce": rng.randint(0, 1800),
                "root_path": rec["content_path"] if rng.random() < 0.6 else "",
            }
        )
    if "has_tracker_error" in profile.torrent_fields:  # 5.2: the announce flags (trackers.py)
        rec.update(announce.flags(h, urls, rec["tracker"]))
    return {k: rec[k] for k in profile.torrent_fields}


def churn(rng: random.Random, rec: dict[str, Any], now: int, interval: int) -> set[str]:
    """Change one torrent as `interval` seconds of activity would; returns the keys that changed."""
    before = dict(rec)
    state = rec["state"]
    complete = rec["amount_left"] == 0 and rec["size"] > 0
    roll = rng.random()
    if roll < 0.05 and state in ("downloading", "stalledDL", "forcedDL"):
        state = "stalledUP"  # finished
        rec.update(
            progress=1,
            amount_left=0,
            completed=rec["size"],
            completion_on=now,
            eta=NO_ETA,
            availability=-1,
            dlspeed=0,
            num_seeds=0,
        )
        complete = True
    elif roll < 0.15:
        flips = {
            "stalledUP": "uploading",
            "uploading": "stalledUP",
            "stalledDL": "downloading",
            "downloading": "stalledDL",
            "queuedUP": "uploading",
            "queuedDL": "downloading",
        }
        state = flips.get(state, state)
    rec["state"] = state
    moving = state in ACTIVE
    up = rng.randint(0, 500) * KIB if moving else 0
    rec["upspeed"] = up
    rec["uploaded"] += up * interval
    rec["uploaded_session"] += up * interval
    if moving and not complete and rec["size"]:
        down = rng.randint(1, 5000) * KIB
        got = min(rec["amount_left"], down * interval)
        rec.update(
            dlspeed=down,
            downloaded=rec["downloaded"] + got,
            downloaded_session=rec["downloaded_session"] + got,
            amount_left=rec["amount_left"] - got,
            completed=rec["completed"] + got,
        )
        rec["progress"] = round(rec["completed"] / rec["size"], 4)
        rec["eta"] = rec["amount_left"] // down if down else NO_ETA
    else:
        rec["dlspeed"] = 0
    if rec["downloaded"]:
        rec["ratio"] = round(rec["uploaded"] / rec["downloaded"], 4)
    rec["num_leechs"] = rng.randint(0, 5) if moving else 0
    rec["num_incomplete"] = max(0, rec["num_incomplete"] + rng.randint(-2, 2))
    rec["num_complete"] = max(0, rec["num_complete"] + rng.randint(-2, 3))
    if moving or up:
        rec["last_activity"] = now
    if not state.startswith(("paused", "stopped")):
        rec["time_active"] += interval
        if complete:
            rec["seeding_time"] += interval
    if "popularity" in rec:
        rec["reannounce"] = rng.randint(0, 1800)
        if complete:
            rec["popularity"] = round(rec["ratio"] / max(1, (now - rec["added_on"]) / (30 * 86400)), 4)
    return {k for k, v in rec.items() if before[k] != v}
