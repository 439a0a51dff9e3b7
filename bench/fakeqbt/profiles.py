"""What differs between the qBittorrent versions the fake server can impersonate.

4.5.2 comes from payloads recorded from a real qbittorrent-nox 4.5.2 (recorded/4.5.2/, made by
`python -m bench.fakeqbt.record`). 5.0.4 follows the WebUI API (qBittorrent 5.0) wiki and the 5.x source
of `serialize_torrent.cpp`: paused* states renamed stopped*, torrents/pause|resume replaced by
torrents/stop|start, eight more torrent fields, unset timestamps sent as -1 instead of 0. 5.1.2 and
5.2.0 are 5.0.4 plus what the tracker scan reads (trackers.py): torrents/info?includeTrackers=true
(5.1+), the announce flags in sync/maindata and the 5.2 tracker status codes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).parent / "recorded"

# The torrent fields of sync/maindata and torrents/info (torrents/info adds "hash"), as 4.5.2 sends them.
FIELDS_4 = (
    "added_on",
    "amount_left",
    "auto_tmm",
    "availability",
    "category",
    "completed",
    "completion_on",
    "content_path",
    "dl_limit",
    "dlspeed",
    "download_path",
    "downloaded",
    "downloaded_session",
    "eta",
    "f_l_piece_prio",
    "force_start",
    "infohash_v1",
    "infohash_v2",
    "last_activity",
    "magnet_uri",
    "max_ratio",
    "max_seeding_time",
    "name",
    "num_complete",
    "num_incomplete",
    "num_leechs",
    "num_seeds",
    "priority",
    "progress",
    "ratio",
    "ratio_limit",
    "save_path",
    "seeding_time",
    "seeding_time_limit",
    "seen_complete",
    "seq_dl",
    "size",
    "state",
    "super_seeding",
    "tags",
    "time_active",
    "total_size",
    "tracker",
    "trackers_count",
    "up_limit",
    "uploaded",
    "uploaded_session",
    "upspeed",
)
# Added by 5.x (serialize_torrent.h of 5.0).
FIELDS_5_EXTRA = (
    "comment",
    "has_metadata",
    "inactive_seeding_time_limit",
    "max_inactive_seeding_time",
    "popularity",
    "private",
    "reannounce",
    "root_path",
)

# Added by 5.2 (what the tracker scan reads; the other 5.2 fields change no cost that matters here).
FIELDS_5_2_EXTRA = ("has_other_announce_error", "has_tracker_error", "has_tracker_warning")

# Write endpoints (POST) the fake accepts and records without applying. Version-specific ones below.
WRITES_COMMON = frozenset(
    {
        "torrents/reannounce",
        "torrents/recheck",
        "torrents/addTags",
        "torrents/removeTags",
        "torrents/setCategory",
        "torrents/setForceStart",
        "torrents/setShareLimits",
        "torrents/setUploadLimit",
        "torrents/setDownloadLimit",
        "torrents/topPrio",
        "torrents/bottomPrio",
        "torrents/increasePrio",
        "torrents/decreasePrio",
        "torrents/delete",
        "torrents/createTags",
        "torrents/deleteTags",
        "torrents/createCategory",
        "torrents/setSuperSeeding",
        "torrents/setAutoManagement",
        "torrents/addTrackers",
        "torrents/add",
        "app/setPreferences",
        "transfer/setUploadLimit",
        "transfer/setDownloadLimit",
    }
)


@dataclass(frozen=True)
class Profile:
    name: str
    version: str
    webapi: str
    build_info: dict[str, Any] = field(hash=False)
    stop_start: bool  # 5.x: torrents/stop|start and stopped* states
    no_time: int  # what an unset timestamp (completion_on, seen_complete) looks like
    torrent_fields: tuple[str, ...]
    server_extra: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def writes(self) -> frozenset[str]:
        pair = (
            {"torrents/stop", "torrents/start"} if self.stop_start else {"torrents/pause", "torrents/resume"}
        )
        return WRITES_COMMON | pair

    def state(self, state4: str) -> str:
        """A state in this version's spelling, from its 4.x name."""
        if self.stop_start:
            return {"pausedUP": "stoppedUP", "pausedDL": "stoppedDL"}.get(state4, state4)
        return state4

    def preferences(self) -> dict[str, Any]:
        prefs = dict(recorded("4.5.2", "app_preferences"))
        if self.stop_start:  # 5.0 renamed the "add paused" preference and added a few
            prefs["add_stopped_enabled"] = prefs.pop("start_paused_enabled", False)
            prefs.update({"torrent_content_remove_option": "delete", "confirm_torrent_recheck": True})
        return prefs


@cache
def recorded(version: str, name: str) -> Any:
    return json.loads((RECORDED / version / f"{name}.json").read_text())


PROFILES: dict[str, Profile] = {
    "4.5.2": Profile(
        name="4.5.2",
        version="v4.5.2",
        webapi="2.8.19",
        build_info=recorded("4.5.2", "app_buildInfo"),
        stop_start=False,
        no_time=0,
        torrent_fields=FIELDS_4,
    ),
    "5.0.4": Profile(
        name="5.0.4",
        version="v5.0.4",
        webapi="2.11.2",
        build_info={
            "bitness": 64,
            "boost": "1.86.0",
            "libtorrent": "2.0.10.0",
            "openssl": "3.3.2",
            "platform": "linux",
            "qt": "6.7.3",
            "zlib": "1.3.1",
        },
        stop_start=True,
        no_time=-1,
        torrent_fields=tuple(sorted(FIELDS_4 + FIELDS_5_EXTRA)),
        server_extra={
            "use_subcategories": False,
            "last_external_address_v4": "",
            "last_external_address_v6": "",
        },
    ),
}
# 5.1 and 5.2 as 5.0.4 sends them, plus the tracker scan's sources (trackers.py).
PROFILES["5.1.2"] = replace(PROFILES["5.0.4"], name="5.1.2", version="v5.1.2", webapi="2.11.4")
PROFILES["5.2.0"] = replace(
    PROFILES["5.0.4"],
    name="5.2.0",
    version="v5.2.0",
    webapi="2.15.1",
    torrent_fields=tuple(sorted(FIELDS_4 + FIELDS_5_EXTRA + FIELDS_5_2_EXTRA)),
)
