"""Many qBittorrents in one exporter: scrape cost against ten separate exporters, and fault isolation.

    python -m bench.multi                 # 10 x 20,000 and 50 x 200 torrents, a hung instance; ~5 minutes
    python -m bench.multi --quick         # 3 x 2,000 and 10 x 200: under a minute, for a check
    python -m bench.multi --out FILE.json # default bench/results/multi.json (--quick: multi-quick.json)

Per scenario, N fake qBittorrents (bench/fakeqbt, one process each, own seed) are started. Then, side by
side in one run (A B A B): one exporter watching all N through `instances:`, and N single-instance
exporters, one per fake. Each round ticks every fake (1 % churn), scrapes the one exporter's /metrics,
then each single exporter's /metrics; CPU is utime+stime of each exporter process over its scrape, wall
time at the driver. Peak RSS is VmHWM. The hung scenario adds one instance whose URL is a loopback socket
that accepts and never answers: it reports the scrape time and whether the other instances stayed fresh
(qbittorrent_up 1 and a last-sync timestamp from this scrape). Every exporter runs with the tracker scan
off (its cost is bench/tracker_scan.py's). bench/report.py puts multi.json in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from . import processes as P
from .measure import cpu_seconds, machine, peak_rss_mib

RESULTS = P.ROOT / "bench" / "results"


class BlackHole:
    """A loopback port that accepts connections and never answers: a hung qBittorrent."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    def stop(self) -> None:
        self.stopped.set()
        for c in self.held:
            c.close()
        self.sock.close()


