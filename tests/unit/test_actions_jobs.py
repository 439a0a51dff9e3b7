"""The control and completion jobs with a fake qBittorrent connection that records calls,
a real SQLite store in tmp_path, a private registry and an injected clock."""

from __future__ import annotations

import threading
from functools import partial

import pytest
from prometheus_client.registry import CollectorRegistry

from exporter.actions.completion import CompletionJob
from exporter.actions.control import ControlJob
from exporter.actions.handlers import HandlerError
from exporter.actions.metrics import ActionMetrics
from exporter.actions.perform import Performer
from exporter.actions.scheduler import Actions, Watched
from exporter.actions.settings import (
    CompletionSettings,
    ControlSettings,
    EmergencySettings,
    HandlerSettings,
    SlotsSettings,
    StalledSettings,
)
from exporter.config import build_settings
from exporter.managers.policy import (
    EmergencyPolicy,
    SeedingSettings,
    SlotsPolicy,
    StallPolicy,
    TrackerPolicies,
    TrackerPolicy,
)
from exporter.managers.ratio_index import SharedRatioIndex
from exporter.qbt.connection import QBittorrentError
from exporter.store import StoreError
from tests.kit.builders import downloading, seeding, snapshot
from tests.kit.fakes import Clock, FakeMirror
from tests.kit.processes import wait_for

T0 = 5_000_000.0
DAY = 86400

# The kit's builders with this file's defaults: a snapshot taken at T0, a download stalled since a day
# ago and a seed, both on t.example.
snap = partial(snapshot, instance="inst", taken_at=T0)
stalled = partial(downloading, tracker="t.example", added_on=int(T0 - DAY))
seed = partial(seeding, tracker="t.example", downloaded=1000, completion_on=int(T0 - 999))


@pytest.fixture
def registry():
    return CollectorRegistry(auto_describe=False)


@pytest.fixture
def store(store):
    """The jobs here are the instance "test"'s (the FakeMirror's name): they see its view of the store."""
    return store.scoped("test")


def control_job(
    mirror,
    store,
    registry,
    clock,
    dry_run=False,
    stall=None,
    emergency=None,
    policies=None,
    slots=None,
    seeding=None,
):
    metrics = ActionMetrics(registry)
    settings = ControlSettings(
        configured=True,
        stalled=StalledSettings(enabled=stall is not None, policy=stall or StallPolicy()),
        ratio_emergency=EmergencySettings(
            enabled=emergency is not None, policy=emergency or EmergencyPolicy()
        ),
        seeding_slots=SlotsSettings(enabled=slots is not None, policy=slots or SlotsPolicy()),
    )
    policies = policies or TrackerPolicies()
    return ControlJob(
        settings,
        dry_run,
        mirror,
        mirror.connection,
        store,
        metrics,
        policies,
        Performer(store, metrics, clock),
        clock,
        SharedRatioIndex(policies, seeding or SeedingSettings()),
    )


def value(registry, name, **labels):
    return registry.get_sample_value(name, labels) or 0.0


STALL = StallPolicy(stall_after=60, grace=0, cooldown=30)
GO = threading.Event()


# -- control: stalled downloads --------------------------------------------------------------------


def test_the_stall_ladder_climbs_one_step_per_cooldown_and_survives_a_restart(store, registry):
    mirror, clock = FakeMirror(snap(stalled("a"))), Clock(T0)
    job = control_job(mirror, store, registry, clock, stall=STALL)
    assert job.run(GO) == "ok" and mirror.connection.calls == []  # first sight: the stall timer starts
    clock.now += 61
    job.run(GO)
    assert mirror.connection.calls == [("reannounce", ("a",))]
    assert (
        value(
            registry, "qbittorrent_exporter_actions_total", action="reannounce", result="ok", dry_run="false"
        )
        == 1
    )
    assert value(registry, "qbittorrent_exporter_stalled_torrents") == 1
    clock.now += 10
    job.run(GO)  # cooldown
    assert len(mirror.connection.calls) == 1

    restarted = control_job(mirror, store, CollectorRegistry(), clock, stall=STALL)  # ladder from the store
    restarted.progress = job.progress  # (a real restart re-learns the marks; keep them to stay short)
    clock.now += 30
    restarted.run(GO)
    assert mirror.connection.calls[1:] == [("stop", ("a",)), ("start", ("a",))]
    clock.now += 30
    restarted.run(GO)
    assert mirror.connection.calls[3:] == [("add_tags", ("a",), ("stalled",))]
    clock.now += 300
    restarted.run(GO)
    assert len(mirror.connection.calls) == 4  # gave up
    assert [e.action for e in store.audit_log(0)] == ["reannounce", "restart", "tag_stalled"]
    assert all("no progress for" in e.reason and e.name == "name-a" for e in store.audit_log(0))

    mirror.snapshot = snap(stalled("a", completed=10, amount_left=990, tags=("stalled",)), generation=2)
    restarted.run(GO)
    assert mirror.connection.calls[4:] == [("remove_tags", ("a",), ("stalled",))]
    assert store.state("stall_ladder") == {}


