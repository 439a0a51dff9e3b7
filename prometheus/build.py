"""Renders prometheus/alerts.yml, prometheus/recording.yml and docs/alerts.md from one table of settings.

This is the project's "mixin config" (as in node_exporter's node-mixin): every selector, threshold and
`for:` duration of the shipped rules lives in CONFIG below, with what it means. To change one:

    edit CONFIG, then   python prometheus/build.py          # rewrites the three files
                        python prometheus/build.py --check  # exit 1 if the committed files are stale

tests/unit/test_rules.py runs the --check, `promtool check rules` and `promtool test rules
prometheus/tests/*.yml` (a firing and a quiet case for every alert).

Expressions are %-format templates over CONFIG: `qbittorrent_up{%(selector)s} == 0`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from exporter.generated import write_or_check

HERE = Path(__file__).resolve().parent
RUNBOOKS = "https://github.com/qbittorrent-monitor/qbittorrent-monitor/blob/main/docs/runbooks.md"

# name: (value, what it means). Durations are Prometheus durations; sizes are bytes.
CONFIG: dict[str, tuple[Any, str]] = {
    "selector": (
        'job="qbittorrent"',
        "Label matcher of the exporter's scrape job, added to every expression.",
    ),
    "runbook_url": (RUNBOOKS, "Base of every alert's runbook_url; the alert name is the #anchor."),
    "exporter_down_for": ("5m", "How long the scrape must fail before QBittorrentExporterDown."),
    "unreachable_for": ("5m", "How long qbittorrent_up must be 0 before QBittorrentUnreachable."),
    "firewalled_for": ("30m", "How long qBittorrent must report `firewalled` (no incoming connections)."),
    "disconnected_for": ("10m", "How long qBittorrent must report `disconnected` (no network at all)."),
    "dht_seen_window": (
        "24h",
        "DHT counts as enabled when it had nodes within this window (qBittorrent does not export the "
        "setting); zero nodes now then fires QBittorrentNoDHTNodes.",
    ),
    "dht_for": ("30m", "How long DHT must have zero nodes."),
    "free_space_min_bytes": (10 * 2**30, "QBittorrentFreeSpaceLow below this many free bytes (10 GiB)."),
    "free_space_for": ("10m", "How long free space must stay below free_space_min_bytes."),
    "free_space_trend_window": ("6h", "Window of the linear fit of free space."),
    "free_space_horizon_seconds": (
        24 * 3600,
        "QBittorrentFreeSpaceRunningOut when the fit reaches 0 within this.",
    ),
    "free_space_trend_for": ("1h", "How long the prediction must say `full` before alerting."),
    "errored_for": ("5m", "How long a torrent must be in `error` or `missingFiles`."),
    "stalled_for": (
        "1h",
        "How long downloads must be stalled (stalledDL) before QBittorrentDownloadsStalled.",
    ),
    "stalled_min_torrents": (1, "How many stalled downloads it takes."),
    "ratio_near_margin": (0.1, "QBittorrentTrackerRatioNearMinimum when ratio < min_ratio + this margin."),
    "ratio_for": ("15m", "How long a tracker ratio must stay below (or near) its minimum."),
    "ratio_emergency_for": ("1m", "How long the ratio emergency must be on before it is reported."),
    "hnr_for": ("30m", "How long torrents must be at hit-and-run risk."),
    "handler_failure_window": ("15m", "Window in which any failed completion handler run counts."),
    "handler_failure_for": ("5m", "How long handler runs must keep failing."),
    "backlog_growth_window": ("1h", "Window over which the completion backlog must have grown."),
    "backlog_for": ("30m", "How long the backlog must be non-empty and growing."),
    "job_max_age": (
        {"control": "5m", "completion": "2m"},
        "QBittorrentActionJobNotSucceeding when a job's last success is older than this: about 5 intervals "
        "at the default intervals (control 1m, completion 10s). Raise it when you lengthen an interval.",
    ),
    "job_for": ("1m", "How long a job must stay without success beyond job_max_age."),
    "sync_error_ratio": (0.1, "QBittorrentSyncErrors when more than this fraction of syncs fail..."),
    "sync_error_window": ("10m", "...over this window..."),
    "sync_error_for": ("15m", "...for this long, while qBittorrent is otherwise up."),
}
C = {name: value for name, (value, _) in CONFIG.items()}


def seconds(duration: str) -> int:
    """ "5m" -> 300: Prometheus durations of one unit, for thresholds compared with time()."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(duration[:-1]) * units[duration[-1]]


