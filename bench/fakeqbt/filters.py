"""torrents/info parameters: filter, category, tag, hashes, private, sort, reverse, limit, offset.

The status filters follow qBittorrent's TorrentFilter (base/torrentfilter.cpp) and the Torrent::is*()
predicates behind it; both the 4.x (paused/resumed) and 5.x (stopped/running) names are accepted, as
5.x itself does. `category=""` and `tag=""` select the uncategorised and untagged torrents; an absent
parameter selects everything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

DOWNLOADING = {
    "downloading",
    "metaDL",
    "forcedMetaDL",
    "stalledDL",
    "checkingDL",
    "pausedDL",
    "stoppedDL",
    "queuedDL",
    "forcedDL",
}
UPLOADING = {"uploading", "stalledUP", "checkingUP", "queuedUP", "forcedUP"}
COMPLETED = UPLOADING | {"pausedUP", "stoppedUP"}
STOPPED = {"pausedUP", "pausedDL", "stoppedUP", "stoppedDL"}
CHECKING = {"checkingUP", "checkingDL", "checkingResumeData"}
ERRORED = {"error", "missingFiles"}
ALWAYS_ACTIVE = {"metaDL", "forcedMetaDL", "downloading", "forcedDL", "uploading", "forcedUP", "moving"}


def _active(t: Mapping[str, Any]) -> bool:
    if t["state"] == "stalledDL":
        return t["upspeed"] > 0
    return t["state"] in ALWAYS_ACTIVE


STATUS: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "all": lambda t: True,
    "downloading": lambda t: t["state"] in DOWNLOADING,
    "seeding": lambda t: t["state"] in UPLOADING,
    "completed": lambda t: t["state"] in COMPLETED,
    "paused": lambda t: t["state"] in STOPPED,
    "stopped": lambda t: t["state"] in STOPPED,
    "resumed": lambda t: t["state"] not in STOPPED,
    "running": lambda t: t["state"] not in STOPPED,
    "active": _active,
    "inactive": lambda t: not _active(t),
    "stalled": lambda t: t["state"] in ("stalledUP", "stalledDL"),
    "stalled_uploading": lambda t: t["state"] == "stalledUP",
    "stalled_downloading": lambda t: t["state"] == "stalledDL",
    "checking": lambda t: t["state"] in CHECKING,
    "moving": lambda t: t["state"] == "moving",
    "errored": lambda t: t["state"] in ERRORED,
}


def _has_tag(tags: str, tag: str) -> bool:
    if tag == "":
        return tags == ""
    return tag in (t.strip() for t in tags.split(","))


def select(
    records: Mapping[str, Mapping[str, Any]], order: Sequence[str], params: Mapping[str, str]
) -> list[str]:
    """The hashes torrents/info returns for `params`, in order."""
    hashes = params.get("hashes")
    if hashes and hashes != "all":
        chosen = [h for h in hashes.lower().split("|") if h in records]
    else:
        chosen = list(order)
    status = STATUS.get(params.get("filter") or "all", STATUS["all"])
    category, tag, private = params.get("category"), params.get("tag"), params.get("private")
    wanted_private = None if private is None else private.lower() == "true"

    def keep(t: Mapping[str, Any]) -> bool:
        return (
            status(t)
            and (category is None or t["category"] == category)
            and (tag is None or _has_tag(t["tags"], tag))
            and (wanted_private is None or t.get("private") is wanted_private)
        )

    if (
        (params.get("filter") or "all") != "all"
        or category is not None
        or tag is not None
        or private is not None
    ):
        chosen = [h for h in chosen if keep(records[h])]
    sort = params.get("sort")
    if sort:

        def key(h: str) -> tuple:
            value = h if sort == "hash" else records[h].get(sort)
            return (value is None, value if value is not None else 0)

        chosen.sort(key=key, reverse=(params.get("reverse", "").lower() == "true"))
    offset = int(params.get("offset") or 0)
    if offset < 0:
        offset = max(0, len(chosen) + offset)
    limit = int(params.get("limit") or 0)
    return chosen[offset : offset + limit] if limit > 0 else chosen[offset:]