def test_a_failed_action_is_counted_and_does_not_stop_the_others(store, registry, caplog):
    mirror, clock = FakeMirror(snap(stalled("a"), stalled("b"))), Clock(T0)
    mirror.connection.failing_hashes = {"a"}
    job = control_job(mirror, store, registry, clock, stall=STALL)
    job.run(GO)
    clock.now += 61
    assert job.run(GO) == "ok"
    assert mirror.connection.calls == [("reannounce", ("b",))]
    assert (
        value(
            registry,
            "qbittorrent_exporter_actions_total",
            action="reannounce",
            result="error",
            dry_run="false",
        )
        == 1
    )
    assert (
        value(
            registry, "qbittorrent_exporter_actions_total", action="reannounce", result="ok", dry_run="false"
        )
        == 1
    )
    assert [(e.hash, e.result) for e in store.audit_log(0)] == [("a", "error"), ("b", "ok")]
    assert "HTTP 500" in store.audit_log(0)[0].reason


def test_one_request_carries_a_step_for_all_its_torrents_each_audited(store, registry):
    mirror, clock = FakeMirror(snap(stalled("a"), stalled("b"), stalled("c"))), Clock(T0)
    job = control_job(mirror, store, registry, clock, stall=STALL)
    job.run(GO)
    clock.now += 61
    assert job.run(GO) == "ok"
    assert len(mirror.connection.calls) == 1
    action, hashes = mirror.connection.calls[0]
    assert action == "reannounce" and sorted(hashes) == ["a", "b", "c"]
    assert sorted((e.hash, e.result) for e in store.audit_log(0)) == [("a", "ok"), ("b", "ok"), ("c", "ok")]
    assert set(store.state("stall_ladder")) == {"a", "b", "c"}


def test_no_snapshot_skips_the_run(store, registry):
    job = control_job(FakeMirror(None), store, registry, Clock(T0), stall=STALL)
    assert job.run(GO) == "skipped"


# -- control: ratio emergency ----------------------------------------------------------------------

POLICIES = TrackerPolicies(default=TrackerPolicy(min_ratio=1.0))
EMERGENCY = EmergencyPolicy(hysteresis=0.2, min_downloaded=0)


def test_ratio_emergency_stops_downloads_only_and_resumes_exactly_those_after_a_restart(store, registry):
    user_stopped = stalled("u", state="stoppedDL")
    mirror, clock = FakeMirror(snap(seed("s", uploaded=100), stalled("d"), user_stopped)), Clock(T0)
    job = control_job(mirror, store, registry, clock, emergency=EMERGENCY, policies=POLICIES)
    job.run(GO)
    assert mirror.connection.calls == [("stop", ("d",)), ("add_tags", ("d",), ("ratio-emergency",))]
    assert value(registry, "qbittorrent_exporter_ratio_emergency_active", tracker="t.example") == 1
    assert set(store.state("emergency_stopped")) == {"d"} and set(store.state("emergency_scope")) == {
        "t.example"
    }
    job.run(GO)
    assert len(mirror.connection.calls) == 2  # not stopped twice

    mirror.snapshot = snap(
        seed("s", uploaded=1300), stalled("d", state="stoppedDL"), user_stopped, generation=2
    )
    registry2 = CollectorRegistry()
    restarted = control_job(mirror, store, registry2, clock, emergency=EMERGENCY, policies=POLICIES)
    restarted.run(GO)
    assert mirror.connection.calls[2:] == [("start", ("d",)), ("remove_tags", ("d",), ("ratio-emergency",))]
    assert value(registry2, "qbittorrent_exporter_ratio_emergency_active", tracker="t.example") == 0
    assert store.state("emergency_stopped") == {} and store.state("emergency_scope") == {}
    assert [e.action for e in store.audit_log(0)] == ["emergency_stop", "emergency_resume"]


