"""In-process CPU of a full sync and of the first ratio index, for two builds side by side, A B A B.

    python -m bench.inproc --size 100000 --a /path/to/worktree --b . [--reps 2]

The fake qBittorrent (bench/fakeqbt) serves one full update of --size torrents, read once, uncompressed,
as ours reads it on loopback. Each side is a checkout whose exporter/ a fresh interpreter imports; it
feeds the body to MaindataState in 1 MiB pieces as Connection.maindata does (the streamed path), with
the service's collector thresholds (cli.tune_gc), and reports process CPU of:
- `fresh_s`: a full update into an empty state (the first sync);
- `resync_s`: the same body again into that state (an unplanned full resync: every torrent equal);
- `index_s`: the first RatioIndex.update of the snapshot, default policies (the warm-up scrape's part);
and the interpreter's peak RSS after the first sync and its index, and after the resync. Medians of
--runs each. No HTTP, no threads: a change to the core shows here without bench/run's noise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from . import processes as P

# What each side runs, in a fresh interpreter with that side's checkout first on sys.path.
SIDE = r"""
import gc, json, resource, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import exporter
assert exporter.__file__.startswith(sys.argv[1]), exporter.__file__
from exporter.cli import tune_gc
from exporter.config.settings import Settings
from exporter.managers.ratio_index import RatioIndex
from exporter.qbt.maindata import MaindataState
path, runs = sys.argv[2], int(sys.argv[3])
tune_gc()


def full(state):
    # CPU of one full update read from the file in 1 MiB pieces (never whole in memory)
    t0, stream = time.process_time(), state.stream()
    with open(path, "rb") as f:
        while piece := f.read(1 << 20):
            stream.feed(piece)
    state.apply_body(stream.body(), stream)
    return time.process_time() - t0


def index_of(state):
    t0 = time.process_time()
    RatioIndex(settings.trackers, settings.seeding).update(state.snapshot(time.time()))
    return time.process_time() - t0


out = {"fresh_s": [], "resync_s": [], "index_s": []}
peaks = {}
settings = Settings()
for run in range(runs):
    state = MaindataState("bench")
    out["fresh_s"].append(full(state))
    out["index_s"].append(index_of(state))
    if not run:  # VmHWM of this interpreter: the first sync and its first index, then with a resync
        peaks["peak_first_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    out["resync_s"].append(full(state))
    if not run:
        peaks["peak_resync_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    del state
    gc.collect()
print(json.dumps({**{k: round(statistics.median(v), 3) for k, v in out.items()}, **peaks}))
"""


def full_body(size: int, version: str, logs: Path) -> bytes:
    fake = P.Fake(size, version, logs).start()
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        login = urllib.request.Request(
            fake.url + "/api/v2/auth/login", data=b"username=admin&password=adminadmin"
        )
        opener.open(login, timeout=60).read()
        sync = urllib.request.Request(
            fake.url + "/api/v2/sync/maindata?rid=0", headers={"Accept-Encoding": "identity"}
        )
        with opener.open(sync, timeout=300) as r:
            return r.read()
    finally:
        fake.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.inproc", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=100000)
    p.add_argument("--a", required=True, help="checkout of the 'before' side")
    p.add_argument("--b", required=True, help="checkout of the 'after' side")
    p.add_argument("--reps", type=int, default=2, help="A B rounds, each a fresh interpreter per side")
    p.add_argument("--runs", type=int, default=3, help="measurements per interpreter (median kept)")
    p.add_argument("--version", default="5.0.4", help="the fake's qBittorrent profile")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qbm-inproc-") as tmp:
        body = Path(tmp) / "full.json"
        body.write_bytes(full_body(args.size, args.version, Path(tmp)))
        print(json.dumps({"size": args.size, "version": args.version, "body_bytes": body.stat().st_size}))
        for rep in range(args.reps):
            for name, tree in (("A", args.a), ("B", args.b)):
                src = str(Path(tree).resolve())
                env = {**P.clean_env(), "PYTHONSAFEPATH": "1"}
                done = subprocess.run(
                    [sys.executable, "-c", SIDE, src, str(body), str(args.runs)],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=900,
                    check=False,
                )
                if done.returncode:
                    print(done.stderr, file=sys.stderr)
                    return 1
                print(
                    json.dumps({"side": name, "rep": rep, "src": src, **json.loads(done.stdout)}), flush=True
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
