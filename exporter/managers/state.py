"""TorrentStateManager: group torrents by state, status, category and tracker host. Pure.

`status` is the coarse group of a state:

| status      | states (5.x names)                                   |
|-------------|------------------------------------------------------|
| downloading | downloading, forcedDL, allocating                    |
| seeding     | uploading, forcedUP, stalledUP                       |
| stalled     | stalledDL                                            |
| paused      | stoppedUP, stoppedDL (4.x: pausedUP, pausedDL)       |
| queued      | queuedUP, queuedDL                                   |
| checking    | checkingUP, checkingDL, checkingResumeData           |
| errored     | error, missingFiles                                  |
| metadata    | metaDL, forcedMetaDL                                 |
| moving      | moving                                               |
| unknown     | unknown, and any state this version does not know    |

A seed with no peers (stalledUP) counts as seeding: it is available, just not in demand. Only a
download that cannot progress is "stalled".
"""

from __future__ import annotations

from typing import Iterable, Mapping

from qbittorrentapi.definitions import TorrentState as S

from ..model import KNOWN_STATES, Group, Torrent, normalize_state

STATUSES: tuple[str, ...] = (
    "downloading",
    "seeding",
    "stalled",
    "paused",
    "queued",
    "checking",
    "errored",
    "metadata",
    "moving",
    "unknown",
)


def _status_of(state: S) -> str:
    if state.is_errored:
        return "errored"
    if state.is_checking:
        return "checking"
    if state.is_stopped:
        return "paused"
    if state in (S.QUEUED_UPLOAD, S.QUEUED_DOWNLOAD):
        return "queued"
    if state in (S.METADATA_DOWNLOAD, S.FORCED_METADATA_DOWNLOAD):
        return "metadata"
    if state is S.STALLED_DOWNLOAD:
        return "stalled"
    if state is S.MOVING:
        return "moving"
    if state.is_uploading:
        return "seeding"
    if state.is_downloading or state is S.ALLOCATING:
        return "downloading"
    return "unknown"


STATUS_OF_STATE: Mapping[str, str] = {s: _status_of(S(s)) for s in KNOWN_STATES}


def status_of(state: str) -> str:
    """The coarse status of a (raw or normalised) qBittorrent state string."""
    return STATUS_OF_STATE[normalize_state(state)]


class Totals:
    """Per (state, category), per category and per tracker-host totals of a set of torrents.

    Kept incrementally: the mirror calls `add(old, -1)` and `add(new, +1)` for each changed torrent,
    so a scrape does not walk 50,000 torrents. `summarize()` builds the same from scratch; the tests
    check that the two always agree.
    """

    __slots__ = ("state_category", "category", "tracker")

    def __init__(self) -> None:
        self.state_category: dict[tuple[str, str], int] = {}
        self.category: dict[str, list[int]] = {}
        self.tracker: dict[str, list[int]] = {}

    def add(self, t: Torrent, sign: int = 1) -> None:
        key = (t.state, t.category)
        self.state_category[key] = self.state_category.get(key, 0) + sign
        _bump(self.category, t.category, t, sign)
        for host in t.hosts:
            _bump(self.tracker, host, t, sign)

    def frozen(self) -> tuple[dict[tuple[str, str], int], dict[str, Group], dict[str, Group]]:
        """Copies for a Snapshot, without the groups that became empty."""
        return (
            {k: n for k, n in self.state_category.items() if n},
            {k: Group(*v) for k, v in self.category.items() if v[0]},
            {k: Group(*v) for k, v in self.tracker.items() if v[0]},
        )


def _bump(groups: dict[str, list[int]], key: str, t: Torrent, sign: int) -> None:
    g = groups.get(key)
    if g is None:
        g = groups[key] = [0, 0, 0, 0]
    g[0] += sign
    g[1] += sign * t.size
    g[2] += sign * t.uploaded
    g[3] += sign * t.downloaded


def summarize(torrents: Iterable[Torrent]) -> Totals:
    totals = Totals()
    for t in torrents:
        totals.add(t)
    return totals


def state_counts(
    by_state_category: Mapping[tuple[str, str], int], categories: Iterable[str]
) -> dict[tuple[str, str, str], int]:
    """(state, status, category) -> count, with a zero for every known state in every category.

    Zeros keep series from vanishing when the last torrent leaves a state. Category "" is the
    uncategorised bucket and is always present.
    """
    cats = set(categories) | {""} | {c for _, c in by_state_category}
    out = {(s, STATUS_OF_STATE[s], c): 0 for s in KNOWN_STATES for c in cats}
    for (state, category), n in by_state_category.items():
        out[(state, STATUS_OF_STATE.get(state, "unknown"), category)] = n
    return out
