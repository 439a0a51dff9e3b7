"""The service's collector settings (cli.tune_gc): thresholds for full syncs of 50,000 torrents."""

from __future__ import annotations

import gc

from exporter import cli


def test_tune_gc_collects_less_often_and_freezes_what_start_up_built():
    before = gc.get_threshold()
    try:
        cli.tune_gc()
        assert gc.get_threshold() == cli.GC_THRESHOLDS
        assert gc.get_threshold()[0] >= 10_000  # not hundreds of collections per full sync
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
