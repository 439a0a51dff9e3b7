"""The control job against real qbittorrent-nox instances, through the real exporter process.

- a download whose tracker is dead (answers 503, counting announces) climbs the stall ladder:
  reannounce (a new announce reaches the tracker), stop/start (qBittorrent logs "paused" or, 5.x,
  "stopped", then "resumed"),
  then the `stalled` tag; each step counted;
- dry-run: the same decisions are counted with dry_run="true" and qBittorrent is left untouched;
- ratio emergency: a real transfer leaves instance B with ratio 0 on a tracker host, so B's downloads
  (and only those) are stopped and tagged; the exporter is restarted; a third instance then downloads
  from B, the ratio recovers and exactly the stopped downloads are resumed.
"""

from __future__ import annotations

import pytest

from exporter.store import open_store
from tests.kit import versions
from tests.kit.processes import sample, wait_for
from tests.kit.torrents import add_stalled, download, exporter_args, seed_on, torrent_of

pytestmark = pytest.mark.integration


def actions(samples, action, dry_run="false", result="ok") -> float:
    return (
        sample(samples, "qbittorrent_exporter_actions_total", action=action, result=result, dry_run=dry_run)
        or 0
    )


@pytest.fixture
def dead_tracker(receivers):
    """A tracker that answers every announce with 503: the torrent stays stalledDL."""
    return receivers(503)


STALL_CONFIG = """
control:
  interval: 300ms
  stalled: {enabled: true, stall_after: 1s, grace: 0s, cooldown: 1500ms, max_actions_per_run: 5}
"""


def log_messages(client) -> list[str]:
    return [m["message"] for m in client.log_main()]


@pytest.mark.qbt51
def test_a_real_stalled_download_is_reannounced_then_restarted_then_tagged(
    qbt, qbt_client, password_file, exporter_factory, tmp_path, dead_tracker, qbt_version
):
    h = add_stalled(qbt_client, qbt, tmp_path, "stuck.bin", tracker=dead_tracker.url("/announce"))
    wait_for(lambda: len(dead_tracker.requests) >= 1, what="the first announce")
    initial = len(dead_tracker.requests)
    config = tmp_path / "config.yml"
    config.write_text(STALL_CONFIG)
    exporter = exporter_factory(exporter_args(qbt, password_file, data_dir=tmp_path / "data", config=config))

    s = wait_for(
        lambda: (s := exporter.scrape()) and actions(s, "reannounce") == 1 and s,
        timeout=15,
        what="the reannounce step",
    )
    assert sample(s, "qbittorrent_exporter_stalled_torrents") == 1
    assert actions(s, "restart") == 0, "the restart must wait for the cooldown"
    wait_for(
        lambda: len(dead_tracker.requests) > initial, timeout=5, what="the reannounce to reach the tracker"
    )

    s = wait_for(
        lambda: (s := exporter.scrape()) and actions(s, "restart") == 1 and s,
        timeout=15,
        what="the restart step",
    )
    stopped, resumed = (versions.qbittorrent_log(qbt_version, e, "stuck.bin") for e in ("stopped", "resumed"))
    msgs = wait_for(
        lambda: (m := log_messages(qbt_client)) and resumed in m and m,
        timeout=5,
        what="qBittorrent to log the stop/start",
    )
    assert stopped in msgs and msgs.index(stopped) < msgs.index(resumed)

    s = wait_for(
        lambda: (s := exporter.scrape()) and actions(s, "tag_stalled") == 1 and s,
        timeout=15,
        what="the give-up step",
    )
    wait_for(
        lambda: "stalled" in torrent_of(qbt_client, h)["tags"],
        timeout=5,
        what="the stalled tag in qBittorrent",
    )
    assert torrent_of(qbt_client, h)["state"] == "stalledDL"
    runs = sample(s, "qbittorrent_exporter_job_runs_total", job="control", result="ok")
    wait_for(
        lambda: (
            sample(exporter.scrape(), "qbittorrent_exporter_job_runs_total", job="control", result="ok")
            >= runs + 3
        ),
        timeout=10,
        what="three more control runs",
    )
    s = exporter.scrape()
    assert (actions(s, "reannounce"), actions(s, "restart"), actions(s, "tag_stalled")) == (1, 1, 1), (
        "gave up: no more steps"
    )
    assert sample(s, "qbittorrent_exporter_job_last_success_timestamp_seconds", job="control") > 0
    assert f"reannounce {h} 'stuck.bin': no progress for" in exporter.log()

    assert exporter.stop() == 0
    store = open_store(str(tmp_path / "data"), readonly=True)
    assert [(e.action, e.hash, e.result, e.dry_run) for e in store.audit_log(0)] == [
        ("reannounce", h, "ok", False),
        ("restart", h, "ok", False),
        ("tag_stalled", h, "ok", False),
    ]
    store.close()


