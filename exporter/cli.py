"""The `qbittorrent-monitor` command.

    qbittorrent-monitor [run] [flags]        serve metrics (the default command)
    qbittorrent-monitor check-config [flags] validate flags/env/config file, exit 1 naming the bad field

Every command takes the same flags (see `qbittorrent-monitor --help`); each flag also has an
environment variable and a key in the YAML file given by --config.file (exporter/config.py).
Further commands register themselves in COMMANDS.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from . import demo
from .actions import history
from .config import OPTIONS, ConfigError, Settings, build_settings
from .logs import setup_logging
from .report import add_report_arguments, run_report
from .store import StoreError
from .version import __version__

log = logging.getLogger("qbittorrent_monitor")


@dataclass(frozen=True)
class Command:
    help: str
    run: Callable[[Settings, argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config.file", dest="config_file", metavar="FILE",
        help="YAML file with the same settings (env QBITTORRENT_MONITOR_CONFIG_FILE).",
    )
    for o in OPTIONS:
        default = "(secret)" if o.secret else repr(o.default) if not isinstance(o.default, str) else o.default or '""'
        parser.add_argument(
            o.flag, dest=o.name, default=argparse.SUPPRESS, metavar=o.metavar or "VALUE",
            help=f"{o.help} [env {o.env}; default {default}]",
        )


def run_service(settings: Settings, args: argparse.Namespace) -> int:
    from .app import App

    app = App(settings)
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
    return 0


COMMANDS: dict[str, Command] = {
    "run": Command("Serve metrics and run the scheduled jobs (default).", run_service),
    "check-config": Command("Validate the configuration and exit.", check_config),
    "completions": Command("Show recent torrent completions and their handlers (--since 24h, --json).",
                           history.run, history.add_arguments),
    "report": Command("Print the seeding-slot recommendation and per-tracker points/ratio, with reasons "
                      "(--format json, --limit N).", run_report, add_report_arguments),
    "demo": Command("Start a throwaway qBittorrent with a few real torrents and the exporter (actions in dry "
                    "run) on 127.0.0.1, print the URLs, run until Ctrl-C.", demo.run, demo.add_arguments),
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings, args = parse(argv, os.environ)
    except ConfigError as exc:
        print(f"qbittorrent-monitor: invalid configuration: {exc}", file=sys.stderr)
        return 1
    setup_logging(settings.log_level, settings.log_format)
    return COMMANDS[args.command].run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
