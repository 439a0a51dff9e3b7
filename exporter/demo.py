"""`qbittorrent-monitor demo`: real metrics in a minute, on a machine with qbittorrent-nox installed.

It starts two throwaway qBittorrents on 127.0.0.1 (exporter/sandbox.py): a hidden seeder, and the demo
instance with a few real torrents in different states (one really downloading from the seeder, at a
limited speed); then the exporter watching both (two instances, `demo` and `seeder`; the jobs act on
`demo` only), with every scheduled action in dry run
(they decide, log and count, and write nothing). It prints the URLs and runs until Ctrl-C, then stops
everything and removes its directory (kept when --demo.dir is given).

Nothing leaves loopback: the trackers are closed ports on 127.0.0.x, DHT/LSD/PeX/UPnP are off.
Your own qBittorrent settings are ignored (no QBITTORRENT_MONITOR_* variable is read), so the demo
can never point at, or write to, a real qBittorrent.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from .app import App
from .config import DEFAULT_PORT, ConfigError, Settings, build_settings
from .sandbox import QBittorrentProcess, free_port, info_hash, make_payload, make_torrent

log = logging.getLogger("qbittorrent_monitor.demo")
ROOT = Path(__file__).resolve().parent.parent
DOWNLOAD_LIMIT = 256 * 1024  # bytes/s: the demo download lasts about two minutes


def until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


# -- the demo --------------------------------------------------------------------------------------


def add_torrents(seeder: QBittorrentProcess, demo: QBittorrentProcess, work: Path) -> None:
    """A downloading, a seeding, a stalled, a paused, an errored and a metadata-only torrent."""
    s, d = seeder.client(), demo.client()
    for category in ("linux-isos", "movies", "tv", "music"):
        d.torrents_create_category(name=category)
    dead = [f"http://127.0.0.{i}:{free_port()}/announce" for i in (1, 2, 3)]  # closed ports
    data = work / "data"

    def torrent(directory: Path, name: str, size: int, tracker: str) -> bytes:
        return make_torrent(make_payload(directory, name, size), trackers=[tracker])

    iso = torrent(data, "distro-24.04.iso", 32 << 20, dead[0])
    iso_hash = info_hash(iso)
    s.torrents_add(torrent_files=iso, save_path=str(data))
    d.torrents_add(
        torrent_files=iso, save_path=str(demo.downloads), category="linux-isos", download_limit=DOWNLOAD_LIMIT
    )
    d.torrents_add(
        torrent_files=torrent(data, "big-buck-bunny.mkv", 8 << 20, dead[0]),
        save_path=str(data),
        category="movies",
    )  # its data is there: it checks, then seeds
    d.torrents_add(
        torrent_files=torrent(data, "album.flac", 4 << 20, dead[1]),
        save_path=str(data),
        category="music",
        is_stopped=True,
    )
    d.torrents_add(
        torrent_files=torrent(work / "nowhere", "episode-01.mkv", 2 << 20, dead[2]),
        save_path=str(demo.downloads),
        category="tv",
    )  # no peer has it: stalls
    blocker = work / "not-a-directory"
    blocker.write_text("qBittorrent cannot save under a file: the torrent below errors\n")
    d.torrents_add(
        torrent_files=torrent(work / "nowhere", "broken.iso", 1 << 20, dead[1]),
        save_path=str(blocker / "downloads"),
        category="linux-isos",
    )
    d.torrents_add(urls=f"magnet:?xt=urn:btih:{'ab' * 20}&dn=no-peers-yet")

    def state(client, h: str) -> str:
        found = client.torrents_info(torrent_hashes=h)
        return found[0]["state"] if found else ""

    # Connect the download to the seeder once both have checked their files.
    if until(
        lambda: (
            state(s, iso_hash) in ("stalledUP", "uploading")
            and state(d, iso_hash) not in ("checkingResumeData", "checkingDL", "")
        ),
        timeout=30,
    ):
        d.torrents_add_peers(torrent_hashes=iso_hash, peers=f"127.0.0.1:{seeder.bt_port}")
    else:
        log.warning("the demo download could not start: the seeder did not become ready")
    s.auth_log_out()
    d.auth_log_out()


def demo_config(work: Path, demo: QBittorrentProcess, seeder: QBittorrentProcess) -> Path:
    """Both qBittorrents watched (the seeder too: a second instance); actions on the demo one only."""
    (work / "password.txt").write_text(demo.password + "\n")
    (work / "seeder-password.txt").write_text(seeder.password + "\n")
    config = {
        "instances": [
            {"name": "demo", "url": demo.url, "password_file": str(work / "password.txt")},
            {
                "name": "seeder",
                "url": seeder.url,
                "password_file": str(work / "seeder-password.txt"),
                "actions": False,
            },
        ],
        "trackers": {
            "default": {"min_ratio": 1.0, "min_seed_time": "72h"},
            "127.0.0.1": {"min_ratio": 0.8, "points": {"model": "gazelle"}},
            "127.0.0.2": {"min_ratio": 0.5, "points": {"model": "unit3d"}},
        },
        "control": {
            "interval": "10s",
            "stalled": {"enabled": True, "stall_after": "30s", "grace": "0s", "cooldown": "30s"},
            "ratio_emergency": {"enabled": True, "min_downloaded": 0},
        },
        "completion": {
            "interval": "5s",
            "handlers": [{"name": "tag-done", "type": "add_tags", "tags": ["done"]}],
        },
    }
    path = work / "qbittorrent-monitor.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prometheus_config(work: Path, exporter: str) -> Path | None:
    """A prometheus.yml for the demo with the shipped rules, when they are at hand (a source checkout)."""
    rules = [ROOT / "prometheus" / "alerts.yml", ROOT / "prometheus" / "recording.yml"]
    if not all(p.exists() for p in rules):
        return None
    config = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [str(p) for p in rules],
        "scrape_configs": [{"job_name": "qbittorrent", "static_configs": [{"targets": [exporter]}]}],
    }
    path = work / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def listen_address(settings: Settings) -> str:
    host, port = settings.web_listen_address
    if (host, port) == ("0.0.0.0", DEFAULT_PORT):  # not chosen by the user: stay on loopback
        host = "127.0.0.1"
    return f"{host}:{port}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--demo.dir",
        dest="demo_dir",
        metavar="DIR",
        default="",
        help="Keep the demo's profiles, data and store in DIR (default: a temporary directory, "
        "removed at exit).",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    work = (
        Path(args.demo_dir).resolve()
        if args.demo_dir
        else Path(tempfile.mkdtemp(prefix="qbittorrent-monitor-demo-"))
    )
    work.mkdir(parents=True, exist_ok=True)
    seeder = QBittorrentProcess(profile=work / "seeder")
    demo = QBittorrentProcess(profile=work / "qbittorrent", password=secrets.token_hex(6))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    app = None
    try:
        try:
            seeder.start()
            demo.start()
        except RuntimeError as exc:
            print(f"qbittorrent-monitor demo: {exc}")
            return 1
        add_torrents(seeder, demo, work)
        address = listen_address(settings)
        try:
            demo_settings = build_settings(
                {
                    "web.listen-address": address,
                    "data.dir": str(work / "store"),
                    "actions.dry-run": "true",
                    "log.level": settings.log_level,
                },
                {},
                str(demo_config(work, demo, seeder)),
            )
        except ConfigError as exc:
            print(f"qbittorrent-monitor demo: {exc}")
            return 1
        app = App(demo_settings)
        try:
            app.start()
        except OSError as exc:
            print(
                f"qbittorrent-monitor demo: cannot listen on {address}: {exc.strerror}; "
                f"choose another port with --web.listen-address 127.0.0.1:PORT"
            )
            app = None
            return 1
        until(lambda: all(i.mirror.latest() is not None for i in app.instances.values()), timeout=10)
        print_urls(address, demo, work, keep=bool(args.demo_dir))
        stop.wait()
        return 0
    finally:
        if app is not None:
            app.stop()
        demo.stop()
        seeder.stop()
        if not args.demo_dir:
            shutil.rmtree(work, ignore_errors=True)
        print(
            "qbittorrent-monitor demo: stopped" + ("" if args.demo_dir else f", {work} removed"), flush=True
        )


def print_urls(address: str, demo: QBittorrentProcess, work: Path, keep: bool) -> None:
    base = f"http://{address}"
    prometheus = prometheus_config(work, address)
    lines = [
        "",
        "qbittorrent-monitor demo is running. Ctrl-C stops it" + ("." if keep else f" and removes {work}."),
        "",
        f'  metrics      {base}/metrics           (both qBittorrents: qbittorrent="demo" and "seeder")',
        f"  one of them  {base}/probe?target=demo",
        f"  report       {base}/api/report        (seeding allocation, points per tracker)",
        f"  completions  {base}/api/completions",
        f"  qBittorrent  {demo.url}    (user {demo.username}, password {demo.password})",
        "",
        "  torrents: one downloading from a local seeder (about two minutes), one seeding, one stalled on a",
        "  dead tracker, one paused, one errored, one waiting for metadata. Actions run in dry run: the",
        "  stalled download is 'reannounced' after 30 s, only in the log and in",
        '  qbittorrent_exporter_actions_total{dry_run="true"}.',
        "",
        f"  try: curl -s {base}/metrics | grep -E '^qbittorrent_(up|torrents|tracker_ratio|download_speed)'",
    ]
    if prometheus is not None:
        lines += [
            f"  with Prometheus and the shipped alerts: prometheus --config.file={prometheus} \\",
            f"      --storage.tsdb.path={work / 'prometheus-data'} --web.listen-address=127.0.0.1:9090",
            "      then open http://127.0.0.1:9090/alerts",
        ]
    print("\n".join(lines) + "\n", flush=True)
