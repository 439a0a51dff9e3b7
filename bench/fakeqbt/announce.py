"""What each tracker URL of a fake torrent says, fixed per torrent and URL (a hash of both), so that every
request, every version and sync/maindata's 5.2 flags tell the same story:

- the URL the torrent announces to (its `tracker` field) works;
- a private torrent (one URL) without a working tracker is unregistered one time in UNREGISTERED_IN,
  refused otherwise;
- the other URLs of a public torrent work 7 times in 10 and time out otherwise.

Nothing here changes with churn: the benchmark's steady state is trackers that keep saying the same.
"""

from __future__ import annotations

import hashlib

UNREGISTERED_IN = 10
SAYS = {  # what a URL says -> (status up to 5.1, status from 5.2, msg)
    "working": (2, 2, ""),
    "refused": (4, 4, "Connection refused"),
    "timeout": (4, 4, "Connection timed out"),
    "unregistered": (4, 5, "Unregistered torrent"),
}


def says(h: str, url: str, urls: list[str], working: str) -> str:
    if url == working:
        return "working"
    roll = int(hashlib.md5(f"{h} {url}".encode()).hexdigest()[:6], 16)
    if len(urls) == 1:
        return "unregistered" if roll % UNREGISTERED_IN == 0 else "refused"
    return "working" if roll % 10 < 7 else "timeout"


def flags(h: str, urls: list[str], working: str) -> dict[str, bool]:
    """5.2's announce flags of one torrent: a tracker's error answer, another failed announce."""
    said = {says(h, u, urls, working) for u in urls}
    return {
        "has_tracker_error": "unregistered" in said,
        "has_tracker_warning": False,
        "has_other_announce_error": bool(said & {"refused", "timeout"}),
    }
