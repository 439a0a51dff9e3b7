"""Builders for model objects in unit tests."""

from __future__ import annotations

from collections.abc import Iterable

from exporter.model import Torrent
from exporter.qbt.maindata import Totals


def totals_of(torrents: Iterable[Torrent]) -> Totals:
    """Per state/category/tracker totals of `torrents`, summed from scratch (the mirror keeps them
    incrementally)."""
    totals = Totals()
    for t in torrents:
        totals.add(t)
    return totals
