"""The `control` job: carry out the control manager's plans (ratio emergency, stalled downloads,
seeding slots) and the unregistered action's (managers/tracker_health/unregistered.py).

Each run reads the shared mirror once, asks the pure planners in managers/control.py what to do,
and performs each selected action through Performer (dry-run aware, logged, audited, counted).
State that must survive a restart (ladder positions, active emergencies, which torrents the
emergency stopped, which torrents the unregistered action tagged) lives in the store; in dry-run mode
it is read from the store but kept in memory only, so a dry run never changes what a real run will do
later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from ..durations import duration_text
from ..managers.control import Action, Ladder, Progress, plan_emergency, plan_slots, plan_stalls
from ..managers.policy import TrackerPolicies
from ..managers.ratio_index import SharedRatioIndex
from ..managers.tracker_health import HeldBack, plan_unregistered
from ..model import Snapshot
from ..qbt.connection import Connection, QBittorrentError
from ..qbt.mirror import Mirror
from ..qbt.tracker_scan import TrackerScan
from ..store import Store
from .metrics import ActionMetrics
from .perform import InstanceLog, Performer
from .settings import ControlSettings


class StateMap:
    """One kind of action state: loaded from the store, written through unless `persist` is False."""

    def __init__(self, store: Store, kind: str, persist: bool) -> None:
        self.store, self.kind, self.persist = store, kind, persist
        self.data: dict[str, Any] = store.state(kind)

    def set(self, key: str, value: Any | None) -> None:
        if value is None:
            if self.data.pop(key, None) is None:
                return
        else:
            self.data[key] = value
        if self.persist:
            self.store.put_state(self.kind, key, value)


class ControlJob:
    name = "control"

    def __init__(
        self,
        settings: ControlSettings,
        dry_run_all: bool,
        mirror: Mirror,
        connection: Connection,
        store: Store,
        metrics: ActionMetrics,
        policies: TrackerPolicies,
        performer: Performer,
        clock: Callable[[], float],
        ratio: SharedRatioIndex,
        scan: TrackerScan | None = None,
    ) -> None:
        self.settings, self.mirror, self.connection = settings, mirror, connection
        self.log = InstanceLog(mirror.name)
        self.metrics, self.policies, self.performer, self.clock = metrics, policies, performer, clock
        self.stall_dry = dry_run_all or settings.dry_run or settings.stalled.dry_run
        self.emergency_dry = dry_run_all or settings.dry_run or settings.ratio_emergency.dry_run
        self.ladders = StateMap(store, "stall_ladder", persist=not self.stall_dry)
        self.scopes = StateMap(store, "emergency_scope", persist=not self.emergency_dry)
        self.stopped = StateMap(store, "emergency_stopped", persist=not self.emergency_dry)
        self.slots_dry = dry_run_all or settings.dry_run or settings.seeding_slots.dry_run
        self.slot_changes = StateMap(store, "seeding_slots", persist=not self.slots_dry)
        # The ratio manager's seeding-slot count (as recommend_seeding_slots), kept incrementally in the
        # index the ratio collector shares: a full pass over 50,000 torrents costs ~0.5 CPU-s.
        self.ratio = ratio
        self.progress: dict[str, Progress] = {}
        self._warned_queueing = False
        # The unregistered action reads the instance's tracker scan (config refuses it without one).
        self.scan = scan
        self.unregistered_dry = dry_run_all or settings.dry_run or settings.unregistered.dry_run
        self.tagged = StateMap(store, "unregistered_tagged", persist=not self.unregistered_dry)
        self.held_back: dict[str, HeldBack] = {}  # hosts the outage guard holds back now: logged once

    def run(self, stopping: threading.Event) -> str:
        snapshot = self.mirror.refresh()
        if snapshot is None:
            return "skipped"
        now = self.clock()
        if self.settings.ratio_emergency.enabled:
            self._emergency(snapshot, now, stopping)
        if self.settings.stalled.enabled and not stopping.is_set():
            self._stalls(snapshot, now, stopping)
        if self.settings.seeding_slots.enabled and not stopping.is_set():
            self._slots(snapshot, now)
        if self.settings.unregistered.enabled and self.scan is not None and not stopping.is_set():
            self._unregistered(snapshot, now, stopping)
        return "ok"

    # -- ratio emergency ---------------------------------------------------------------------------

    def _emergency(self, snapshot: Snapshot, now: float, stopping: threading.Event) -> None:
        feature = self.settings.ratio_emergency
        tag = feature.policy.tag
        plan = plan_emergency(
            snapshot,
            now,
            self.policies,
            feature.policy,
            active={k: v["since"] for k, v in self.scopes.data.items()},
            stopped={k: v["scope"] for k, v in self.stopped.data.items()},
        )
        dry = "dry run: " if self.emergency_dry else ""
        for scope in plan.entered:
            r = plan.ratios[scope]
            self.log.warning(
                "%sratio emergency on %s: ratio %.3f is below %.3f; stopping its downloads",
                dry,
                scope,
                r.ratio,
                r.threshold,
            )
            self.scopes.set(scope, {"since": now})
        for scope in plan.lifted:
            lifted = plan.ratios.get(scope)
            self.log.info(
                "%sratio emergency on %s is over (ratio %s); resuming the downloads it stopped",
                dry,
                scope,
                f"{lifted.ratio:.3f}" if lifted else "unknown",
            )
            self.scopes.set(scope, None)
        for scope in set(plan.ratios) | set(plan.lifted):
            self.metrics.emergency.labels(scope).set(1 if scope in plan.active else 0)
        for h in plan.forget:
            self.stopped.set(h, None)
        # One request per step for all of this run's torrents: an emergency stops up to
        # max_actions_per_run downloads at once, and one request each would cost ~2 ms of CPU apiece.
        c = self.connection
        resumes = list(plan.resumes)
        if resumes and not stopping.is_set():
            hashes = [a.hash for a in resumes]

            def resume_and_untag() -> None:
                c.start(hashes)
                c.remove_tags(hashes, [tag])

            if self.performer.perform_batch(resumes, resume_and_untag, self.emergency_dry):
                for h in hashes:
                    self.stopped.set(h, None)
        stops = list(plan.stops)
        if not stops or stopping.is_set():
            return
        hashes = [a.hash for a in stops]
        stopped_now = False

        def stop_and_tag() -> None:
            nonlocal stopped_now
            c.stop(hashes)
            stopped_now = True  # stopped, even if tagging fails next: they must be resumed later
            c.add_tags(hashes, [tag])

        if self.performer.perform_batch(stops, stop_and_tag, self.emergency_dry) or stopped_now:
            for a in stops:
                self.stopped.set(a.hash, {"scope": a.scope, "at": now})

    # -- stalled downloads -------------------------------------------------------------------------

    def _stalls(self, snapshot: Snapshot, now: float, stopping: threading.Event) -> None:
        policy = self.settings.stalled.policy
        ladders = {h: Ladder(v["step"], v["at"]) for h, v in self.ladders.data.items()}
        plan = plan_stalls(snapshot, now, policy, self.progress, ladders, skip=self.stopped.data.keys())
        self.progress = dict(plan.progress)
        self.metrics.stalled.set(plan.stalled)
        for h, ladder in plan.ladders.items():
            if ladder is None:
                self.ladders.set(h, None)
        c = self.connection

        def restart(hashes: list[str]) -> None:
            c.stop(hashes)
            c.start(hashes)

        calls: dict[str, Callable[[list[str]], object]] = {
            "reannounce": c.reannounce,
            "restart": restart,
            "recheck": c.recheck,
            "tag_stalled": lambda hashes: c.add_tags(hashes, [policy.tag]),
            "untag_stalled": lambda hashes: c.remove_tags(hashes, [policy.tag]),
        }
        # One request per step for all of this run's torrents on it (a request costs ~2 ms of CPU);
        # each action keeps its own log line, audit row and ladder, in the plan's order within a step.
        steps: dict[str, list[Action]] = {}
        for a in plan.actions:
            steps.setdefault(a.action, []).append(a)
        for name, actions in steps.items():
            if stopping.is_set():
                return
            self.performer.perform_each(actions, calls[name], self.stall_dry)
            for a in actions:
                ladder = plan.ladders.get(a.hash)
                if ladder is not None:  # the ladder climbs even if the step failed: the failure is counted
                    self.ladders.set(a.hash, {"step": ladder.step, "at": ladder.at})

    # -- seeding slots -----------------------------------------------------------------------------

    def _slots(self, snapshot: Snapshot, now: float) -> None:
        recommended = self.ratio.view(snapshot, now).recommended
        try:
            prefs = self.connection.preferences()
        except QBittorrentError as exc:
            self.log.warning("seeding slots: cannot read qBittorrent's preferences (%s): %s", exc.reason, exc)
            return
        if not prefs.get("queueing_enabled") and not self._warned_queueing:
            self.log.warning(
                "seeding slots: queueing is off in qBittorrent, so max_active_uploads has no effect"
            )
            self._warned_queueing = True
        last = self.slot_changes.data.get("last")
        plan = plan_slots(
            recommended, prefs, now, self.settings.seeding_slots.policy, last["at"] if last else None
        )
        if plan is None:
            return
        changes, action = plan
        if self.performer.perform(action, lambda: self.connection.set_preferences(changes), self.slots_dry):
            self.slot_changes.set("last", {"at": now, **changes})

    # -- unregistered torrents ---------------------------------------------------------------------

    def _unregistered(self, snapshot: Snapshot, now: float, stopping: threading.Event) -> None:
        policy, dry = self.settings.unregistered.policy, self.unregistered_dry
        tagged = frozenset(self.tagged.data)
        assert self.scan is not None
        plan = self.scan.with_health(lambda health: plan_unregistered(health, snapshot, now, policy, tagged))
        self.metrics.unregistered.set(plan.unregistered)
        self._outages({b.host: b for b in plan.held_back}, policy.outage_window)
        for h in plan.forget:
            self.tagged.set(h, None)
        c = self.connection
        calls: dict[str, Callable[[str], object]] = {
            "tag_unregistered": lambda h: c.add_tags([h], [policy.tag]),
            "stop_unregistered": lambda h: c.stop([h]),
            "untag_unregistered": lambda h: c.remove_tags([h], [policy.tag]),
        }
        for a in plan.actions:
            if stopping.is_set():
                return
            done = self.performer.perform(a, partial(calls[a.action], a.hash), dry)
            if done and a.action == "tag_unregistered":
                self.tagged.set(a.hash, {"at": now})
            elif done and a.action == "untag_unregistered":
                self.tagged.set(a.hash, None)

    def _outages(self, held: dict[str, HeldBack], window: float) -> None:
        """Log and count each host the outage guard begins to hold back, once; log when it lets go."""
        dry = "dry run: " if self.unregistered_dry else ""
        for host in sorted(held.keys() - self.held_back.keys()):
            b = held[host]
            self.log.warning(
                "%sunregistered: %d of %d torrents on %s turned unregistered within %s: taken for a tracker "
                "outage, none of its torrents is tagged while it lasts",
                dry,
                b.unregistered,
                b.torrents,
                host,
                duration_text(window),
            )
            self.metrics.unregistered_outages.labels(host).inc()
        for host in sorted(self.held_back.keys() - held.keys()):
            self.log.info("%sunregistered: the outage guard no longer holds %s back", dry, host)
        self.held_back = held
