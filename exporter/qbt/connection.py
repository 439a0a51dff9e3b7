"""The connection to one qBittorrent: the only module that uses qbittorrentapi's client.

`Connection` wraps one qbittorrentapi.Client: one login, reused (the library logs in again by itself
when a request comes back 403), logout on close, errors turned into `QBittorrentError` with a short,
bounded `reason` and a message that never carries a secret, and the writes the action jobs make,
spelled for the version at hand (4.x pause/resume, 5.x stop/start).

Every call has a total deadline (transport.py): `timeout` for a login or a write, `full_sync_timeout`
for sync/maindata with rid 0; qbittorrentapi's own second attempt falls inside the same deadline.

sync/maindata is asked for uncompressed when qBittorrent is on this machine or a local network
(transport.is_local). A full update of 50,000 torrents is 70 MB raw and 10 MB gzipped (level 6, as
qBittorrent does): gzip costs ~1.4 s to make and ~0.3 s to unzip, so it pays only below ~300 Mbit/s
(bench/notes.md). From any other address it comes gzipped, as before. A local address may still be a
slow link (Wi-Fi, 100 Mbit/s): an uncompressed body that transfers slower than RAW_MIN_RATE, or a full
sync that times out, makes this connection ask for gzip from then on.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import qbittorrentapi
import requests
import urllib3
from qbittorrentapi.definitions import APINames

from ..model import AppInfo, clean_text
from .maindata import FullStream, MaindataBody, PayloadError
from .trackers import Rows, check_torrents_with_trackers, check_tracker_rows
from .transport import (
    CHUNK,
    DeadlineAdapter,
    ResponseTooLarge,
    deadline,
    feed_body,
    is_local,
    post_direct,
    read_body,
)

log = logging.getLogger(__name__)
_UNCOMPRESSED = {"Accept-Encoding": "identity"}
WRITE_ANSWER_SIZE = 1 << 16  # a write's answer is "Ok." or empty
# Below this rate (bytes/s, ~320 Mbit/s) gzip's ~1.7 s per 60 MB saved is quicker than the raw bytes;
# bodies under RAW_JUDGED_SIZE are too small for their time to say anything about the link.
RAW_MIN_RATE = 40e6
RAW_JUDGED_SIZE = 4 * 2**20


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
    if isinstance(exc, ResponseTooLarge):
        return "response", f"{exc} (--qbittorrent.max-response-size)"
    for e in (exc, cause):
        if isinstance(e, requests.exceptions.SSLError):
            return "tls", "TLS handshake with qBittorrent failed (check --qbittorrent.ca-file)"
        if isinstance(e, requests.exceptions.Timeout) or _is_body_timeout(e):
            return "timeout", "qBittorrent did not answer within the request timeout"
        if isinstance(e, requests.exceptions.ConnectionError):
            return "connection", "cannot connect to qBittorrent"
    if isinstance(exc, (PayloadError, ValueError)):
        return "response", f"unexpected response from qBittorrent: {exc}"
    if isinstance(exc, qbittorrentapi.APIConnectionError):
        return "connection", "cannot connect to qBittorrent"
    return "response", f"unexpected error talking to qBittorrent: {type(exc).__name__}"


def _is_body_timeout(exc: BaseException | None) -> bool:
    """requests reports a timeout while streaming a body as a ConnectionError wrapping urllib3's."""
    return isinstance(exc, requests.exceptions.ConnectionError) and any(
        isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args
    )


@dataclass(frozen=True)
class ConnectionSettings:
    url: str
    username: str = "admin"
    password: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)
    ca_file: str = ""
    insecure_skip_verify: bool = False
    timeout: float = 4.0  # total per call (login, delta, write), qbittorrentapi's second attempt included
    full_sync_timeout: float = 30.0  # rid=0 returns every torrent: ~2 s to build at 100k, more when busy
    max_response_size: int = 512 * 2**20  # a full sync of 100,000 torrents is ~140 MB

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.api_key) if s)


