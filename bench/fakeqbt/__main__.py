"""Run the fake qBittorrent on 127.0.0.1 until stopped (SIGTERM/SIGINT).

    python -m bench.fakeqbt --torrents 50000 [--version 4.5.2|5.0.4] [--port 0] [--seed 1] [--churn 0.01]

Prints one JSON line ({"url": ..., "torrents": ..., "build_seconds": ...}) on stdout once it answers.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from .profiles import PROFILES
from .server import FakeQbittorrent
from .world import World


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fakeqbt", description=__doc__.split("\n\n")[0])
    p.add_argument("--torrents", type=int, default=1000)
    p.add_argument("--version", choices=sorted(PROFILES), default="4.5.2")
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--churn", type=float, default=0.01, help="fraction of torrents changed per tick")
    p.add_argument(
        "--added", type=int, default=None, help="torrents added per tick (default: 0.01 %% of them, >= 1)"
    )
    p.add_argument("--removed", type=int, default=None, help="torrents removed per tick (default: as added)")
    p.add_argument("--interval", type=int, default=15, help="seconds of activity one tick stands for")
    p.add_argument("--gzip-level", type=int, default=6, help="0 turns compression off")
    p.add_argument("--username", default="admin")
    p.add_argument("--password", default="adminadmin")
    p.add_argument("--api-key", default="", help="also accept 'Authorization: Bearer KEY' (5.2)")
    args = p.parse_args(argv)

    started = time.perf_counter()
    world = World(
        PROFILES[args.version],
        args.torrents,
        seed=args.seed,
        churn=args.churn,
        added=args.added,
        removed=args.removed,
        interval=args.interval,
    )
    fake = FakeQbittorrent(
        world, args.username, args.password, args.api_key, args.gzip_level, args.port
    ).start()
    print(
        json.dumps(
            {
                "url": fake.url,
                "torrents": len(world.records),
                "version": args.version,
                "build_seconds": round(time.perf_counter() - started, 3),
            }
        ),
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
