"""The shapes of qBittorrent's tracker answers, checked whole before any of it is used. Pure.

    torrents/trackers?hash=H                        one torrent's rows (every version; before 5.1 the
                                                    only way): [{url, status, msg, tier, num_*...}, ...]
                                                    with "** [DHT] **", "** [PeX] **", "** [LSD] **" first
    torrents/info?includeTrackers=true&hashes=a|b   5.1+: [{hash, ..., trackers: [rows]}, ...]
    torrents/info?includeTrackers=true&sort=hash&offset=&limit=     5.1+: a page, the same shape

5.2+ rows also carry `updating` (a boolean) and `endpoints`; 5.1's includeTrackers rows leave out the
DHT/PeX/LSD rows. Before 5.1 torrents/info ignores includeTrackers and sends no `trackers` key: that
answer is refused here, not read as "no trackers".

Like sync/maindata (maindata.check_payload), only the containers are checked: a row's values may be
anything JSON holds, classify.tracker_entries converts them. A wrong container refuses the whole answer
(PayloadError), so no torrent is recorded from half a response. The messages name the endpoint and the
key, never a value: a row's url holds the tracker's passkey.
"""

from __future__ import annotations

from typing import Any

from ..model import clean_text
from .maindata import PayloadError

Rows = list[dict[str, Any]]


def check_tracker_rows(payload: Any) -> Rows:
    """torrents/trackers' answer if it is a list of objects, else PayloadError."""
    if not _is_objects(payload):
        raise PayloadError("torrents/trackers response is not a list of objects")
    return payload


def check_torrents_with_trackers(payload: Any) -> dict[str, Rows]:
    """{hash: tracker rows} from torrents/info?includeTrackers=true, else PayloadError."""
    if not isinstance(payload, list):
        raise PayloadError("torrents/info response is not a list")
    out: dict[str, Rows] = {}
    for torrent in payload:
        if not isinstance(torrent, dict):
            raise PayloadError("torrents/info holds a torrent that is not an object")
        h = torrent.get("hash")
        if not isinstance(h, str) or not h:
            raise PayloadError("torrents/info holds a torrent without a hash")
        rows = torrent.get("trackers")
        if rows is None:
            raise PayloadError(
                "torrents/info sent no 'trackers' (qBittorrent before 5.1 ignores includeTrackers)"
            )
        if not _is_objects(rows):
            raise PayloadError("torrents/info 'trackers' of a torrent is not a list of objects")
        out[clean_text(h).lower()] = rows
    return out


def _is_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)
