"""Many qBittorrents in one service: the `instances:` configuration, labels, /probe and fault isolation."""

from __future__ import annotations

import json
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.app import App
from exporter.cli import main
from exporter.config import ConfigError, build_settings
from exporter.model import AppInfo
from exporter.qbt.connection import ConnectionSettings, QBittorrentError
from exporter.qbt.mirror import Mirror
from exporter.version import __version__

SECRET = "hunter2-SECRET"


def settings_of(tmp_path, yaml: str, flags: dict | None = None, env: dict | None = None):
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml)
    return build_settings({"data.dir": str(tmp_path / "data"), **(flags or {})}, env or {}, str(cfg))


def password_file(tmp_path, name: str = "pw") -> str:
    p = tmp_path / name
    p.write_text(SECRET + "\n")
    return str(p)


# -- configuration --------------------------------------------------------------------------------


def test_flags_describe_one_instance_named_host_port_by_default(tmp_path):
    s = build_settings({"qbittorrent.url": "http://Box.Example:8080"}, {})
    [inst] = s.instances
    assert (inst.name, inst.url) == ("box.example:8080", "http://Box.Example:8080")
    assert (
        build_settings({"qbittorrent.url": "https://box.example"}, {}).instances[0].name == "box.example:443"
    )
    assert build_settings({"qbittorrent.name": "home"}, {}).instances[0].name == "home"


def test_a_list_of_instances_with_overrides(tmp_path):
    pw = password_file(tmp_path)
    s = settings_of(
        tmp_path,
        f"""
trackers: {{default: {{min_ratio: 0.8}}}}
control: {{stalled: {{enabled: true}}}}
instances:
  - {{name: seedbox, url: "http://127.0.0.1:1", password_file: {pw}, previous_names: [box1], dry_run: true}}
  - name: home
    url: http://127.0.0.1:2
    password: ${{HOME_PW}}
    timeout: 2s
    actions: false
    trackers: {{default: {{min_ratio: 2}}}}
    control: {{interval: 5m}}
""",
        env={"HOME_PW": "from-env"},
    )
    seedbox, home = s.instances
    assert (seedbox.name, seedbox.connection.password, seedbox.previous_names) == (
        "seedbox",
        SECRET,
        ("box1",),
    )
    assert seedbox.jobs.dry_run and seedbox.jobs.enabled and seedbox.trackers.default.min_ratio == 0.8
    assert seedbox.jobs.control.stalled.enabled  # the top-level section applies
    assert (home.connection.password, home.connection.timeout) == ("from-env", 2.0)
    assert not home.jobs.enabled and home.trackers.default.min_ratio == 2
    assert home.jobs.control.interval == 300 and not home.jobs.control.stalled.enabled  # replaced wholesale


