"""The test suite's own structure, and the test kit (tests/kit/) doing what its users rely on.

Structure: a test module imports no other test module (shared code lives in tests.kit, fixtures in a
conftest), and no test file writes its own HTTP server (tests/kit/receiver.py has the one server base).
Each rule is a function of source text, checked here on known-bad snippets first, then on every file.
"""

from __future__ import annotations

import ast
import http.client
import socket
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from exporter.qbt.connection import QBittorrentError
from tests.kit.builders import torrent
from tests.kit.fakes import FakeConnection
from tests.kit.processes import Service, wait_for
from tests.kit.receiver import Receiver

TESTS = Path(__file__).resolve().parents[1]
KIT = TESTS / "kit"

SERVER_MODULES = frozenset({"http.server", "socketserver"})
SERVER_BASES = frozenset(
    {
        "BaseHTTPRequestHandler",
        "SimpleHTTPRequestHandler",
        "BaseRequestHandler",
        "StreamRequestHandler",
        "HTTPServer",
        "ThreadingHTTPServer",
        "TCPServer",
        "ThreadingTCPServer",
    }
)


def module_name(path: Path) -> str:
    parts = path.relative_to(TESTS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, name: str, is_package: bool = False) -> set[str]:
    """Every module `source` (the module `name`) imports, `from m import x` counting as m and m.x."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def importable(module: str) -> bool:
    """What a test module may import from tests/: the kit, and conftest (fixtures) - never a test module."""
    if not (module == "tests" or module.startswith("tests.")):
        return True
    parts = module.split(".")
    return module == "tests" or parts[1] == "kit" or "conftest" in parts


def forbidden_imports(source: str, name: str, is_package: bool = False) -> list[str]:
    return sorted(m for m in imported(source, name, is_package) if not importable(m))


def server_code(source: str) -> list[str]:
    """Imports of http.server/socketserver and classes derived from their servers and handlers."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name in SERVER_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module in SERVER_MODULES:
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.ClassDef):
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
            found += [f"class {node.name}({b})" for b in sorted(bases & SERVER_BASES)]
    return found


def python_files() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


# -- the rules, on snippets --------------------------------------------------------------------------

IMPORT_CASES = [
    (
        "absolute",
        "from tests.unit.test_ratio import seed",
        ["tests.unit.test_ratio", "tests.unit.test_ratio.seed"],
    ),
    (
        "package-form",
        "from tests.integration import test_actions_real",
        ["tests.integration", "tests.integration.test_actions_real"],
    ),
    ("plain-import", "import tests.e2e.stack", ["tests.e2e.stack"]),
    ("relative", "from .test_ratio import seed", ["tests.unit.test_ratio", "tests.unit.test_ratio.seed"]),
    ("old-helpers", "from tests.helpers import wait_for", ["tests.helpers", "tests.helpers.wait_for"]),
    ("kit", "from tests.kit.builders import snapshot\nfrom tests.kit import versions", []),
    ("conftest", "from tests.conftest import qbt_factory\nfrom tests.e2e.conftest import receiver", []),
    ("not-tests", "import json\nfrom exporter.model import Torrent", []),
]


@pytest.mark.parametrize("source, bad", [c[1:] for c in IMPORT_CASES], ids=[c[0] for c in IMPORT_CASES])
def test_the_import_rule_finds_test_modules_imported(source, bad):
    assert forbidden_imports(source, "tests.unit.test_example") == bad


SERVER_CASES = [
    (
        "handler-subclass",
        "import http.server\nclass H(http.server.BaseHTTPRequestHandler): pass",
        ["import http.server", "class H(BaseHTTPRequestHandler)"],
    ),
    ("from-import", "from http.server import ThreadingHTTPServer", ["from http.server import ..."]),
    ("socketserver", "import socketserver", ["import socketserver"]),
    ("server-subclass", "class S(ThreadingHTTPServer): pass", ["class S(ThreadingHTTPServer)"]),
    ("kit-receiver", "from tests.kit.receiver import Receiver\nclass R(Receiver): pass", []),
    ("http-client", "import http.client\nimport urllib.request", []),
]


@pytest.mark.parametrize("source, found", [c[1:] for c in SERVER_CASES], ids=[c[0] for c in SERVER_CASES])
def test_the_server_rule_finds_hand_written_servers(source, found):
    assert server_code(source) == found


# -- the rules, on the suite -------------------------------------------------------------------------


def test_no_test_module_imports_another_test_module():
    bad = {
        str(p.relative_to(TESTS)): found
        for p in python_files()
        if (found := forbidden_imports(p.read_text(), module_name(p), p.name == "__init__.py"))
    }
    assert bad == {}, "move what is shared into tests/kit/ (fixtures into a conftest.py)"


def test_no_test_file_writes_its_own_http_server():
    bad = {
        str(p.relative_to(TESTS)): found
        for p in python_files()
        if KIT not in p.parents and (found := server_code(p.read_text()))
    }
    assert bad == {}, "use tests/kit/receiver.py (Receiver, or a LoopbackServer subclass in tests/kit/)"


# -- the kit: Receiver ---------------------------------------------------------------------------------


