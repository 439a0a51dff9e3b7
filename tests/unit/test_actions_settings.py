"""The `control:` and `completion:` config sections and the --actions.* / --data.dir flags."""

from __future__ import annotations

import pytest
import yaml

from exporter.actions.settings import CompletionSettings, ControlSettings
from exporter.config import ConfigError, build_settings


def settings_from(tmp_path, data, flags=None, env=None):
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(data))
    return build_settings(flags or {}, env or {}, str(path))


def test_defaults_configure_nothing(tmp_path):
    s = build_settings({}, {})
    assert s.control == ControlSettings() and not s.control.configured
    assert s.completion == CompletionSettings() and not s.completion.configured
    assert s.actions_enabled is True and s.actions_dry_run is False and s.data_dir == "data"


def test_flags_env_and_file_for_the_flat_options(tmp_path):
    s = settings_from(
        tmp_path, {"actions": {"enabled": False, "dry_run": True}, "data": {"dir": "/var/lib/x"}}
    )
    assert (s.actions_enabled, s.actions_dry_run, s.data_dir) == (False, True, "/var/lib/x")
    s = build_settings({"actions.dry-run": "true"}, {"QBITTORRENT_MONITOR_ACTIONS_ENABLED": "false"})
    assert (s.actions_enabled, s.actions_dry_run) == (False, True)


def test_a_full_control_section(tmp_path):
    s = settings_from(
        tmp_path,
        {
            "control": {
                "interval": "30s",
                "dry_run": True,
                "stalled": {
                    "enabled": True,
                    "stall_after": "20m",
                    "grace": "1h",
                    "cooldown": "5m",
                    "recheck": True,
                    "tag": "stuck",
                    "max_actions_per_run": 5,
                    "max_actions_per_tracker": 1,
                    "exclude_tags": ["keep"],
                    "exclude_categories": ["manual"],
                },
                "ratio_emergency": {
                    "enabled": True,
                    "margin": 0.05,
                    "hysteresis": 0.2,
                    "min_downloaded": "2GiB",
                    "global": True,
                    "trackers": ["Tracker.Example.org"],
                    "max_actions_per_run": 7,
                },
                "seeding_slots": {"enabled": True, "min": 2, "max": 8, "cooldown": "1m"},
            }
        },
    ).control
    assert s.configured and s.interval == 30 and s.dry_run
    assert s.stalled.enabled and s.stalled.policy.stall_after == 1200 and s.stalled.policy.grace == 3600
    assert s.stalled.policy.steps == ("reannounce", "restart", "recheck", "give_up")
    assert s.stalled.policy.tag == "stuck" and s.stalled.policy.exclude_tags == {"keep"}
    e = s.ratio_emergency
    assert e.enabled and e.policy.min_downloaded == 2 * 2**30 and e.policy.include_global
    assert e.policy.trackers == {"tracker.example.org"} and e.policy.max_actions_per_run == 7
    p = s.seeding_slots.policy
    assert (s.seeding_slots.enabled, p.minimum, p.maximum, p.cooldown) == (True, 2, 8, 60)


def test_a_full_completion_section(tmp_path):
    secret = tmp_path / "hook.secret"
    secret.write_text("s3cret\n")
    s = settings_from(
        tmp_path,
        {
            "completion": {
                "interval": "2s",
                "backfill": "1h",
                "max_runs_per_run": 3,
                "handlers": [
                    {
                        "name": "notify",
                        "type": "webhook",
                        "url": "http://127.0.0.1:1/hook?token=abc",
                        "secret_file": str(secret),
                        "timeout": "5s",
                        "retries": 0,
                        "backoff": "1m",
                        "filter": {"categories": ["movies"], "trackers": ["A.example"], "tags": ["x"]},
                    },
                    {"name": "unpack", "type": "command", "argv": ["/bin/echo", "%N", "100%%", "%F"]},
                    {"name": "cat", "type": "set_category", "category": "done"},
                    {"name": "tag", "type": "add_tags", "tags": ["b", "a"], "dry_run": True},
                ],
            }
        },
    ).completion
    assert s.configured and s.interval == 2 and s.backfill == 3600 and s.max_runs_per_run == 3
    hook, cmd, cat, tag = s.handlers
    assert hook.secret == "s3cret" and hook.retries == 0 and hook.backoff == 60 and hook.timeout == 5
    assert hook.filter.categories == {"movies"} and hook.filter.trackers == {"a.example"}
    assert "abc" not in repr(hook) and "s3cret" not in repr(hook)
    assert cmd.argv == ("/bin/echo", "%N", "100%%", "%F") and cat.category == "done"
    assert tag.tags == ("a", "b") and tag.dry_run


