"""The `qbittorrent-monitor` command.

    qbittorrent-monitor [run] [flags]        serve metrics and run the jobs (the default command)
    qbittorrent-monitor check-config [flags] validate flags/env/config file, exit 1 naming the bad field
    qbittorrent-monitor report               the seeding-slot recommendation, explained
    qbittorrent-monitor trackers             a one-off tracker scan: the torrents with a tracker problem
    qbittorrent-monitor completions          completion history (--since 24h, --status, --json, --retry-dead)
    qbittorrent-monitor audit                the audit log of every action (--since 24h, --json)
    qbittorrent-monitor demo                 a throwaway qBittorrent and the exporter, on 127.0.0.1

Every command takes the same flags (see `qbittorrent-monitor --help`); each flag also has an
environment variable and a key in the YAML file given by --config.file (exporter/config/).
The commands read the store read-only, so they work while the service runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import demo
from .app import App, make_mirror
from .config import OPTIONS, ConfigError, Settings, build_settings
from .config.files import read_secret
from .config.instances import InstanceSettings, describe
from .durations import parse_duration
from .history import COMPLETION_STATUSES, audit_dicts, audit_line, completion_dicts, completion_line
from .logs import setup_logging
from .model import Snapshot
from .qbt.mirror import Mirror
from .qbt.tracker_scan import scan_once
from .report import (
    DEFAULT_LIMIT,
    build_report,
    format_report,
    format_tracker_health,
    parse_limit,
    tracker_health,
)
from .store import FILE_NAME, SCHEMA_VERSION, Store, StoreError, open_store
from .store.copy import copy_store
from .version import __version__

log = logging.getLogger("qbittorrent_monitor")


@dataclass(frozen=True)
class Command:
    help: str
    run: Callable[[Settings, argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config.file",
        dest="config_file",
        metavar="FILE",
        help="YAML file with the same settings (env QBITTORRENT_MONITOR_CONFIG_FILE).",
    )
    for o in OPTIONS:
        default = (
            "(secret)"
            if o.secret
            else repr(o.default)
            if not isinstance(o.default, str)
            else o.default or '""'
        )
        parser.add_argument(
            o.flag,
            dest=o.name,
            default=argparse.SUPPRESS,
            metavar=o.metavar or "VALUE",
            help=f"{o.help} [env {o.env}; default {default}]",
        )


# A full sync of 50,000 torrents makes ~150,000 long-lived objects at once: with Python's default
# thresholds (700, 10, 10) the collector runs hundreds of times through it, rescanning the growing heap,
# which was 20-40 % of a full sync's and of the first ratio-index build's CPU (bench/notes.md). Nearly
# all garbage here is freed by reference counting, so the collector can run far less often.
GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Collect less often, and never rescan what start-up built (gc.freeze: imports, settings, wiring)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_service(settings: Settings, args: argparse.Namespace) -> int:
    app = App(settings)
    tune_gc()
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        app.start()
    except StoreError as exc:
        log.error("cannot open the store: %s", exc)
        app.stop()
        return 1
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", *settings.web_listen_address, exc.strerror)
        return 1
    stop.wait()
    app.stop()
    log.info("stopped")
    return 0


def check_config(settings: Settings, args: argparse.Namespace) -> int:
    print("config OK" + (f": {settings.config_file}" if settings.config_file else ""))
    for inst in settings.instances:
        print("  " + describe(inst))
    store = settings.store
    if store.shared:
        password = "password set" if store.password else "no password"
        print(f"  store {store.describe()} ({password}), shared by replicas: leases of {store.lease_ttl:g} s")
    else:
        print(f"  store {store.describe()}")
    return 0


# -- report ------------------------------------------------------------------------------------


def _instance_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--instance", default="", metavar="NAME", help="Only this qBittorrent (default: all)."
    )


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    _instance_argument(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="Output format.")
    parser.add_argument(
        "--limit",
        type=parse_limit,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"Show at most N torrents per list (0: all; default {DEFAULT_LIMIT}).",
    )


def _instances(settings: Settings, args: argparse.Namespace) -> list[InstanceSettings] | None:
    """The instances --instance selects (all without it); None, with a message, for an unknown name."""
    if not args.instance:
        return list(settings.instances)
    chosen = [i for i in settings.instances if i.name == args.instance]
    if not chosen:
        known = ", ".join(i.name for i in settings.instances)
        print(
            f"qbittorrent-monitor: --instance: no qBittorrent named {args.instance!r} (known: {known})",
            file=sys.stderr,
        )
        return None
    return chosen


def _each_snapshot(
    settings: Settings, args: argparse.Namespace, read: Callable[[InstanceSettings, Mirror, Snapshot], Any]
) -> list[Any] | int:
    """read(instance, mirror, snapshot) for each chosen qBittorrent, or an exit code: 2 for an unknown
    --instance, 1 (said on stderr) when one cannot be read or `read` returns None."""
    chosen = _instances(settings, args)
    if chosen is None:
        return 2
    results = []
    for inst in chosen:
        mirror = make_mirror(inst)
        try:
            snapshot = mirror.refresh()
            if snapshot is None:
                print(
                    f"qbittorrent-monitor: cannot read qBittorrent: {mirror.stats.last_error} ({inst.name})",
                    file=sys.stderr,
                )
                return 1
            result = read(inst, mirror, snapshot)
            if result is None:
                return 1
            results.append(result)
        finally:
            mirror.close()
    return results


def _print_json(results: list[Any]) -> None:
    print(json.dumps(results[0] if len(results) == 1 else {"reports": results}, indent=1))


def run_report(settings: Settings, args: argparse.Namespace) -> int:
    reports = _each_snapshot(
        settings,
        args,
        lambda inst, mirror, snapshot: build_report(snapshot, inst.trackers, inst.seeding, limit=args.limit),
    )
    if isinstance(reports, int):
        return reports
    if args.format == "json":
        _print_json(reports)
    else:
        print("\n".join(format_report(r) for r in reports), end="")
    return 0


# -- trackers: a one-off scan ------------------------------------------------------------------------

MAX_REQUESTS = 300  # a minute at the default 5 requests/s


def _trackers_arguments(parser: argparse.ArgumentParser) -> None:
    _report_arguments(parser)
    parser.add_argument(
        "--max-requests",
        type=_at_least_one,
        default=MAX_REQUESTS,
        metavar="N",
        help="At most N requests to each qBittorrent, at tracker_scan.requests_per_second "
        f"(default {MAX_REQUESTS}). 5.1+ reads 500 torrents a request; 4.x and 5.0 one, errored and "
        "stalled ones first.",
    )


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def run_trackers(settings: Settings, args: argparse.Namespace) -> int:
    """What the service's tracker scan keeps up to date, from a scan of its own: the problem torrents."""

    def scan(inst: InstanceSettings, mirror: Mirror, snapshot: Snapshot) -> dict[str, Any] | None:
        policy = inst.jobs.tracker_scan.policy
        done, _ = scan_once(mirror.connection, snapshot, policy, args.max_requests, threading.Event().wait)
        if done.stats.last_error:
            print(
                f"qbittorrent-monitor: tracker scan of {inst.name}: {done.stats.last_error}", file=sys.stderr
            )
            return None
        health = tracker_health(snapshot, done, time.time(), args.limit)
        return {"instance": inst.name, "torrents_total": len(snapshot.torrents), **health}

    results = _each_snapshot(settings, args, scan)
    if isinstance(results, int):
        return results
    if args.format == "json":
        _print_json(results)
    else:
        for r in results:
            left = r["torrents_total"] - r["torrents"]
            note = f" ({left} not asked: --max-requests {args.max_requests})" if left else ""
            print(f"qBittorrent {r['instance']}: {r['torrents_total']} torrents{note}")
            print("\n".join(format_tracker_health(r)))
    return 0


