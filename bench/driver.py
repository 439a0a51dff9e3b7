"""The scale benchmark: both exporters side by side against the fake qBittorrent, 1k to 100k torrents.

    bench/run [--quick] [--sizes 1000,10000] [--rounds N] [--version 4.5.2|5.0.4]   (see bench/README.md)

For each size:
1. start the fake (seeded); start ours and time its first full sync; start the comparison (it
   collects once before it listens); one warm-up scrape each (reported, not in the steady state);
2. R rounds of `tick (1 % churn + adds/removes) -> scrape ours -> scrape comparison` (A B A B ...),
   so both see the same machine load and the same changes. Per scrape: wall time, exporter CPU time
   (/proc stat delta), requests and bytes the fake served during it; then peak RSS of both; then
   30 more intervals with ours alone (`steady_ours`: its CPU mean, which the issue 15 target reads,
   is then within ~1 ms of 10 ms /proc ticks);
3. the fake forgets every session (as a restarted qBittorrent would) and both are scraped once
   more: for ours a full resync while its old mirror is still alive, its memory peak;
4. the control + completion job harness (bench/jobs.py), in its own process.
Writes bench/results/<name>.json (and, for the full default run, docs/performance.md and .png).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import processes as P
from . import report
from .measure import cpu_seconds, machine, peak_rss_mib

SIZES = (1000, 10000, 50000, 100000)
QUICK = (1000, 10000)
ROUNDS = {1000: 10, 10000: 6, 50000: 5, 100000: 3}  # the comparison takes ~0.25 s per 1k torrents
STEADY_SCRAPES = 30  # then ours alone, one interval of churn before each scrape
SCRAPE_TIMEOUT = 10.0  # Prometheus's default scrape timeout: what "completes" means
RESULTS = P.ROOT / "bench" / "results"


def scrape(e: P.Exporter, fake: P.Fake) -> dict[str, Any]:
    s0, c0 = fake.stats(), cpu_seconds(e.process.pid)
    t0 = time.perf_counter()
    status, size = e.scrape(timeout=300)
    wall = time.perf_counter() - t0
    c1, s1 = cpu_seconds(e.process.pid), fake.stats()
    ends = {
        k: v["requests"] - s0["by_endpoint"].get(k, {}).get("requests", 0)
        for k, v in s1["by_endpoint"].items()
    }
    return {
        "wall_s": round(wall, 4),
        "cpu_s": round(c1 - c0, 3),
        "status": status,
        "metrics_bytes": size,
        "requests": s1["requests"] - s0["requests"],
        "wire_bytes": s1["wire_bytes"] - s0["wire_bytes"],
        "json_bytes": s1["json_bytes"] - s0["json_bytes"],
        "endpoints": {k: n for k, n in sorted(ends.items()) if n},
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in rows]
    return {
        "scrapes": len(rows),
        "wall_median_s": statistics.median(walls),
        "wall_max_s": max(walls),
        "cpu_mean_s": statistics.fmean(r["cpu_s"] for r in rows),
        "wire_bytes_mean": statistics.fmean(r["wire_bytes"] for r in rows),
        "json_bytes_mean": statistics.fmean(r["json_bytes"] for r in rows),
        "requests_mean": statistics.fmean(r["requests"] for r in rows),
        "over_timeout": sum(1 for r in rows if r["wall_s"] > SCRAPE_TIMEOUT or r["status"] != 200),
    }


def run_size(n: int, rounds: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print(f"== {n} torrents: building the fake", flush=True)
    fake = P.Fake(n, args.version, work / "logs", seed=args.seed, churn=args.churn).start()
    a = P.ours(fake.url, work, args.python)
    b = P.comparison(fake.url, work)
    out: dict[str, Any] = {"torrents": n, "rounds": rounds, "fake": fake.control("/bench/config")}
    out["fake"]["build_s"] = fake.info["build_seconds"]
    try:
        s0 = fake.stats()
        start = P.start_ours(a, timeout=120)
        s1 = fake.stats()
        out["ours_first_sync"] = {
            **{k: round(v, 3) for k, v in start.items()},
            "first_sync_s": round(start["ready_s"] - start["healthy_s"], 3),
            "cpu_s": cpu_seconds(a.process.pid),
            "peak_rss_mib": peak_rss_mib(a.process.pid),
            "wire_bytes": s1["wire_bytes"] - s0["wire_bytes"],
            "json_bytes": s1["json_bytes"] - s0["json_bytes"],
        }
        print(f"   ours ready: first full sync {out['ours_first_sync']['first_sync_s']:.2f}s", flush=True)
        start = P.start_comparison(b, timeout=600)
        out["comparison_start"] = {"ready_s": round(start["ready_s"], 3), "cpu_s": cpu_seconds(b.process.pid)}
        print(f"   comparison ready after {start['ready_s']:.1f}s", flush=True)
        fake.tick()
        warmup = {e.name: scrape(e, fake) for e in (a, b)}
        rows: dict[str, list[dict[str, Any]]] = {"ours": [], "comparison": []}
        for i in range(rounds):
            tick = fake.tick()
            for e in (a, b):
                rows[e.name].append({"round": i, **scrape(e, fake)})
            o, c = rows["ours"][-1], rows["comparison"][-1]
            print(
                f"   round {i + 1}/{rounds} (churn {tick['changed']}, +{tick['added']} -{tick['removed']}): "
                f"ours {o['wall_s']:.3f}s {o['cpu_s']:.2f} CPU-s {o['wire_bytes'] / 1024:.0f} KiB | "
                f"comparison "
                f"{c['wall_s']:.2f}s {c['cpu_s']:.2f} CPU-s {c['wire_bytes'] / 2**20:.1f} MiB",
                flush=True,
            )
        out["warmup"] = warmup
        out["scrapes"] = rows
        out["summary"] = {name: summary(r) for name, r in rows.items()}
        # Ours alone for more intervals: its CPU is read in 10 ms ticks, so a mean of the few rounds
        # the comparison has time for is +-5 ms; this one is the steady figure the targets read.
        alone = []
        for _ in range(STEADY_SCRAPES):
            fake.tick()
            alone.append(scrape(a, fake))
        out["steady_ours"] = summary(alone)
        steady = out["steady_ours"]
        print(
            f"   ours alone, {STEADY_SCRAPES} more intervals: CPU mean {steady['cpu_mean_s'] * 1000:.1f} ms, "
            f"wall median {steady['wall_median_s']:.3f}s",
            flush=True,
        )
        out["peak_rss_mib"] = {"ours": peak_rss_mib(a.process.pid), "comparison": peak_rss_mib(b.process.pid)}
        # qBittorrent restarted (or the session expired): ours logs in again and gets a full update while
        # its old mirror is still alive -- the worst moment for its memory, and a scrape that must still
        # finish within the timeout. The hourly --qbittorrent.full-resync-interval costs the same.
        fake.control("/bench/expire-sessions", post=True)
        fake.tick()
        out["resync"] = {e.name: scrape(e, fake) for e in (a, b)}
        out["resync"]["ours"]["peak_rss_mib"] = peak_rss_mib(a.process.pid)
        print(
            f"   resync scrape (sessions expired): ours {out['resync']['ours']['wall_s']:.2f}s "
            f"{out['resync']['ours']['cpu_s']:.2f} CPU-s, peak RSS "
            f"{out['resync']['ours']['peak_rss_mib']:.0f} MiB",
            flush=True,
        )
    finally:
        a.process.stop()
        b.process.stop()
    try:
        out["jobs"] = jobs(fake.url, args.python, args.job_runs)
        for scenario in ("typical", "emergency"):
            j = out["jobs"].get(scenario)
            print(
                f"   jobs ({scenario}): control+completion {j['mean_jobs_cpu_s']:.3f} CPU-s per run (max "
                f"{j['max_jobs_cpu_s']:.3f}), {j['mean_writes']:.0f} writes"
                if j
                else f"   jobs: {out['jobs']}",
                flush=True,
            )
    finally:
        fake.stop()
    return out


def jobs(url: str, python: str, runs: int) -> dict[str, Any]:
    done = subprocess.run(
        [python, "-m", "bench.jobs", "--url", url, "--runs", str(runs)],
        cwd=P.ROOT,
        env=P.clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout)


def versions(python: str) -> dict[str, str]:
    def ask(py: str, code: str) -> str:
        r = subprocess.run([py, "-c", code], capture_output=True, text=True, timeout=60)
        return r.stdout.strip() or r.stderr.strip()[-200:]

    compare_py = str(P.COMPARE_BIN.parent / "python")
    meta = "import sys, importlib.metadata as m; print(sys.version.split()[0], '{p}', m.version('{p}'))"
    return {
        "ours": ask(python, meta.format(p="qbittorrent-monitor")),
        "comparison": ask(compare_py, meta.format(p="prometheus-qbittorrent-exporter")),
        "driver": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help=f"sizes {','.join(map(str, QUICK))} only")
    p.add_argument("--sizes", help="comma-separated torrent counts (default 1000,10000,50000,100000)")
    p.add_argument("--rounds", type=int, help="A B rounds per size (default: 10, 6, 4, 3 by size)")
    p.add_argument("--version", default="4.5.2", help="qBittorrent version the fake speaks (4.5.2 or 5.0.4)")
    p.add_argument("--churn", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--job-runs", type=int, default=5)
    p.add_argument(
        "--python", default=sys.executable, help="the Python that has qbittorrent-monitor installed"
    )
    p.add_argument("--name", help="results/<name>.json (default: scale, or scale-quick with --quick)")
    p.add_argument(
        "--no-docs",
        dest="docs",
        action="store_false",
        help="do not rewrite docs/performance.md and docs/performance.png",
    )
    args = p.parse_args(argv)
    if args.docs and (args.quick or args.name or args.sizes or args.rounds):
        args.docs = False  # only the full default run speaks for docs/performance.md
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(QUICK if args.quick else SIZES)
    name = args.name or ("scale-quick" if args.quick else "scale")
    if not P.COMPARE_BIN.exists():
        print(f"missing {P.COMPARE_BIN}: run bench/run, which creates it", file=sys.stderr)
        return 2
    result: dict[str, Any] = {
        "command": "bench/run " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(versions(args.python)),
        "settings": {
            "version": args.version,
            "churn": args.churn,
            "seed": args.seed,
            "job_runs": args.job_runs,
            "scrape_timeout_s": SCRAPE_TIMEOUT,
        },
        "sizes": [],
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qbm-bench-") as tmp:
        for n in sizes:
            result["sizes"].append(run_size(n, args.rounds or ROUNDS.get(n, 3), args, Path(tmp) / str(n)))
    result["duration_s"] = round(time.perf_counter() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path.relative_to(P.ROOT)} in {result['duration_s']:.0f}s", flush=True)
    if args.docs:
        report.main([str(path)])
        plot_python = P.ROOT / "bench" / ".venv-plot" / "bin" / "python"
        if plot_python.exists():
            subprocess.run(
                [str(plot_python), str(P.ROOT / "bench" / "plot.py"), str(path)], check=True, timeout=120
            )
        else:
            print(f"no {plot_python}: run bench/run to get the plot", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