def test_a_failed_emergency_stop_is_not_remembered_and_is_retried(store, registry):
    mirror, clock = FakeMirror(snap(seed("s"), stalled("d"))), Clock(T0)
    mirror.connection.failing_hashes = {"d"}
    job = control_job(mirror, store, registry, clock, emergency=EMERGENCY, policies=POLICIES)
    job.run(GO)
    assert store.state("emergency_stopped") == {}
    mirror.connection.failing_hashes = set()
    job.run(GO)
    assert ("stop", ("d",)) in mirror.connection.calls and set(store.state("emergency_stopped")) == {"d"}


def test_a_stopped_torrent_whose_tagging_failed_is_still_remembered_for_resuming(store, registry):
    mirror, clock = FakeMirror(snap(seed("s"), stalled("d"))), Clock(T0)
    conn = mirror.connection
    conn.failing_writes["add_tags"] = QBittorrentError("http", "HTTP 500")
    job = control_job(mirror, store, registry, clock, emergency=EMERGENCY, policies=POLICIES)
    job.run(GO)
    assert conn.calls == [("stop", ("d",))]
    assert (
        value(
            registry,
            "qbittorrent_exporter_actions_total",
            action="emergency_stop",
            result="error",
            dry_run="false",
        )
        == 1
    )
    assert set(store.state("emergency_stopped")) == {"d"}


def test_stalled_ladder_leaves_emergency_stopped_torrents_alone(store, registry):
    mirror, clock = FakeMirror(snap(seed("s"), stalled("d"))), Clock(T0)
    job = control_job(mirror, store, registry, clock, stall=STALL, emergency=EMERGENCY, policies=POLICIES)
    job.run(GO)
    clock.now += 61
    job.run(GO)  # the snapshot still shows d as stalledDL: it must not be reannounced or restarted
    assert [c[0] for c in mirror.connection.calls] == ["stop", "add_tags"]


# -- control: seeding slots ------------------------------------------------------------------------


SLOTS_FOR_4 = SeedingSettings(upload_capacity=4 * 2**20, slot_upload=2**20)  # recommends 4 slots


def test_seeding_slots_follow_the_recommendation_within_bounds_once_per_cooldown(store, registry):
    seeds = [seed(f"s{i}", num_incomplete=i) for i in range(6)]
    mirror, clock = FakeMirror(snap(*seeds)), Clock(T0)
    job = control_job(
        mirror,
        store,
        registry,
        clock,
        slots=SlotsPolicy(minimum=1, maximum=10, cooldown=600),
        seeding=SLOTS_FOR_4,
    )
    job.run(GO)
    assert mirror.connection.calls == [
        ("set_preferences", (), {"max_active_uploads": 4, "max_active_torrents": 7})
    ]
    assert (
        value(
            registry,
            "qbittorrent_exporter_actions_total",
            action="seeding_slots",
            result="ok",
            dry_run="false",
        )
        == 1
    )
    assert store.state("seeding_slots")["last"]["max_active_uploads"] == 4
    mirror.connection.prefs["max_active_uploads"] = 2  # someone changed it by hand
    clock.now += 60
    job.run(GO)
    assert len(mirror.connection.calls) == 1  # cooldown
    clock.now += 600
    job.run(GO)
    assert mirror.connection.calls[1] == ("set_preferences", (), {"max_active_uploads": 4})
    [entry, _] = store.audit_log(0)
    assert entry.action == "seeding_slots" and "max_active_uploads 3 -> 4" in entry.reason


# -- control: dry run -------------------------------------------------------------------------------

# id, torrents, the job's options, seconds before each run, the action, the store state a real run would
# change (a dry run does not move it: a later real run starts from where the last real run left), log line
DRY_RUNS = [
    (
        "stall-ladder",
        [stalled("a")],
        {"stall": STALL},
        [0, 61],
        "reannounce",
        "stall_ladder",
        "dry run: would reannounce a 'name-a'",
    ),
    (
        "seeding-slots",
        [seed(f"s{i}") for i in range(6)],
        {"slots": SlotsPolicy(), "seeding": SLOTS_FOR_4},
        [0],
        "seeding_slots",
        "seeding_slots",
        "dry run: would seeding_slots 'qBittorrent preferences'",
    ),
    (
        "ratio-emergency",
        [seed("s"), stalled("d")],
        {"emergency": EMERGENCY, "policies": POLICIES},
        [0],
        "emergency_stop",
        "emergency_stopped",
        "dry run: would emergency_stop d 'name-d'",
    ),
]


