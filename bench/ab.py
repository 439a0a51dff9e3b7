"""Before/after for a change to the core: two builds of our exporter, A B A B against one fake.

    python -m bench.ab --size 50000 --a .venv/bin/python --b .venv/bin/python:/path/to/worktree [--reps 2]

Each side is PYTHON[:SRC]; with SRC (a checkout, e.g. `git worktree add /tmp/fix`) that checkout's
exporter/ is imported instead of the installed one. Per side and repetition it reports the first
full sync, peak RSS after it, steady-state scrape CPU (mean of --scrapes, one tick of churn each),
a full resync (sessions expired) and the peak RSS after it, and the control + completion job cost
(bench/jobs.py, both scenarios). No comparison exporter: use bench/run for that.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from . import processes as P
from .driver import scrape
from .measure import peak_rss_mib


def side(spec: str) -> tuple[str, dict[str, str]]:
    """(python, extra environment) of PYTHON[:SRC].

    PYTHONSAFEPATH keeps `python -m` from putting the working directory (this checkout, where every
    process runs) ahead of PYTHONPATH: without it SRC's exporter/ would silently lose to this one's.
    """
    python, _, src = spec.partition(":")
    if not src:
        return python, {}
    return python, {"PYTHONSAFEPATH": "1", "PYTHONPATH": os.pathsep.join((src, str(P.ROOT)))}


def run_side(
    python: str, extra: dict[str, str], args: list[str], timeout: float, check: bool
) -> subprocess.CompletedProcess[str]:
    """`python ARGS` as that side runs (its environment, from this checkout), output captured."""
    return subprocess.run(
        [python, *args],
        cwd=P.ROOT,
        env=P.clean_env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def imported_from(python: str, extra: dict[str, str]) -> str:
    """Where that side's exporter package comes from (a check that SRC is really the one measured)."""
    done = run_side(python, extra, ["-c", "import exporter; print(exporter.__file__)"], 60, check=True)
    return str(Path(done.stdout.strip()).parent.parent)


def one(name: str, spec: str, fake: P.Fake, work: Path, scrapes: int) -> dict:
    python, extra = side(spec)
    e = P.ours(fake.url, work, python)
    e.process.env.update(extra)
    start = P.start_ours(e, timeout=180)
    row = {
        "side": name,
        "src": imported_from(python, extra),
        "first_sync_s": start["ready_s"] - start["healthy_s"],
        "first_sync_peak_rss_mib": peak_rss_mib(e.process.pid),
    }
    try:
        fake.tick()
        scrape(e, fake)  # warm-up
        rows = []
        for _ in range(scrapes):
            fake.tick()
            rows.append(scrape(e, fake))
        row["scrape_cpu_mean_s"] = statistics.fmean(r["cpu_s"] for r in rows)
        row["scrape_wall_max_s"] = max(r["wall_s"] for r in rows)
        fake.control("/bench/expire-sessions", post=True)
        fake.tick()
        resync = scrape(e, fake)
        row.update(
            resync_wall_s=resync["wall_s"],
            resync_cpu_s=resync["cpu_s"],
            peak_rss_mib=peak_rss_mib(e.process.pid),
        )
    finally:
        e.process.stop()
    done = run_side(python, extra, ["-m", "bench.jobs", "--url", fake.url, "--runs", "4"], 900, check=False)
    if done.returncode == 0:
        jobs = json.loads(done.stdout)
        for scenario in ("typical", "emergency"):
            row[f"jobs_{scenario}_mean_s"] = jobs[scenario]["mean_jobs_cpu_s"]
            row[f"jobs_{scenario}_max_s"] = jobs[scenario]["max_jobs_cpu_s"]
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=50000)
    p.add_argument("--a", required=True, help="PYTHON[:SRC] of the 'before' side")
    p.add_argument("--b", required=True, help="PYTHON[:SRC] of the 'after' side")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--scrapes", type=int, default=5)
    p.add_argument("--version", default="4.5.2")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="qbm-ab-") as tmp:
        fake = P.Fake(args.size, args.version, Path(tmp) / "logs").start()
        try:
            for rep in range(args.reps):
                for name, spec in (("A", args.a), ("B", args.b)):
                    row = one(name, spec, fake, Path(tmp) / f"{rep}{name}", args.scrapes)
                    rows.append(row)
                    print(
                        json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}),
                        flush=True,
                    )
        finally:
            fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
