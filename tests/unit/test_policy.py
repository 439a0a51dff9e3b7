"""The `trackers:` and `seeding:` sections: parsing, inheritance, and errors that name the field's path."""

from __future__ import annotations

import subprocess
import sys

import pytest

from exporter.config import ConfigError, build_settings
from exporter.config.fields import parse_bytes
from exporter.config.policy import parse_seeding, parse_trackers
from exporter.managers.points import GIB, UNIT3D_RULES, Gazelle, Linear, Range, Rule, Unit3d
from exporter.managers.policy import SeedingSettings, TrackerPolicies, TrackerPolicy


def policies_of(settings):
    return settings.trackers, settings.seeding


ISSUE_EXAMPLE = {
    "default": {
        "min_ratio": 1.0,
        "min_seed_time": "72h",
        "points": {"model": "linear", "per_torrent_hour": 0},
    },
    "tracker.example.org": {"min_ratio": 0.6, "points": {"model": "gazelle"}},
}


def test_the_issue_example():
    p = parse_trackers(ISSUE_EXAMPLE)
    assert p.default == TrackerPolicy(min_ratio=1.0, min_seed_time=72 * 3600.0, points=Linear())
    host = p.for_host("tracker.example.org")
    assert host.min_ratio == 0.6
    assert host.min_seed_time == 72 * 3600.0  # inherited from default
    assert host.points == Gazelle()
    assert host.reported_points_per_hour is None


def test_for_host_interface_is_unchanged():
    """The actions engineer codes against for_host(host).min_ratio / .min_seed_time (seconds)."""
    p = parse_trackers(
        {"default": {"min_ratio": 0.8, "min_seed_time": "1d"}, "T.Example.ORG": {"min_ratio": 2}}
    )
    assert p.for_host("t.example.org").min_ratio == 2.0
    assert p.for_host("T.EXAMPLE.org").min_seed_time == 86400.0  # case-insensitive, inherited
    assert p.for_host("unknown.example").min_ratio == 0.8  # unknown tracker -> default
    assert p.for_host("").min_seed_time == 86400.0  # no tracker -> default
    assert (
        TrackerPolicies().for_host("x").min_ratio == 1.0
        and TrackerPolicies().for_host("x").min_seed_time == 0.0
    )


def test_absent_section_and_absent_fields_take_defaults():
    assert parse_trackers(None) == TrackerPolicies()
    p = parse_trackers({"a.example": None, "b.example": {}})
    assert p.for_host("a.example") == p.for_host("b.example") == TrackerPolicy()
    assert TrackerPolicy().points == Linear()  # earns nothing unless configured


def test_points_block_is_complete_on_its_own_not_merged_with_default():
    p = parse_trackers(
        {
            "default": {"points": {"model": "gazelle", "base": 0.5}},
            "a.example": {"points": {"model": "gazelle", "growth": 0.1}},
            "b.example": {"min_ratio": 2},
        }
    )
    assert p.for_host("a.example").points == Gazelle(growth=0.1)  # base back to the model's 0.0433
    assert p.for_host("b.example").points == Gazelle(base=0.5)  # no points block: inherits default's


def test_reported_points_belong_to_one_host():
    p = parse_trackers({"a.example": {"reported_points_per_hour": 310}})
    assert p.for_host("a.example").reported_points_per_hour == 310.0
    assert p.for_host("b.example").reported_points_per_hour is None


