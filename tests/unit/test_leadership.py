"""Leadership among replicas: the pure plan (which leases to take or give up), and the loop of each
replica over shared leases (tests/kit/fakes.py FakeLeases), on an injected clock."""

from __future__ import annotations

import pytest
from prometheus_client.registry import CollectorRegistry

from exporter.actions.leadership import Leadership, LeaseMetrics
from exporter.actions.metrics import StoreMetrics
from exporter.managers.leadership import plan_leases, share
from tests.kit.fakes import Clock, FakeLeases

NAMES = ["a", "b", "c", "d", "e"]
TTL = 15.0


@pytest.mark.parametrize(
    "instances, replicas, expected",
    [(5, 1, 5), (5, 2, 3), (5, 3, 2), (5, 5, 1), (5, 9, 1), (0, 3, 0), (4, 0, 4)],
    ids=[
        "alone",
        "two",
        "three",
        "one-each",
        "more-replicas-than-instances",
        "nothing-to-lead",
        "none-alive",
    ],
)
def test_share(instances, replicas, expected):
    assert share(instances, replicas) == expected


@pytest.mark.parametrize(
    "mine, free, replicas, take, give_up",
    [
        ({}, NAMES, 1, NAMES, []),  # alone: everything, in configuration order
        ({}, NAMES, 2, ["a", "b", "c"], []),  # two replicas: at most 3
        ({"a": 1, "b": 2}, ["c", "d", "e"], 2, ["c"], []),  # room for one more
        ({"a": 1, "b": 2, "c": 3}, ["d", "e"], 2, [], []),  # at its share: keeps, takes nothing
        ({"a": 1, "b": 3, "c": 2, "d": 4, "e": 5}, [], 2, [], ["e"]),  # a newcomer: the last taken goes
        ({"a": 1, "b": 3, "c": 2, "d": 4}, [], 2, [], ["d"]),  # one per round
        ({}, ["b"], 2, ["b"], []),  # only free leases are taken, never a live holder's
        ({"a": 1}, [], 1, [], []),  # nothing free: nothing to take
    ],
    ids=[
        "alone",
        "two-replicas",
        "room-for-one",
        "at-share",
        "newcomer",
        "one-per-round",
        "only-free",
        "none-free",
    ],
)
def test_plan(mine, free, replicas, take, give_up):
    plan = plan_leases(NAMES, mine, free, replicas)
    assert (list(plan.take), list(plan.give_up)) == (take, give_up)


def replica(leases, clock, holder, names=NAMES):
    registries = {n: CollectorRegistry(auto_describe=False) for n in names}
    metrics = {n: LeaseMetrics(r) for n, r in registries.items()}
    store = StoreMetrics(CollectorRegistry(auto_describe=False))
    return Leadership(leases, metrics, store, ttl=TTL, holder=holder, monotonic=clock), registries


def held(r: Leadership) -> set[str]:
    return {n for n in r.instances if r.token(n) is not None}


def test_replicas_spread_the_leases_and_a_newcomer_waits_for_free_ones():
    clock = Clock()
    leases = FakeLeases(clock)
    one, registries = replica(leases, clock, "one")
    one.step()
    assert held(one) == set(NAMES)  # alone, it leads everything
    assert registries["a"].get_sample_value("qbittorrent_exporter_lease_held") == 1
    two, _ = replica(leases, clock, "two")
    two.step()
    assert held(two) == set()  # nothing free: it takes nothing from a live holder
    for _ in range(3):  # one gives up its surplus, one per round; two takes them as they become free
        clock.now += TTL / 3
        one.step()
        two.step()
    assert (len(held(one)), len(held(two))) == (3, 2) and not held(one) & held(two)
    assert registries["e"].get_sample_value("qbittorrent_exporter_lease_losses_total") == 0  # given up


def test_a_paused_replica_stops_acting_before_its_lease_can_be_taken_over():
    clock = Clock()
    leases = FakeLeases(clock)
    one, registries = replica(leases, clock, "one", ["a"])
    two, _ = replica(leases, clock, "two", ["a"])
    one.step()
    two.step()
    token = one.token("a")
    assert token == 1 and two.token("a") is None
    assert registries["a"].get_sample_value("qbittorrent_exporter_lease_held") == 1
    clock.now += TTL - one.margin  # paused: no renewal; locally over before the database's term is
    assert one.token("a") is None
    # what a scrape sees on waking, before its loop runs again: not the holder
    assert registries["a"].get_sample_value("qbittorrent_exporter_lease_held") == 0
    two.step()
    assert two.token("a") is None  # still the database's term of one: two waits
    clock.now += one.margin
    two.step()
    assert two.token("a") == 2  # a new term, a new token: one's writes under term 1 are refused
    one.step()  # one comes back: its renewal fails, it counts the loss, and it does not take it back
    assert one.token("a") is None
    assert registries["a"].get_sample_value("qbittorrent_exporter_lease_losses_total") == 1


def test_the_store_unreachable_pauses_the_jobs_counted_once_and_they_resume():
    clock = Clock()
    leases = FakeLeases(clock)
    one, _ = replica(leases, clock, "one", ["a"])
    one.step()
    leases.down = True
    for _ in range(4):
        clock.now += TTL / 3
        one.step()
    assert one.token("a") is None  # no renewal got through: it stopped acting within its term
    assert one.store_metrics.errors.labels("unreachable")._value.get() == 1  # counted once per outage
    leases.down = False
    clock.now += TTL  # the old term has expired in the store meanwhile
    one.step()
    assert one.token("a") == 2


def test_a_clean_stop_hands_the_leases_over_at_once():
    clock = Clock()
    leases = FakeLeases(clock)
    one, _ = replica(leases, clock, "one", ["a"])
    two, _ = replica(leases, clock, "two", ["a"])
    one.step()
    two.step()
    one.stop()
    two.step()
    assert two.token("a") == 2 and leases.heartbeat("two", TTL) == 1


def test_without_leases_a_service_leads_everything():
    lone, registries = replica(None, Clock(), "lone")
    assert {n: lone.token(n) for n in NAMES} == dict.fromkeys(NAMES, 1)
    assert registries["c"].get_sample_value("qbittorrent_exporter_lease_held") == 1
