"""Counters and gauges of what the action jobs do, registered in App.events (never the global REGISTRY).

    qbittorrent_exporter_actions_total{action="reannounce",result="ok",dry_run="false"} 1.0
    qbittorrent_exporter_completions_total{category="movies"} 1.0
    qbittorrent_exporter_completion_handler_runs_total{handler="notify",result="error"} 1.0
    qbittorrent_exporter_completion_backlog 0.0
    qbittorrent_exporter_stalled_torrents 2.0
    qbittorrent_exporter_ratio_emergency_active{tracker="tracker.example.org"} 1.0
    qbittorrent_exporter_unregistered_torrents 3.0
    qbittorrent_exporter_unregistered_outages_total{tracker="tracker.example.org"} 1.0
    qbittorrent_exporter_job_runs_total{job="control",result="ok"} 10.0
    qbittorrent_exporter_job_duration_seconds{job="control"} 0.004
    qbittorrent_exporter_job_last_success_timestamp_seconds{job="control"} 1.7e+09
    qbittorrent_exporter_store_errors_total{reason="deleted"} 1.0

Label values are bounded: `action` and `result` by the code, `handler` by the configuration,
`category` and `tracker` by the instance's categories and tracker hosts, `job` is control|completion|
trackers.
`result` of a handler run: ok, error (will retry), dead (gave up: dead-letter), dry_run.
`result` of a job run: ok, error, skipped (qBittorrent unreachable), store_lost (the store's files were
deleted or replaced under the service: no job acts until a restart), standby (another replica leads this
qBittorrent, or this one lost its lease during the run). `reason` of a store error is one of
store.LOST_REASONS, counted once when the loss is found, or `unreachable` (a shared store that does not
answer: the jobs pause), counted once per outage.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge
from prometheus_client.registry import CollectorRegistry

from ..store import LOST_REASONS

JOB_RESULTS = ("ok", "error", "skipped", "store_lost")


class ActionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.actions = Counter(
            "qbittorrent_exporter_actions",
            "Actions taken on torrents (or that a dry run would take).",
            ["action", "result", "dry_run"],
            registry=registry,
        )
        self.completions = Counter(
            "qbittorrent_exporter_completions",
            "Torrent completions detected, by category.",
            ["category"],
            registry=registry,
        )
        self.handler_runs = Counter(
            "qbittorrent_exporter_completion_handler_runs",
            "Completion handler attempts by result: ok, error (will retry), dead (gave up), dry_run.",
            ["handler", "result"],
            registry=registry,
        )
        self.backlog = Gauge(
            "qbittorrent_exporter_completion_backlog",
            "Completions whose handlers are not all done: pending plus dead-letter.",
            registry=registry,
        )
        self.stalled = Gauge(
            "qbittorrent_exporter_stalled_torrents",
            "Downloads without progress for the configured stall_after.",
            registry=registry,
        )
        self.emergency = Gauge(
            "qbittorrent_exporter_ratio_emergency_active",
            "1 while the ratio emergency holds for this tracker host (or 'global').",
            ["tracker"],
            registry=registry,
        )
        self.unregistered = Gauge(
            "qbittorrent_exporter_unregistered_torrents",
            "Torrents every tracker has called unregistered for the configured `after` that the last run "
            "did not find tagged: about to be, held back by the outage guard, or beyond its cap.",
            registry=registry,
        )
        self.unregistered_outages = Counter(
            "qbittorrent_exporter_unregistered_outages",
            "Times the outage guard began holding a tracker host back: too many of its torrents turned "
            "unregistered together, so none of them is tagged.",
            ["tracker"],
            registry=registry,
        )
        self.job_runs = Counter(
            "qbittorrent_exporter_job_runs",
            "Scheduled job runs by result: ok, error, skipped, store_lost.",
            ["job", "result"],
            registry=registry,
        )
        self.job_duration = Gauge(
            "qbittorrent_exporter_job_duration_seconds",
            "Duration of the last run of the job.",
            ["job"],
            registry=registry,
        )
        self.job_last_success = Gauge(
            "qbittorrent_exporter_job_last_success_timestamp_seconds",
            "Unix time of the last successful run.",
            ["job"],
            registry=registry,
        )

    def declare(self, jobs: tuple[str, ...], handlers: tuple[str, ...]) -> None:
        """Create the series that would otherwise appear only after their first event."""
        for job in jobs:
            for result in JOB_RESULTS:
                self.job_runs.labels(job, result)
            self.job_duration.labels(job)
        for handler in handlers:
            for result in ("ok", "error", "dead"):
                self.handler_runs.labels(handler, result)


class StoreMetrics:
    """The store's own counter: one store serves every instance, so its series has no qbittorrent label."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.errors = Counter(
            "qbittorrent_exporter_store_errors",
            "Times the store was found lost (deleted, replaced) or stopped answering (unreachable).",
            ["reason"],
            registry=registry,
        )
        for reason in (*LOST_REASONS, "unreachable"):
            self.errors.labels(reason)