def alert(name: str, expr: str, for_: str, severity: str, summary: str, description: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr % C,
        "for": for_ % C,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            "description": description % C,
            "runbook_url": f"{C['runbook_url']}#{name.lower()}",
        },
    }


# Go template: the alert's tracker's qbittorrent_tracker_min_ratio, looked up when the alert fires.
MIN_RATIO = (
    '{{ with printf "qbittorrent_tracker_min_ratio{job=%%q, instance=%%q, tracker=%%q}" $labels.job '
    "$labels.instance "
    "$labels.tracker | query }}{{ . | first | value }}{{ end }}"
)

ALERTS = [
    {
        "name": "qbittorrent-monitor.health",
        "rules": [
            alert(
                "QBittorrentExporterDown",
                "up{%(selector)s} == 0",
                "%(exporter_down_for)s",
                "critical",
                "qbittorrent-monitor cannot be scraped.",
                "Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for "
                "%(exporter_down_for)s: "
                "no qBittorrent metrics, no alerts about qBittorrent.",
            ),
            alert(
                "QBittorrentUnreachable",
                "qbittorrent_up{%(selector)s} == 0",
                "%(unreachable_for)s",
                "critical",
                "qBittorrent is unreachable.",
                "The exporter {{ $labels.instance }} has not synced with qBittorrent for %(unreachable_for)s "
                "(qbittorrent_up = {{ $value }}): qBittorrent is down, refuses the login, or times out.",
            ),
            alert(
                "QBittorrentSyncErrors",
                "(\n  sum by (job, instance) "
                "(rate(qbittorrent_exporter_sync_errors_total{%(selector)s}[%(sync_error_window)s]))\n"
                "/\n  (sum by (job, instance) "
                "(rate(qbittorrent_exporter_syncs_total{%(selector)s}[%(sync_error_window)s]))\n"
                "   + sum by (job, instance) "
                "(rate(qbittorrent_exporter_sync_errors_total{%(selector)s}[%(sync_error_window)s])))\n"
                ") > %(sync_error_ratio)s\nand on (job, instance) qbittorrent_up{%(selector)s} == 1\n",
                "%(sync_error_for)s",
                "warning",
                "Syncs with qBittorrent keep failing.",
                "{{ $value | humanizePercentage }} of the syncs of {{ $labels.instance }} failed over the "
                "last "
                "%(sync_error_window)s while qBittorrent is still answering (timeouts or bad responses).",
            ),
        ],
    },
    {
        "name": "qbittorrent.network",
        "rules": [
            alert(
                "QBittorrentFirewalled",
                'qbittorrent_connection_status{status="firewalled", %(selector)s} == 1',
                "%(firewalled_for)s",
                "warning",
                "qBittorrent is firewalled.",
                "qBittorrent behind {{ $labels.instance }} has had no incoming connections for "
                "%(firewalled_for)s: "
                "peers cannot connect to it, which hurts upload and ratio.",
            ),
            alert(
                "QBittorrentDisconnected",
                'qbittorrent_connection_status{status="disconnected", %(selector)s} == 1',
                "%(disconnected_for)s",
                "critical",
                "qBittorrent has no network connection.",
                "qBittorrent behind {{ $labels.instance }} has reported `disconnected` for "
                "%(disconnected_for)s.",
            ),
            alert(
                "QBittorrentNoDHTNodes",
                "qbittorrent_dht_nodes{%(selector)s} == 0\n"
                "and max_over_time(qbittorrent_dht_nodes{%(selector)s}[%(dht_seen_window)s]) > 0\n",
                "%(dht_for)s",
                "warning",
                "qBittorrent's DHT has no nodes.",
                "qBittorrent behind {{ $labels.instance }} had DHT nodes in the last %(dht_seen_window)s but "
                "has had "
                "none for %(dht_for)s: trackerless torrents cannot find peers.",
            ),
        ],
    },
    {
        "name": "qbittorrent.storage",
        "rules": [
            alert(
                "QBittorrentFreeSpaceLow",
                "qbittorrent_free_space_bytes{%(selector)s} < %(free_space_min_bytes)s",
                "%(free_space_for)s",
                "warning",
                "qBittorrent's download disk is almost full.",
                "Only {{ $value | humanize1024 }}B are free on the default save path of {{ $labels.instance "
                "}} "
                "(threshold {{ %(free_space_min_bytes)s | humanize1024 }}B).",
            ),
            alert(
                "QBittorrentFreeSpaceRunningOut",
                "predict_linear(qbittorrent_free_space_bytes{%(selector)s}[%(free_space_trend_window)s], "
                "%(free_space_horizon_seconds)s) < 0",
                "%(free_space_trend_for)s",
                "warning",
                "qBittorrent's download disk is predicted to fill up.",
                "At the rate of the last %(free_space_trend_window)s, the default save path of {{ "
                "$labels.instance }} "
                "runs out of space within {{ %(free_space_horizon_seconds)s | humanizeDuration }} (predicted "
                "free space then: "
                "{{ $value | humanize1024 }}B).",
            ),
        ],
    },
    {
        "name": "qbittorrent.torrents",
        "rules": [
            alert(
                "QBittorrentTorrentsErrored",
                'sum by (job, instance, state) (qbittorrent_torrents{status="errored", %(selector)s}) > 0',
                "%(errored_for)s",
                "warning",
                "Torrents are in error.",
                "{{ $value }} torrents of {{ $labels.instance }} have been in state {{ $labels.state }} for "
                "%(errored_for)s (I/O error, or their files are missing).",
            ),
            alert(
                "QBittorrentDownloadsStalled",
                'sum by (job, instance) (qbittorrent_torrents{status="stalled", %(selector)s}) >= '
                "%(stalled_min_torrents)s",
                "%(stalled_for)s",
                "warning",
                "Downloads are stalled.",
                "{{ $value }} downloads of {{ $labels.instance }} have made no progress (stalledDL) for "
                "%(stalled_for)s: no peers, or a dead tracker.",
            ),
        ],
    },
    {
        "name": "qbittorrent.trackers",
        "rules": [
            alert(
                "QBittorrentTrackerRatioBelowMinimum",
                "qbittorrent_tracker_ratio{%(selector)s} < on (job, instance, tracker) "
                "qbittorrent_tracker_min_ratio{%(selector)s}",
                "%(ratio_for)s",
                "critical",
                "A tracker's ratio is below its minimum.",
                'The ratio on {{ $labels.tracker }} is {{ $value | printf "%%.3f" }}, below the tracker\'s '
                "minimum of " + MIN_RATIO + "; the account risks a download ban.",
            ),
            alert(
                "QBittorrentTrackerRatioNearMinimum",
                "qbittorrent_tracker_ratio{%(selector)s} >= on (job, instance, tracker) "
                "qbittorrent_tracker_min_ratio{%(selector)s}\n"
                "and qbittorrent_tracker_ratio{%(selector)s} < on (job, instance, tracker) "
                "(qbittorrent_tracker_min_ratio{%(selector)s} + %(ratio_near_margin)s)\n"
                "and on (job, instance, tracker) qbittorrent_tracker_min_ratio{%(selector)s} > 0\n",
                "%(ratio_for)s",
                "warning",
                "A tracker's ratio is close to its minimum.",
                'The ratio on {{ $labels.tracker }} is {{ $value | printf "%%.3f" }}, within '
                "%(ratio_near_margin)s of the "
                "tracker's minimum of " + MIN_RATIO + ".",
            ),
            alert(
                "QBittorrentRatioEmergencyActive",
                "qbittorrent_exporter_ratio_emergency_active{%(selector)s} == 1",
                "%(ratio_emergency_for)s",
                "warning",
                "Downloads from a tracker are stopped to protect its ratio.",
                "qbittorrent-monitor {{ $labels.instance }} has stopped the downloads of {{ $labels.tracker "
                "}} because "
                "its ratio fell below the minimum; they resume when the ratio recovers.",
            ),
            alert(
                "QBittorrentHitAndRunRisk",
                "qbittorrent_hnr_risk_torrents{%(selector)s} > 0",
                "%(hnr_for)s",
                "warning",
                "Torrents risk a hit-and-run.",
                "{{ $value }} completed torrents of {{ $labels.tracker }} are not seeding although they have "
                "not yet "
                "seeded for the tracker's minimum seed time.",
            ),
        ],
    },
    {
        "name": "qbittorrent-monitor.actions",
        "rules": [
            alert(
                "QBittorrentCompletionHandlersFailing",
                "sum by (job, instance, handler) (increase(qbittorrent_exporter_completion_handler_runs_total"
                '{result=~"error|dead", %(selector)s}[%(handler_failure_window)s])) > 0',
                "%(handler_failure_for)s",
                "warning",
                "Completion handlers are failing.",
                "The completion handler {{ $labels.handler }} of {{ $labels.instance }} failed {{ $value | "
                "humanize }} "
                "times in the last %(handler_failure_window)s.",
            ),
            alert(
                "QBittorrentCompletionBacklogGrowing",
                "qbittorrent_exporter_completion_backlog{%(selector)s} > 0\n"
                "and delta(qbittorrent_exporter_completion_backlog{%(selector)s}[%(backlog_growth_window)s]) "
                "> 0\n",
                "%(backlog_for)s",
                "warning",
                "Completions are piling up unhandled.",
                "{{ $labels.instance }} has {{ $value }} completions pending or dead-lettered, and the "
                "number has grown over the last "
                "%(backlog_growth_window)s.",
            ),
            alert(
                "QBittorrentActionJobNotSucceeding",
                "\nor\n".join(
                    "time() - qbittorrent_exporter_job_last_success_timestamp_seconds"
                    f'{{exported_job="{job}", %(selector)s}}'
                    f" > {seconds(age)}"
                    for job, age in C["job_max_age"].items()
                )
                + "\n",
                "%(job_for)s",
                "warning",
                "A scheduled job has stopped succeeding.",
                "The {{ $labels.exported_job }} job of {{ $labels.instance }} last succeeded "
                "{{ $value | humanizeDuration }} ago (thresholds: "
                + ", ".join(f"{job} {age}" for job, age in C["job_max_age"].items())
                + ").",
            ),
        ],
    },
]

