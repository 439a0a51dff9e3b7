"""Completion handlers: what runs once per completed torrent.

Each handler has `run(torrent, delivery)`; `torrent` is the completion record (see
managers/completion.record), `delivery` a stable id of this (completion, handler) pair that a
webhook receiver can use to drop a repeated delivery after a crash. A failure raises HandlerError
with a short message that holds no secret (no URL, no command output).

- webhook: POST JSON {"event": "torrent_completed", "delivery": ..., "torrent": {...}} with
  X-Qbittorrent-Monitor-Delivery and, when a secret is set,
  X-Qbittorrent-Monitor-Signature: sha256=<hex HMAC-SHA256 of the body>. Any 2xx is success.
- command: an argv list run without a shell; qBittorrent's placeholders %N name, %L category,
  %G tags, %F content path, %D save path, %Z size, %T tracker host, %I/%K info hash, %% a '%'.
  Exit status 0 is success.
- set_category / add_tags: written to qBittorrent (the category must exist there).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from ..qbt.connection import Connection, QBittorrentError
from ..version import __version__
from .settings import PLACEHOLDERS, HandlerSettings


class HandlerError(Exception):
    pass


class Handler(Protocol):
    settings: HandlerSettings

    def run(self, torrent: Mapping[str, Any], delivery: str) -> None: ...


class Webhook:
    def __init__(self, settings: HandlerSettings) -> None:
        self.settings = settings

    def run(self, torrent: Mapping[str, Any], delivery: str) -> None:
        body = json.dumps(
            {"event": "torrent_completed", "delivery": delivery, "torrent": dict(torrent)}, sort_keys=True
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"qbittorrent-monitor/{__version__}",
            "X-Qbittorrent-Monitor-Event": "torrent_completed",
            "X-Qbittorrent-Monitor-Delivery": delivery,
        }
        if self.settings.secret:
            digest = hmac.new(self.settings.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Qbittorrent-Monitor-Signature"] = f"sha256={digest}"
        request = urllib.request.Request(self.settings.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            raise HandlerError(f"webhook answered HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise HandlerError(f"webhook did not answer within {self.settings.timeout:g}s") from None
            raise HandlerError(
                f"cannot reach the webhook: {getattr(reason, 'strerror', None) or type(reason).__name__}"
            ) from None
        except TimeoutError:
            raise HandlerError(f"webhook did not answer within {self.settings.timeout:g}s") from None
        except OSError as exc:
            raise HandlerError(f"webhook request failed: {exc.strerror or type(exc).__name__}") from None


def expand(arg: str, torrent: Mapping[str, Any]) -> str:
    """One argv element with qBittorrent-style placeholders filled in from the completion record."""

    def fill(m: re.Match[str]) -> str:
        letter = m.group(1)
        if letter == "%":
            return "%"
        value = torrent.get(PLACEHOLDERS[letter], "")
        return ",".join(value) if isinstance(value, list) else str(value)

    return re.sub(r"%([%" + "".join(PLACEHOLDERS) + "])", fill, arg)


class Command:
    def __init__(self, settings: HandlerSettings) -> None:
        self.settings = settings

    def run(self, torrent: Mapping[str, Any], delivery: str) -> None:
        argv = [expand(a, torrent) for a in self.settings.argv]
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=self.settings.timeout,
                shell=False,
                env=None,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise HandlerError(f"command did not finish within {self.settings.timeout:g}s (killed)") from None
        except OSError as exc:
            raise HandlerError(f"cannot run {argv[0]!r}: {exc.strerror or type(exc).__name__}") from None
        if done.returncode != 0:
            raise HandlerError(f"command exited with status {done.returncode}")


class SetCategory:
    def __init__(self, settings: HandlerSettings, connection: Connection) -> None:
        self.settings, self.connection = settings, connection

    def run(self, torrent: Mapping[str, Any], delivery: str) -> None:
        try:
            self.connection.set_category([torrent["hash"]], self.settings.category)
        except QBittorrentError as exc:
            raise HandlerError(f"set category failed ({exc.reason}): {exc}") from None


class AddTags:
    def __init__(self, settings: HandlerSettings, connection: Connection) -> None:
        self.settings, self.connection = settings, connection

    def run(self, torrent: Mapping[str, Any], delivery: str) -> None:
        try:
            self.connection.add_tags([torrent["hash"]], list(self.settings.tags))
        except QBittorrentError as exc:
            raise HandlerError(f"add tags failed ({exc.reason}): {exc}") from None


def build(settings: HandlerSettings, connection: Connection) -> Handler:
    if settings.type == "webhook":
        return Webhook(settings)
    if settings.type == "command":
        return Command(settings)
    if settings.type == "set_category":
        return SetCategory(settings, connection)
    return AddTags(settings, connection)
