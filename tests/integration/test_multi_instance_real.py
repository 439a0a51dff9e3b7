"""Two real qBittorrents watched by one real service: labels, isolation, completions, the emergency.

A seeder S serves one torrent. Instance `a` downloads it from S (a completion, and a ratio of 0 on the
tracker host 127.0.0.1: a ratio emergency that stops a's other download); instance `b` seeds the same
torrent from its own copy of the data (the same info hash: a completion too, but nothing downloaded, so
no emergency). Both have a download nobody seeds on the same tracker host.
"""

from __future__ import annotations

import json
import subprocess
import sys

from exporter.store import open_store
from tests.kit.processes import sample, wait_for
from tests.kit.torrents import add_stalled, download, seed_on, torrent_of

CONFIG = """
control:
  interval: 300ms
  ratio_emergency: {{enabled: true, min_downloaded: 0}}
completion:
  interval: 300ms
  handlers: [{{name: hook, type: webhook, url: "{hook}"}}]
instances:
  - {{name: a, url: "{a}", password_file: "{pw}", min_sync_age: 0}}
  - {{name: b, url: "{b}", password_file: "{pw}", min_sync_age: 0}}
"""
RUNS = "qbittorrent_exporter_job_runs_total"


def by_instance(s, name: str, **labels) -> float:
    """The sum of the series `name` of one instance (the samples whose labels include `labels`)."""
    return sum(v for (n, ls), v in s.items() if n == name and set(labels.items()) <= set(ls))


def test_two_instances_one_service(qbt_factory, password_file, exporter_factory, receivers, tmp_path):
    seeder, a, b = qbt_factory("seeder"), qbt_factory("a"), qbt_factory("b")
    cs, ca, cb = seeder.client(), a.client(), b.client()
    h, data = seed_on(cs, tmp_path, "shared.bin")
    a_wanted = add_stalled(ca, a, tmp_path, "a-wanted.bin")
    b_wanted = add_stalled(cb, b, tmp_path, "b-wanted.bin")
    hook = receivers(200)
    config = tmp_path / "config.yml"
    config.write_text(CONFIG.format(hook=hook.url("/hook"), a=a.url, b=b.url, pw=password_file))
    exporter = exporter_factory(["--config.file", str(config), "--data.dir", str(tmp_path / "data")])
    wait_for(
        lambda: all(
            (sample(exporter.scrape(), RUNS, job="completion", result="ok", qbittorrent=n) or 0) >= 1
            for n in ("a", "b")
        ),
        what="a first completion run (the baseline) on both",
    )

    download(ca, a, data, seeder.bt_port)  # a completes; its ratio on 127.0.0.1 is 0
    seed_on(cb, tmp_path, "shared.bin")  # b completes the same torrent from its own data

    wait_for(lambda: len(hook.requests) >= 2, timeout=20, what="a delivery for each instance")
    s = wait_for(
        lambda: (
            (s := exporter.scrape())
            and by_instance(s, "qbittorrent_exporter_actions_total", action="emergency_stop", qbittorrent="a")
            == 1
            and s
        ),
        timeout=15,
        what="the emergency stop on a",
    )
    runs = sample(s, RUNS, job="completion", result="ok", qbittorrent="b")
    wait_for(
        lambda: sample(exporter.scrape(), RUNS, job="completion", result="ok", qbittorrent="b") >= runs + 3,
        what="three more completion runs",
    )
    deliveries = sorted(
        (r.json()["torrent"]["instance"], r.headers["X-Qbittorrent-Monitor-Delivery"]) for r in hook.requests
    )
    assert [instance for instance, _ in deliveries] == ["a", "b"], "each instance's completion once"
    assert deliveries[0][1].startswith(f"a:{h}:") and deliveries[1][1].startswith(f"b:{h}:")
    assert {r.json()["torrent"]["hash"] for r in hook.requests} == {h}

    s = exporter.scrape()
    assert by_instance(s, "qbittorrent_exporter_actions_total", action="emergency_stop", qbittorrent="b") == 0
    assert sample(s, "qbittorrent_exporter_ratio_emergency_active", tracker="127.0.0.1", qbittorrent="a") == 1
    assert (
        sample(s, "qbittorrent_exporter_ratio_emergency_active", tracker="127.0.0.1", qbittorrent="b") is None
    )
    assert torrent_of(ca, a_wanted)["state"] in ("pausedDL", "stoppedDL")
    assert torrent_of(cb, b_wanted)["state"] == "stalledDL" and torrent_of(cb, b_wanted)["tags"] == ""
    # counts per instance: a has the download it finished plus its stopped one, b its seed and its stall
    assert by_instance(s, "qbittorrent_torrents", qbittorrent="a") == 2
    assert by_instance(s, "qbittorrent_torrents", qbittorrent="b") == 2
    assert by_instance(s, "qbittorrent_torrents", qbittorrent="a", status="paused") == 1
    assert by_instance(s, "qbittorrent_torrents", qbittorrent="b", status="stalled") == 1
    assert sample(s, "qbittorrent_tracker_torrents", tracker="127.0.0.1", qbittorrent="b") == 2

    b.stop()  # one qBittorrent gone: the other stays up and fresh
    s = wait_for(
        lambda: (s := exporter.scrape()) and sample(s, "qbittorrent_up", qbittorrent="b") == 0 and s,
        what="b down",
    )
    last = sample(s, "qbittorrent_exporter_last_sync_timestamp_seconds", qbittorrent="a")
    s = wait_for(
        lambda: (
            (s := exporter.scrape())
            and sample(s, "qbittorrent_exporter_last_sync_timestamp_seconds", qbittorrent="a") > last
            and s
        ),
        what="a syncing on",
    )
    assert sample(s, "qbittorrent_up", qbittorrent="a") == 1
    assert by_instance(s, "qbittorrent_torrents", qbittorrent="b") == 0  # no stale state shown for b

    exporter.stop()
    store = open_store(str(tmp_path / "data"), readonly=True)
    try:
        assert {(r.instance, r.hash) for r in store.history(0)} == {("a", h), ("b", h)}
        audit = {(e.instance, e.action) for e in store.audit_log(0)}
        assert audit == {("a", "emergency_stop"), ("a", "webhook"), ("b", "webhook")}
        assert (
            set(store.state("emergency_stopped", "a")) == {a_wanted}
            and store.state("emergency_stopped", "b") == {}
        )
    finally:
        store.close()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter.cli",
            "completions",
            "--data.dir",
            str(tmp_path / "data"),
            "--instance",
            "b",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert [c["instance"] for c in json.loads(out)] == ["b"]