# What the dashboards reuse. Names follow Prometheus's level:metric:operations convention.
RECORDING = [
    {
        "name": "qbittorrent.recording",
        "rules": [
            {
                "record": "instance_status:qbittorrent_torrents:sum",
                "expr": "sum by (job, instance, status) (qbittorrent_torrents{%(selector)s})",
            },
            {
                "record": "instance_category:qbittorrent_torrents:sum",
                "expr": "sum by (job, instance, category) (qbittorrent_torrents{%(selector)s})",
            },
            {
                "record": "instance:qbittorrent_uploaded_bytes:rate5m",
                "expr": "rate(qbittorrent_alltime_uploaded_bytes_total{%(selector)s}[5m])",
            },
            {
                "record": "instance:qbittorrent_downloaded_bytes:rate5m",
                "expr": "rate(qbittorrent_alltime_downloaded_bytes_total{%(selector)s}[5m])",
            },
            {
                "record": "instance:qbittorrent_exporter_sync_errors:ratio_rate5m",
                "expr": "sum by (job, instance) "
                "(rate(qbittorrent_exporter_sync_errors_total{%(selector)s}[5m]))\n"
                "/\n(sum by (job, instance) (rate(qbittorrent_exporter_syncs_total{%(selector)s}[5m]))\n"
                " + sum by (job, instance) "
                "(rate(qbittorrent_exporter_sync_errors_total{%(selector)s}[5m])))\n",
            },
            {
                "record": "instance_tracker:qbittorrent_tracker_ratio_headroom:sub",
                "expr": "qbittorrent_tracker_ratio{%(selector)s}\n"
                "- on (job, instance, tracker) qbittorrent_tracker_min_ratio{%(selector)s}\n",
            },
            {
                "record": "instance:qbittorrent_bonus_points_per_hour:sum",
                "expr": "sum by (job, instance) (qbittorrent_bonus_points_per_hour{%(selector)s})",
            },
        ],
    },
]