@pytest.mark.parametrize(
    "flags, env, yaml, field",
    [
        (
            {"qbittorrent.url": "http://x:1"},
            {},
            "instances: [{name: a, url: 'http://127.0.0.1:1'}]",
            "--qbittorrent.url",
        ),
        (
            {},
            {"QBITTORRENT_MONITOR_QBITTORRENT_USERNAME": "u"},
            "instances: [{name: a, url: 'http://h:1'}]",
            "QBITTORRENT_MONITOR_QBITTORRENT_USERNAME",
        ),
        (
            {},
            {},
            "qbittorrent: {url: 'http://h:1'}\ninstances: [{name: a, url: 'http://h:2'}]",
            "qbittorrent.url",
        ),
        ({}, {}, "instances: []", "instances"),
        ({}, {}, "instances: [{url: 'http://h:1'}]", "instances[0].name"),
        ({}, {}, "instances: [{name: a}]", "instances[0].url"),
        ({}, {}, "instances: [{name: 'Big Box', url: 'http://h:1'}]", "instances[0].name"),
        (
            {},
            {},
            "instances: [{name: a, url: 'http://h:1'}, {name: a, url: 'http://h:2'}]",
            "instances[1].name",
        ),
        (
            {},
            {},
            "instances: [{name: a, url: 'http://h:1', previous_names: [b]}, {name: b, url: 'http://h:2'}]",
            "instances[1].name",
        ),
        (
            {},
            {},
            "instances: [{name: a, url: 'http://h:1'}, {name: b, url: 'http://h:1'}]",
            "instances[1].url",
        ),
        ({}, {}, f"instances: [{{name: a, url: 'http://h:1', password: {SECRET}}}]", "instances[0].password"),
        ({}, {}, "instances: [{name: a, url: 'http://h:1', password: '${NOPE}'}]", "instances[0].password"),
        ({}, {}, "instances: [{name: a, url: 'http://h:1', colour: red}]", "instances[0].<key 3>"),
        (
            {},
            {},
            "instances: [{name: a, url: 'http://h:1', control: {interval: soon}}]",
            "instances[0].control.interval",
        ),
        ({}, {}, "instances: [{name: a, url: 'http://h:1', actions: maybe}]", "instances[0].actions"),
    ],
    ids=[
        "flag-and-list",
        "env-and-list",
        "section-and-list",
        "empty",
        "no-name",
        "no-url",
        "bad-name",
        "duplicate-name",
        "previous-name-taken",
        "duplicate-url",
        "inline-password",
        "unset-env",
        "unknown-key",
        "bad-override",
        "bad-actions",
    ],
)
def test_bad_instance_configurations_name_the_field_and_never_the_secret(tmp_path, flags, env, yaml, field):
    with pytest.raises(ConfigError) as exc:
        settings_of(tmp_path, yaml + "\n", flags, env)
    assert exc.value.path == field
    assert SECRET not in str(exc.value)