def test_dry_run_counts_what_it_would_do_and_leaves_qbittorrent_untouched(
    qbt_factory, password_file, exporter_factory, tmp_path
):
    b, a = qbt_factory("b"), qbt_factory("a")
    cb, ca = b.client(), a.client()
    h_seed, data = seed_on(ca, tmp_path, "seed.bin")
    download(cb, b, data, a.bt_port)  # ratio 0 on 127.0.0.1 for b
    h_stuck = add_stalled(
        cb, b, tmp_path, "stuck.bin", tracker="http://localhost:1/announce"
    )  # not 127.0.0.1
    h_wanted = add_stalled(cb, b, tmp_path, "wanted.bin")  # on 127.0.0.1: the emergency would stop it
    config = tmp_path / "config.yml"
    config.write_text(
        STALL_CONFIG
        + """  ratio_emergency: {enabled: true, min_downloaded: 0}
trackers:
  default: {min_ratio: 0.5}
"""
    )
    before = {t["hash"]: (t["state"], t["tags"]) for t in cb.torrents_info()}
    exporter = exporter_factory(
        exporter_args(
            b, password_file, "--actions.dry-run", "true", data_dir=tmp_path / "data", config=config
        )
    )
    s = wait_for(
        lambda: (s := exporter.scrape()) and actions(s, "tag_stalled", "true") >= 1 and s,
        timeout=20,
        what="the dry run to reach the end of the ladder",
    )
    assert actions(s, "emergency_stop", "true") == 1 and actions(s, "reannounce", "true") == 1
    assert actions(s, "restart", "true") == 1
    assert (
        sum(
            v
            for (n, labels), v in s.items()
            if n == "qbittorrent_exporter_actions_total" and ("dry_run", "false") in labels
        )
        == 0
    )
    assert sample(s, "qbittorrent_exporter_ratio_emergency_active", tracker="127.0.0.1") == 1
    after = {t["hash"]: (t["state"], t["tags"]) for t in cb.torrents_info()}
    assert after == before and after[h_stuck] == after[h_wanted] == ("stalledDL", "")
    msgs = log_messages(cb)
    assert not [m for m in msgs if m.startswith(("Torrent paused", "Torrent stopped", "Torrent resumed"))]
    assert "dry run: would emergency_stop" in exporter.log()
    assert h_seed in after


RATIO_CONFIG = """
trackers:
  default: {min_ratio: 0.5}
control:
  interval: 300ms
  ratio_emergency: {enabled: true, min_downloaded: 0, hysteresis: 0.1}
"""