def post(url: str, body: bytes = b"{}", timeout: float = 5.0) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_receiver_records_requests_and_answers_the_status_for_the_path(receivers):
    r = receivers(202, statuses={"/fail": 500})
    assert post(r.url("/hook?token=x"), b'{"a": 1}') == 202
    assert post(r.url("/fail?x=1")) == 500
    r.status = 404  # changed while running
    assert post(r.url("/other")) == 404
    first = r.requests[0]
    assert (first.method, first.path, first.json()) == ("POST", "/hook?token=x", {"a": 1})
    assert first.headers["content-type"] == "application/json"  # case-insensitive
    assert [q.path for q in r.requests] == ["/hook?token=x", "/fail?x=1", "/other"]


def test_receiver_answers_its_body(receivers):
    r = receivers(200, body=b"d8:intervali60ee")
    with urllib.request.urlopen(r.url("/announce?info_hash=x"), timeout=5) as response:
        assert (response.status, response.read()) == (200, b"d8:intervali60ee")


def test_receiver_gate_holds_each_request_until_it_is_set(receiver):
    receiver.gate.clear()
    answers: list[int] = []
    sender = threading.Thread(target=lambda: answers.append(post(receiver.url("/held"))), daemon=True)
    sender.start()
    wait_for(lambda: receiver.requests, timeout=5, what="the held request to arrive")
    assert sender.is_alive() and answers == []  # recorded, not answered
    receiver.gate.set()
    sender.join(timeout=5)
    assert answers == [200]


def test_receiver_delay_makes_a_client_time_out(receivers):
    slow = receivers(delay=2.0)
    with pytest.raises(OSError):  # URLError(timeout) or TimeoutError, depending on where it struck
        post(slow.url("/slow"), timeout=0.2)
    assert len(slow.requests) == 1


def test_receiver_failure_close_drops_the_connection_without_an_answer(receivers):
    dropping = receivers(failure="close")
    conn = http.client.HTTPConnection("127.0.0.1", dropping.port, timeout=5)
    conn.request("POST", "/x", body=b"{}")
    with pytest.raises(http.client.RemoteDisconnected):
        conn.getresponse()
    conn.close()
    assert [q.path for q in dropping.requests] == ["/x"]


def test_receiver_rejects_an_unknown_failure_mode():
    with pytest.raises(ValueError, match="failure must be one of"):
        Receiver(failure="explode")


def test_receiver_lifetime_is_bounded_and_close_releases_held_requests():
    with Receiver(lifetime=0.3) as short:
        wait_for(short.closed.is_set, timeout=5, what="the receiver to close itself")
        with pytest.raises(OSError):
            post(short.url("/late"), timeout=2)
    held = Receiver()
    held.gate.clear()
    sender = threading.Thread(target=lambda: post(held.url("/held")), daemon=True)
    sender.start()
    wait_for(lambda: held.requests, timeout=5, what="the held request to arrive")
    held.close()  # must not wait for the 30 s hold
    sender.join(timeout=5)
    assert not sender.is_alive()


# -- the kit: FakeConnection and builders ---------------------------------------------------------------


def test_fake_connection_replays_its_script_and_records_what_succeeded():
    denied = QBittorrentError("auth", "login failed")
    conn = FakeConnection([denied, {"rid": 1}])
    with pytest.raises(QBittorrentError):
        conn.login()
    assert conn.login().version == "v5.0.2" and conn.maindata(0) == {"rid": 1}
    with pytest.raises(AssertionError, match="no scripted answer is left"):
        conn.maindata(1)
    conn.failing_hashes = {"bad"}
    conn.failing_writes["set_category"] = QBittorrentError("http", "HTTP 409")
    conn.stop(["ok"])
    with pytest.raises(QBittorrentError, match="HTTP 500"):
        conn.start(["ok", "bad"])
    with pytest.raises(QBittorrentError, match="HTTP 409"):
        conn.set_category(["ok"], "c")
    conn.add_tags(["ok"], ["x"])
    assert conn.calls == [
        ("login",),
        ("login",),
        ("maindata", 0),
        ("maindata", 1),
        ("stop", ("ok",)),
        ("add_tags", ("ok",), ("x",)),
    ]


def test_torrent_builder_converts_json_like_the_mirror_and_refuses_unknown_keys():
    t = torrent("a", state="pausedUP", tags="b, a", tracker="t.example", trackers=["t.example"])
    assert (t.state, t.tags, t.tracker, t.trackers) == ("stoppedUP", ("a", "b"), "t.example", ("t.example",))
    assert torrent("a", tracker="https://h.example:8443/x/announce?passkey=S").tracker == "h.example"
    with pytest.raises(TypeError, match="not a qBittorrent torrent field: stat"):
        torrent("a", stat="uploading")


SERVE = (
    "import http.server, sys; host, port = sys.argv[1].split(':'); "
    "http.server.HTTPServer((host, int(port)), http.server.SimpleHTTPRequestHandler).serve_forever()"
)


class Served(Service):
    """A program that takes its 127.0.0.1:port as an argument, as Prometheus and Alertmanager do."""

    ready_path = "/"

    def start(self, code: str = SERVE) -> Served:
        self._spawn([sys.executable, "-c", code, f"127.0.0.1:{self.port}"])
        return self


def test_a_service_that_lost_its_free_port_starts_again_on_another(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    service = Served(tmp_path, port=port).start()
    try:
        service.wait_ready(timeout=20)
        assert service.port != port and "address already in use" in service.log().lower()
    finally:
        service.stop()
        taken.close()


def test_a_service_that_fails_otherwise_still_fails_at_once_with_its_log(tmp_path):
    service = Served(tmp_path).start("raise SystemExit('no config')")
    try:
        with pytest.raises(AssertionError, match="no config"):
            service.wait_ready(timeout=20)
    finally:
        service.stop()
