"""`tracker_scan:` and `control.unregistered:`: what they parse to, per-instance replacement, and bad
input as one line naming the field (never the value: a phrase or a host may be pasted with a passkey)."""

from __future__ import annotations

import os

import pytest

from exporter.cli import main
from exporter.config import ConfigError, build_settings
from exporter.managers.policy import TrackerScanPolicy, UnregisteredPolicy

PREFIX = "qbittorrent-monitor: invalid configuration: "


def settings_of(tmp_path, text: str, env: dict[str, str] | None = None):
    cfg = tmp_path / "c.yml"
    cfg.write_text(text)
    return build_settings({}, env or {}, str(cfg))


def test_defaults_the_scan_on_and_the_action_off():
    jobs = build_settings({}, {}).instances[0].jobs
    assert jobs.tracker_scan.enabled and jobs.tracker_scan.policy == TrackerScanPolicy()
    assert not jobs.control.unregistered.enabled and not jobs.control.unregistered.policy.enabled


def test_every_field_parses(tmp_path):
    s = settings_of(
        tmp_path,
        """
tracker_scan:
  requests_per_second: 2.5
  burst: 3
  interval: 1m
  page_size: 200
  hash_batch: 20
  recheck_after: 10m
  stale_after: 2h
  phrases: {unregistered: ["  Torrent Gone "], other: [unregistered user]}
control:
  unregistered: {enabled: true, after: 2s, tag: gone, stop: true, outage_share: 0.25,
                 outage_min_torrents: 2, outage_window: 30s, max_actions_per_run: 4, dry_run: true}
""",
    )
    jobs = s.instances[0].jobs
    assert jobs.tracker_scan.policy == TrackerScanPolicy(
        requests_per_second=2.5,
        burst=3,
        interval=60,
        page_size=200,
        hash_batch=20,
        recheck_after=600,
        stale_after=7200,
        extra_phrases={"unregistered": ("Torrent Gone",), "other": ("unregistered user",)},
    )
    feature = jobs.control.unregistered
    assert feature.enabled and feature.dry_run
    assert feature.policy == UnregisteredPolicy(
        enabled=True,
        after=2,
        tag="gone",
        stop=True,
        outage_share=0.25,
        outage_min_torrents=2,
        outage_window=30,
        max_actions_per_run=4,
    )


def test_an_instance_replaces_the_section_and_the_action_is_checked_per_instance(tmp_path):
    env = {"PW": "x"}
    s = settings_of(
        tmp_path,
        """
tracker_scan: {requests_per_second: 1}
instances:
  - {name: a, url: "http://127.0.0.1:1", password: "${PW}"}
  - {name: b, url: "http://127.0.0.1:2", password: "${PW}", tracker_scan: {enabled: false}}
""",
        env,
    )
    a, b = s.instances
    assert a.jobs.tracker_scan.policy.requests_per_second == 1 and a.jobs.tracker_scan.enabled
    assert not b.jobs.tracker_scan.enabled and b.jobs.tracker_scan.policy == TrackerScanPolicy()
    with pytest.raises(ConfigError) as err:
        settings_of(
            tmp_path,
            """
control: {unregistered: {enabled: true}}
instances:
  - {name: b, url: "http://127.0.0.1:2", password: "${PW}", tracker_scan: {enabled: false}}
""",
            env,
        )
    assert err.value.path == "instances[0].control.unregistered.enabled"


BAD = [
    ("tracker_scan: {requests_per_second: 0}", "tracker_scan.requests_per_second"),
    ("tracker_scan: {requests_per_second: 1e9}", "tracker_scan.requests_per_second"),
    ("tracker_scan: {burst: 0}", "tracker_scan.burst"),
    ("tracker_scan: {interval: 1ms}", "tracker_scan.interval"),
    ("tracker_scan: {page_size: 2.5}", "tracker_scan.page_size"),
    ("tracker_scan: {stale_after: soon}", "tracker_scan.stale_after"),
    ("tracker_scan: {enabled: yes please}", "tracker_scan.enabled"),
    ("tracker_scan: {passkey: 1}", "tracker_scan.<key 1>"),
    ("tracker_scan: {phrases: [x]}", "tracker_scan.phrases"),
    ("tracker_scan: {phrases: {https://t.example/SECRETKEY/announce: [x]}}", "tracker_scan.phrases.<key 1>"),
    ("tracker_scan: {phrases: {unregistered: gone}}", "tracker_scan.phrases.unregistered"),
    ("tracker_scan: {phrases: {down: ['  ']}}", "tracker_scan.phrases.down[0]"),
    (f"tracker_scan: {{phrases: {{down: [{'x' * 201}]}}}}", "tracker_scan.phrases.down[0]"),
    ("control: {unregistered: {enabled: true, after: -1s}}", "control.unregistered.after"),
    ("control: {unregistered: {outage_share: 1.5}}", "control.unregistered.outage_share"),
    ("control: {unregistered: {tag: 'a,b'}}", "control.unregistered.tag"),
    ("control: {unregistered: {delete: true}}", "control.unregistered.<key 1>"),
    ("control: {unregistered: {max_actions_per_run: 0}}", "control.unregistered.max_actions_per_run"),
    (
        "tracker_scan: {enabled: false}\ncontrol: {unregistered: {enabled: true}}",
        "control.unregistered.enabled",
    ),
]


@pytest.mark.parametrize("text, path", BAD, ids=[p + f"-{i}" for i, (_, p) in enumerate(BAD)])
def test_bad_input_is_one_line_naming_the_field(tmp_path, capsys, monkeypatch, text, path):
    for name in list(os.environ):
        if name.startswith("QBITTORRENT_MONITOR_"):
            monkeypatch.delenv(name)
    cfg = tmp_path / "c.yml"
    cfg.write_text(text + "\n")
    assert main(["check-config", "--config.file", str(cfg)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith(f"{PREFIX}{path}: "), err
    assert "SECRETKEY" not in err and "Traceback" not in err


def test_check_config_says_what_the_scan_does(tmp_path, capsys):
    cfg = tmp_path / "c.yml"
    cfg.write_text("tracker_scan: {requests_per_second: 2}\n")
    assert main(["check-config", "--config.file", str(cfg)]) == 0
    assert "tracker scan at most 2 requests/s" in capsys.readouterr().out
    cfg.write_text("tracker_scan: {enabled: false}\n")
    assert main(["check-config", "--config.file", str(cfg)]) == 0
    assert "no tracker scan" in capsys.readouterr().out
