"""Completion handlers against real things: a webhook receiver on loopback, a real command."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from exporter.actions.handlers import AddTags, Command, HandlerError, SetCategory, Webhook, expand
from exporter.actions.settings import HandlerSettings
from exporter.qbt.connection import QBittorrentError

TORRENT = {
    "hash": "ab" * 20,
    "name": "Some Name",
    "category": "tv",
    "tags": ["a", "b"],
    "size": 123,
    "content_path": "/data/Some Name",
    "save_path": "/data",
    "tracker": "t.example",
    "completion_on": 9,
}


class Receiver:
    """A webhook receiver: records each POST, answers `status` (after `delay` seconds if set)."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status, self.delay, self.posts = status, delay, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((self.path, dict(self.headers), body))
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?token=TOPSECRET"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_webhook_posts_json_with_delivery_id_and_hmac_signature(receiver):
    hook = Webhook(HandlerSettings(name="n", type="webhook", url=receiver.url, secret="k3y"))
    hook.run(TORRENT, "ab:9:n")
    [(path, headers, body)] = receiver.posts
    assert path == "/hook?token=TOPSECRET"
    payload = json.loads(body)
    assert payload["event"] == "torrent_completed" and payload["delivery"] == "ab:9:n"
    assert payload["torrent"]["name"] == "Some Name" and payload["torrent"]["category"] == "tv"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Qbittorrent-Monitor-Delivery"] == "ab:9:n"
    expected = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert headers["X-Qbittorrent-Monitor-Signature"] == f"sha256={expected}"


def test_webhook_without_secret_sends_no_signature(receiver):
    Webhook(HandlerSettings(name="n", type="webhook", url=receiver.url)).run(TORRENT, "d")
    assert "X-Qbittorrent-Monitor-Signature" not in receiver.posts[0][1]


@pytest.mark.parametrize("status", [500, 404, 301])
def test_webhook_non_2xx_is_an_error_that_does_not_leak_the_url(status):
    r = Receiver(status=status)
    try:
        with pytest.raises(HandlerError) as info:
            Webhook(HandlerSettings(name="n", type="webhook", url=r.url)).run(TORRENT, "d")
    finally:
        r.close()
    assert f"HTTP {status}" in str(info.value) and "TOPSECRET" not in str(info.value)


def test_webhook_timeout_and_connection_refused_are_errors():
    slow = Receiver(delay=1.0)
    try:
        with pytest.raises(HandlerError, match="did not answer within 0.3s"):
            Webhook(HandlerSettings(name="n", type="webhook", url=slow.url, timeout=0.3)).run(TORRENT, "d")
    finally:
        slow.close()
    from exporter.sandbox import free_port

    with pytest.raises(HandlerError, match="cannot reach the webhook") as info:
        Webhook(
            HandlerSettings(name="n", type="webhook", url=f"http://127.0.0.1:{free_port()}/x?t=TOPSECRET")
        ).run(TORRENT, "d")
    assert "TOPSECRET" not in str(info.value)


@pytest.mark.parametrize(
    "arg, expected",
    [
        ("%N", "Some Name"),
        ("%L/%G", "tv/a,b"),
        ("%F|%D", "/data/Some Name|/data"),
        ("%Z %T", "123 t.example"),
        ("%I=%K", "ab" * 20 + "=" + "ab" * 20),
        ("100%%", "100%"),
        ("%%N", "%N"),
        ("plain", "plain"),
    ],
)
def test_placeholders(arg, expected):
    assert expand(arg, TORRENT) == expected


def test_command_runs_without_a_shell_with_placeholders(tmp_path):
    out = tmp_path / "out.json"
    code = "import json, sys; json.dump(sys.argv[1:], open(sys.argv[1], 'w'))"
    Command(
        HandlerSettings(
            name="c", type="command", argv=(sys.executable, "-c", code, str(out), "%N", "$(id)", "%G")
        )
    ).run(TORRENT, "d")
    assert json.loads(out.read_text()) == [str(out), "Some Name", "$(id)", "a,b"]


@pytest.mark.parametrize(
    "argv, timeout, message",
    [
        ((sys.executable, "-c", "raise SystemExit(3)"), 10, "exited with status 3"),
        ((sys.executable, "-c", "import time; time.sleep(5)"), 0.3, "did not finish within 0.3s"),
        (("/nonexistent/program",), 10, "cannot run '/nonexistent/program'"),
    ],
    ids=["exit-status", "timeout", "missing"],
)
def test_command_failures(argv, timeout, message):
    with pytest.raises(HandlerError, match=message):
        Command(HandlerSettings(name="c", type="command", argv=argv, timeout=timeout)).run(TORRENT, "d")


class RecordingConnection:
    def __init__(self, fail=False):
        self.calls, self.fail = [], fail

    def set_category(self, hashes, category):
        if self.fail:
            raise QBittorrentError("http", "qBittorrent answered HTTP 409")
        self.calls.append(("set_category", hashes, category))

    def add_tags(self, hashes, tags):
        self.calls.append(("add_tags", hashes, tags))


def test_qbittorrent_handlers_write_through_the_connection():
    conn = RecordingConnection()
    SetCategory(HandlerSettings(name="c", type="set_category", category="done"), conn).run(TORRENT, "d")
    AddTags(HandlerSettings(name="t", type="add_tags", tags=("x", "y")), conn).run(TORRENT, "d")
    assert conn.calls == [("set_category", ["ab" * 20], "done"), ("add_tags", ["ab" * 20], ["x", "y"])]
    with pytest.raises(HandlerError, match="HTTP 409"):
        SetCategory(
            HandlerSettings(name="c", type="set_category", category="nope"), RecordingConnection(True)
        ).run(TORRENT, "d")
