"""The audit log's reader: `qbittorrent-monitor audit` and /api/audit, over a real SQLite store."""

from __future__ import annotations

import json

import pytest

from exporter.cli import main
from exporter.http.routes import audit_route
from exporter.store import AuditEntry, open_store

NOW = 100_000.0


@pytest.fixture
def store(tmp_path):
    s = open_store(str(tmp_path))
    s.audit(AuditEntry(NOW - 7200, "reannounce", "a" * 40, "old.iso", "no progress for 16m", "ok", False))
    s.audit(AuditEntry(NOW - 60, "emergency_stop", "b" * 40, "new.iso", "ratio 0.4 below 0.6", "error", True))
    s.audit(AuditEntry(NOW - 30, "seeding_slots", "", "qBittorrent preferences", "3 -> 4", "ok", False))
    yield s
    s.close()


def test_route_shows_the_rows_since_oldest_first(store):
    status, ctype, body, _ = audit_route(store, lambda: NOW, {"since": "1h"})
    assert status == 200 and ctype == "application/json"
    rows = json.loads(body)["audit"]
    assert [r["action"] for r in rows] == ["emergency_stop", "seeding_slots"]
    assert rows[0] == {
        "at": NOW - 60,
        "instance": "",
        "action": "emergency_stop",
        "hash": "b" * 40,
        "name": "new.iso",
        "reason": "ratio 0.4 below 0.6",
        "result": "error",
        "dry_run": True,
    }


@pytest.mark.parametrize(
    "store_open, query, status",
    [
        (True, {"since": "soon"}, 400),
        (False, {}, 503),
    ],
    ids=["bad-since", "store-not-open"],
)
def test_route_errors(store, store_open, query, status):
    assert audit_route(store if store_open else None, lambda: NOW, query)[0] == status


def test_command_prints_a_table_and_json(store, tmp_path, capsys):
    assert main(["audit", "--data.dir", str(tmp_path), "--since", "100000d"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "reannounce" in out[0] and "old.iso: no progress for 16m" in out[0]
    assert "emergency_stop (dry run)" in out[1] and out[1].split()[3] == "error"
    assert out[-1] == "3 action(s) in the last 100000d"
    assert main(["audit", "--data.dir", str(tmp_path), "--since", "100000d", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == [
        "old.iso",
        "new.iso",
        "qBittorrent preferences",
    ]


def test_command_without_a_store_is_an_error_on_stderr(tmp_path, capsys):
    assert main(["audit", "--data.dir", str(tmp_path / "none")]) == 1
    assert "no store at" in capsys.readouterr().err


def test_the_route_table_has_the_apis_of_the_jobs_that_run(tmp_path):
    from exporter.app import App
    from exporter.config import build_settings

    def routes(yaml: str) -> set[str]:
        cfg = tmp_path / "c.yml"
        cfg.write_text(yaml)
        app = App(build_settings({"data.dir": str(tmp_path / "d")}, {}, str(cfg)))
        return {p for p in app.routes if p.startswith("/api/")}

    assert routes("{}\n") == {"/api/report"}
    assert routes("control: {}\n") == {"/api/report", "/api/audit"}
    assert routes("completion: {}\n") == {"/api/report", "/api/audit", "/api/completions"}