class _Client(qbittorrentapi.Client):
    """qbittorrentapi asks app/webapiVersion before every versioned call (stop, addTags...);
    we read it once per login and answer from memory. Its requests go through a DeadlineAdapter."""

    known_web_api_version = ""
    host_url = ""  # the URL as configured (set by Connection): which proxy variables apply to it

    def app_web_api_version(self, **kwargs: Any) -> str:
        return self.known_web_api_version or super().app_web_api_version(**kwargs)

    @property
    def _session(self) -> Any:
        """qbittorrentapi's session (it makes a new one after a failed attempt), on our adapter.

        No silent retries inside requests (max_retries=0; qbittorrentapi already tries twice, inside
        the same deadline), so a read timeout stays a timeout.

        The environment is read once, when the session is made, not before every request: with
        `trust_env` requests walks os.environ for proxy variables and looks for ~/.netrc on each one
        (~1 ms of CPU per request, most of a small delta sync's cost). The proxy variables (HTTP(S)_PROXY,
        NO_PROXY) and REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE still apply as requests would apply them."""
        session = super()._session
        if not isinstance(session.adapters.get("http://"), DeadlineAdapter):
            adapter = DeadlineAdapter(max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            if session.trust_env:
                session.proxies.update(requests.utils.get_environ_proxies(self.host_url))
                bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                if bundle and session.verify is True:
                    session.verify = bundle  # a per-request verify (ca_file, insecure) still wins
                session.trust_env = False
        return session


class Connection:
    def __init__(self, settings: ConnectionSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        requests_args: dict[str, Any] = {"timeout": settings.timeout}
        # Per request, not per session: it wins over the session's verify, which carries
        # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment (see _Client._session).
        if settings.insecure_skip_verify:
            requests_args["verify"] = False
        elif settings.ca_file:
            requests_args["verify"] = settings.ca_file
        self._verify: bool | str | None = requests_args.get("verify")  # None: the session's (post_direct)
        self._client = _Client(
            host=settings.url,
            username=settings.username if not settings.api_key else None,
            password=settings.password if not settings.api_key else None,
            api_key=settings.api_key or None,
            REQUESTS_ARGS=requests_args,
            # Use the scheme the user gave: never probe and fall back from https to http.
            FORCE_SCHEME_FROM_HOST=True,
            VERIFY_WEBUI_CERTIFICATE=not settings.insecure_skip_verify,
            SIMPLE_RESPONSES=True,
            DISABLE_LOGGING_DEBUG_OUTPUT=True,
        )
        self._client.host_url = settings.url
        self._logged_in = False
        self.compress = not is_local(settings.url)  # sync/maindata gzipped (see the module docstring)
        self.app = AppInfo()
        # The scrape's sync and the action jobs share this client; one call at a time keeps the
        # requests session and the login state consistent (a write waits for a sync, at most a timeout).
        self._lock = threading.RLock()

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._call_within(self.settings.timeout, fn, *args, **kwargs)

    def _call_within(self, seconds: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) with every request it makes done within `seconds` (waiting for the lock
        not counted: a sync and a write take turns)."""
        try:
            with self._lock, deadline(seconds):
                return fn(*args, **kwargs)
        except Exception as exc:  # every failure leaves here as a QBittorrentError
            reason, message = classify(exc)
            if reason in ("auth", "banned"):
                self._logged_in = False
            raise QBittorrentError(reason, redact(message, self.settings.secrets)) from None

    def login(self) -> AppInfo:
        """Log in (once; again only after an auth failure) and read version information, all of it
        within one `timeout`."""
        with self._lock, deadline(self.settings.timeout):
            return self._login()

    def _login(self) -> AppInfo:
        self._client.known_web_api_version = ""  # read it afresh: qBittorrent may have been upgraded
        if not self._logged_in:
            if not self.settings.api_key:
                self._call(self._client.auth_log_in)
            # With an API key there is no session; the version call below proves the key works, and
            # unlike qbittorrentapi's own check it keeps a timeout a timeout rather than "login failed".
            self._logged_in = True
        webapi_version = clean_text(str(self._call(self._client.app_web_api_version) or ""))
        self._client.known_web_api_version = webapi_version
        build = self._call(self._client.app_build_info) or {}
        self.app = AppInfo(
            version=clean_text(str(self._call(self._client.app_version) or "")),
            webapi_version=webapi_version,
            libtorrent=clean_text(str(build.get("libtorrent", ""))) if isinstance(build, dict) else "",
        )
        return self.app

    def maindata(self, rid: int, stream: FullStream | None = None) -> MaindataBody:
        """The sync/maindata response for `rid`, as read: MaindataState decodes it from the bytes. With
        `stream`, a large full update is fed to it as it arrives (its torrents decoded on the way)."""
        if not self._logged_in:
            self.login()
        # The raw body, decoded by the mirror rather than by qbittorrentapi: read up to max_response_size,
        # then typed straight into the model's values (decode.py), with no str copy and no dicts.
        seconds = self.settings.timeout if rid else self.settings.full_sync_timeout
        raw = not self.compress
        try:
            return self._call_within(seconds, self._read_maindata, rid, stream)
        except QBittorrentError as exc:
            if raw and not rid and exc.reason == "timeout":
                self._ask_for_gzip("a full sync timed out uncompressed")
            raise

    def _ask_for_gzip(self, why: str) -> None:
        """Ask for sync/maindata gzipped from now on: the link is slower than gzip is."""
        self.compress = True
        log.info(
            "qBittorrent at %s: %s; asking for gzip from now on", urlsplit(self.settings.url).hostname, why
        )

    def _read_maindata(self, rid: int, stream: FullStream | None) -> MaindataBody:
        raw = not self.compress
        # Timed from the headers on: qBittorrent builds the whole body before it answers, so this is the
        # link (and not that build, nor waiting for the lock), which gzip would make shorter.
        started, size, answer = self._read_maindata_direct(rid, raw, stream)
        if answer is None:
            response = self._client._post_cast(
                _name=APINames.Sync,
                _method="maindata",
                data={"rid": rid},
                headers=_UNCOMPRESSED if raw else None,
                response_class=requests.Response,
                requests_args={"stream": True},
            )
            started = self._clock()
            # a new stream: the straight read may have fed one half-way (or found it not typed: None)
            stream = stream.restart() if stream is not None else None
            with closing(response):  # streamed after a 403 (qBittorrent restarted: a full update) too
                size, answer = self._take_maindata(response.iter_content(CHUNK), stream)
        elapsed = self._clock() - started
        if raw and size >= RAW_JUDGED_SIZE and size < RAW_MIN_RATE * elapsed:
            self._ask_for_gzip(f"{size / 2**20:.0f} MiB uncompressed took {elapsed:.1f} s")
        return answer

    def _read_maindata_direct(
        self, rid: int, raw: bool, stream: FullStream | None
    ) -> tuple[float, int, MaindataBody | None]:
        """(when the headers came, its size, the body) of sync/maindata sent straight (_post_direct),
        or (0, 0, None) to send it through qbittorrentapi: anything but a 200 (a 403 after qBittorrent
        dropped our session, which qbittorrentapi answers with a new login; an error it words for us)
        and any failure to connect, to read, or of `stream` to decode what it is fed, which it tries
        again within the same deadline, read whole. A body too large is final."""
        response = self._post_direct(APINames.Sync, "maindata", f"rid={rid:d}", _UNCOMPRESSED if raw else {})
        if response is None:
            return 0.0, 0, None
        started, answer = self._clock(), None
        try:
            size, answer = self._take_maindata(response.stream(CHUNK), stream)
            return started, size, answer
        except ResponseTooLarge:
            raise
        except Exception:  # cut off while reading, or a part not typed as qBittorrent sends it:
            return 0.0, 0, None  # the full path reads it again, whole, within the deadline
        finally:
            if answer is None:
                response.close()  # a body left unread (too large, cut off): not reused
            else:
                response.release_conn()

    def _take_maindata(self, chunks: Iterable[bytes], stream: FullStream | None) -> tuple[int, MaindataBody]:
        """(its size, the body) of a sync/maindata answer read from `chunks` up to max_response_size:
        whole, or fed to `stream` as it arrives (a large full update's torrents decoded on the way)."""
        limit = self.settings.max_response_size
        if stream is None:
            body = read_body(chunks, limit)
            return len(body), MaindataBody(body)
        return feed_body(chunks, limit, stream.feed), MaindataBody(stream.body(), stream)

    def _post_direct(self, api: APINames, method: str, form: str, headers: dict[str, str]) -> Any | None:
        """The answer of api/method sent straight through the session's pool (transport.post_direct:
        its deadline, TLS settings and cookie) when it is a 200, its body unread; else None: not logged
        in through qbittorrentapi yet, a failure to send, or any other status (that answer closed)."""
        client = self._client
        if client._http_session is None or client._url._base_url is None:
            return None
        try:
            session = client._session
            verify = session.verify if self._verify is None else self._verify
            response = post_direct(session, client._url.build(api, method), form, headers, verify)
        except Exception:
            return None
        if response is not None and response.status != 200:
            response.close()
            return None
        return response

    # -- tracker lists: the reads of the tracker scan (answers checked whole by trackers.py) -----------

    def torrent_trackers(self, h: str) -> Rows | None:
        """torrents/trackers?hash=: one torrent's rows (DHT/PeX/LSD included); None when qBittorrent no
        longer has the torrent (404: removed after the scan planned it)."""
        payload = self._read_json("trackers", {"hash": h}, missing_ok=True)
        return None if payload is None else check_rows(check_tracker_rows, payload)

    def torrents_with_trackers(
        self, hashes: Iterable[str] = (), offset: int = 0, limit: int = 0
    ) -> dict[str, Rows]:
        """torrents/info?includeTrackers=true (5.1+): {hash: rows} of the given hashes, or of the page
        sort=hash&offset=&limit= when no hash is given. Torrents qBittorrent no longer has are absent."""
        data: dict[str, Any] = {"includeTrackers": "true"}
        wanted = "|".join(hashes)
        if wanted:
            data["hashes"] = wanted
        else:
            data.update(sort="hash", offset=offset, limit=limit)
        return check_rows(check_torrents_with_trackers, self._read_json("info", data))

    def _read_json(self, method: str, data: dict[str, Any], missing_ok: bool = False) -> Any:
        """The JSON answer of torrents/<method> (None for a 404 when `missing_ok`), within `timeout` and
        read up to max_response_size like a sync."""
        if not self._logged_in:
            self.login()
        body = self._call(self._read_torrents, method, data, missing_ok)
        if body is None:
            return None
        try:
            return json.loads(body.decode("utf-8", errors="replace"))
        except ValueError:
            raise QBittorrentError(
                "response", f"unexpected response from qBittorrent: torrents/{method} is not JSON"
            ) from None

    def _read_torrents(self, method: str, data: dict[str, Any], missing_ok: bool) -> bytearray | None:
        body = self._read_torrents_direct(method, data)
        if body is not None:
            return body
        try:
            response = self._client._post_cast(
                _name=APINames.Torrents,
                _method=method,
                data=data,
                response_class=requests.Response,
                requests_args={"stream": True},
            )
        except qbittorrentapi.NotFound404Error:
            if missing_ok:
                return None
            raise
        with closing(response):
            return read_body(response.iter_content(CHUNK), self.settings.max_response_size)

    def _read_torrents_direct(self, method: str, data: dict[str, Any]) -> bytearray | None:
        """The body of torrents/<method> sent straight (_post_direct), as a sync is: requests' work per
        request was most of a tracker scan run's CPU. None to send it through qbittorrentapi: anything
        but a 200 (a 404 for a torrent gone, a 403 for a session qBittorrent dropped: it words or
        answers them) and any failure to connect or to read, which it tries again within the same
        deadline. A body too large is final."""
        response = self._post_direct(APINames.Torrents, method, urlencode(data), {})
        if response is None:
            return None
        body = None
        try:
            body = read_body(response.stream(CHUNK), self.settings.max_response_size)
            return body
        except ResponseTooLarge:
            raise
        except Exception:  # cut off while reading: read again the full way
            return None
        finally:
            if body is None:
                response.close()
            else:
                response.release_conn()

    def close(self) -> None:
        if self._logged_in and not self.settings.api_key:
            try:
                with deadline(self.settings.timeout):
                    self._client.auth_log_out()
            except Exception:  # shutting down: qBittorrent may already be gone
                pass
        self._logged_in = False

    # -- writes used by the action jobs; 4.x says pause/resume, 5.x stop/start ------------------

    def stop(self, hashes: list[str]) -> None:
        method = self._client.torrents_stop if self.app.uses_stop_start else self._client.torrents_pause
        self._write("stop" if self.app.uses_stop_start else "pause", {"hashes": hashes}, method)

    def start(self, hashes: list[str]) -> None:
        method = self._client.torrents_start if self.app.uses_stop_start else self._client.torrents_resume
        self._write("start" if self.app.uses_stop_start else "resume", {"hashes": hashes}, method)

    def reannounce(self, hashes: list[str]) -> None:
        self._write("reannounce", {"hashes": hashes}, self._client.torrents_reannounce)

    def recheck(self, hashes: list[str]) -> None:
        self._write("recheck", {"hashes": hashes}, self._client.torrents_recheck)

    def add_tags(self, hashes: list[str], tags: list[str]) -> None:
        self._write("addTags", {"hashes": hashes, "tags": tags}, self._client.torrents_add_tags)

    def remove_tags(self, hashes: list[str], tags: list[str]) -> None:
        self._write("removeTags", {"hashes": hashes, "tags": tags}, self._client.torrents_remove_tags)

    def set_category(self, hashes: list[str], category: str) -> None:
        set_category = self._client.torrents_set_category
        self._write("setCategory", {"hashes": hashes, "category": category}, set_category)

    def _write(self, method: str, args: dict[str, Any], fallback: Callable[..., Any]) -> None:
        """torrents/<method> with `args` (hashes joined by "|", tags by ","), sent straight
        (transport.post_direct: ~1 ms of CPU less than qbittorrentapi's way, which an action run at
        50,000 torrents pays a dozen times). Anything but a 200, and any failure before one, goes
        qbittorrentapi's way, `fallback(torrent_hashes=..., ...)`, within the same timeout (a 403 logs
        in again there). A request whose answer was lost may so reach qBittorrent twice: every write
        here does the same done twice (stop, start, reannounce, recheck, tags, category)."""
        joined = {k: ("|" if k == "hashes" else ",").join(v) for k, v in args.items() if isinstance(v, list)}
        form = {**args, **joined}
        kwargs = {("torrent_hashes" if k == "hashes" else k): v for k, v in args.items()}

        def call() -> None:
            if not self._post_straight(APINames.Torrents, method, form):
                fallback(**kwargs)

        self._call(call)

    def _post_straight(self, api: APINames, method: str, form: dict[str, str]) -> bool:
        """POST api/method straight (_post_direct); True if qBittorrent answered 200 (its body, "Ok." or
        nothing, read and dropped), False if the request must go qbittorrentapi's way."""
        response = self._post_direct(api, method, urlencode(form), {})
        if response is None:
            return False
        try:
            read_body(response.stream(CHUNK), WRITE_ANSWER_SIZE)
        except Exception:  # a 200 came: qBittorrent did it; only its short answer is lost
            response.close()  # an answer left unread: not reused
        else:
            response.release_conn()
        return True

    def preferences(self) -> dict[str, Any]:
        return self._call(self._client.app_preferences)

    def set_preferences(self, prefs: dict[str, Any]) -> None:
        self._call(self._client.app_set_preferences, prefs=prefs)


def check_rows(check: Callable[[Any], Any], payload: Any) -> Any:
    """check(payload), its PayloadError as the QBittorrentError every other bad answer is."""
    try:
        return check(payload)
    except PayloadError as exc:
        raise QBittorrentError("response", f"unexpected response from qBittorrent: {exc}") from None


def admin_client(url: str, username: str, password: str, timeout: float = 10.0) -> qbittorrentapi.Client:
    """A plain, logged-in qbittorrentapi client, for setting up throwaway qBittorrents (the demo, the tests);
    the exporter itself talks only through Connection."""
    client = qbittorrentapi.Client(
        host=url,
        username=username,
        password=password,
        SIMPLE_RESPONSES=True,
        REQUESTS_ARGS={"timeout": timeout},
        FORCE_SCHEME_FROM_HOST=True,
        DISABLE_LOGGING_DEBUG_OUTPUT=True,
    )
    client.auth_log_in()
    return client