@pytest.mark.qbt51
def test_ratio_emergency_stops_only_downloads_and_resumes_exactly_those(
    qbt_factory, password_file, exporter_factory, tmp_path
):
    a, b, c = qbt_factory("a"), qbt_factory("b"), qbt_factory("c")
    ca, cb, cc = a.client(), b.client(), c.client()
    h_seed, data = seed_on(ca, tmp_path, "shared.bin")
    download(cb, b, data, a.bt_port)  # b: downloaded SIZE, uploaded 0 -> ratio 0 on host 127.0.0.1
    h_down = add_stalled(cb, b, tmp_path, "wanted.bin")
    h_user = add_stalled(cb, b, tmp_path, "user-stopped.bin", paused=True)
    config = tmp_path / "config.yml"
    config.write_text(RATIO_CONFIG)
    args = exporter_args(b, password_file, data_dir=tmp_path / "data", config=config)
    exporter = exporter_factory(args)

    s = wait_for(
        lambda: (s := exporter.scrape()) and actions(s, "emergency_stop") == 1 and s,
        timeout=15,
        what="the emergency stop",
    )
    assert sample(s, "qbittorrent_exporter_ratio_emergency_active", tracker="127.0.0.1") == 1
    wait_for(
        lambda: torrent_of(cb, h_down)["state"] in ("pausedDL", "stoppedDL"),
        timeout=5,
        what="the download stopped",
    )
    assert "ratio-emergency" in torrent_of(cb, h_down)["tags"]
    assert torrent_of(cb, h_seed)["state"] in ("stalledUP", "uploading"), "a seed is never stopped"
    assert torrent_of(cb, h_user)["tags"] == ""

    exporter.stop()  # the state is in the store: a restart must neither stop again nor forget
    exporter = exporter_factory(args)
    runs = wait_for(
        lambda: sample(exporter.scrape(), "qbittorrent_exporter_job_runs_total", job="control", result="ok"),
        timeout=10,
        what="a control run after the restart",
    )
    wait_for(
        lambda: (
            sample(exporter.scrape(), "qbittorrent_exporter_job_runs_total", job="control", result="ok")
            >= runs + 2
        ),
        timeout=10,
        what="two more control runs",
    )
    assert actions(exporter.scrape(), "emergency_stop") == 0

    ca.torrents_pause(torrent_hashes=h_seed)  # c can only get the data from b: b's ratio climbs to ~1
    download(cc, c, data, b.bt_port)
    s = wait_for(
        lambda: (s := exporter.scrape()) and actions(s, "emergency_resume") == 1 and s,
        timeout=20,
        what="the emergency to end and the download to resume",
    )
    assert sample(s, "qbittorrent_exporter_ratio_emergency_active", tracker="127.0.0.1") == 0
    wait_for(
        lambda: torrent_of(cb, h_down)["state"] not in ("pausedDL", "stoppedDL"),
        timeout=5,
        what="the download to run again",
    )
    assert "ratio-emergency" not in torrent_of(cb, h_down)["tags"]
    assert torrent_of(cb, h_user)["state"] in ("pausedDL", "stoppedDL"), (
        "a download stopped by the user stays stopped"
    )
    exporter.stop()
    store = open_store(str(tmp_path / "data"), readonly=True)
    assert [(e.action, e.hash) for e in store.audit_log(0)] == [
        ("emergency_stop", h_down),
        ("emergency_resume", h_down),
    ]
    name = f"127.0.0.1:{b.webui_port}"  # the flags' qBittorrent is named host:port
    assert store.instances() == {name} and store.audit_log(0, instance=name) == store.audit_log(0)
    assert store.state("emergency_stopped", name) == {} and store.state("emergency_scope", name) == {}
    store.close()


def test_seeding_slots_set_qbittorrents_max_active_uploads(
    qbt_factory, password_file, exporter_factory, tmp_path
):
    q = qbt_factory("q", queueing=True)
    client = q.client()
    assert client.app_preferences()["max_active_uploads"] == 3  # qBittorrent's default
    for name in ("one.bin", "two.bin"):
        seed_on(client, tmp_path, name)
    config = tmp_path / "config.yml"
    config.write_text("""
seeding: {upload_capacity: 1048576, slot_upload: 1048576}
control:
  interval: 300ms
  seeding_slots: {enabled: true, min: 1, max: 10}
""")
    exporter = exporter_factory(exporter_args(q, password_file, data_dir=tmp_path / "data", config=config))
    wait_for(
        lambda: actions(exporter.scrape(), "seeding_slots") == 1, timeout=15, what="the seeding-slots action"
    )
    assert client.app_preferences()["max_active_uploads"] == 1
    assert "seeding_slots 'qBittorrent preferences': max_active_uploads 3 -> 1" in exporter.log()


def test_a_corrupt_or_busy_store_stops_the_service_at_start_with_a_clear_error(
    password_file, exporter_factory, tmp_path
):
    config = tmp_path / "config.yml"
    config.write_text("completion: {interval: 1s}\n")
    args = [
        "--qbittorrent.url",
        "http://127.0.0.1:1",
        "--qbittorrent.password-file",
        str(password_file),
        "--config.file",
        str(config),
    ]
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "qbittorrent-monitor.db").write_bytes(b"garbage" * 1000)
    bad = exporter_factory([*args, "--data.dir", str(corrupt)], wait=False)
    assert bad.proc.wait(timeout=15) == 1
    assert "cannot open the store" in bad.log() and "is corrupt" in bad.log()
    assert (corrupt / "qbittorrent-monitor.db").read_bytes() == b"garbage" * 1000, "never silently replaced"

    first = exporter_factory([*args, "--data.dir", str(tmp_path / "data")])
    second = exporter_factory([*args, "--data.dir", str(tmp_path / "data")], wait=False)
    assert second.proc.wait(timeout=15) == 1
    assert "in use by another qbittorrent-monitor" in second.log()
    assert first.proc.poll() is None
