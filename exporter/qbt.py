"""Everything that talks to qBittorrent. The only module that uses qbittorrentapi's client.

`Connection` wraps one qbittorrentapi.Client: one login, reused (the library logs in again by itself
when a request comes back 403), logout on close, errors turned into `QBittorrentError` with a short,
bounded `reason` and a message that never carries a secret.

`Mirror` keeps one instance's sync/maindata in memory with `rid` deltas and hands out Snapshots.
Scrapes and action jobs share it: `refresh()` makes at most one request, and none at all while the
last snapshot is younger than `min_age` or while a failure's backoff is running.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import qbittorrentapi
import requests
from qbittorrentapi.definitions import APINames

from .maindata import MaindataState, PayloadError, parse_maindata
from .model import AppInfo, Snapshot

log = logging.getLogger(__name__)

# Bounded values of the `reason` label of qbittorrent_exporter_sync_errors_total.
SYNC_ERROR_REASONS = ("auth", "banned", "connection", "timeout", "tls", "http", "response")


class QBittorrentError(Exception):
    """A failed call to qBittorrent. `reason` is one of SYNC_ERROR_REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


def classify(exc: BaseException) -> tuple[str, str]:
    """(reason, message) for an exception raised by qbittorrentapi or requests."""
    cause = exc.__context__ or exc.__cause__
    if isinstance(exc, qbittorrentapi.LoginFailed):
        return "auth", "login failed: qBittorrent rejected the username/password or API key"
    if isinstance(exc, (qbittorrentapi.Forbidden403Error, qbittorrentapi.Unauthorized401Error)):
        text = str(exc)
        if "banned" in text.lower():
            return "banned", "qBittorrent has banned this IP after too many failed logins"
        return "auth", f"qBittorrent refused the request (HTTP {getattr(exc.response, 'status_code', '4xx')})"
    if isinstance(exc, qbittorrentapi.HTTPError):
        return "http", f"qBittorrent answered HTTP {getattr(exc.response, 'status_code', '?')}"
    for e in (exc, cause):
        if isinstance(e, requests.exceptions.SSLError):
            return "tls", "TLS handshake with qBittorrent failed (check --qbittorrent.ca-file)"
        if isinstance(e, requests.exceptions.Timeout):
            return "timeout", "qBittorrent did not answer within the request timeout"
        if isinstance(e, requests.exceptions.ConnectionError):
            return "connection", "cannot connect to qBittorrent"
    if isinstance(exc, (PayloadError, ValueError)):
        return "response", f"unexpected response from qBittorrent: {exc}"
    if isinstance(exc, qbittorrentapi.APIConnectionError):
        return "connection", "cannot connect to qBittorrent"
    return "response", f"unexpected error talking to qBittorrent: {type(exc).__name__}"


@dataclass(frozen=True)
class ConnectionSettings:
    url: str
    username: str = "admin"
    password: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)
    ca_file: str = ""
    insecure_skip_verify: bool = False
    timeout: float = 4.0  # per attempt; qbittorrentapi tries twice, so worst case stays under 10 s
    full_sync_timeout: float = 30.0  # rid=0 returns every torrent: ~2 s to build at 100k, more when busy

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.api_key) if s)


class _Client(qbittorrentapi.Client):
    """qbittorrentapi asks app/webapiVersion before every versioned call (stop, addTags...);
    we read it once per login and answer from memory."""

    known_web_api_version = ""

    def app_web_api_version(self, **kwargs: Any) -> str:
        return self.known_web_api_version or super().app_web_api_version(**kwargs)


