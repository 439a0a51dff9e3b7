"""Cost of one `control` + `completion` job run (exporter/actions/) against the fake qBittorrent.

    python -m bench.jobs --url http://127.0.0.1:PORT [--runs 5]     (prints one JSON object)

Runs in its own process so that CPU time (time.process_time) and peak RSS are the jobs' alone.
The jobs are built exactly as the service builds them (exporter.cli.parse of a YAML config ->
exporter.actions.scheduler.Actions.build_jobs) with everything switched on and not in dry-run, so
their writes reach the fake (recorded there, never applied):

- control: stalled-download ladder (stall_after 30s, grace 0s: with the fake's 15 s ticks, stalls
  show up after two ticks; at most 10 actions per run) and the ratio emergency;
- completion: two handlers, add_tags for every completion and set_category for tv.

The clock the jobs see is the fake's simulated time, so stalls and completions happen at bench speed.
Two scenarios, each with its own store: `typical` (no tracker below its min_ratio: the emergency
only watches) and `emergency` (one tracker far below it: 50 stops per run, the bounded worst case).
Run 0 is the first run (completion takes its baseline of every already-complete torrent into SQLite);
each later run follows one tick of churn, and its mirror sync is measured apart from the jobs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.registry import CollectorRegistry

from .measure import http_json

CONFIG = """
trackers:
  default: {min_ratio: 1.0}
%(trouble)s
control:
  interval: 1m
  stalled: {enabled: true, stall_after: 30s, grace: 0s, cooldown: 15s, max_actions_per_run: 10}
  ratio_emergency: {enabled: true, margin: 0.05, min_downloaded: 1GiB, max_actions_per_run: 50}
completion:
  interval: 10s
  handlers:
    - {name: tag, type: add_tags, tags: [completed]}
    - {name: tv-done, type: set_category, category: tv, filter: {categories: [tv]}}
"""
# typical: every tracker's ratio (~2.2 in the fake's data) is above its min_ratio, so the emergency
# only watches; emergency: one tracker is far below its min_ratio, so every run stops 50 downloads.
SCENARIOS = {
    "typical": "",
    "emergency": "  moviehub.example.org: {min_ratio: 50.0}",
}


def cpu_of(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    cpu, wall = time.process_time(), time.perf_counter()
    value = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, value


def measure(url: str, runs: int, workdir: Path, scenario: str) -> dict[str, Any]:
    from exporter.actions.scheduler import Actions, Watched
    from exporter.app import make_mirror
    from exporter.cli import parse
    from exporter.managers.ratio_index import SharedRatioIndex

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "password").write_text("adminadmin\n")
    (workdir / "config.yml").write_text(CONFIG % {"trouble": SCENARIOS[scenario]})
    settings, _ = parse(
        [
            "--config.file",
            str(workdir / "config.yml"),
            "--qbittorrent.url",
            url,
            "--qbittorrent.password-file",
            str(workdir / "password"),
            "--data.dir",
            str(workdir / "data"),
            "--log.level",
            "warning",
        ],
        {},
    )
    # The service's wiring (exporter/app.py) for its one instance: its mirror, its ratio index (which the
    # control job reads), its jobs; only the clock is the fake's.
    [inst] = settings.instances
    mirror = make_mirror(inst)
    world_now = [0.0]
    registry = CollectorRegistry(auto_describe=False)
    watched = Watched(inst.name, inst.jobs, mirror, registry, SharedRatioIndex(inst.trackers, inst.seeding))
    actions = Actions([watched], settings.store, registry, clock=lambda: world_now[0])
    jobs = {name: job for (_, name), job in actions.build_jobs().items()}

    def writes() -> int:
        return len(http_json(url + "/bench/writes"))

    def sync() -> None:
        mirror.min_age = 0.0  # this refresh syncs; the jobs' own refresh() then reuses its snapshot
        if mirror.refresh() is None:
            raise RuntimeError(f"sync failed: {mirror.stats.last_error}")
        mirror.min_age = 3600.0

    out: list[dict[str, Any]] = []
    for i in range(runs + 1):
        if i:
            http_json(url + "/bench/tick", data=b"")
        world_now[0] = float(http_json(url + "/bench/config")["now"])
        sync_cpu, sync_wall, _ = cpu_of(sync)
        row: dict[str, Any] = {"run": i, "sync_cpu_s": sync_cpu, "sync_wall_s": sync_wall}
        for name in ("control", "completion"):
            before = writes()
            cpu, wall, result = cpu_of(lambda job=jobs[name]: actions.run(job))
            row[name] = {"cpu_s": cpu, "wall_s": wall, "result": result, "writes": writes() - before}
        row["jobs_cpu_s"] = row["control"]["cpu_s"] + row["completion"]["cpu_s"]
        row["writes"] = row["control"]["writes"] + row["completion"]["writes"]
        out.append(row)
    actions.stop()
    mirror.close()
    steady = out[1:]
    return {
        "first_run": out[0],
        "runs": steady,
        "mean_jobs_cpu_s": sum(r["jobs_cpu_s"] for r in steady) / len(steady),
        "max_jobs_cpu_s": max(r["jobs_cpu_s"] for r in steady),
        "mean_writes": sum(r["writes"] for r in steady) / len(steady),
        "mean_sync_cpu_s": sum(r["sync_cpu_s"] for r in steady) / len(steady),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="the fake qBittorrent (bench.fakeqbt), on 127.0.0.1")
    p.add_argument("--runs", type=int, default=5, help="steady-state runs after the first")
    args = p.parse_args(argv)
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        for scenario in SCENARIOS:
            result[scenario] = measure(args.url, max(1, args.runs), Path(tmp) / scenario, scenario)
    with open("/proc/self/status") as f:
        result["peak_rss_mib"] = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
