"""The `trackers` job: one run of an instance's tracker scan (qbt/tracker_scan.py) per interval.

Read-only, so unlike `control` and `completion` it runs on every replica (no lease needed) and also where
actions are off (--actions.enabled=false, `actions: false`): it writes nothing to qBittorrent and nothing
to the store. A run waits between requests (the request budget) and ends at shutdown without waiting.
Results: ok, error (a request failed: the run stopped there), skipped (qBittorrent unreachable).
"""

from __future__ import annotations

import threading

from ..qbt.mirror import Mirror
from ..qbt.tracker_scan import TrackerScan

NAME = "trackers"


class TrackerScanJob:
    name = NAME

    def __init__(self, scan: TrackerScan, mirror: Mirror) -> None:
        self.scan, self.mirror = scan, mirror

    def run(self, stopping: threading.Event) -> str:
        snapshot = self.mirror.refresh()
        if snapshot is None:
            return "skipped"
        return self.scan.run(snapshot, stopping.wait)