class Connection:
    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        requests_args: dict[str, Any] = {"timeout": settings.timeout}
        # Per request, not per session: requests lets REQUESTS_CA_BUNDLE override a session's verify.
        if settings.insecure_skip_verify:
            requests_args["verify"] = False
        elif settings.ca_file:
            requests_args["verify"] = settings.ca_file
        self._client = _Client(
            host=settings.url,
            username=settings.username if not settings.api_key else None,
            password=settings.password if not settings.api_key else None,
            api_key=settings.api_key or None,
            REQUESTS_ARGS=requests_args,
            # No silent retries inside requests (qbittorrentapi already tries twice), so a hung
            # qBittorrent costs at most 2 x timeout and a read timeout stays a timeout.
            HTTPADAPTER_ARGS={"max_retries": 0},
            # Use the scheme the user gave: never probe and fall back from https to http.
            FORCE_SCHEME_FROM_HOST=True,
            VERIFY_WEBUI_CERTIFICATE=not settings.insecure_skip_verify,
            SIMPLE_RESPONSES=True,
            DISABLE_LOGGING_DEBUG_OUTPUT=True,
        )
        self._logged_in = False
        self.app = AppInfo()
        # The scrape's sync and the action jobs share this client; one call at a time keeps the
        # requests session and the login state consistent (a write waits for a sync, at most a timeout).
        self._lock = threading.RLock()

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            with self._lock:
                return fn(*args, **kwargs)
        except Exception as exc:  # every failure leaves here as a QBittorrentError
            reason, message = classify(exc)
            if reason in ("auth", "banned"):
                self._logged_in = False
            raise QBittorrentError(reason, redact(message, self.settings.secrets)) from None

    def login(self) -> AppInfo:
        """Log in (once; again only after an auth failure) and read version information."""
        with self._lock:
            return self._login()

    def _login(self) -> AppInfo:
        self._client.known_web_api_version = ""  # read it afresh: qBittorrent may have been upgraded
        if not self._logged_in:
            if not self.settings.api_key:
                self._call(self._client.auth_log_in)
            # With an API key there is no session; the version call below proves the key works, and
            # unlike qbittorrentapi's own check it keeps a timeout a timeout rather than "login failed".
            self._logged_in = True
        webapi_version = str(self._call(self._client.app_web_api_version) or "")
        self._client.known_web_api_version = webapi_version
        build = self._call(self._client.app_build_info) or {}
        self.app = AppInfo(
            version=str(self._call(self._client.app_version) or ""),
            webapi_version=webapi_version,
            libtorrent=str(build.get("libtorrent", "")) if isinstance(build, dict) else "",
        )
        return self.app

    def maindata(self, rid: int) -> dict[str, Any]:
        if not self._logged_in:
            self.login()
        # The raw body, parsed here rather than by qbittorrentapi: the bytes are freed before parsing
        # and torrent keys the model never reads are dropped as they are parsed (peak memory of a
        # 50,000-torrent full sync: 328 -> 238 MiB, measured with bench/ab.py).
        text = self._call(
            self._client._post_cast, _name=APINames.Sync, _method="maindata", data={"rid": rid},
            response_class=bytes,
            requests_args={"timeout": self.settings.timeout if rid else self.settings.full_sync_timeout},
        ).decode("utf-8", errors="replace")
        try:
            return parse_maindata(text)
        except ValueError as exc:
            raise QBittorrentError("response", f"unexpected response from qBittorrent: {exc}") from None

    def close(self) -> None:
        if self._logged_in and not self.settings.api_key:
            try:
                self._client.auth_log_out()
            except Exception:  # shutting down: qBittorrent may already be gone
                pass
        self._logged_in = False

    # -- writes used by the action jobs; 4.x says pause/resume, 5.x stop/start ------------------

    def stop(self, hashes: list[str]) -> None:
        method = self._client.torrents_stop if self.app.uses_stop_start else self._client.torrents_pause
        self._call(method, torrent_hashes=hashes)

    def start(self, hashes: list[str]) -> None:
        method = self._client.torrents_start if self.app.uses_stop_start else self._client.torrents_resume
        self._call(method, torrent_hashes=hashes)

    def reannounce(self, hashes: list[str]) -> None:
        self._call(self._client.torrents_reannounce, torrent_hashes=hashes)

    def recheck(self, hashes: list[str]) -> None:
        self._call(self._client.torrents_recheck, torrent_hashes=hashes)

    def add_tags(self, hashes: list[str], tags: list[str]) -> None:
        self._call(self._client.torrents_add_tags, tags=tags, torrent_hashes=hashes)

    def remove_tags(self, hashes: list[str], tags: list[str]) -> None:
        self._call(self._client.torrents_remove_tags, tags=tags, torrent_hashes=hashes)

    def set_category(self, hashes: list[str], category: str) -> None:
        self._call(self._client.torrents_set_category, category=category, torrent_hashes=hashes)

    def preferences(self) -> dict[str, Any]:
        return self._call(self._client.app_preferences)

    def set_preferences(self, prefs: dict[str, Any]) -> None:
        self._call(self._client.app_set_preferences, prefs=prefs)


