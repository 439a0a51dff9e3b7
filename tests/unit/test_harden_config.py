"""A configuration that hurts: each bad value is one line naming the field, never a traceback, never the
value itself (it may be a passkey or a password typed in the wrong place), and no file can make the
parser grow without bound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field

import pytest

from exporter.cli import main
from exporter.config import ConfigError, build_settings
from exporter.config.limits import MAX_SECRET_BYTES, MAX_YAML_BYTES

PREFIX = "qbittorrent-monitor: invalid configuration: "
PASSKEY = "SECRETPASSKEY123"
PASSWORD = "hunter2"
HUGE = "9" * 400  # an integer far beyond a float

# Nine aliases of nine aliases ... of nine strings: 320 bytes that stand for 9**7 (4.8 million) values.
BOMB = "metrics:\n  per_torrent:\n" + "".join(
    f"    - &{chr(97 + i)} [{', '.join([f'*{chr(96 + i)}'] * 9 if i else ['lol'] * 9)}]\n" for i in range(7)
)
ANNOUNCE = f"https://t.example:443/{PASSKEY}/announce"


def handler(fields: str) -> str:
    return f"completion:\n  handlers:\n    - {{name: a, {fields}}}\n"


@dataclass(frozen=True)
class Bad:
    id: str
    yaml: str | bytes  # "{dir}" is replaced by the test's directory
    path: str  # the field the one line must name
    files: dict[str, str | bytes] = field(default_factory=dict)  # other files in {dir}


BAD = [
    # -- the files themselves
    Bad("alias-bomb", BOMB, "config.file"),
    Bad(
        "alias-bomb-in-web-config",
        "web:\n  config_file: {dir}/web.yml\n",
        "web.config-file",
        {"web.yml": BOMB},
    ),
    Bad("alias-inside-itself", "trackers: &a {default: *a}\n", "config.file"),
    Bad("too-many-aliases", "x: &x 1\ny: [" + "*x, " * 1001 + "]\n", "config.file"),
    Bad("nested-too-deeply", "x: " + "[" * 2000 + "\n", "config.file"),
    Bad("oversized", f"qbittorrent:\n  password: {PASSWORD}\n" + "#" * MAX_YAML_BYTES + "\n", "config.file"),
    Bad(
        "oversized-web-config",
        "web:\n  config_file: {dir}/web.yml\n",
        "web.config-file",
        {"web.yml": "#" * (MAX_YAML_BYTES + 1)},
    ),
    Bad("not-utf8", b"qbittorrent:\n  name: \xff\xfe\n", "config.file"),
    Bad("password-file-endless", "qbittorrent:\n  password_file: /dev/zero\n", "qbittorrent.password-file"),
    Bad(
        "password-file-too-large",
        "qbittorrent:\n  password_file: {dir}/pw\n",
        "qbittorrent.password-file",
        {"pw": "x" * (MAX_SECRET_BYTES + 1)},
    ),
    Bad(
        "password-file-binary",
        "qbittorrent:\n  password_file: {dir}/pw\n",
        "qbittorrent.password-file",
        {"pw": b"\xff\xfe\x00"},
    ),
    Bad(
        "webhook-secret-file-endless",
        handler("type: webhook, url: 'http://127.0.0.1:1/', secret_file: /dev/zero"),
        "completion.handlers[0].secret_file",
    ),
    # -- numbers and durations past their bounds
    Bad("interval-1e20", "control:\n  interval: 1e20\n", "control.interval"),
    Bad("interval-over-a-day", "control:\n  interval: 25h\n", "control.interval"),
    Bad("completion-interval-1e20", "completion:\n  interval: 1e20\n", "completion.interval"),
    Bad(
        "handler-timeout-over-a-day",
        handler("type: add_tags, tags: [x], timeout: 2d"),
        "completion.handlers[0].timeout",
    ),
    Bad(
        "handler-backoff-over-a-day",
        handler("type: add_tags, tags: [x], backoff: 2d"),
        "completion.handlers[0].backoff",
    ),
    Bad(
        "handler-retries",
        handler("type: add_tags, tags: [x], retries: 101"),
        "completion.handlers[0].retries",
    ),
    Bad(
        "duration-over-ten-years",
        "trackers:\n  default: {min_seed_time: 3651d}\n",
        "trackers.default.min_seed_time",
    ),
    Bad(
        "full-resync-over-a-day",
        "qbittorrent:\n  full_resync_interval: 2d\n",
        "qbittorrent.full_resync_interval",
    ),
    Bad("huge-int-ratio", f"trackers:\n  default: {{min_ratio: {HUGE}}}\n", "trackers.default.min_ratio"),
    Bad(
        "huge-int-duration",
        f"trackers:\n  default: {{min_seed_time: {HUGE}}}\n",
        "trackers.default.min_seed_time",
    ),
    Bad(
        "huge-int-count",
        f"control:\n  stalled: {{max_actions_per_run: {HUGE}}}\n",
        "control.stalled.max_actions_per_run",
    ),
    Bad(
        "huge-size-text",
        f"control:\n  ratio_emergency: {{min_downloaded: '{HUGE}'}}\n",
        "control.ratio_emergency.min_downloaded",
    ),
    Bad("int-of-5000-digits", "metrics:\n  per_torrent: " + "9" * 5000 + "\n", "config.file"),
    Bad("huge-int-bool", f"metrics:\n  per_torrent: {HUGE}\n", "metrics.per_torrent"),
    Bad("nan-ratio", "trackers:\n  default: {min_ratio: .nan}\n", "trackers.default.min_ratio"),
    Bad("inf-duration", "control:\n  stalled: {stall_after: .inf}\n", "control.stalled.stall_after"),
    Bad("nan-size", "seeding:\n  upload_capacity: .nan\n", "seeding.upload_capacity"),
    Bad(
        "seeder-exponent",
        "trackers:\n  default: {points: {model: gazelle, seeder_exponent: 1000000}}\n",
        "trackers.default.points.seeder_exponent",
    ),
    # -- values of the wrong type
    Bad("webhook-bad-url", handler("type: webhook, url: 'http://[bad/'"), "completion.handlers[0].url"),
    Bad(
        "model-unhashable", "trackers:\n  default: {points: {model: [x]}}\n", "trackers.default.points.model"
    ),
    Bad(
        "model-mapping", "trackers:\n  default: {points: {model: {a: 1}}}\n", "trackers.default.points.model"
    ),
    Bad("bool-as-number", "trackers:\n  default: {min_ratio: true}\n", "trackers.default.min_ratio"),
    Bad(
        "date-as-duration",
        "trackers:\n  default: {min_seed_time: 2024-01-01}\n",
        "trackers.default.min_seed_time",
    ),
    Bad("list-as-string", "qbittorrent:\n  username: [a]\n", "qbittorrent.username"),
    Bad("octal-password", "qbittorrent:\n  password: 0123\n", "qbittorrent.password"),
    Bad("null-as-mapping", "trackers:\n  default: {points: null}\n", "trackers.default.points"),
    Bad("bool-as-section", "control: yes\n", "control"),
    Bad("handlers-mapping", "completion:\n  handlers: {}\n", "completion.handlers"),
    Bad("non-string-key", "qbittorrent:\n  1: x\n", "qbittorrent.<key 1>"),
    Bad("non-string-tracker-key", "trackers:\n  1: {}\n", "trackers.<key 1>"),
    Bad("non-string-tag", "control:\n  stalled: {exclude_tags: [1]}\n", "control.stalled.exclude_tags[0]"),
    Bad("duplicate-host", "trackers:\n  A.example: {}\n  a.example: {}\n", "trackers.a.example"),
    # -- a string or a mapping where a list is wanted
    Bad("exclude-tags-string", "control:\n  stalled: {exclude_tags: keep}\n", "control.stalled.exclude_tags"),
    Bad(
        "exclude-tags-mapping",
        "control:\n  stalled: {exclude_tags: {keep: 1}}\n",
        "control.stalled.exclude_tags",
    ),
    Bad(
        "filter-tags-string",
        handler("type: add_tags, tags: [x], filter: {tags: a}"),
        "completion.handlers[0].filter.tags",
    ),
    Bad(
        "filter-categories-mapping",
        handler("type: add_tags, tags: [x], filter: {categories: {tv: 1}}"),
        "completion.handlers[0].filter.categories",
    ),
    Bad(
        "filter-trackers-string",
        handler("type: add_tags, tags: [x], filter: {trackers: t.example}"),
        "completion.handlers[0].filter.trackers",
    ),
    Bad(
        "emergency-trackers-string",
        "control:\n  ratio_emergency: {trackers: t.example}\n",
        "control.ratio_emergency.trackers",
    ),
    Bad("add-tags-string", handler("type: add_tags, tags: 'a,b'"), "completion.handlers[0].tags"),
    Bad("tag-with-comma", handler("type: add_tags, tags: ['a,b']"), "completion.handlers[0].tags[0]"),
    Bad("give-up-tag-with-comma", "control:\n  stalled: {tag: 'a,b'}\n", "control.stalled.tag"),
    # -- secrets in the wrong place: the error names the field, never the value
    Bad("announce-url-as-tracker-key", f"trackers:\n  '{ANNOUNCE}': {{min_ratio: 1}}\n", "trackers.<key 1>"),
    Bad(
        "announce-url-as-second-tracker-key",
        f"trackers:\n  default: {{}}\n  '{ANNOUNCE}': {{}}\n",
        "trackers.<key 2>",
    ),
    Bad(
        "announce-url-in-emergency-trackers",
        f"control:\n  ratio_emergency: {{trackers: ['{ANNOUNCE}']}}\n",
        "control.ratio_emergency.trackers[0]",
    ),
    Bad(
        "announce-url-in-filter",
        handler(f"type: add_tags, tags: [x], filter: {{trackers: ['{ANNOUNCE}']}}"),
        "completion.handlers[0].filter.trackers[0]",
    ),
    Bad("password-as-setting-key", f"qbittorrent:\n  {PASSWORD}: x\n", "qbittorrent.<key 1>"),
    Bad("password-as-section-key", f"{PASSWORD}: 1\n", "<key 1>"),
    Bad("password-as-policy-key", f"trackers:\n  default: {{{PASSWORD}: 1}}\n", "trackers.default.<key 1>"),
    Bad(
        "password-as-handler-key",
        handler(f"type: add_tags, tags: [x], {PASSWORD}: 1"),
        "completion.handlers[0].<key 4>",
    ),
    Bad(
        "password-as-web-config-key",
        "web:\n  config_file: {dir}/web.yml\n",
        "web.config-file: <key 1>",
        {"web.yml": f"{PASSWORD}: x\n"},
    ),
    Bad("password-in-duration", f"qbittorrent:\n  timeout: {PASSWORD}\n", "qbittorrent.timeout"),
    Bad(
        "password-in-ratio",
        f"trackers:\n  default: {{min_ratio: {PASSWORD}}}\n",
        "trackers.default.min_ratio",
    ),
    Bad("password-in-size", f"seeding:\n  upload_capacity: {PASSWORD}\n", "seeding.upload_capacity"),
    Bad(
        "password-in-count",
        f"control:\n  stalled: {{max_actions_per_run: {PASSWORD}}}\n",
        "control.stalled.max_actions_per_run",
    ),
    Bad("password-in-bool", f"metrics:\n  per_torrent: {PASSWORD}\n", "metrics.per_torrent"),
    Bad("password-in-choice", f"log:\n  level: {PASSWORD}\n", "log.level"),
    Bad("password-in-listen-address", f"web:\n  listen_address: {PASSWORD}\n", "web.listen_address"),
    Bad(
        "password-in-password-file",
        f"qbittorrent:\n  password_file: {PASSWORD}\n",
        "qbittorrent.password_file",
    ),
    Bad(
        "password-in-model",
        f"trackers:\n  default: {{points: {{model: {PASSWORD}}}}}\n",
        "trackers.default.points.model",
    ),
    Bad("password-in-interval", f"control:\n  interval: {PASSWORD}\n", "control.interval"),
    Bad(
        "credentials-in-url",
        f"qbittorrent:\n  url: 'http://admin:{PASSWORD}@127.0.0.1:8080'\n",
        "qbittorrent.url",
    ),
]


def write_case(tmp_path, case: Bad) -> str:
    for name, content in case.files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    text = case.yaml if isinstance(case.yaml, bytes) else case.yaml.replace("{dir}", str(tmp_path)).encode()
    cfg = tmp_path / "config.yml"
    cfg.write_bytes(text)
    return str(cfg)


def assert_secrets_absent(text: str) -> None:
    for secret in (PASSKEY, PASSWORD):
        assert secret.lower() not in text.lower(), text


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_a_bad_configuration_is_one_line_naming_the_field(tmp_path, capsys, monkeypatch, case):
    for name in list(os.environ):
        if name.startswith("QBITTORRENT_MONITOR_"):
            monkeypatch.delenv(name)
    cfg = write_case(tmp_path, case)

    assert main(["check-config", "--config.file", cfg]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith(f"{PREFIX}{case.path}: "), err[:500]
    assert_secrets_absent(err)

    with pytest.raises(ConfigError) as info:
        build_settings({}, {}, cfg)
    assert info.value.path == case.path, str(info.value)[:500]
    assert_secrets_absent(str(info.value))


def test_the_alias_bomb_is_refused_in_a_second_and_little_memory(tmp_path):
    """In a child process whose address space is capped, so that a regression fails here rather than
    taking the machine (unbounded, this file grew check-config past 3 GB)."""
    cfg = tmp_path / "bomb.yml"
    cfg.write_text(BOMB)
    assert len(BOMB) < 400
    child = textwrap.dedent(
        """
        import json, resource, sys, time, tracemalloc
        from exporter.config import ConfigError, build_settings
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        tracemalloc.start()
        started = time.perf_counter()
        try:
            build_settings({}, {}, sys.argv[1])
            path = None
        except ConfigError as exc:
            path = exc.path
        seconds = time.perf_counter() - started
        print(json.dumps({"path": path, "seconds": seconds, "peak": tracemalloc.get_traced_memory()[1]}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child, str(cfg)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["path"] == "config.file"  # refused by the loader, before any parser walks it
    assert result["seconds"] < 1.0 and result["peak"] < 50 << 20, result


def test_an_unexpected_error_while_parsing_is_still_one_line_without_its_message(monkeypatch, capsys):
    """The last line of defence: a parser bug must not print a traceback, nor the exception's text
    (`int("hunter2")` would put the value in it)."""

    def broken(argv, env):
        raise ValueError(f"invalid literal for int() with base 10: {PASSWORD!r}")

    monkeypatch.setattr("exporter.cli.parse", broken)
    assert main(["check-config"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith(PREFIX)
    assert "ValueError" in err and "Traceback" not in err
    assert_secrets_absent(err)