def test_every_model_and_its_parameters():
    p = parse_trackers(
        {
            "g.example": {
                "points": {
                    "model": "gazelle",
                    "base": 0.05,
                    "growth": 0.08,
                    "seeder_exponent": 0.5,
                    "time_scale": "12h",
                }
            },
            "l.example": {
                "points": {
                    "model": "linear",
                    "per_torrent_hour": 1,
                    "per_gib_hour": 0.25,
                    "max_per_torrent_hour": 4,
                    "after_min_seed_time": True,
                }
            },
            "u.example": {"points": {"model": "unit3d"}},
            "v.example": {
                "points": {
                    "model": "unit3d",
                    "rules": [
                        {"name": "dying", "points": 2, "seeders": {"below": 2}},
                        {"name": "big", "points": 0.5, "size": {"min": "25GiB", "below": "100GiB"}},
                        {"name": "old", "points": 1, "age": {"min": "183d"}, "seed_time": {"min": "30d"}},
                    ],
                }
            },
        }
    )
    assert p.for_host("g.example").points == Gazelle(0.05, 0.08, 0.5, 43200.0)
    assert p.for_host("l.example").points == Linear(1.0, 0.25, 4.0, True)
    assert p.for_host("u.example").points == Unit3d(UNIT3D_RULES)
    assert p.for_host("v.example").points == Unit3d(
        (
            Rule("dying", 2.0, (("seeders", Range(below=2.0)),)),
            Rule("big", 0.5, (("size", Range(min=25.0 * GIB, below=100.0 * GIB)),)),
            Rule("old", 1.0, (("seed_time", Range(min=30 * 86400.0)), ("age", Range(min=183 * 86400.0)))),
        )
    )


BAD_TRACKERS = [
    ("unknown-model", {"default": {"points": {"model": "mam"}}}, "trackers.default.points.model"),
    ("missing-model", {"a.example": {"points": {"per_torrent_hour": 1}}}, "trackers.a.example.points.model"),
    ("points-not-mapping", {"a.example": {"points": "gazelle"}}, "trackers.a.example.points"),
    ("negative-ratio", {"a.example": {"min_ratio": -0.5}}, "trackers.a.example.min_ratio"),
    ("ratio-not-number", {"a.example": {"min_ratio": "high"}}, "trackers.a.example.min_ratio"),
    ("ratio-bool", {"a.example": {"min_ratio": True}}, "trackers.a.example.min_ratio"),
    ("infinite-ratio", {"a.example": {"min_ratio": float("inf")}}, "trackers.a.example.min_ratio"),
    ("negative-seed-time", {"default": {"min_seed_time": "-1h"}}, "trackers.default.min_seed_time"),
    ("bad-seed-time", {"default": {"min_seed_time": "three days"}}, "trackers.default.min_seed_time"),
    ("unknown-policy-key", {"a.example": {"min_ratoi": 1}}, "trackers.a.example.<key 1>"),
    (
        "unknown-model-param",
        {"a.example": {"points": {"model": "gazelle", "per_gib_hour": 1}}},
        "trackers.a.example.points.<key 2>",
    ),
    (
        "negative-param",
        {"a.example": {"points": {"model": "linear", "per_gib_hour": -1}}},
        "trackers.a.example.points.per_gib_hour",
    ),
    (
        "zero-time-scale",
        {"a.example": {"points": {"model": "gazelle", "time_scale": 0}}},
        "trackers.a.example.points.time_scale",
    ),
    (
        "flag-not-bool",
        {"a.example": {"points": {"model": "linear", "after_min_seed_time": "yes"}}},
        "trackers.a.example.points.after_min_seed_time",
    ),
    (
        "negative-cap",
        {"a.example": {"points": {"model": "linear", "max_per_torrent_hour": -2}}},
        "trackers.a.example.points.max_per_torrent_hour",
    ),
    (
        "rules-not-list",
        {"a.example": {"points": {"model": "unit3d", "rules": {"dying": 2}}}},
        "trackers.a.example.points.rules",
    ),
    (
        "rule-unknown-variable",
        {
            "a.example": {
                "points": {"model": "unit3d", "rules": [{"name": "x", "points": 1, "snatches": {"min": 3}}]}
            }
        },
        "trackers.a.example.points.rules[0].<key 3>",
    ),
    (
        "rule-missing-points",
        {"a.example": {"points": {"model": "unit3d", "rules": [{"name": "x"}]}}},
        "trackers.a.example.points.rules[0].points",
    ),
    (
        "rule-negative-points",
        {"a.example": {"points": {"model": "unit3d", "rules": [{"name": "x", "points": -1}]}}},
        "trackers.a.example.points.rules[0].points",
    ),
    (
        "rule-empty-range",
        {
            "a.example": {
                "points": {
                    "model": "unit3d",
                    "rules": [{"name": "ok", "points": 1}, {"name": "x", "points": 1, "size": {}}],
                }
            }
        },
        "trackers.a.example.points.rules[1].size",
    ),
    (
        "rule-inverted-range",
        {
            "a.example": {
                "points": {
                    "model": "unit3d",
                    "rules": [{"name": "x", "points": 1, "age": {"min": "12w", "below": "1w"}}],
                }
            }
        },
        "trackers.a.example.points.rules[0].age",
    ),
    (
        "rule-range-unknown-key",
        {
            "a.example": {
                "points": {"model": "unit3d", "rules": [{"name": "x", "points": 1, "seeders": {"max": 1}}]}
            }
        },
        "trackers.a.example.points.rules[0].seeders.<key 1>",
    ),
    (
        "rule-bad-size",
        {
            "a.example": {
                "points": {"model": "unit3d", "rules": [{"name": "x", "points": 1, "size": {"min": "10Gb"}}]}
            }
        },
        "trackers.a.example.points.rules[0].size.min",
    ),
    (
        "reported-zero",
        {"a.example": {"reported_points_per_hour": 0}},
        "trackers.a.example.reported_points_per_hour",
    ),
    (
        "reported-on-default",
        {"default": {"reported_points_per_hour": 10}},
        "trackers.default.reported_points_per_hour",
    ),
    ("policy-not-mapping", {"a.example": [1, 2]}, "trackers.a.example"),
    ("url-not-host", {"https://a.example/announce": {}}, "trackers.<key 1>"),
    ("host-with-port", {"a.example:443": {}}, "trackers.<key 1>"),
]


