"""Which qBittorrents' leases this replica should take or give up. Pure.

Every replica runs the same loop (exporter/actions/leadership.py) over the same view of the leases
table: who holds each instance's lease, and how many replicas are alive. The rules:

- a replica's share is ceil(instances / live replicas); it never takes more than its share;
- it takes only leases that are free (never held, expired, or released): a new or returning replica
  never takes a lease from a live holder;
- above its share (another replica joined), it gives up the surplus, the lease it took last first, one
  per round, so that the newcomer can take them as they become free;
- it keeps renewing what it holds up to its share.

`plan_leases(instances, mine, free, replicas)` -> LeasePlan(take, give_up): `mine` is the leases this
replica holds (instance -> when it took them, for the order), `free` the instances nobody holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class LeasePlan:
    take: tuple[str, ...]  # free instances to try to acquire, in this order
    give_up: tuple[str, ...]  # held instances to release now


def share(instances: int, replicas: int) -> int:
    """How many leases one replica may hold: the instances spread over the live replicas (itself counted)."""
    return math.ceil(instances / max(replicas, 1)) if instances else 0


def plan_leases(
    instances: Iterable[str], mine: Mapping[str, float], free: Iterable[str], replicas: int
) -> LeasePlan:
    names = list(instances)
    limit = share(len(names), replicas)
    held = [n for n in names if n in mine]
    if len(held) > limit:
        newest = max(held, key=lambda n: (mine[n], n))  # the last one taken goes first
        return LeasePlan(take=(), give_up=(newest,))
    room = limit - len(held)
    candidates = [n for n in names if n in set(free) and n not in mine]
    return LeasePlan(take=tuple(candidates[:room]), give_up=())