@pytest.mark.parametrize(
    "data, path, message",
    [
        (
            {"control": {"stalled": {"stall_after": "soon"}}},
            "control.stalled.stall_after",
            "must be a duration",
        ),
        (
            {"control": {"stalled": {"max_actions_per_run": 0}}},
            "control.stalled.max_actions_per_run",
            "from 1 to",
        ),
        ({"control": {"stalled": {"colour": 1}}}, "control.stalled.<key 1>", "unknown key"),
        ({"control": {"interval": "10ms"}}, "control.interval", "at least 100ms"),
        (
            {"control": {"ratio_emergency": {"min_downloaded": "lots"}}},
            "control.ratio_emergency.min_downloaded",
            "size",
        ),
        ({"control": {"ratio_emergency": {"margin": -1}}}, "control.ratio_emergency.margin", "from 0 to"),
        (
            {"control": {"seeding_slots": {"min": 5, "max": 2}}},
            "control.seeding_slots.min",
            "must not exceed",
        ),
        ({"control": ["x"]}, "control", "must be a mapping"),
        (
            {"completion": {"handlers": [{"type": "webhook", "url": "http://x"}]}},
            "completion.handlers[0].name",
            "required",
        ),
        (
            {"completion": {"handlers": [{"name": "a", "type": "email"}]}},
            "completion.handlers[0].type",
            "one of",
        ),
        (
            {"completion": {"handlers": [{"name": "a", "type": "webhook"}]}},
            "completion.handlers[0].url",
            "required",
        ),
        (
            {"completion": {"handlers": [{"name": "a", "type": "webhook", "url": "ftp://user:pw@host/x"}]}},
            "completion.handlers[0].url",
            "http",
        ),
        (
            {"completion": {"handlers": [{"name": "a b", "type": "add_tags", "tags": ["x"]}]}},
            "completion.handlers[0].name",
            "metric label",
        ),
        (
            {"completion": {"handlers": [{"name": "a", "type": "command", "argv": ["x", "%Q"]}]}},
            "completion.handlers[0].argv[1]",
            "unknown placeholder %Q",
        ),
        (
            {"completion": {"handlers": [{"name": "a", "type": "command", "argv": "rm -rf /"}]}},
            "completion.handlers[0].argv",
            "list of strings",
        ),
        (
            {
                "completion": {
                    "handlers": [
                        {"name": "a", "type": "add_tags", "tags": ["x"]},
                        {"name": "a", "type": "add_tags", "tags": ["y"]},
                    ]
                }
            },
            "completion.handlers[1].name",
            "also the name of handlers[0]",
        ),
        (
            {
                "completion": {
                    "handlers": [
                        {
                            "name": "a",
                            "type": "webhook",
                            "url": "http://x",
                            "secret": "s",
                            "secret_file": "/nonexistent",
                        }
                    ]
                }
            },
            "completion.handlers[0].secret_file",
            "cannot read",
        ),
        (
            {"completion": {"handlers": [{"name": "a", "type": "add_tags", "tags": ["x"], "retries": -1}]}},
            "completion.handlers[0].retries",
            "from 0 to",
        ),
    ],
    ids=[
        "duration",
        "count",
        "unknown-key",
        "interval",
        "size",
        "negative",
        "min-max",
        "not-mapping",
        "no-name",
        "bad-type",
        "no-url",
        "bad-url",
        "bad-name",
        "placeholder",
        "argv-string",
        "duplicate",
        "secret-file",
        "retries",
    ],
)
def test_bad_values_name_the_field(tmp_path, data, path, message):
    with pytest.raises(ConfigError) as info:
        settings_from(tmp_path, data)
    assert info.value.path == path and message in str(info.value)
    assert "pw@" not in str(info.value)  # a URL is never echoed: it may carry credentials
