"""`qbittorrent-monitor store migrate` and `store copy`: a single-node SQLite store moved to PostgreSQL
keeps every row, so the service there handles nothing twice."""

from __future__ import annotations

from exporter.cli import main
from exporter.store import FILE_NAME, SCHEMA_VERSION, open_store


def test_migrate_then_copy_sqlite_to_postgresql_and_refuse_a_second_copy(tmp_path, postgres, capsys):
    url, password = postgres
    pw = tmp_path / "pg-password"
    pw.write_text(password + "\n")
    data = tmp_path / "data"
    assert main(["store", "migrate", "--data.dir", str(data)]) == 0
    assert f"at schema version {SCHEMA_VERSION}" in capsys.readouterr().out
    s = open_store(str(data))
    s.take_baseline([("old", 1)], 10.0, "box")
    s.add_completion(("new", 2), {"name": "new"}, ["hook"], 20.0, "box")
    s.put_state("emergency_stopped", "h", {"scope": "t"}, "box")
    s.close()
    args = [
        "store",
        "copy",
        "--from",
        f"sqlite:///{data / FILE_NAME}",
        "--to",
        url,
        "--to-password-file",
        str(pw),
    ]
    assert main(args) == 0
    assert "copied:" in capsys.readouterr().out
    dst = open_store("", url=url, password=password)
    try:
        assert dst.known_completions("box") == {("old", 1), ("new", 2)} and dst.baseline_taken("box")
        assert [r.handler for r in dst.due_runs(1e12, 10, "box")] == [
            "hook"
        ]  # still pending: runs once, there
        assert dst.state("emergency_stopped", "box") == {"h": {"scope": "t"}}
    finally:
        dst.close()
    assert main(args) == 1  # the destination is not empty any more
    err = capsys.readouterr().err
    assert "not empty" in err and password not in err


def test_copy_needs_both_ends(capsys):
    assert main(["store", "copy", "--from", "sqlite:///x.db"]) == 2
    assert "needs --from URL and --to URL" in capsys.readouterr().err