def recording_rules() -> dict[str, Any]:
    groups = []
    for group in RECORDING:
        groups.append(
            {
                "name": group["name"],
                "rules": [{"record": r["record"], "expr": r["expr"] % C} for r in group["rules"]],
            }
        )
    return {"groups": groups}


def alert_rules() -> dict[str, Any]:
    return {"groups": ALERTS}


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

HEADER = (
    "# Generated by prometheus/build.py from its CONFIG table: edit that, then run it. Do not edit here.\n"
)


def render(rules: dict[str, Any]) -> str:
    return HEADER + yaml.dump(rules, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)


def render_docs() -> str:
    """docs/alerts.md: the CONFIG table and what each alert and recording rule is."""
    cell = lambda text: str(text).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    out = [
        "<!-- Generated by prometheus/build.py. Do not edit: edit its CONFIG and rerun it. -->",
        "",
        "# Alerts and recording rules",
        "",
        "Shipped in `prometheus/alerts.yml` and `prometheus/recording.yml`, both rendered by",
        "`python prometheus/build.py` from the table below, and unit-tested with `promtool test rules`",
        "(`prometheus/tests/`). What to do when one fires: [runbooks.md](runbooks.md).",
        "",
        "## Thresholds (`CONFIG` in prometheus/build.py)",
        "",
        "| name | value | meaning |",
        "|---|---|---|",
    ]
    show = lambda v: ", ".join(f"{k}: {x}" for k, x in v.items()) if isinstance(v, dict) else v  # noqa: E731
    out += [f"| `{name}` | `{cell(show(value))}` | {cell(doc)} |" for name, (value, doc) in CONFIG.items()]
    out += ["", "## Alerts", "", "| alert | severity | for | summary |", "|---|---|---|---|"]
    for group in ALERTS:
        for r in group["rules"]:
            link = f"[{r['alert']}](runbooks.md#{r['alert'].lower()})"
            out.append(
                f"| {link} | {r['labels']['severity']} | {r['for']} | {cell(r['annotations']['summary'])} |"
            )
    out += ["", "## Recording rules", "", "| record | expression |", "|---|---|"]
    for group in recording_rules()["groups"]:
        out += [f"| `{r['record']}` | `{cell(' '.join(r['expr'].split()))}` |" for r in group["rules"]]
    return "\n".join(out) + "\n"


def outputs() -> dict[Path, str]:
    return {
        HERE / "alerts.yml": render(alert_rules()),
        HERE / "recording.yml": render(recording_rules()),
        HERE.parent / "docs" / "alerts.md": render_docs(),
    }


def main(argv: list[str]) -> int:
    return write_or_check(outputs(), argv, "python prometheus/build.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