@pytest.mark.parametrize("raw,path", [c[1:] for c in BAD_TRACKERS], ids=[c[0] for c in BAD_TRACKERS])
def test_bad_policy_names_the_field(raw, path):
    with pytest.raises(ConfigError) as err:
        parse_trackers(raw)
    assert err.value.path == path, str(err.value)
    assert str(err.value).startswith(path + ":")


def test_seeding_section():
    assert parse_seeding(None) == SeedingSettings()
    s = parse_seeding(
        {
            "upload_capacity": "100Mbit",
            "slot_upload": "512KiB",
            "min_slots": 2,
            "max_slots": 40,
            "idle_window": "6h",
            "demand_weight": 0.5,
            "scarcity_weight": 0,
        }
    )
    assert s == SeedingSettings(12_500_000.0, 524288.0, 2, 40, 21600.0, 0.5, 0.0)


BAD_SEEDING = [
    ("unknown-key", {"upload_capcity": 1}, "seeding.<key 1>"),
    ("ambiguous-unit", {"upload_capacity": "100Mb"}, "seeding.upload_capacity"),
    ("not-a-size", {"upload_capacity": "fast"}, "seeding.upload_capacity"),
    ("negative-capacity", {"upload_capacity": -1}, "seeding.upload_capacity"),
    ("zero-slot-upload", {"slot_upload": 0}, "seeding.slot_upload"),
    ("fractional-slots", {"min_slots": 1.5}, "seeding.min_slots"),
    ("negative-slots", {"max_slots": -1}, "seeding.max_slots"),
    ("min-above-max", {"min_slots": 10, "max_slots": 5}, "seeding.min_slots"),
    ("bad-window", {"idle_window": "a while"}, "seeding.idle_window"),
    ("negative-weight", {"demand_weight": -1}, "seeding.demand_weight"),
    ("not-mapping", [1], "seeding"),
]


@pytest.mark.parametrize("raw,path", [c[1:] for c in BAD_SEEDING], ids=[c[0] for c in BAD_SEEDING])
def test_bad_seeding_names_the_field(raw, path):
    with pytest.raises(ConfigError) as err:
        parse_seeding(raw)
    assert err.value.path == path, str(err.value)


