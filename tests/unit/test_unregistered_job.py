"""The unregistered action in the control job (tag after the grace period, untag, stop only if asked, dry
run, outage guard logged once and counted, audit rows) and the read-only `trackers` job on the scheduler
(every replica, without a store, with actions off)."""

from __future__ import annotations

import logging
import threading

import pytest
from prometheus_client.registry import CollectorRegistry

from exporter.actions.control import ControlJob
from exporter.actions.metrics import ActionMetrics
from exporter.actions.perform import Performer
from exporter.actions.scheduler import Actions, Watched
from exporter.actions.settings import ControlSettings, UnregisteredSettings
from exporter.config import build_settings
from exporter.managers.policy import SeedingSettings, TrackerPolicies, TrackerScanPolicy, UnregisteredPolicy
from exporter.managers.ratio_index import SharedRatioIndex
from exporter.managers.tracker_health import TrackerEntry
from exporter.qbt.tracker_scan import TrackerScan
from tests.kit.builders import downloading, snapshot
from tests.kit.fakes import Clock, FakeConnection, FakeMirror
from tests.kit.processes import wait_for

T0 = 7_000_000.0
HOUR = 3600.0
GO = threading.Event()
POLICY = UnregisteredPolicy(enabled=True, after=HOUR, outage_min_torrents=3, outage_share=0.5)
UNREG = TrackerEntry("u.example", 4, "not_working", "unregistered", "Unregistered torrent")
WORKING = TrackerEntry("u.example", 2, "working")


@pytest.fixture
def store(store):
    return store.scoped("test")


def job(store, registry, clock, scan, policy=POLICY, dry_run=False):
    metrics = ActionMetrics(registry)
    settings = ControlSettings(
        configured=True, unregistered=UnregisteredSettings(enabled=True, policy=policy)
    )
    mirror = FakeMirror()
    policies = TrackerPolicies()
    control = ControlJob(
        settings,
        dry_run,
        mirror,
        mirror.connection,
        store,
        metrics,
        policies,
        Performer(store, metrics, clock),
        clock,
        SharedRatioIndex(policies, SeedingSettings()),
        scan,
    )
    return control, mirror


def torrents(*hashes, tags=(), host="u.example"):
    return snapshot(
        *[downloading(h, tracker=host, trackers=(host,), tags=list(tags)) for h in hashes],
        taken_at=T0,
        instance="test",
    )


def record(scan, h, entry, at):
    scan.with_health(lambda health: health.record(h, [entry], at))


def value(registry, name, **labels):
    return registry.get_sample_value(name, labels) or 0.0


def test_tagged_only_after_the_grace_period_and_untagged_when_known_again(store):
    registry, clock = CollectorRegistry(), Clock(T0)
    scan = TrackerScan(FakeConnection(), TrackerScanPolicy(), "test", clock)
    control, mirror = job(store, registry, clock, scan)
    record(scan, "u1", UNREG, T0)
    record(scan, "w1", WORKING, T0)
    mirror.snapshot = torrents("u1", "w1")
    clock.now = T0 + HOUR / 2
    record(scan, "u1", UNREG, clock.now)
    control.run(GO)
    assert mirror.connection.calls == []  # half the grace period: waiting
    clock.now = T0 + HOUR
    record(scan, "u1", UNREG, clock.now)
    control.run(GO)
    assert mirror.connection.calls == [("add_tags", ("u1",), ("unregistered",))]  # not w1, not stopped
    assert value(registry, "qbittorrent_exporter_unregistered_torrents") == 1
    assert store.state("unregistered_tagged") == {"u1": {"at": T0 + HOUR}}
    control.run(GO)
    assert len(mirror.connection.calls) == 1  # tagged once

    mirror.snapshot = torrents("u1", "w1", tags=["unregistered"])
    record(scan, "u1", WORKING, clock.now + 60)  # the tracker knows it again
    control.run(GO)
    assert mirror.connection.calls[1:] == [("remove_tags", ("u1",), ("unregistered",))]
    assert store.state("unregistered_tagged") == {}
    [tag, untag] = store.audit_log(0)
    assert (tag.action, untag.action) == ("tag_unregistered", "untag_unregistered")
    assert "unregistered on u.example for 1h" in tag.reason and "Unregistered torrent" in tag.reason
    assert value(registry, "qbittorrent_exporter_actions_total", action="tag_unregistered", result="ok",
                 dry_run="false") == 1  # fmt: skip


