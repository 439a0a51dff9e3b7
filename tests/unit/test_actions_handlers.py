"""Completion handlers against real things: a webhook receiver on loopback, a real command."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys

import pytest

from exporter.actions.handlers import AddTags, Command, HandlerError, SetCategory, Webhook, expand
from exporter.actions.settings import HandlerSettings
from exporter.qbt.connection import QBittorrentError
from exporter.sandbox import free_port
from tests.kit.fakes import FakeConnection

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


HOOK = "/hook?token=TOPSECRET"


def test_webhook_posts_json_with_delivery_id_and_hmac_signature(receiver):
    hook = Webhook(HandlerSettings(name="n", type="webhook", url=receiver.url(HOOK), secret="k3y"))
    hook.run(TORRENT, "ab:9:n")
    [request] = receiver.requests
    path, headers, body = request.path, request.headers, request.body
    assert path == "/hook?token=TOPSECRET"
    payload = json.loads(body)
    assert payload["event"] == "torrent_completed" and payload["delivery"] == "ab:9:n"
    assert payload["torrent"]["name"] == "Some Name" and payload["torrent"]["category"] == "tv"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Qbittorrent-Monitor-Delivery"] == "ab:9:n"
    expected = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert headers["X-Qbittorrent-Monitor-Signature"] == f"sha256={expected}"


def test_webhook_without_secret_sends_no_signature(receiver):
    Webhook(HandlerSettings(name="n", type="webhook", url=receiver.url(HOOK))).run(TORRENT, "d")
    assert "X-Qbittorrent-Monitor-Signature" not in receiver.requests[0].headers


@pytest.mark.parametrize("status", [500, 404, 301])
def test_webhook_non_2xx_is_an_error_that_does_not_leak_the_url(receivers, status):
    r = receivers(status)
    with pytest.raises(HandlerError) as info:
        Webhook(HandlerSettings(name="n", type="webhook", url=r.url(HOOK))).run(TORRENT, "d")
    assert f"HTTP {status}" in str(info.value) and "TOPSECRET" not in str(info.value)


# id, the receiver's options (None: nothing listens), the handler's timeout, the error
TRANSPORT_FAILURES = [
    ("timeout", {"delay": 1.0}, 0.3, "did not answer within 0.3s"),
    ("connection-refused", None, 10, "cannot reach the webhook"),
    ("connection-dropped", {"failure": "close"}, 10, "webhook request failed"),
]


@pytest.mark.parametrize(
    "options, timeout, message", [c[1:] for c in TRANSPORT_FAILURES], ids=[c[0] for c in TRANSPORT_FAILURES]
)
def test_webhook_transport_failures_are_errors_that_do_not_leak_the_url(receivers, options, timeout, message):
    url = f"http://127.0.0.1:{free_port()}{HOOK}" if options is None else receivers(**options).url(HOOK)
    with pytest.raises(HandlerError, match=message) as info:
        Webhook(HandlerSettings(name="n", type="webhook", url=url, timeout=timeout)).run(TORRENT, "d")
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


def test_qbittorrent_handlers_write_through_the_connection():
    conn = FakeConnection()
    SetCategory(HandlerSettings(name="c", type="set_category", category="done"), conn).run(TORRENT, "d")
    AddTags(HandlerSettings(name="t", type="add_tags", tags=("x", "y")), conn).run(TORRENT, "d")
    assert conn.calls == [("set_category", ("ab" * 20,), "done"), ("add_tags", ("ab" * 20,), ("x", "y"))]
    refusing = FakeConnection()
    refusing.failing_writes["set_category"] = QBittorrentError("http", "qBittorrent answered HTTP 409")
    with pytest.raises(HandlerError, match="HTTP 409"):
        SetCategory(HandlerSettings(name="c", type="set_category", category="nope"), refusing).run(
            TORRENT, "d"
        )