@pytest.mark.parametrize(
    "torrents, options, steps, action, state, line", [c[1:] for c in DRY_RUNS], ids=[c[0] for c in DRY_RUNS]
)
def test_dry_run_computes_logs_audits_and_counts_but_writes_nothing(
    store, registry, caplog, torrents, options, steps, action, state, line
):
    mirror, clock = FakeMirror(snap(*torrents)), Clock(T0)
    job = control_job(mirror, store, registry, clock, dry_run=True, **options)
    with caplog.at_level("INFO", logger="exporter.actions"):
        for seconds in steps:
            clock.now += seconds
            job.run(GO)
    assert mirror.connection.calls == []
    assert (
        value(registry, "qbittorrent_exporter_actions_total", action=action, result="ok", dry_run="true") == 1
    )
    assert [(e.action, e.dry_run) for e in store.audit_log(0)] == [(action, True)]
    assert store.state(state) == {}
    assert any(line in r.getMessage() for r in caplog.records)


# -- completion --------------------------------------------------------------------------------------


class FakeHandler:
    def __init__(self, name, fail=0, retries=2, dry_run=False, kind="webhook"):
        self.settings = HandlerSettings(name=name, type=kind, retries=retries, backoff=10, dry_run=dry_run)
        self.fail, self.runs = fail, []

    def run(self, torrent, delivery):
        self.runs.append(delivery)
        if self.fail:
            self.fail -= 1
            raise HandlerError("webhook answered HTTP 500")


def completion_job(mirror, store, registry, clock, handlers, backfill=0.0, dry_run=False):
    settings = CompletionSettings(
        configured=True, backfill=backfill, handlers=tuple(h.settings for h in handlers)
    )
    return CompletionJob(
        settings,
        dry_run,
        mirror,
        store,
        ActionMetrics(registry),
        {h.settings.name: h for h in handlers},
        clock,
    )


def test_baseline_then_each_new_completion_runs_each_handler_once(store, registry):
    mirror, clock = FakeMirror(snap(seed("old"))), Clock(T0)
    hook = FakeHandler("hook")
    job = completion_job(mirror, store, registry, clock, [hook])
    job.run(GO)
    assert hook.runs == [] and store.known_completions() == {("old", int(T0 - 999))}
    mirror.snapshot = snap(
        seed("old"), seed("new", completion_on=int(T0 + 5), category="movies"), generation=2
    )
    job.run(GO)
    job.run(GO)
    assert hook.runs == [f"test:new:{int(T0 + 5)}:hook"]
    assert value(registry, "qbittorrent_exporter_completions_total", category="movies") == 1
    assert (
        value(registry, "qbittorrent_exporter_completion_handler_runs_total", handler="hook", result="ok")
        == 1
    )
    assert value(registry, "qbittorrent_exporter_completion_backlog") == 0
    assert [r.status for r in store.history(0)] == ["done"]


