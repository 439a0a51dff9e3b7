"""TorrentStateManager: every 4.x and 5.x state string -> normalised state and coarse status."""

import pytest
from qbittorrentapi.definitions import TorrentState

from exporter.managers.state import STATUS_OF_STATE, STATUSES, state_counts, status_of
from exporter.model import KNOWN_STATES, normalize_state

# (raw state as qBittorrent sends it, normalised state, status)
CASES = [
    ("error", "error", "errored"),
    ("missingFiles", "missingFiles", "errored"),
    ("uploading", "uploading", "seeding"),
    ("forcedUP", "forcedUP", "seeding"),
    ("stalledUP", "stalledUP", "seeding"),
    ("pausedUP", "stoppedUP", "paused"),  # 4.x
    ("stoppedUP", "stoppedUP", "paused"),  # 5.x
    ("pausedDL", "stoppedDL", "paused"),  # 4.x
    ("stoppedDL", "stoppedDL", "paused"),  # 5.x
    ("queuedUP", "queuedUP", "queued"),
    ("queuedDL", "queuedDL", "queued"),
    ("checkingUP", "checkingUP", "checking"),
    ("checkingDL", "checkingDL", "checking"),
    ("checkingResumeData", "checkingResumeData", "checking"),
    ("allocating", "allocating", "downloading"),
    ("downloading", "downloading", "downloading"),
    ("forcedDL", "forcedDL", "downloading"),
    ("metaDL", "metaDL", "metadata"),
    ("forcedMetaDL", "forcedMetaDL", "metadata"),
    ("stalledDL", "stalledDL", "stalled"),
    ("moving", "moving", "moving"),
    ("unknown", "unknown", "unknown"),
    ("someStateFrom6x", "unknown", "unknown"),
    ("", "unknown", "unknown"),
    (None, "unknown", "unknown"),
    (42, "unknown", "unknown"),
]


@pytest.mark.parametrize("raw,state,status", CASES, ids=[repr(c[0]) for c in CASES])
def test_state_and_status(raw, state, status):
    assert normalize_state(raw) == state
    assert status_of(raw) == status


def test_every_state_qbittorrent_api_knows_is_covered():
    raw_states = {s.value for s in TorrentState}
    assert raw_states <= {c[0] for c in CASES}, "a state of qbittorrent-api's enum has no test case"
    assert set(STATUS_OF_STATE.values()) <= set(STATUSES)
    assert "pausedUP" not in KNOWN_STATES and "stoppedUP" in KNOWN_STATES


def test_state_counts_emit_zero_for_every_state_in_every_category():
    counts = state_counts({("uploading", "movies"): 3, ("stalledDL", ""): 1}, categories=["movies", "tv"])
    assert counts[("uploading", "seeding", "movies")] == 3
    assert counts[("stalledDL", "stalled", "")] == 1
    assert counts[("error", "errored", "tv")] == 0
    assert len(counts) == len(KNOWN_STATES) * 3  # "", movies, tv


def test_known_states_are_qbittorrentapis_in_5x_names():
    from qbittorrentapi.definitions import TorrentState

    assert set(KNOWN_STATES) == {normalize_state(s.value) for s in TorrentState}
