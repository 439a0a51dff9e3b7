"""Completion history: /api/completions (route function) and the `completions` command."""

from __future__ import annotations

import json

import pytest

from exporter.cli import main
from exporter.http.routes import completions_route
from exporter.store import open_store

NOW = 10_000.0


@pytest.fixture
def store(tmp_path):
    s = open_store(str(tmp_path))
    s.add_completion(("old", 1), {"name": "old.iso", "category": "tv"}, [], NOW - 7200)
    s.add_completion(("new", 2), {"name": "new.iso", "category": "movies"}, ["hook"], NOW - 60)
    s.finish_run(s.due_runs(NOW, 10)[0], "dead", NOW - 50, "webhook answered HTTP 500")
    yield s
    s.close()


def test_route_filters_by_since_and_status(store):
    status, ctype, body, _ = completions_route(store, lambda: NOW, {"since": "1h"})
    assert status == 200 and ctype == "application/json"
    [c] = json.loads(body)["completions"]
    assert (c["hash"], c["name"], c["status"]) == ("new", "new.iso", "dead")
    assert c["handlers"] == [
        {
            "handler": "hook",
            "status": "dead",
            "attempts": 1,
            "last_error": "webhook answered HTTP 500",
            "next_attempt_at": None,
        }
    ]
    status, _, body, _ = completions_route(store, lambda: NOW, {"since": "3h", "status": "done"})
    assert [c["hash"] for c in json.loads(body)["completions"]] == ["old"]


@pytest.mark.parametrize(
    "query, message", [({"since": "soon"}, "since:"), ({"status": "maybe"}, "status must be")]
)
def test_route_rejects_bad_queries(store, query, message):
    status, _, body, _ = completions_route(store, lambda: NOW, query)
    assert status == 400 and message in body.decode()


def test_route_before_the_store_is_open():
    assert completions_route(None, lambda: NOW, {})[0] == 503


def test_command_prints_json_and_a_table(store, tmp_path, capsys):
    assert main(["completions", "--data.dir", str(tmp_path), "--since", "100000d", "--json"]) == 0
    assert [c["hash"] for c in json.loads(capsys.readouterr().out)] == ["new", "old"]
    assert main(["completions", "--data.dir", str(tmp_path), "--since", "100000d", "--status", "dead"]) == 0
    out = capsys.readouterr().out
    assert "new.iso  [hook:dead(1x: webhook answered HTTP 500)]" in out and "old.iso" not in out
    assert "1 completion(s) in the last 100000d" in out


def test_command_errors_go_to_stderr(tmp_path, capsys):
    assert main(["completions", "--data.dir", str(tmp_path / "none")]) == 1
    assert "no store at" in capsys.readouterr().err
    assert main(["completions", "--data.dir", str(tmp_path), "--since", "soon"]) == 2