def test_check_config_lists_the_instances_and_what_applies_without_secrets(tmp_path, capsys):
    pw = password_file(tmp_path)
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        "completion: {handlers: [{name: tag, type: add_tags, tags: [done]}]}\n"
        f"instances:\n  - {{name: a, url: 'http://127.0.0.1:1', password_file: {pw}}}\n"
        "  - {name: b, url: 'http://127.0.0.1:2', actions: false}\n"
    )
    assert main(["check-config", "--config.file", str(cfg), "--data.dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "instance a: http://127.0.0.1:1, user admin, password set; jobs completion;" in out
    assert "instance b: http://127.0.0.1:2, user admin, no password; jobs off (completion configured);" in out
    assert SECRET not in out


# -- scraping ----------------------------------------------------------------------------------------


class ScriptedConnection:
    """A connection whose maindata answers a full update with one torrent, or waits on `gate`."""

    def __init__(self, name: str, gate: threading.Event | None = None, fail: bool = False) -> None:
        self.settings = ConnectionSettings(url=f"http://127.0.0.1/{name}")
        self.gate, self.fail, self.rid, self.calls = gate, fail, 0, 0

    def login(self) -> AppInfo:
        return AppInfo("v5.1.0", "2.11.4", "2.0.11.0")

    def maindata(self, rid: int, stream=None) -> dict:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(30)
            raise QBittorrentError("timeout", "qBittorrent did not answer within the request timeout")
        if self.fail:
            raise QBittorrentError("connection", "cannot connect to qBittorrent")
        self.rid += 1
        torrent = {"name": "t", "state": "uploading", "size": 10, "amount_left": 0, "progress": 1}
        return {
            "rid": self.rid,
            "full_update": True,
            "torrents": {f"{rid:040x}": torrent},
            "server_state": {},
        }

    def close(self) -> None:
        pass


def app_of(
    tmp_path, names: list[str], hung: frozenset[str] = frozenset(), down: frozenset[str] = frozenset()
):
    yaml = "instances:\n" + "".join(
        f"  - {{name: {n}, url: 'http://127.0.0.1:{i + 1}'}}\n" for i, n in enumerate(names)
    )
    gate = threading.Event()
    mirrors = {
        n: Mirror(ScriptedConnection(n, gate if n in hung else None, n in down), name=n, min_age=0)
        for n in names
    }
    return App(settings_of(tmp_path, yaml), mirrors=mirrors), gate


def samples(body: bytes) -> dict:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(body.decode())
        for s in f.samples
    }


def test_every_series_carries_its_instance_and_each_family_appears_once(tmp_path):
    app, _ = app_of(tmp_path, ["a", "b"])
    status, _, body, _ = app.routes["/metrics"]({}, {})
    text = body.decode()
    assert status == 200 and text.count("# TYPE qbittorrent_up gauge") == 1
    s = samples(body)
    assert (
        s[("qbittorrent_up", (("qbittorrent", "a"),))] == 1
        and s[("qbittorrent_up", (("qbittorrent", "b"),))] == 1
    )
    assert (
        s[
            (
                "qbittorrent_torrents",
                (("category", ""), ("qbittorrent", "b"), ("state", "uploading"), ("status", "seeding")),
            )
        ]
        == 1
    )
    unlabelled = [k[0] for k in s if "qbittorrent" not in dict(k[1])]
    assert unlabelled == ["qbittorrent_exporter_build_info"]  # the service's own, once, with its version only
    assert [dict(k[1]) for k in s if k[0] == "qbittorrent_exporter_build_info"] == [{"version": __version__}]
    app.stop()


def test_probe_shows_one_instance_by_name_or_url_and_never_fetches_an_unknown_target(tmp_path):
    app, _ = app_of(tmp_path, ["a", "b"])
    connections = {n: i.mirror.connection for n, i in app.instances.items()}
    for target in ("b", "http://127.0.0.1:2", "http%3A%2F%2F127.0.0.1%3A2%2F"):
        status, _, body, _ = app.routes["/probe"]({"target": target}, {})
        assert status == 200, target
        assert {dict(k[1]).get("qbittorrent") for k in samples(body)} == {"b", None}
    assert connections["a"].calls == 0  # a probe of b syncs b only
    for target in ("c", "http://127.0.0.1:3", "http://169.254.169.254/", ""):
        status, _, body, _ = app.routes["/probe"]({"target": target} if target else {}, {})
        assert status == 400 and body.decode().startswith("target:") and body.count(b"\n") == 1, target
    assert connections["a"].calls == 0 and connections["b"].calls == 3
    app.stop()


def test_one_hung_instance_delays_no_other_and_shows_up_0_after_its_timeout(tmp_path):
    names = [f"q{i}" for i in range(10)]
    app, gate = app_of(tmp_path, names, hung=frozenset({"q3"}), down=frozenset({"q7"}))
    try:
        started = time.monotonic()
        status, _, body, _ = app.routes["/metrics"]({}, {"X-Prometheus-Scrape-Timeout-Seconds": "2"})
        took = time.monotonic() - started
        assert (
            status == 200 and 1.4 < took < 2.5
        )  # waits for the hung one until the deadline (2 s - margin), no more
        s = samples(body)
        up = {n: s[("qbittorrent_up", (("qbittorrent", n),))] for n in names}
        assert up == {n: 0 if n in ("q3", "q7") else 1 for n in names}
        assert all(("qbittorrent_torrents_total_count", (("qbittorrent", n),)) not in s for n in names)
        fresh = [
            n
            for n in names
            if any(dict(k[1]).get("qbittorrent") == n and k[0] == "qbittorrent_info" for k in s)
        ]
        assert fresh == [n for n in names if n not in ("q3", "q7")]

        started = time.monotonic()  # the next scrape waits for the same sync, not a second one
        app.routes["/metrics"]({}, {"X-Prometheus-Scrape-Timeout-Seconds": "1"})
        assert time.monotonic() - started < 1.5
        assert app.instances["q3"].mirror.connection.calls == 1
        gate.set()  # the hung request ends with a timeout: up 0, counted
        app.instances["q3"].mirror.wait(5)
        s = samples(app.routes["/metrics"]({}, {})[2])
        assert (
            s[("qbittorrent_exporter_sync_errors_total", (("qbittorrent", "q3"), ("reason", "timeout")))] == 1
        )
    finally:
        gate.set()
        app.stop()


def test_report_of_one_instance_or_all(tmp_path):
    app, _ = app_of(tmp_path, ["a", "b"], down=frozenset({"b"}))
    status, _, body, _ = app.routes["/api/report"]({}, {})
    reports = json.loads(body)["reports"]
    assert status == 200 and [r["instance"] for r in reports] == ["a", "b"] and "error" in reports[1]
    status, _, body, _ = app.routes["/api/report"]({"instance": "a"}, {})
    assert status == 200 and json.loads(body)["instance"] == "a"
    assert app.routes["/api/report"]({"instance": "b"}, {})[0] == 503
    assert app.routes["/api/report"]({"instance": "zz"}, {})[0] == 400
    app.stop()


# -- the ledger follows a rename ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "recorded_as, yaml_item",
    [
        ("box1", "{name: seedbox, url: 'http://127.0.0.1:1', previous_names: [box1]}"),
        ("", "{name: seedbox, url: 'http://127.0.0.1:1'}"),  # written before instances had names
    ],
    ids=["previous-name", "unnamed-rows"],
)
def test_a_renamed_instance_keeps_its_ledger_and_handles_nothing_twice(tmp_path, recorded_as, yaml_item):
    from exporter.store import open_store

    store = open_store(str(tmp_path / "data"))
    store.take_baseline([("old", 1)], 10.0, recorded_as)
    store.add_completion(("done", 2), {"name": "done"}, [], 20.0, recorded_as)
    store.close()
    cfg = (
        "completion: {handlers: [{name: tag, type: add_tags, tags: [x]}]}\n"
        f"instances:\n  - {yaml_item}\n  - {{name: other, url: 'http://127.0.0.1:2'}}\n"
    )
    app = App(settings_of(tmp_path, cfg))
    try:
        app.actions.build_jobs()
        shared = app.actions.store
        assert shared.instances() == {"seedbox"}
        assert shared.known_completions("seedbox") == {("old", 1), ("done", 2)}
        assert shared.baseline_taken("seedbox") and not shared.baseline_taken("other")
    finally:
        app.stop()