def test_stop_only_when_asked_and_a_dry_run_writes_nothing(store):
    stop = UnregisteredPolicy(enabled=True, after=HOUR, stop=True)
    cases = [(POLICY, False, ["add_tags"]), (stop, False, ["add_tags", "stop"]), (stop, True, [])]
    for i, (policy, dry, calls) in enumerate(cases):
        h = f"u{i}"  # each case its own torrent: the store's view is the one instance's
        clock = Clock(T0 + HOUR)
        scan = TrackerScan(FakeConnection(), TrackerScanPolicy(), "test", clock)
        control, mirror = job(store, CollectorRegistry(), clock, scan, policy, dry)
        record(scan, h, UNREG, T0)
        record(scan, h, UNREG, T0 + HOUR)
        mirror.snapshot = torrents(h)
        control.run(GO)
        assert [(c[0], c[1]) for c in mirror.connection.calls] == [(c, (h,)) for c in calls]
        assert (h in store.state("unregistered_tagged")) is not dry  # a dry run keeps it in memory only


def test_the_outage_guard_holds_a_host_whose_torrents_flip_together_logged_once_and_counted(store, caplog):
    registry, clock = CollectorRegistry(), Clock(T0 + HOUR)
    scan = TrackerScan(FakeConnection(), TrackerScanPolicy(), "test", clock)
    control, mirror = job(store, registry, clock, scan)
    hashes = ["o1", "o2", "o3", "o4"]
    for h in hashes:  # all four within one window: the tracker lost its database, not the torrents
        record(scan, h, UNREG, T0)
        record(scan, h, UNREG, T0 + HOUR)
    mirror.snapshot = torrents(*hashes)
    with caplog.at_level(logging.INFO, "exporter.actions"):
        control.run(GO)
        control.run(GO)
    assert mirror.connection.calls == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "4 of 4 torrents on u.example" in warnings[0]
    assert value(registry, "qbittorrent_exporter_unregistered_outages_total", tracker="u.example") == 1
    assert value(registry, "qbittorrent_exporter_unregistered_torrents") == 4  # counted, not acted on


# -- the trackers job on the scheduler ---------------------------------------------------------------


def watched(settings, mirror, registry, scan):
    ratio = SharedRatioIndex(settings.jobs.trackers, settings.jobs.seeding)
    return Watched("test", settings.jobs, mirror, registry, ratio, scan=scan)


def test_the_scan_alone_runs_with_actions_off_without_a_store_and_without_a_lease(tmp_path):
    registry = CollectorRegistry()
    cfg = tmp_path / "c.yml"
    cfg.write_text("tracker_scan: {interval: 100ms}\ncompletion: {}\n")
    settings = build_settings({"data.dir": str(tmp_path / "d"), "actions.enabled": "false"}, {}, str(cfg))
    conn = FakeConnection()
    conn.trackers = {"h1": [{"url": "http://u.example/announce", "status": 2, "msg": ""}]}
    mirror = FakeMirror(torrents("h1"), conn)
    scan = TrackerScan(conn, settings.jobs.tracker_scan.policy, "test")
    actions = Actions.build([watched(settings, mirror, registry, scan)], settings.store, registry)
    assert actions is not None and not actions.acting and not actions.has("completion")
    actions.start()
    try:
        wait_for(
            lambda: value(registry, "qbittorrent_exporter_job_runs_total", job="trackers", result="ok") >= 2,
            timeout=10,
            what="two scan runs",
        )
        assert {j.id for j in actions.scheduler.get_jobs()} == {"trackers:test"}
    finally:
        actions.stop()
    assert actions.store is None and actions.leadership is None and not (tmp_path / "d").exists()
    assert ("torrent", "h1") in conn.reads
    assert registry.get_sample_value("qbittorrent_exporter_lease_held") is None


def test_the_scan_runs_on_a_replica_that_leads_nothing(tmp_path):
    registry = CollectorRegistry()
    cfg = tmp_path / "c.yml"
    cfg.write_text("control: {stalled: {enabled: true}}\n")
    settings = build_settings({"data.dir": str(tmp_path / "d")}, {}, str(cfg))
    mirror = FakeMirror(None)
    scan = TrackerScan(mirror.connection, TrackerScanPolicy(), "test")
    actions = Actions.build([watched(settings, mirror, registry, scan)], settings.store, registry)
    assert actions is not None
    actions.build_jobs()
    actions.leadership = None  # as a standby replica sees it: no token for this qBittorrent
    assert actions.run_scheduled("test", "control") == "standby"
    assert actions.run_scheduled("test", "trackers") == "skipped"  # it ran (qBittorrent is down here)
    actions.stop()
