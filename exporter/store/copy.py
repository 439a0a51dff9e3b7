"""Copying a store into another, of either backend: what `store copy --from ... --to ...` will run.

The rows move as plain values (`Store.dump`, `Store.load`), so neither backend knows the other. The
destination must be empty: copying into a store that has rows would mix two ledgers (a completion handled
in one, pending in the other), so it is refused rather than merged. The source is only read.
"""

from __future__ import annotations

from .base import COLUMNS, Store, StoreError


def copy_store(src: Store, dst: Store) -> dict[str, int]:
    """Every row of every instance of `src` (baselines, ledger, action state, audit log) into the empty
    `dst`, in one transaction of `dst`; returns how many rows of each table moved."""
    if dst.instances():
        raise StoreError("the destination store is not empty: copy only into a new store")
    rows = src.dump()
    dst.load(rows)  # refuses too, atomically, should rows have appeared since
    return {table: len(rows[table]) for table in COLUMNS}