@pytest.mark.parametrize(
    "text,expected",
    [
        (1500, 1500.0),
        ("25GiB", 25.0 * GIB),
        ("1.5GB", 1.5e9),
        ("100Mbit", 12.5e6),
        ("10MiB/s", 10 * 2.0**20),
        ("2 KiB", 2048.0),
        ("7B", 7.0),
        ("5", 5.0),
        ("1gib", float(GIB)),
        ("1Gbit/s", 1.25e8),
    ],
    ids=["int", "GiB", "GB", "Mbit", "MiB/s", "space", "B", "bare", "lower-gib", "Gbit/s"],
)
def test_sizes_and_rates(text, expected):
    assert parse_bytes(text, "x") == expected


def test_sections_come_through_the_config_file(tmp_path):
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        "trackers:\n  tracker.example.org: {min_ratio: 0.6, points: {model: gazelle}}\n"
        "seeding:\n  upload_capacity: 10MiB\n"
    )
    policies, seeding = policies_of(build_settings({}, {}, str(cfg)))
    assert policies.for_host("tracker.example.org").points == Gazelle()
    assert seeding.upload_capacity == 10 * 2.0**20
    assert policies_of(build_settings({}, {})) == (TrackerPolicies(), SeedingSettings())


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=30,
    )


@pytest.mark.parametrize(
    "yaml_text,path",
    [
        (
            "trackers:\n  tracker.example.org: {points: {model: mam}}\n",
            "trackers.tracker.example.org.points.model",
        ),
        (
            "trackers:\n  default: {points: {model: linear, per_gib_hour: -3}}\n",
            "trackers.default.points.per_gib_hour",
        ),
        ("seeding:\n  slots: 4\n", "seeding.<key 1>"),
    ],
    ids=["unknown-model", "negative-number", "unknown-key"],
)
def test_check_config_rejects_bad_policy_naming_the_path(tmp_path, yaml_text, path):
    cfg = tmp_path / "bad.yml"
    cfg.write_text(yaml_text)
    result = run_cli("check-config", "--config.file", str(cfg))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"invalid configuration: {path}:" in result.stderr


def test_check_config_accepts_the_documented_example(tmp_path):
    cfg = tmp_path / "good.yml"
    cfg.write_text(
        "trackers:\n"
        "  default: {min_ratio: 1.0, min_seed_time: 72h, points: {model: linear, per_torrent_hour: 0}}\n"
        "  tracker.example.org: {min_ratio: 0.6, points: {model: gazelle}, reported_points_per_hour: 310}\n"
        "seeding: {upload_capacity: 100Mbit, idle_window: 24h, max_slots: 50}\n"
    )
    result = run_cli("check-config", "--config.file", str(cfg))
    assert result.returncode == 0 and "config OK" in result.stdout, result.stderr


def test_the_reference_example_in_the_module_docstring_parses(tmp_path):
    """docs/configuration.md shows exporter/config/policy.py's docstring: its YAML example must be valid."""
    import textwrap

    import exporter.config.policy

    doc = exporter.config.policy.__doc__
    block = doc[doc.index("    trackers:") : doc.index("\n\n", doc.index("    seeding:"))]
    cfg = tmp_path / "documented.yml"
    cfg.write_text(textwrap.dedent(block) + "\n")
    policies, seeding = policies_of(build_settings({}, {}, str(cfg)))
    assert policies.for_host("tracker.example.org").reported_points_per_hour == 310
    assert policies.for_host("tracker.example.org").points == Gazelle()
    assert seeding == SeedingSettings(upload_capacity=12_500_000.0)


@pytest.mark.parametrize("doc", ["bonus-points.md", "seeding-allocation.md"])
def test_every_yaml_example_in_the_docs_is_valid(tmp_path, doc):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / doc).read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, f"no YAML example in {doc}"
    for i, block in enumerate(blocks):
        cfg = tmp_path / f"{i}.yml"
        cfg.write_text(block)
        build_settings({}, {}, str(cfg))  # raises ConfigError naming the field if the docs drifted