@dataclass
class SyncStats:
    """What the exporter's own metrics report about syncing. Read under the mirror's lock."""

    up: bool = False
    last_duration: float = 0.0
    last_success: float = 0.0
    syncs: int = 0
    full_syncs: int = 0
    errors: dict[str, int] = field(default_factory=lambda: {r: 0 for r in SYNC_ERROR_REASONS})
    last_error: str = ""


class Backoff:
    """Exponential backoff: `base`, 2*base, ... up to `cap` seconds."""

    def __init__(self, base: float, cap: float) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def next_delay(self) -> float:
        self.failures += 1
        return min(self.cap, self.base * 2 ** (self.failures - 1))

    def reset(self) -> None:
        self.failures = 0


class Mirror:
    """One qBittorrent instance, mirrored. Thread-safe; Snapshots it returns are immutable."""

    def __init__(
        self,
        connection: Connection,
        name: str = "",
        min_age: float = 1.0,
        full_resync_interval: float = 3600.0,
        login_backoff: Backoff | None = None,
        connect_backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connection = connection
        self.name = name or connection.settings.url
        self.min_age = min_age
        self.full_resync_interval = full_resync_interval
        self.login_backoff = login_backoff or Backoff(15.0, 900.0)
        self.connect_backoff = connect_backoff or Backoff(1.0, 30.0)
        self._clock, self._monotonic = clock, monotonic
        self._lock = threading.Lock()
        self._state = MaindataState(self.name)
        self._snapshot: Snapshot | None = None
        self._last_attempt = float("-inf")
        self._last_full = float("-inf")
        self._retry_at = float("-inf")
        self.stats = SyncStats()

    def refresh(self) -> Snapshot | None:
        """The current Snapshot, syncing first if it is older than `min_age`.

        None while qBittorrent is unreachable or refuses us: callers must then show nothing of
        qBittorrent's state rather than stale values.
        """
        with self._lock:
            now = self._monotonic()
            if self.stats.up and now - self._last_attempt < self.min_age:
                return self._snapshot
            if now < self._retry_at:
                return None
            self._sync(now)
            return self._snapshot if self.stats.up else None

    def latest(self) -> Snapshot | None:
        """The last good Snapshot without syncing (None while down)."""
        with self._lock:
            return self._snapshot if self.stats.up else None

    def _sync(self, now: float) -> None:
        self._last_attempt = now
        started = time.perf_counter()
        full = self._state.rid == 0 or now - self._last_full >= self.full_resync_interval
        try:
            if full:
                self._state.set_app(self.connection.login())
            payload = self.connection.maindata(0 if full else self._state.rid)
            try:
                self._state.apply(payload)
            except PayloadError as exc:
                raise QBittorrentError("response", f"unexpected response from qBittorrent: {exc}") from None
        except QBittorrentError as exc:
            self._fail(exc, now)
        else:
            if full:
                self._last_full = now
                self.stats.full_syncs += 1
            self._snapshot = self._state.snapshot(self._clock())
            if not self.stats.up and self.stats.syncs:
                log.info("qBittorrent at %s is reachable again", self.name)
            self.stats.up = True
            self.stats.syncs += 1
            self.stats.last_success = self._clock()
            self.stats.last_error = ""
            self._retry_at = float("-inf")
            self.login_backoff.reset()
            self.connect_backoff.reset()
        finally:
            self.stats.last_duration = time.perf_counter() - started

    def _fail(self, exc: QBittorrentError, now: float) -> None:
        self._state.rid = 0  # resync in full next time: our rid may no longer mean anything
        self.stats.errors[exc.reason] = self.stats.errors.get(exc.reason, 0) + 1
        backoff = self.login_backoff if exc.reason in ("auth", "banned") else self.connect_backoff
        delay = backoff.next_delay()
        self._retry_at = now + delay
        message = f"sync with qBittorrent at {self.name} failed ({exc.reason}): {exc}; next attempt in {delay:.0f}s"
        if self.stats.up or str(exc) != self.stats.last_error:
            log.warning(message)
        else:
            log.debug(message)
        self.stats.up = False
        self.stats.last_error = str(exc)

    def close(self) -> None:
        with self._lock:
            self.connection.close()