# -- completions and audit: read the store -------------------------------------------------------


def _history_arguments(parser: argparse.ArgumentParser) -> None:
    _instance_argument(parser)
    parser.add_argument("--since", default="24h", help="How far back, e.g. 1h, 24h, 7d (default 24h).")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")


def _completions_arguments(parser: argparse.ArgumentParser) -> None:
    _history_arguments(parser)
    parser.add_argument(
        "--status", choices=COMPLETION_STATUSES, default="", help="Only completions in this state."
    )
    parser.add_argument(
        "--retry-dead",
        action="store_true",
        help="Queue every dead-letter handler run again (after fixing its cause).",
    )


def _read_store(
    settings: Settings,
    args: argparse.Namespace,
    read: Callable[[Store, float], list[dict[str, Any]]],
    line: Callable[[dict[str, Any]], str],
    what: str,
) -> int:
    """Open the store read-only, print what `read(store, since)` returns as JSON or one line each."""
    try:
        since = parse_duration(args.since)
    except ValueError as exc:
        print(f"qbittorrent-monitor: --since: {exc}", file=sys.stderr)
        return 2
    try:
        store = settings.store.open(readonly=True)
    except StoreError as exc:
        print(f"qbittorrent-monitor: {exc}", file=sys.stderr)
        return 1
    try:
        rows = read(store, since)
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for row in rows:
            print(line(row))
        print(f"{len(rows)} {what} in the last {args.since}")
    return 0


def run_completions(settings: Settings, args: argparse.Namespace) -> int:
    if args.retry_dead:
        try:
            if not settings.store.url and not (Path(settings.data_dir) / FILE_NAME).is_file():
                raise StoreError(f"no store in {settings.data_dir}")
            store = settings.store.open(service=False)
            try:
                n = store.retry_dead(time.time(), args.instance or None)
                print(f"{n} dead-letter handler run(s) queued again")
            finally:
                store.close()
        except StoreError as exc:
            print(f"qbittorrent-monitor: {exc}", file=sys.stderr)
            return 1
        return 0
    return _read_store(
        settings,
        args,
        lambda store, since: completion_dicts(store, time.time(), since, args.status, args.instance or None),
        completion_line,
        "completion(s)",
    )