def exporter(name: str, instances: list[tuple[str, str]], work: Path, python: str) -> P.Exporter:
    """One exporter watching `instances` [(name, url)] through a config file (min_sync_age 0)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "password").write_text("adminadmin\n")
    # The tracker scan is off: the scrape is what is compared here (bench/tracker_scan.py prices the scan:
    # on 4.x, the fake's version, each instance's scan alone makes 5 requests/s at its defaults).
    lines = ["tracker_scan: {enabled: false}", "instances:"]
    for inst, url in instances:
        pw = work / "password"
        lines.append(
            f"  - {{name: {inst}, url: '{url}', password_file: '{pw}', min_sync_age: 0, timeout: 4s}}"
        )
    (work / "config.yml").write_text("\n".join(lines) + "\n")
    port = P.free_port()
    argv = [
        python,
        "-m",
        "exporter.cli",
        "--config.file",
        str(work / "config.yml"),
        "--web.listen-address",
        f"127.0.0.1:{port}",
        "--log.level",
        "warning",
        "--data.dir",
        str(work / "data"),
    ]
    return P.Exporter(name, P.Process(name, argv, P.clean_env(), work / f"{name}.log"), port)


def start(e: P.Exporter, timeout: float, ready: bool = True) -> float:
    P.precompile(e.process)
    e.process.start()
    healthy = P.wait(
        lambda: P.get(e.url + "/healthz", 2)[0] == 200, timeout, f"{e.name} /healthz", e.process.proc
    )
    if not ready:
        return healthy
    return healthy + P.wait(
        lambda: P.get(e.url + "/readyz", timeout)[0] == 200, timeout, f"{e.name} /readyz", e.process.proc
    )


def scrape(e: P.Exporter, timeout_header: float = 10.0) -> tuple[float, float, bytes]:
    """(wall s, CPU s, body) of one scrape, as Prometheus with its default timeout would make it."""
    import urllib.request

    c0, t0 = cpu_seconds(e.process.pid), time.perf_counter()
    req = urllib.request.Request(
        e.url + "/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": str(timeout_header)}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
    return time.perf_counter() - t0, cpu_seconds(e.process.pid) - c0, body


def freshness(body: bytes, since: float) -> dict[str, bool]:
    """Per qbittorrent label: up and synced after `since` (a wall-clock time)."""
    up: dict[str, float] = {}
    last: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            name = s.labels.get("qbittorrent")
            if name is None:
                continue
            if s.name == "qbittorrent_up":
                up[name] = s.value
            elif s.name == "qbittorrent_exporter_last_sync_timestamp_seconds":
                last[name] = s.value
    return {n: up.get(n) == 1 and last.get(n, 0) >= since for n in up}


def scenario(
    count: int, torrents: int, rounds: int, work: Path, python: str, separate: bool
) -> dict[str, Any]:
    print(f"== {count} x {torrents:,} torrents", flush=True)
    fakes = [P.Fake(torrents, "4.5.2", work / "logs", seed=i + 1).start() for i in range(count)]
    pool = ThreadPoolExecutor(max_workers=min(count, 16))
    try:
        one = exporter("one", [(f"q{i}", f.url) for i, f in enumerate(fakes)], work / "one", python)
        ready = start(one, 300)
        singles = []
        if separate:
            singles = [
                exporter(f"single{i}", [(f"q{i}", f.url)], work / f"single{i}", python)
                for i, f in enumerate(fakes)
            ]
            for s in singles:
                start(s, 300)
        rows = []
        for _ in range(rounds):
            list(pool.map(lambda f: f.tick(), fakes))
            wall, cpu, body = scrape(one)
            row: dict[str, Any] = {"one_wall_s": wall, "one_cpu_s": cpu, "bytes": len(body)}
            if singles:
                each = [scrape(s) for s in singles]
                row["separate_cpu_s"] = sum(c for _, c, _ in each)
                row["separate_wall_sum_s"] = sum(w for w, _, _ in each)
            rows.append(row)
        out: dict[str, Any] = {
            "instances": count,
            "torrents_each": torrents,
            "rounds": rounds,
            "first_ready_s": round(ready, 3),
            "one_wall_median_s": round(statistics.median(r["one_wall_s"] for r in rows), 4),
            "one_wall_max_s": round(max(r["one_wall_s"] for r in rows), 4),
            "one_cpu_mean_s": round(statistics.fmean(r["one_cpu_s"] for r in rows), 4),
            "one_peak_rss_mib": round(peak_rss_mib(one.process.pid), 1),
        }
        if singles:
            out["separate_cpu_mean_s"] = round(statistics.fmean(r["separate_cpu_s"] for r in rows), 4)
            out["cpu_ratio_one_vs_separate"] = round(
                out["one_cpu_mean_s"] / max(out["separate_cpu_mean_s"], 1e-9), 3
            )
            out["separate_peak_rss_mib_sum"] = round(sum(peak_rss_mib(s.process.pid) for s in singles), 1)
        for e in [one, *singles]:
            e.process.stop()
        return out
    finally:
        pool.shutdown()
        for f in fakes:
            f.stop()


def hung(count: int, torrents: int, rounds: int, work: Path, python: str) -> dict[str, Any]:
    print(f"== {count} instances, one hung", flush=True)
    fakes = [P.Fake(torrents, "4.5.2", work / "logs", seed=i + 1).start() for i in range(count - 1)]
    hole = BlackHole()
    try:
        targets = [(f"q{i}", f.url) for i, f in enumerate(fakes)] + [("hung", hole.url)]
        one = exporter("hung", targets, work / "hung", python)
        start(one, 300, ready=False)
        rows = []
        for _ in range(rounds):
            for f in fakes:
                f.tick()
            since = time.time()
            wall, _, body = scrape(one)
            fresh = freshness(body, since - 0.001)
            rows.append(
                {
                    "wall_s": wall,
                    "fresh": sum(fresh.get(n, False) for n, _ in targets[:-1]),
                    "hung_up": fresh.get("hung", False),
                }
            )
        one.process.stop()
        return {
            "instances": count,
            "torrents_each": torrents,
            "rounds": rounds,
            "instance_timeout_s": 4.0,
            "wall_median_s": round(statistics.median(r["wall_s"] for r in rows), 3),
            "wall_max_s": round(max(r["wall_s"] for r in rows), 3),
            "others_fresh_min": min(r["fresh"] for r in rows),
            "others": count - 1,
            "hung_ever_up": any(r["hung_up"] for r in rows),
        }
    finally:
        hole.stop()
        for f in fakes:
            f.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.multi", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=0)
    p.add_argument("--python", default=str(P.ROOT / ".venv" / "bin" / "python"))
    p.add_argument("--out", default="")
    args = p.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 15)
    work = Path(__import__("tempfile").mkdtemp(prefix="bench-multi-"))
    big = (3, 2000) if args.quick else (10, 20_000)
    small = (10, 200) if args.quick else (50, 200)
    result = {
        "machine": machine({"ours": args.python}),
        "big": scenario(*big, rounds, work / "big", args.python, separate=True),
        "small": scenario(*small, rounds, work / "small", args.python, separate=False),
        "hung": hung(big[0], big[1], max(3, rounds // 3), work / "hung", args.python),
    }
    out = Path(args.out) if args.out else RESULTS / ("multi-quick.json" if args.quick else "multi.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
