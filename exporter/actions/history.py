"""Completion history (get_completion_history): `qbittorrent-monitor completions` and /api/completions.

    qbittorrent-monitor completions [--since 24h] [--status pending|done|dead] [--json]
    qbittorrent-monitor completions --retry-dead
    GET /api/completions?since=24h&status=dead

Both read the ledger in the store; the command opens it read-only, so it works while the service
runs. Dead-letter completions (a handler gave up) show status `dead` with each handler's last error;
--retry-dead (after fixing the cause) puts their dead handler runs back to pending, and the running
service retries them at its next completion run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import unquote

from ..config import Settings, parse_duration
from ..store import FILE_NAME, CompletionRecord, Store, StoreError, open_store
from ..web import Response, as_json, text

STATUSES = ("pending", "done", "dead")


def as_dict(r: CompletionRecord) -> dict[str, Any]:
    return {
        "hash": r.hash,
        "name": r.torrent.get("name", ""),
        "category": r.torrent.get("category", ""),
        "completion_on": r.completion_on,
        "detected_at": r.detected_at,
        "status": r.status,
        "torrent": dict(r.torrent),
        "handlers": [{"handler": h.handler, "status": h.status, "attempts": h.attempts,
                      "last_error": h.last_error, "next_attempt_at": h.next_attempt_at if h.status == "pending" else None}
                     for h in r.handlers],
    }


def get_completion_history(store: Store, now: float, since: float, status: str = "") -> list[dict[str, Any]]:
    return [as_dict(r) for r in store.history(now - since, status)]


def completions_route(store: Store | None, clock: Callable[[], float], query: Mapping[str, str]) -> Response:
    if store is None:
        return text(503, "completion tracking has not started\n")
    status = unquote(query.get("status", ""))
    if status and status not in STATUSES:
        return text(400, f"status must be one of {', '.join(STATUSES)}\n")
    try:
        since = parse_duration(unquote(query.get("since", "24h")))
    except ValueError as exc:
        return text(400, f"since: {exc}\n")
    return as_json(200, {"completions": get_completion_history(store, clock(), since, status)})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", default="24h", help="How far back, e.g. 1h, 24h, 7d (default 24h).")
    parser.add_argument("--status", choices=STATUSES, default="", help="Only completions in this state.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    parser.add_argument("--retry-dead", action="store_true",
                        help="Queue every dead-letter handler run again (after fixing its cause).")


def _line(c: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c["detected_at"]))
    runs = " ".join(f"{h['handler']}:{h['status']}" + (f"({h['attempts']}x: {h['last_error']})" if h["last_error"] else "")
                    for h in c["handlers"]) or "-"
    return f"{when}  {c['status']:<7}  {c['hash'][:12]}  {c['category'] or '-':<12}  {c['name']}  [{runs}]"


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        since = parse_duration(args.since)
    except ValueError as exc:
        print(f"qbittorrent-monitor: --since: {exc}", file=sys.stderr)
        return 2
    try:
        if args.retry_dead:
            if not (Path(settings.data_dir) / FILE_NAME).is_file():
                raise StoreError(f"no store in {settings.data_dir}")
            store = open_store(settings.data_dir)
            try:
                print(f"{store.retry_dead(time.time())} dead-letter handler run(s) queued again")
            finally:
                store.close()
            return 0
        store = open_store(settings.data_dir, readonly=True)
    except StoreError as exc:
        print(f"qbittorrent-monitor: {exc}", file=sys.stderr)
        return 1
    try:
        history = get_completion_history(store, time.time(), since, args.status)
    finally:
        store.close()
    if args.json:
        print(json.dumps(history, indent=1))
    else:
        for c in history:
            print(_line(c))
        print(f"{len(history)} completion(s) in the last {args.since}")
    return 0
