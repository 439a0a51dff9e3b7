"""Settings from flags, environment and YAML; errors that name the field and never echo secrets."""

from __future__ import annotations

import subprocess
import sys

import pytest

from exporter.cli import parse
from exporter.config import ConfigError, build_settings
from exporter.durations import parse_duration


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_defaults():
    s = build_settings({}, {})
    assert s.qbittorrent_url == "http://127.0.0.1:8080"
    assert s.web_listen_address == ("0.0.0.0", 9713)
    assert s.qbittorrent_timeout < 5  # two attempts must fit in Prometheus's 10 s scrape timeout
    assert not s.metrics_per_torrent


def test_precedence_flag_over_env_over_file(tmp_path):
    cfg = write(
        tmp_path, "c.yml", "qbittorrent:\n  url: http://file:1\n  username: fileuser\n  name: filename\n"
    )
    env = {
        "QBITTORRENT_MONITOR_QBITTORRENT_URL": "http://env:2",
        "QBITTORRENT_MONITOR_QBITTORRENT_USERNAME": "envuser",
    }
    s = build_settings({"qbittorrent.url": "http://flag:3"}, env, cfg)
    assert s.qbittorrent_url == "http://flag:3"
    assert s.qbittorrent_username == "envuser"
    assert s.qbittorrent_name == "filename"


def test_cli_flags_env_and_config_file(tmp_path):
    pw = write(tmp_path, "pw", "s3cret\n")
    cfg = write(tmp_path, "c.yml", "metrics:\n  per_torrent: true\nweb:\n  listen_address: 127.0.0.1:9999\n")
    s, args = parse(
        [
            "--qbittorrent.url",
            "https://qbt.example:8443",
            "--qbittorrent.password-file",
            pw,
            "--config.file",
            cfg,
        ],
        {"QBITTORRENT_MONITOR_LOG_LEVEL": "debug"},
    )
    assert args.command == "run"
    assert s.qbittorrent_password == "s3cret"  # read from the file, newline stripped
    assert s.metrics_per_torrent and s.web_listen_address == ("127.0.0.1", 9999) and s.log_level == "debug"
    s2, args2 = parse(["check-config"], {"QBITTORRENT_MONITOR_CONFIG_FILE": cfg})
    assert args2.command == "check-config" and s2.metrics_per_torrent


@pytest.mark.parametrize(
    "yaml_text,field",
    [
        ("qbittorrent:\n  url: ftp://x\n", "qbittorrent.url"),
        ("qbittorrent:\n  colour: blue\n", "qbittorrent.<key 1>"),
        ("qbitorrent:\n  url: http://x\n", "<key 1>"),
        ("qbittorrent: [1, 2]\n", "qbittorrent"),
        ("qbittorrent:\n  timeout: 0s\n", "qbittorrent.timeout"),
        ("qbittorrent:\n  timeout: soon\n", "qbittorrent.timeout"),
        ("web:\n  listen_address: nohostport\n", "web.listen_address"),
        ("web:\n  listen_address: ':70000'\n", "web.listen_address"),
        ("web:\n  telemetry_path: metrics\n", "web.telemetry-path"),
        ("log:\n  level: loud\n", "log.level"),
        ("metrics:\n  per_torrent: maybe\n", "metrics.per_torrent"),
        ("qbittorrent:\n  password_file: /nonexistent/pw\n", "qbittorrent.password_file"),
        ("trackers:\n  default: {min_ratio: -1}\n", "trackers.default.min_ratio"),
        (
            "trackers:\n  'https://t.example/announce': {min_ratio: 1}\n",
            "trackers.<key 1>",
        ),
        ("- just\n- a list\n", "config.file"),
        ("qbittorrent: {url: [unclosed\n", "config.file"),
    ],
    ids=[
        "scheme",
        "unknown-key",
        "unknown-section",
        "not-mapping",
        "zero-timeout",
        "bad-duration",
        "no-port",
        "port-range",
        "telemetry-path",
        "log-level",
        "bool",
        "missing-file",
        "negative-ratio",
        "tracker-url-not-host",
        "top-level-list",
        "invalid-yaml",
    ],
)
def test_bad_config_names_the_field(tmp_path, yaml_text, field):
    cfg = write(tmp_path, "bad.yml", yaml_text)
    with pytest.raises(ConfigError) as err:
        build_settings({}, {}, cfg)
    assert err.value.path == field, str(err.value)
    assert str(err.value).startswith(field + ":")


def test_credentials_in_url_are_rejected_without_echoing_them():
    with pytest.raises(ConfigError) as err:
        build_settings({"qbittorrent.url": "http://admin:hunter2@127.0.0.1:8080"}, {})
    assert "hunter2" not in str(err.value) and err.value.path == "--qbittorrent.url"


def test_password_and_password_file_are_exclusive(tmp_path):
    pw = write(tmp_path, "pw", "x")
    with pytest.raises(ConfigError, match="qbittorrent.password-file"):
        build_settings({"qbittorrent.password": "a", "qbittorrent.password-file": pw}, {})


def test_api_key_from_file(tmp_path):
    key = write(tmp_path, "key", "abc123\n")
    s = build_settings({}, {"QBITTORRENT_MONITOR_QBITTORRENT_API_KEY_FILE": key})
    assert s.qbittorrent_api_key == "abc123"
    assert "abc123" not in repr(s)


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("72h", 259200),
        ("7d", 604800),
        ("500ms", 0.5),
        ("2.5", 2.5),
        (10, 10),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "h", "-1s", "1h 30m", True, "inf"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        timeout=30,
    )


def test_check_config_command(tmp_path):
    good = write(tmp_path, "good.yml", "qbittorrent:\n  url: http://127.0.0.1:8080\n")
    ok = run_cli("check-config", "--config.file", good)
    assert ok.returncode == 0 and "config OK" in ok.stdout
    bad = write(tmp_path, "bad.yml", "qbittorrent:\n  timeout: -3s\n")
    fail = run_cli("check-config", "--config.file", bad)
    assert fail.returncode == 1
    assert "qbittorrent.timeout" in fail.stderr and "invalid configuration" in fail.stderr
    env_fail = run_cli("check-config", env={"QBITTORRENT_MONITOR_WEB_LISTEN_ADDRESS": "x"})
    assert env_fail.returncode == 1 and "QBITTORRENT_MONITOR_WEB_LISTEN_ADDRESS" in env_fail.stderr
