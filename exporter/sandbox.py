"""A throwaway qbittorrent-nox on 127.0.0.1, and .torrent files to give it: for the integration tests and
`qbittorrent-monitor demo`.

Everything lives in one profile directory; nothing leaves loopback (DHT, LSD, PeX, UPnP and country
lookups are off). See ../shared/RECIPES.md for where each setting comes from.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import qbittorrentapi

from .qbt.connection import admin_client

QBITTORRENT_NOX = "qbittorrent-nox"


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
    """Send `sig`, wait up to `timeout` seconds, then kill; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


def pbkdf2_password(password: str) -> str:
    """qBittorrent's WebUI\\Password_PBKDF2 value for `password`."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 100_000)
    return f'"@ByteArray({base64.b64encode(salt).decode()}:{base64.b64encode(digest).decode()})"'


@dataclass
class QBittorrentProcess:
    """One qbittorrent-nox with its own profile. `start()` waits until the WebUI answers."""

    profile: Path
    username: str = "admin"
    password: str = "adminadmin"
    webui_port: int = field(default_factory=free_port)
    bt_port: int = field(default_factory=free_port)
    max_auth_fail_count: int = 0  # 0 disables qBittorrent's IP ban; the backoff test sets it to 5
    queueing: bool = False
    extra_config: str = ""
    command: tuple[str, ...] = (QBITTORRENT_NOX,)  # argv prefix; tests/kit/versions.py gives other versions
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.webui_port}"

    @property
    def downloads(self) -> Path:
        return self.profile / "downloads"

    @property
    def log_file(self) -> Path:
        return self.profile / "qBittorrent" / "data" / "logs" / "qbittorrent.log"

    def write_config(self) -> None:
        conf_dir = self.profile / "qBittorrent" / "config"
        conf_dir.mkdir(parents=True, exist_ok=True)
        self.downloads.mkdir(parents=True, exist_ok=True)
        # BTProtocol=TCP: peers connect over TCP only. With uTP, qBittorrent 5.1 (libtorrent 2.0.11) loses
        # about one first connection in three on loopback and retries only after libtorrent's 15 s
        # peer_connect_timeout; TCP connects at once on every version.
        conf = f"""[LegalNotice]
Accepted=true

[BitTorrent]
Session\\Port={self.bt_port}
Session\\Interface=lo
Session\\InterfaceName=lo
Session\\InterfaceAddress=127.0.0.1
Session\\DHTEnabled=false
Session\\LSDEnabled=false
Session\\PeXEnabled=false
Session\\AnonymousModeEnabled=false
Session\\BTProtocol=TCP
Session\\MultiConnectionsPerIp=true
Session\\QueueingSystemEnabled={"true" if self.queueing else "false"}
Session\\DefaultSavePath={self.downloads}
Session\\TempPathEnabled=false
Session\\AddTorrentPaused=false
Session\\RefreshInterval=250

[Network]
PortForwardingEnabled=false

[Preferences]
Connection\\ResolvePeerCountries=false
General\\Locale=en
WebUI\\Address=127.0.0.1
WebUI\\Port={self.webui_port}
WebUI\\UseUPnP=false
WebUI\\Username={self.username}
WebUI\\Password_PBKDF2={pbkdf2_password(self.password)}
WebUI\\LocalHostAuth=true
WebUI\\MaxAuthenticationFailCount={self.max_auth_fail_count}
WebUI\\CSRFProtection=false
WebUI\\HostHeaderValidation=false
{self.extra_config}
"""
        (conf_dir / "qBittorrent.conf").write_text(conf)

    def start(self, timeout: float = 15.0) -> QBittorrentProcess:
        if shutil.which(self.command[0]) is None:
            raise RuntimeError(
                f"{self.command[0]} is not installed: apt-get install qbittorrent-nox (Debian/Ubuntu)"
            )
        if not (self.profile / "qBittorrent" / "config" / "qBittorrent.conf").exists():
            self.write_config()
        self.proc = subprocess.Popen(
            [*self.command, f"--profile={self.profile}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"qbittorrent-nox exited with {self.proc.returncode}; see {self.log_file}")
            try:
                with urllib.request.urlopen(self.url + "/api/v2/app/version", timeout=1):
                    pass
                return self  # pragma: no cover - LocalHostAuth=true means this needs a login
            except urllib.error.HTTPError:
                return self  # 403 Forbidden: the WebUI is up and wants a login
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"qbittorrent-nox WebUI did not answer on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def client(self) -> qbittorrentapi.Client:
        """A logged-in Web API client, for setting the sandbox up (the exporter has its own Connection)."""
        return admin_client(self.url, self.username, self.password)

    def __enter__(self) -> QBittorrentProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_payload(directory: Path, name: str, size: int, seed: int = 0) -> Path:
    """Write `size` bytes of deterministic pseudo-random data to directory/name."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    rng = random.Random(seed or name)
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            chunk = min(remaining, 1 << 20)
            f.write(rng.randbytes(chunk))
            remaining -= chunk
    return path


# -- .torrent files, without a dependency: bencode is four cases -----------------------------------


def bencode(value: Any) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v) for k, v in sorted(value.items())) + b"e"


def make_torrent(
    payload: Path,
    out: Path | None = None,
    trackers: Sequence[str] = (),
    private: bool = False,
    piece_length: int = 256 * 1024,
) -> bytes:
    """A single-file .torrent of `payload` announcing to `trackers` (each its own tier); its bytes, also
    written to `out` when given."""
    pieces = bytearray()
    with open(payload, "rb") as f:
        while chunk := f.read(piece_length):
            pieces += hashlib.sha1(chunk).digest()
    info: dict[str, Any] = {
        "name": payload.name,
        "length": payload.stat().st_size,
        "piece length": piece_length,
        "pieces": bytes(pieces),
    }
    if private:
        info["private"] = 1
    torrent: dict[str, Any] = {"info": info, "created by": "qbittorrent-monitor"}
    if trackers:
        torrent["announce"] = trackers[0]
        torrent["announce-list"] = [[t] for t in trackers]
    data = bencode(torrent)
    if out is not None:
        out.write_bytes(data)
    return data


def info_hash(torrent: bytes) -> str:
    """The (v1) info hash of a .torrent made by make_torrent: `info` is its last key."""
    start = torrent.index(b"4:info") + len(b"4:info")
    return hashlib.sha1(torrent[start:-1]).hexdigest()
