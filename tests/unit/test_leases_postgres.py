"""Leases and fencing on a real PostgreSQL (a throwaway cluster): terms, expiry by the server's clock, and
writes under a term that is over refused by the database."""

from __future__ import annotations

import threading
import time

import pytest

from exporter.store import Lease, LeaseLost, open_store
from exporter.store.base import FENCE

TTL = 1.0


@pytest.fixture
def store(postgres):
    url, password = postgres
    s = open_store("", url=url, password=password)
    yield s
    s.close()


def test_a_term_is_held_renewed_released_and_each_new_term_has_a_larger_token(store):
    leases = store.leases()
    first = leases.acquire("a", "one", TTL)
    assert first == Lease("a", "one", 1)
    assert leases.acquire("a", "two", TTL) is None  # held: not taken from a live holder
    assert leases.renew(first, TTL) and leases.held() == {"a": "one"}
    leases.release(first)
    assert leases.held() == {} and not leases.renew(first, TTL)  # released: over for good
    second = leases.acquire("a", "two", TTL)
    assert second == Lease("a", "two", 2)


def test_a_term_expires_by_the_servers_clock(store):
    leases = store.leases()
    term = leases.acquire("a", "one", TTL)
    time.sleep(TTL + 0.2)  # the database's own clock decides: nothing here can keep it alive
    assert not leases.renew(term, TTL) and leases.held() == {}
    assert leases.acquire("a", "two", TTL).token == 2


def test_replicas_alive_are_counted_until_they_leave_or_expire(store):
    leases = store.leases()
    assert leases.heartbeat("one", TTL) == 1
    assert leases.heartbeat("two", TTL) == 2
    leases.leave("one")
    assert leases.heartbeat("two", TTL) == 1


def test_a_write_under_a_term_that_is_over_is_refused(store):
    leases = store.leases()
    term = leases.acquire("a", "one", TTL)
    token = {"now": term.token}
    view = store.scoped("a", lambda: token["now"])
    view.put_state("emergency_stopped", "h", {"scope": "t"})  # under the live term: written
    leases.release(term)
    leases.acquire("a", "two", TTL)  # another replica's term
    with pytest.raises(LeaseLost):
        view.put_state("emergency_stopped", "h2", {"scope": "t"})
    with pytest.raises(LeaseLost):
        view.add_completion(("x", 1), {}, [], 1.0)
    token["now"] = None  # the replica knows it lost the lease: refused before the database is asked
    with pytest.raises(LeaseLost):
        view.lead()
    assert store.state("emergency_stopped", "a") == {"h": {"scope": "t"}}
    assert store.known_completions("a") == set()


def test_a_takeover_waits_for_a_write_in_progress_under_the_old_term(store):
    """The fence holds the lease row: the next term cannot begin while the old term's write commits."""
    leases = store.leases()
    term = leases.acquire("a", "one", 0.5)
    inside, release = threading.Event(), threading.Event()

    def fenced():  # a write under the term that blocks inside its transaction (after the fence check)
        reset = FENCE.set(("a", term.token))
        try:
            store._write(lambda cur: (inside.set(), release.wait(5)), "a")
        finally:
            FENCE.reset(reset)

    t = threading.Thread(target=fenced)
    t.start()
    assert inside.wait(5)
    time.sleep(0.7)  # the term has expired by the clock meanwhile
    took = {}
    other = threading.Thread(target=lambda: took.setdefault("lease", store.leases().acquire("a", "two", TTL)))
    other.start()
    other.join(0.5)
    assert other.is_alive(), "the takeover must wait for the old term's write"
    release.set()
    t.join(5)
    other.join(5)
    assert took["lease"] is not None and took["lease"].token == 2


def test_replicas_racing_for_a_free_lease_never_both_win(postgres):
    """Eight replicas, each with its own store (its own pool), ask for the same free lease at the same
    moment, twenty times over: exactly one term begins each time, and the tokens only grow."""
    url, password = postgres
    stores = [open_store("", url=url, password=password) for _ in range(8)]
    try:
        tokens = []
        for _ in range(20):
            start = threading.Barrier(len(stores))
            won: list[Lease] = []

            def race(s, replica, start=start, won=won):
                start.wait(5)
                lease = s.leases().acquire("a", replica, 0.2)
                if lease is not None:
                    won.append(lease)

            threads = [threading.Thread(target=race, args=(s, f"r{i}")) for i, s in enumerate(stores)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            assert len(won) == 1, f"{len(won)} replicas began a term on the same lease"
            tokens.append(won[0].token)
            stores[0].leases().release(won[0])  # free again for the next round
        assert tokens == sorted(set(tokens)), tokens
    finally:
        for s in stores:
            s.close()