class Unanswering:
    """A store whose next `finish_run` fails as a restarting PostgreSQL does; everything else passes."""

    def __init__(self, store):
        self.store, self.down = store, False

    def finish_run(self, *args, **kwargs):
        if self.down:
            raise StoreError("store postgresql://db: terminating connection due to administrator command")
        return self.store.finish_run(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_a_handler_done_while_the_store_does_not_answer_is_recorded_later_not_run_again(store, registry):
    mirror, clock = FakeMirror(snap()), Clock(T0)
    hook, flaky, unrecorded, metrics = FakeHandler("hook"), Unanswering(store), [], ActionMetrics(registry)
    settings = CompletionSettings(configured=True, handlers=(hook.settings,))

    def build():  # a new lease term builds the job again; the list outlives it (InstanceJobs)
        return CompletionJob(settings, False, mirror, flaky, metrics, {"hook": hook}, clock, unrecorded)

    job = build()
    job.run(GO)  # the baseline
    mirror.snapshot = snap(seed("a"), generation=2)
    flaky.down = True
    with pytest.raises(StoreError):
        job.run(GO)  # the webhook was sent; recording it failed
    assert len(hook.runs) == 1 and [r.status for r in store.history(0)] == ["pending"]
    flaky.down = False
    build().run(GO)
    assert len(hook.runs) == 1  # recorded, not sent again
    assert [r.status for r in store.history(0)] == ["done"] and unrecorded == []


def test_a_failing_handler_retries_with_backoff_then_dead_letters_without_blocking_others(store, registry):
    mirror, clock = FakeMirror(snap()), Clock(T0)
    bad, good = FakeHandler("bad", fail=99, retries=2), FakeHandler("good")
    job = completion_job(mirror, store, registry, clock, [bad, good])
    job.run(GO)
    mirror.snapshot = snap(seed("a"), generation=2)
    job.run(GO)
    assert len(bad.runs) == 1 and len(good.runs) == 1
    assert value(registry, "qbittorrent_exporter_completion_backlog") == 1
    job.run(GO)
    assert len(bad.runs) == 1  # backoff: 10 s
    clock.now += 10
    job.run(GO)
    clock.now += 20
    job.run(GO)
    assert len(bad.runs) == 3 and len(good.runs) == 1
    clock.now += 10_000
    job.run(GO)
    assert len(bad.runs) == 3  # dead-letter: no more attempts
    assert (
        value(registry, "qbittorrent_exporter_completion_handler_runs_total", handler="bad", result="error")
        == 2
    )
    assert (
        value(registry, "qbittorrent_exporter_completion_handler_runs_total", handler="bad", result="dead")
        == 1
    )
    assert value(registry, "qbittorrent_exporter_completion_backlog") == 1
    [record] = store.history(0, status="dead")
    assert {h.handler: (h.status, h.attempts) for h in record.handlers} == {
        "bad": ("dead", 3),
        "good": ("done", 1),
    }


def test_after_a_crash_only_unfinished_handlers_run_again(store, registry):
    clock = Clock(T0)
    store.take_baseline([], T0)
    store.add_completion(("a", 1), {"hash": "a", "name": "x"}, ["one", "two"], T0)
    store.finish_run(store.due_runs(T0, 10)[0], "done", T0)  # "one" finished before the crash
    one, two = FakeHandler("one"), FakeHandler("two")
    job = completion_job(FakeMirror(None), store, registry, clock, [one, two])
    assert job.run(GO) == "skipped"  # qBittorrent down: handlers still run
    assert one.runs == [] and two.runs == ["test:a:1:two"]
    assert store.history(0)[0].status == "done"


def test_completions_while_the_service_was_down_are_found_at_the_next_start(store, registry):
    mirror, clock = FakeMirror(snap(seed("old"))), Clock(T0)
    completion_job(mirror, store, registry, clock, []).run(GO)
    mirror.snapshot = snap(seed("old"), seed("while-down"), generation=7)
    hook = FakeHandler("hook")
    completion_job(mirror, store, CollectorRegistry(), clock, [hook]).run(GO)
    assert hook.runs == [f"test:while-down:{int(T0 - 999)}:hook"]


def test_backfill_handles_recent_completions_on_first_start(store, registry):
    mirror, clock = (
        FakeMirror(
            snap(seed("old", completion_on=int(T0 - 7200)), seed("recent", completion_on=int(T0 - 60)))
        ),
        Clock(T0),
    )
    hook = FakeHandler("hook")
    completion_job(mirror, store, registry, clock, [hook], backfill=3600).run(GO)
    assert hook.runs == [f"test:recent:{int(T0 - 60)}:hook"]


def test_dry_run_handlers_are_recorded_but_not_run(store, registry):
    mirror, clock = FakeMirror(snap()), Clock(T0)
    hook, live = FakeHandler("hook", dry_run=True), FakeHandler("live")
    job = completion_job(mirror, store, registry, clock, [hook, live])
    job.run(GO)
    mirror.snapshot = snap(seed("a"), generation=2)
    job.run(GO)
    assert hook.runs == [] and len(live.runs) == 1
    assert (
        value(
            registry, "qbittorrent_exporter_completion_handler_runs_total", handler="hook", result="dry_run"
        )
        == 1
    )
    assert [(e.action, e.dry_run) for e in store.audit_log(0)] == [("webhook", True), ("webhook", False)]


def test_a_handler_removed_from_the_config_dead_letters_its_pending_runs(store, registry):
    store.take_baseline([], T0)
    store.add_completion(("a", 1), {"hash": "a"}, ["gone"], T0)
    completion_job(FakeMirror(None), store, registry, Clock(T0), []).run(GO)
    assert store.history(0)[0].handlers[0].last_error == "handler is no longer configured"


# -- the job runner ----------------------------------------------------------------------------------


class Boom:
    name = "control"

    def run(self, stopping):
        raise RuntimeError("bug")


def test_job_runs_are_counted_and_a_raising_job_is_an_error_not_a_crash(tmp_path, registry):
    settings = build_settings({"data.dir": str(tmp_path)}, {})
    actions = Actions.one(settings.jobs, FakeMirror(None), registry)
    assert actions.run(Boom()) == "error"
    assert value(registry, "qbittorrent_exporter_job_runs_total", job="control", result="error") == 1
    assert (
        registry.get_sample_value(
            "qbittorrent_exporter_job_last_success_timestamp_seconds", {"job": "control"}
        )
        is None
    )


def test_build_actions_is_none_unless_configured_and_enabled(tmp_path, registry):
    cfg = tmp_path / "c.yml"
    cfg.write_text("completion: {}\n")

    def build(settings):
        ratio = SharedRatioIndex(settings.jobs.trackers, settings.jobs.seeding)
        return Actions.build([Watched("test", settings.jobs, FakeMirror(), registry, ratio)], "d", registry)

    assert build(build_settings({}, {})) is None
    assert build(build_settings({"actions.enabled": "false"}, {}, str(cfg))) is None
    actions = build(build_settings({"data.dir": str(tmp_path / "d")}, {}, str(cfg)))
    assert isinstance(actions, Actions) and actions.has("completion") and not actions.has("control")


def test_the_scheduler_runs_both_jobs_and_stops_cleanly(tmp_path, registry):
    cfg = tmp_path / "c.yml"
    cfg.write_text("control: {interval: 100ms, stalled: {enabled: true}}\ncompletion: {interval: 100ms}\n")
    settings = build_settings({"data.dir": str(tmp_path / "d")}, {}, str(cfg))
    actions = Actions.one(settings.jobs, FakeMirror(snap(seed("a"))), registry)
    actions.start()
    try:
        wait_for(
            lambda: (
                value(registry, "qbittorrent_exporter_job_runs_total", job="control", result="ok") >= 2
                and value(registry, "qbittorrent_exporter_job_runs_total", job="completion", result="ok") >= 2
            ),
            timeout=10,
            what="both jobs to run twice",
        )
        assert {j.id for j in actions.scheduler.get_jobs()} == {"control:test", "completion:test"}
        job = actions.scheduler.get_job("control:test")
        assert job.coalesce is True and job.max_instances == 1
    finally:
        actions.stop()
    assert not actions.scheduler.running and actions.store is None
    assert value(registry, "qbittorrent_exporter_job_last_success_timestamp_seconds", job="completion") > 0


class OneTerm:
    """A replica that leads every instance in term 1 (no lease loop)."""

    def token(self, instance: str) -> int:
        return 1


def test_a_new_term_builds_the_jobs_once_however_many_jobs_start_it_at_once(tmp_path, registry):
    cfg = tmp_path / "c.yml"
    cfg.write_text("control: {stalled: {enabled: true}}\ncompletion: {}\n")
    settings = build_settings({"data.dir": str(tmp_path / "d")}, {}, str(cfg))
    actions = Actions.one(settings.jobs, FakeMirror(snap(seed("a"))), registry)
    actions.build_jobs()
    leadership, actions.leadership = actions.leadership, OneTerm()
    jobs = actions.instances["test"]
    build, builds, second = jobs.build, [], threading.Event()

    def counted(*args, **kwargs):
        builds.append(threading.current_thread().name)
        if len(builds) == 1:
            second.wait(1.0)  # without the lock the other job's thread builds meanwhile
        else:
            second.set()
        return build(*args, **kwargs)

    jobs.build = counted
    results: dict[str, str] = {}
    threads = [
        threading.Thread(target=lambda n=n: results.__setitem__(n, actions.run_scheduled("test", n)), name=n)
        for n in ("control", "completion")
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert results == {"control": "ok", "completion": "ok"}
        assert len(builds) == 1, builds  # two builds: one run would act on state read before the other's
        assert actions.run_scheduled("test", "control") == "ok" and len(builds) == 1  # same term: kept
    finally:
        actions.leadership = leadership
        actions.stop()