def test_an_instance_without_connection_keys_gets_the_flags_defaults_parsed(tmp_path):
    [inst] = settings_of(tmp_path, "instances: [{name: a, url: 'http://127.0.0.1:1'}]\n").instances
    flags = build_settings({"qbittorrent.url": "http://127.0.0.1:1"}, {}).instances[0]
    assert inst.connection == flags.connection  # the same values, parsed (a size default is "512MiB")
    assert isinstance(inst.connection.max_response_size, int)


def test_a_scrape_writes_each_instance_as_soon_as_its_own_sync_is_done(tmp_path):
    """a's families are made (and written) while b's sync still runs: the writer does not wait for all."""
    app, _ = app_of(tmp_path, ["a", "b"])
    released = threading.Event()
    made: list[str] = []
    b = app.instances["b"].mirror.connection
    answer = b.maindata

    def slow_b(rid: int, stream=None) -> dict:
        released.wait(5)  # until a's families have been made
        made.append("b synced")
        return answer(rid, stream)

    b.maindata = slow_b
    families = app.instances["a"].families

    def a_families(snapshot):
        made.append("a made")
        released.set()
        return families(snapshot)

    app.instances["a"].families = a_families
    try:
        started = time.monotonic()
        status, _, body, _ = app.routes["/metrics"]({}, {"X-Prometheus-Scrape-Timeout-Seconds": "10"})
        assert status == 200 and time.monotonic() - started < 4
        assert made == ["a made", "b synced"]
        s = samples(body)
        assert {n: s[("qbittorrent_up", (("qbittorrent", n),))] for n in "ab"} == {"a": 1, "b": 1}
    finally:
        released.set()
        app.stop()
