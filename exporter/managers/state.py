"""TorrentStateManager: the status of each state, the complete/seeding/downloading predicates, and the
per-state counts the collectors show. Pure.

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

The three predicates every manager uses (control, completion, facts, points), so that they agree:

- complete: all wanted data is there (size > 0, amount_left 0) and qBittorrent is not checking,
  moving, fetching metadata for or reporting an error on it;
- seeding: complete and in a seeding status (uploading, forcedUP, stalledUP);
- downloading: not complete and wanting data now: downloading, stalled, fetching metadata or queued.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..model import KNOWN_STATES, Snapshot, Torrent, normalize_state

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

STATUS_OF_STATE: Mapping[str, str] = {
    "allocating": "downloading",
    "downloading": "downloading",
    "forcedDL": "downloading",
    "uploading": "seeding",
    "forcedUP": "seeding",
    "stalledUP": "seeding",
    "stalledDL": "stalled",
    "stoppedUP": "paused",
    "stoppedDL": "paused",
    "queuedUP": "queued",
    "queuedDL": "queued",
    "checkingUP": "checking",
    "checkingDL": "checking",
    "checkingResumeData": "checking",
    "error": "errored",
    "missingFiles": "errored",
    "metaDL": "metadata",
    "forcedMetaDL": "metadata",
    "moving": "moving",
    "unknown": "unknown",
}
assert set(STATUS_OF_STATE) == set(KNOWN_STATES) and set(STATUS_OF_STATE.values()) == set(STATUSES)

# Statuses in which qBittorrent's numbers for a torrent are not settled: never "complete".
NOT_SETTLED = frozenset({"checking", "moving", "metadata", "errored"})
# Statuses of a torrent that wants data now.
DOWNLOAD_STATUSES = frozenset({"downloading", "stalled", "metadata", "queued"})


def status_of(state: str) -> str:
    """The coarse status of a (raw or normalised) qBittorrent state string."""
    return STATUS_OF_STATE[normalize_state(state)]


def is_complete(t: Torrent) -> bool:
    """All wanted data is there and qBittorrent's numbers for it are settled."""
    return t.amount_left == 0 and t.size > 0 and STATUS_OF_STATE.get(t.state, "unknown") not in NOT_SETTLED


def is_seeding(t: Torrent) -> bool:
    """Complete and seeding now: the only torrents a tracker pays points for."""
    return STATUS_OF_STATE.get(t.state) == "seeding" and is_complete(t)


def is_downloading(t: Torrent) -> bool:
    """Not complete and wanting data now (downloading, stalled, fetching metadata or queued)."""
    return STATUS_OF_STATE.get(t.state) in DOWNLOAD_STATUSES and not is_complete(t)


# The states of is_downloading's statuses: one set lookup passes over a seed without a call.
DOWNLOAD_STATES = frozenset(state for state, status in STATUS_OF_STATE.items() if status in DOWNLOAD_STATUSES)


def downloads(snapshot: Snapshot) -> Mapping[str, Torrent]:
    """The snapshot's torrents that is_downloading says yes to: as the mirror keeps them, or found."""
    if snapshot.downloading is not None:
        return snapshot.downloading
    return {h: t for h, t in snapshot.torrents.items() if t.state in DOWNLOAD_STATES and is_downloading(t)}


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
