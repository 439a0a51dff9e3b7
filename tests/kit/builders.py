"""Builders for model objects in unit tests."""

from __future__ import annotations

from typing import Iterable

from exporter.model import Torrent
from exporter.qbt.maindata import Totals


def totals_of(torrents: Iterable[Torrent]) -> Totals:
    """Per state/category/tracker totals of `torrents`, summed from scratch (what the mirror keeps incrementally)."""
    totals = Totals()
    for t in torrents:
        totals.add(t)
    return totals