def run_audit(settings: Settings, args: argparse.Namespace) -> int:
    return _read_store(
        settings,
        args,
        lambda store, since: audit_dicts(store, time.time(), since, instance=args.instance or None),
        audit_line,
        "action(s)",
    )


# -- store: migrate, copy ---------------------------------------------------------------------------


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("migrate", "copy"),
        help="migrate: bring the store (--store.url or "
        "--data.dir) to this version's schema; copy: every row of --from into the empty --to.",
    )
    parser.add_argument(
        "--from",
        dest="source",
        default="",
        metavar="URL",
        help="copy: sqlite:///path/qbittorrent-monitor.db or postgresql://user@host/db",
    )
    parser.add_argument(
        "--to", dest="target", default="", metavar="URL", help="copy: where to (must be empty)"
    )
    parser.add_argument("--from-password-file", default="", metavar="FILE", help="copy: --from's password")
    parser.add_argument(
        "--to-password-file",
        default="",
        metavar="FILE",
        help="copy: --to's password (default: --store.password-file)",
    )


def run_store(settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.action == "migrate":
            store = settings.store.open(service=False)  # opening migrates
            store.close()
            print(f"store {settings.store.describe()} is at schema version {SCHEMA_VERSION}")
            return 0
        if not args.source or not args.target:
            print("qbittorrent-monitor: store copy needs --from URL and --to URL", file=sys.stderr)
            return 2
        src = open_store("", url=args.source, password=_password(args.from_password_file), readonly=True)
        try:
            dst = open_store(
                "", url=args.target, password=_password(args.to_password_file) or settings.store_password
            )
            try:
                moved = copy_store(src, dst)
            finally:
                dst.close()
        finally:
            src.close()
    except (StoreError, ConfigError) as exc:
        print(f"qbittorrent-monitor: {exc}", file=sys.stderr)
        return 1
    print("copied: " + ", ".join(f"{n} {table}" for table, n in moved.items()))
    return 0


def _password(path: str) -> str:
    return read_secret(path, "--password-file") if path else ""


COMMANDS: dict[str, Command] = {
    "run": Command("Serve metrics and run the scheduled jobs (default).", run_service),
    "check-config": Command("Validate the configuration and exit.", check_config),
    "completions": Command(
        "Show recent torrent completions and their handlers (--since 24h, --json).",
        run_completions,
        _completions_arguments,
    ),
    "audit": Command(
        "Show the audit log: every action taken or dry-run, with its reason (--since 24h, --json).",
        run_audit,
        _history_arguments,
    ),
    "store": Command(
        "Manage the store: `store migrate`, `store copy --from sqlite:///... --to postgresql://...` "
        "(moving a single-node install to a shared store without running a handler again).",
        run_store,
        _store_arguments,
    ),
    "report": Command(
        "Print the seeding-slot recommendation and per-tracker points/ratio, with reasons "
        "(--format json, --limit N).",
        run_report,
        _report_arguments,
    ),
    "trackers": Command(
        "Scan the trackers once (within --max-requests) and list the torrents whose trackers report a "
        "problem: name, tracker host, reason, since when (--format json, --limit N).",
        run_trackers,
        _trackers_arguments,
    ),
    "demo": Command(
        "Start a throwaway qBittorrent with a few real torrents and the exporter (actions in dry "
        "run) on 127.0.0.1, print the URLs, run until Ctrl-C.",
        demo.run,
        demo.add_arguments,
    ),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="qbittorrent-monitor",
        description="Prometheus exporter and automation for qBittorrent.",
    )
    top.add_argument("--version", action="version", version=f"qbittorrent-monitor {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        _add_options(p)
        command.add_arguments(p)
    return top


def parse(argv: Sequence[str], env: Mapping[str, str]) -> tuple[Settings, argparse.Namespace]:
    argv = list(argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "run")
    args = parser().parse_args(argv)
    flags = {o.name: getattr(args, o.name) for o in OPTIONS if hasattr(args, o.name)}
    config_file = args.config_file or env.get("QBITTORRENT_MONITOR_CONFIG_FILE", "")
    return build_settings(flags, env, config_file), args


def _config_error(message: str) -> None:
    """One line on stderr, whatever the message holds (a file's error text may have line breaks)."""
    print(f"qbittorrent-monitor: invalid configuration: {' '.join(message.split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings, args = parse(argv, os.environ)
    except ConfigError as exc:
        _config_error(str(exc))
        return 1
    except Exception as exc:  # a parser bug: still one line, and without the message (it may hold a value)
        _config_error(f"unexpected {type(exc).__name__} while reading it (a bug: please report it)")
        return 1
    setup_logging(settings.log_level, settings.log_format)
    return COMMANDS[args.command].run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
