"""Every bound of limits.py: the maximum itself is accepted, and just past it is an error naming the field;
a job scheduled at the longest interval starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client.registry import CollectorRegistry

from exporter.actions.scheduler import Actions
from exporter.config import ConfigError, build_settings, load_yaml
from exporter.config.limits import (
    MAX_BYTES,
    MAX_COUNT,
    MAX_DURATION,
    MAX_EXPONENT,
    MAX_FACTOR,
    MAX_FULL_SYNC_TIMEOUT,
    MAX_INTERVAL,
    MAX_PEERS,
    MAX_RATIO,
    MAX_REQUEST_TIMEOUT,
    MAX_RETRIES,
    MAX_SECRET_BYTES,
    MAX_YAML_ALIASES,
    MAX_YAML_BYTES,
    MAX_YAML_NODES,
)

HANDLER = "completion:\n  handlers:\n    - {{name: a, type: add_tags, tags: [x], {field}: {{v}}}}\n"
RULE = (
    "trackers:\n  default:\n"
    "    {{points: {{model: unit3d, rules: [{{name: r, points: 1, {var}: {{below: {{v}}}}}}]}}}}\n"
)


def whole_text(value: float) -> str:
    return str(int(value))


@dataclass(frozen=True)
class Bound:
    id: str
    yaml: str  # "{v}" is the value
    path: str
    maximum: str  # the largest value, as written in YAML
    above: str  # just past it
    read: Any  # Settings -> the parsed value
    expected: float


def policy(s):
    return s.trackers.default


BOUNDS = [
    Bound(
        "duration",
        "trackers:\n  default: {min_seed_time: {v}}\n",
        "trackers.default.min_seed_time",
        "3650d",
        "3650d1s",
        lambda s: policy(s).min_seed_time,
        MAX_DURATION,
    ),
    Bound(
        "control-interval",
        "control:\n  interval: {v}\n",
        "control.interval",
        "1d",
        "1d1ms",
        lambda s: s.control.interval,
        MAX_INTERVAL,
    ),
    Bound(
        "completion-interval",
        "completion:\n  interval: {v}\n",
        "completion.interval",
        "24h",
        "86400.5",
        lambda s: s.completion.interval,
        MAX_INTERVAL,
    ),
    Bound(
        "handler-timeout",
        HANDLER.format(field="timeout"),
        "completion.handlers[0].timeout",
        "1d",
        "25h",
        lambda s: s.completion.handlers[0].timeout,
        MAX_INTERVAL,
    ),
    Bound(
        "handler-backoff",
        HANDLER.format(field="backoff"),
        "completion.handlers[0].backoff",
        "1d",
        "25h",
        lambda s: s.completion.handlers[0].backoff,
        MAX_INTERVAL,
    ),
    Bound(
        "handler-retries",
        HANDLER.format(field="retries"),
        "completion.handlers[0].retries",
        str(MAX_RETRIES),
        str(MAX_RETRIES + 1),
        lambda s: s.completion.handlers[0].retries,
        MAX_RETRIES,
    ),
    Bound(
        "request-timeout",
        "qbittorrent:\n  timeout: {v}\n",
        "qbittorrent.timeout",
        "1m",
        "61s",
        lambda s: s.qbittorrent_timeout,
        MAX_REQUEST_TIMEOUT,
    ),
    Bound(
        "full-sync-timeout",
        "qbittorrent:\n  full_sync_timeout: {v}\n",
        "qbittorrent.full_sync_timeout",
        "10m",
        "601s",
        lambda s: s.qbittorrent_full_sync_timeout,
        MAX_FULL_SYNC_TIMEOUT,
    ),
    Bound(
        "min-sync-age",
        "qbittorrent:\n  min_sync_age: {v}\n",
        "qbittorrent.min_sync_age",
        "1d",
        "1d1s",
        lambda s: s.qbittorrent_min_sync_age,
        MAX_INTERVAL,
    ),
    Bound(
        "full-resync-interval",
        "qbittorrent:\n  full_resync_interval: {v}\n",
        "qbittorrent.full_resync_interval",
        "1d",
        "1d1s",
        lambda s: s.qbittorrent_full_resync_interval,
        MAX_INTERVAL,
    ),
    Bound(
        "min-ratio",
        "trackers:\n  default: {min_ratio: {v}}\n",
        "trackers.default.min_ratio",
        "1000",
        "1000.001",
        lambda s: policy(s).min_ratio,
        MAX_RATIO,
    ),
    Bound(
        "margin",
        "control:\n  ratio_emergency: {margin: {v}}\n",
        "control.ratio_emergency.margin",
        "1000",
        "1001",
        lambda s: s.control.ratio_emergency.policy.margin,
        MAX_RATIO,
    ),
    Bound(
        "hysteresis",
        "control:\n  ratio_emergency: {hysteresis: {v}}\n",
        "control.ratio_emergency.hysteresis",
        "1000.0",
        "1001",
        lambda s: s.control.ratio_emergency.policy.hysteresis,
        MAX_RATIO,
    ),
    Bound(
        "upload-capacity",
        "seeding:\n  upload_capacity: {v}\n",
        "seeding.upload_capacity",
        "1PiB",
        "1.001PiB",
        lambda s: s.seeding.upload_capacity,
        MAX_BYTES,
    ),
    Bound(
        "slot-upload",
        "seeding:\n  slot_upload: {v}\n",
        "seeding.slot_upload",
        whole_text(MAX_BYTES),
        whole_text(MAX_BYTES + 1),
        lambda s: s.seeding.slot_upload,
        MAX_BYTES,
    ),
    Bound(
        "min-downloaded",
        "control:\n  ratio_emergency: {min_downloaded: {v}}\n",
        "control.ratio_emergency.min_downloaded",
        "1024TiB",
        "1025TiB",
        lambda s: s.control.ratio_emergency.policy.min_downloaded,
        MAX_BYTES,
    ),
    Bound(
        "rule-size",
        RULE.format(var="size"),
        "trackers.default.points.rules[0].size.below",
        "1PiB",
        "2PiB",
        lambda s: policy(s).points.rules[0].when[0][1].below,
        MAX_BYTES,
    ),
    Bound(
        "rule-seeders",
        RULE.format(var="seeders"),
        "trackers.default.points.rules[0].seeders.below",
        whole_text(MAX_PEERS),
        whole_text(MAX_PEERS + 1),
        lambda s: policy(s).points.rules[0].when[0][1].below,
        MAX_PEERS,
    ),
    Bound(
        "rule-leechers",
        RULE.format(var="leechers"),
        "trackers.default.points.rules[0].leechers.below",
        whole_text(MAX_PEERS),
        whole_text(MAX_PEERS + 1),
        lambda s: policy(s).points.rules[0].when[0][1].below,
        MAX_PEERS,
    ),
    Bound(
        "rule-points",
        "trackers:\n  default: {points: {model: unit3d, rules: [{name: r, points: {v}}]}}\n",
        "trackers.default.points.rules[0].points",
        whole_text(MAX_FACTOR),
        whole_text(MAX_FACTOR + 1),
        lambda s: policy(s).points.rules[0].points,
        MAX_FACTOR,
    ),
    Bound(
        "stall-actions",
        "control:\n  stalled: {max_actions_per_run: {v}}\n",
        "control.stalled.max_actions_per_run",
        str(MAX_COUNT),
        str(MAX_COUNT + 1),
        lambda s: s.control.stalled.policy.max_actions_per_run,
        MAX_COUNT,
    ),
    Bound(
        "stall-actions-per-tracker",
        "control:\n  stalled: {max_actions_per_tracker: {v}}\n",
        "control.stalled.max_actions_per_tracker",
        str(MAX_COUNT),
        str(MAX_COUNT + 1),
        lambda s: s.control.stalled.policy.max_actions_per_tracker,
        MAX_COUNT,
    ),
    Bound(
        "emergency-actions",
        "control:\n  ratio_emergency: {max_actions_per_run: {v}}\n",
        "control.ratio_emergency.max_actions_per_run",
        str(MAX_COUNT),
        str(MAX_COUNT + 1),
        lambda s: s.control.ratio_emergency.policy.max_actions_per_run,
        MAX_COUNT,
    ),
    Bound(
        "slots-job-max",
        "control:\n  seeding_slots: {max: {v}}\n",
        "control.seeding_slots.max",
        str(MAX_COUNT),
        str(MAX_COUNT + 1),
        lambda s: s.control.seeding_slots.policy.maximum,
        MAX_COUNT,
    ),
    Bound(
        "slots-job-min",
        "control:\n  seeding_slots: {min: {v}, max: 10000}\n",
        "control.seeding_slots.min",
        str(MAX_COUNT),
        str(MAX_COUNT + 1),
        lambda s: s.control.seeding_slots.policy.minimum,
        MAX_COUNT,
    ),
    Bound(
        "min-slots",
        "seeding:\n  min_slots: {v}\n",
        "seeding.min_slots",
        str(MAX_COUNT),
        str(MAX_COUNT + 1),
        lambda s: s.seeding.min_slots,
        MAX_COUNT,
    ),
    Bound(
        "max-slots",
        "seeding:\n  max_slots: {v}\n",
        "seeding.max_slots",
        str(MAX_COUNT),
        str(MAX_COUNT + 1),
        lambda s: s.seeding.max_slots,
        MAX_COUNT,
    ),
    Bound(
        "max-runs-per-run",
        "completion:\n  max_runs_per_run: {v}\n",
        "completion.max_runs_per_run",
        str(MAX_COUNT),
        str(MAX_COUNT + 1),
        lambda s: s.completion.max_runs_per_run,
        MAX_COUNT,
    ),
    Bound(
        "gazelle-base",
        "trackers:\n  default: {points: {model: gazelle, base: {v}}}\n",
        "trackers.default.points.base",
        whole_text(MAX_FACTOR),
        "1000000.5",
        lambda s: policy(s).points.base,
        MAX_FACTOR,
    ),
    Bound(
        "gazelle-growth",
        "trackers:\n  default: {points: {model: gazelle, growth: {v}}}\n",
        "trackers.default.points.growth",
        whole_text(MAX_FACTOR),
        "1000000.5",
        lambda s: policy(s).points.growth,
        MAX_FACTOR,
    ),
    Bound(
        "seeder-exponent",
        "trackers:\n  default: {points: {model: gazelle, seeder_exponent: {v}}}\n",
        "trackers.default.points.seeder_exponent",
        "10",
        "10.5",
        lambda s: policy(s).points.seeder_exponent,
        MAX_EXPONENT,
    ),
    Bound(
        "per-torrent-hour",
        "trackers:\n  default: {points: {model: linear, per_torrent_hour: {v}}}\n",
        "trackers.default.points.per_torrent_hour",
        whole_text(MAX_FACTOR),
        whole_text(MAX_FACTOR + 1),
        lambda s: policy(s).points.per_torrent_hour,
        MAX_FACTOR,
    ),
    Bound(
        "per-gib-hour",
        "trackers:\n  default: {points: {model: linear, per_gib_hour: {v}}}\n",
        "trackers.default.points.per_gib_hour",
        whole_text(MAX_FACTOR),
        whole_text(MAX_FACTOR + 1),
        lambda s: policy(s).points.per_gib_hour,
        MAX_FACTOR,
    ),
    Bound(
        "max-per-torrent-hour",
        "trackers:\n  default: {points: {model: linear, max_per_torrent_hour: {v}}}\n",
        "trackers.default.points.max_per_torrent_hour",
        whole_text(MAX_FACTOR),
        whole_text(MAX_FACTOR + 1),
        lambda s: policy(s).points.max_per_torrent_hour,
        MAX_FACTOR,
    ),
    Bound(
        "reported-points",
        "trackers:\n  a.example: {reported_points_per_hour: {v}}\n",
        "trackers.a.example.reported_points_per_hour",
        whole_text(MAX_FACTOR),
        whole_text(MAX_FACTOR + 1),
        lambda s: s.trackers.hosts["a.example"].reported_points_per_hour,
        MAX_FACTOR,
    ),
    Bound(
        "demand-weight",
        "seeding:\n  demand_weight: {v}\n",
        "seeding.demand_weight",
        whole_text(MAX_FACTOR),
        whole_text(MAX_FACTOR + 1),
        lambda s: s.seeding.demand_weight,
        MAX_FACTOR,
    ),
    Bound(
        "scarcity-weight",
        "seeding:\n  scarcity_weight: {v}\n",
        "seeding.scarcity_weight",
        whole_text(MAX_FACTOR),
        whole_text(MAX_FACTOR + 1),
        lambda s: s.seeding.scarcity_weight,
        MAX_FACTOR,
    ),
]


def settings_from(tmp_path, text):
    cfg = tmp_path / "config.yml"
    cfg.write_text(text)
    return build_settings({"data.dir": str(tmp_path / "data")}, {}, str(cfg))


@pytest.mark.parametrize("bound", BOUNDS, ids=[b.id for b in BOUNDS])
def test_the_maximum_is_accepted_and_just_past_it_is_not(tmp_path, bound):
    assert bound.read(settings_from(tmp_path, bound.yaml.replace("{v}", bound.maximum))) == bound.expected
    with pytest.raises(ConfigError) as info:
        settings_from(tmp_path, bound.yaml.replace("{v}", bound.above))
    assert info.value.path == bound.path, str(info.value)


def write(tmp_path, text):
    path = tmp_path / "file.yml"
    path.write_text(text)
    return str(path)


def test_a_yaml_file_of_the_largest_size_is_read(tmp_path):
    head = "qbittorrent:\n  name: big\n#"
    exact = head + "x" * (MAX_YAML_BYTES - len(head) - 1) + "\n"
    assert len(exact.encode()) == MAX_YAML_BYTES
    assert settings_from(tmp_path, exact).qbittorrent_name == "big"
    with pytest.raises(ConfigError, match="larger than 1 MiB") as info:
        settings_from(tmp_path, exact + "\n")
    assert info.value.path == "config.file"


def test_the_largest_number_of_aliases_is_read(tmp_path):
    text = "x: &x 1\ny: [" + "*x, " * MAX_YAML_ALIASES + "]\n"
    assert load_yaml(write(tmp_path, text), "config.file")["y"] == [1] * MAX_YAML_ALIASES
    with pytest.raises(ConfigError, match="aliases"):
        load_yaml(write(tmp_path, text.replace("[", "[*x, ")), "config.file")


def test_the_largest_expansion_is_read(tmp_path):
    # The mapping, its key, the list, then 757 copies of a list of 1320 values: 3 + 757 * 1321 values.
    inner = "[" + ", ".join(["1"] * 1320) + "]"
    text = "{x: [&a " + inner + ", " + "*a, " * 756 + "]}\n"
    assert 3 + 757 * 1321 == MAX_YAML_NODES
    assert len(load_yaml(write(tmp_path, text), "config.file")["x"]) == 757
    with pytest.raises(ConfigError, match="expands to more than") as info:
        load_yaml(write(tmp_path, text.replace("[&a [", "[&a [1, ")), "config.file")
    assert info.value.path == "config.file"


def test_a_secret_file_of_the_largest_size_is_read(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("p" * MAX_SECRET_BYTES)
    settings = build_settings({"qbittorrent.password-file": str(secret)}, {})
    assert len(settings.qbittorrent_password) == MAX_SECRET_BYTES
    secret.write_text("p" * (MAX_SECRET_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than 64 KiB"):
        build_settings({"qbittorrent.password-file": str(secret)}, {})


class NoQBittorrent:
    """A mirror that never has a snapshot: the jobs skip, the scheduler runs."""

    connection = None
    name = "none"

    def refresh(self):
        return None


def test_jobs_at_the_longest_interval_are_scheduled(tmp_path):
    """The maximum reaches APScheduler, whose interval overflowed at 1e20 (a traceback at start)."""
    settings = settings_from(tmp_path, "control:\n  interval: 1d\ncompletion:\n  interval: 1d\n")
    actions = Actions.one(settings.jobs, NoQBittorrent(), CollectorRegistry())  # type: ignore[arg-type]
    actions.start()
    try:
        assert actions.scheduler is not None
        jobs = {job.id: job.trigger.interval.total_seconds() for job in actions.scheduler.get_jobs()}
        assert jobs == {"control:none": MAX_INTERVAL, "completion:none": MAX_INTERVAL}
    finally:
        actions.stop()
