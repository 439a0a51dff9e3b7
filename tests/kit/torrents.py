"""Real torrents on real qbittorrent-nox sandboxes (exporter/sandbox.py), for the integration and e2e
tests: the exporter's arguments for a sandbox, a seed, a real transfer, a download nobody seeds.

`client` is a logged-in qbittorrentapi client: QBittorrentProcess.client() or the `qbt_client` fixture.
"""

from __future__ import annotations

import time
from pathlib import Path

from exporter.sandbox import QBittorrentProcess, info_hash, make_payload, make_torrent
from tests.kit.processes import wait_for

SIZE = 2 * 2**20
DEAD = "http://127.0.0.1:1/announce"  # nothing listens on port 1: host 127.0.0.1, never answers


class Restarts:
    """Now and then a real qBittorrent leaves an announce "updating" for minutes (qBittorrent issues
    #15744, #16492; seen in a few runs of ten here, on 5.1 and 5.x, and a reannounce did not end it).
    A test waiting for an announce's outcome calls `nudge(hashes)` while it is not there: once `after`
    seconds have passed since `started` (then every `every` more), those torrents are stopped and started
    (a restart announces afresh), at most `times` times. `done` says when, and why, for the test's
    message: the exporter reports what qBittorrent says, and a failure must show what that was."""

    def __init__(self, client, started: float | None = None, after=15.0, every=20.0, times=2) -> None:
        self.client, self.after, self.every, self.times = client, after, every, times
        self.started = time.monotonic() if started is None else started
        self.done: list[tuple[int, object]] = []  # (seconds since started, what was stuck)

    def nudge(self, hashes: list[str], why: object = None) -> None:
        waited = time.monotonic() - self.started
        if hashes and len(self.done) < self.times and waited > self.after + self.every * len(self.done):
            self.done.append((round(waited), why))
            self.client.torrents_stop(torrent_hashes=hashes)
            self.client.torrents_start(torrent_hashes=hashes)


def exporter_args(
    q: QBittorrentProcess,
    password_file: Path,
    *extra: str,
    data_dir: Path | None = None,
    config: Path | None = None,
) -> list[str]:
    """The exporter's flags for sandbox `q`, syncing on every scrape (min-sync-age 0)."""
    args = [
        "--qbittorrent.url",
        q.url,
        "--qbittorrent.password-file",
        str(password_file),
        "--qbittorrent.min-sync-age",
        "0",
    ]
    if data_dir is not None:
        args += ["--data.dir", str(data_dir)]
    if config is not None:
        args += ["--config.file", str(config)]
    return [*args, *extra]


def torrent_of(client, h: str) -> dict | None:
    """The torrent `h` as the Web API lists it, or None."""
    found = client.torrents_info(torrent_hashes=h)
    return found[0] if found else None


def add_stalled(client, q, tmp_path: Path, name: str, tracker: str = DEAD, paused: bool = False) -> str:
    """A download nobody seeds: stalledDL (or stopped) on `q`."""
    payload = make_payload(tmp_path / "nowhere", name, 256 * 1024, seed=len(name))
    data = make_torrent(payload, tmp_path / f"{name}.torrent", [tracker])
    client.torrents_add(torrent_files=data, save_path=str(q.downloads), is_paused=paused)
    h = info_hash(data)
    want = ("stoppedDL", "pausedDL") if paused else ("stalledDL",)
    wait_for(lambda: (torrent_of(client, h) or {}).get("state") in want, timeout=15, what=f"{name} in {want}")
    return h


def seed_on(client, tmp_path: Path, name: str, tracker: str = DEAD) -> tuple[str, bytes]:
    """A torrent seeded by the instance of `client` from data in tmp_path/src."""
    payload = make_payload(tmp_path / "src" / name, name, SIZE, seed=hash(name) % 997)
    data = make_torrent(payload, tmp_path / f"{name}.torrent", [tracker])
    client.torrents_add(torrent_files=data, save_path=str(payload.parent))
    h = info_hash(data)
    wait_for(
        lambda: (torrent_of(client, h) or {}).get("state") in ("stalledUP", "uploading"),
        timeout=15,
        what=f"{name} seeding",
    )
    return h, data


def download(client, q, data: bytes, source_bt_port: int) -> str:
    """Add `data` to `q` and connect it to the seeder on `source_bt_port`; waits for completion."""
    h = info_hash(data)
    client.torrents_add(torrent_files=data, save_path=str(q.downloads))
    wait_for(
        lambda: (torrent_of(client, h) or {}).get("state") not in (None, "checkingResumeData"),
        timeout=15,
        what="the download to be added",
    )
    client.torrents_add_peers(peers=[f"127.0.0.1:{source_bt_port}"], torrent_hashes=h)
    wait_for(
        lambda: (t := torrent_of(client, h)) and t["amount_left"] == 0 and t["completion_on"] > 0,
        timeout=30,
        what="the transfer to complete",
    )
    return h
