"""Renders prometheus/alerts.yml, prometheus/recording.yml and docs/alerts.md from one table of settings.

This is the project's "mixin config" (as in node_exporter's node-mixin): every selector, threshold and
`for:` duration of the shipped rules lives in CONFIG below, with what it means. To change one:

    edit CONFIG, then   python prometheus/build.py          # rewrites the three files
                        python prometheus/build.py --check  # exit 1 if the committed files are stale

tests/unit/test_rules.py runs the --check, `promtool check rules` and `promtool test rules
prometheus/tests/*.yml` (a firing and a quiet case for every alert).

Expressions are %-format templates over CONFIG: `qbittorrent_up{%(selector)s} == 0`, plus `%(qbt_labels)s`,
the labels that tell one qBittorrent from another (QBT_LABELS).

One exporter may watch several qBittorrents: each of their series carries `qbittorrent="<name>"`. The
rules keep that label through every aggregation and vector match, so that they work unchanged for one
qBittorrent and for many, and for both scrape shapes of deploy/: `/metrics` (instance = the exporter,
one scrape for all its qBittorrents) and `/probe?target=<name>` (instance relabelled to the name).
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
    "tracker_not_working_share": (
        0.5,
        "QBittorrentTrackerNotWorking when more than this share of a tracker host's torrents (disabled "
        "ones aside) report it down, refusing them or failing otherwise; unregistered ones do not count.",
    ),
    "tracker_not_working_min_torrents": (3, "...and at least this many of them."),
    "tracker_not_working_for": ("30m", "How long the tracker must stay not working."),
    "unregistered_for": (
        "1h",
        "QBittorrentUnregisteredTorrents: how long a tracker must have called torrents unregistered.",
    ),
    "tracker_scan_stale_for": (
        "6h",
        "QBittorrentTrackerScanStale: how long some torrents may go without fresh tracker data while the "
        "scan's budget cannot reach them (a first sweep of 50,000 torrents on 4.x takes about 3h).",
    ),
    "handler_failure_window": ("15m", "Window in which any failed completion handler run counts."),
    "handler_failure_for": ("5m", "How long handler runs must keep failing."),
    "backlog_growth_window": ("1h", "Window over which the completion backlog must have grown."),
    "backlog_for": ("30m", "How long the backlog must be non-empty and growing."),
    "job_max_age": (
        {"control": "5m", "completion": "2m", "trackers": "5m"},
        "QBittorrentActionJobNotSucceeding when a job's last success is older than this: about 5 intervals "
        "at the default intervals (control 1m, completion 10s, trackers 30s, a run lasting up to its "
        "interval). Raise it when you lengthen an interval.",
    ),
    "job_for": ("1m", "How long a job must stay without success beyond job_max_age."),
    "no_leader_for": ("2m", "QBittorrentNoLeader: how long no replica may hold a qBittorrent's lease."),
    "two_leaders_for": (
        "1m",
        "QBittorrentTwoLeaders: how long two replicas may both report a lease (a moved lease shows twice "
        "for up to a third of its time-to-live, until the old holder's next round).",
    ),
    "sync_error_ratio": (0.1, "QBittorrentSyncErrors when more than this fraction of syncs fail..."),
    "sync_error_window": ("10m", "...over this window..."),
    "sync_error_for": ("15m", "...for this long, while qBittorrent is otherwise up."),
}
C = {name: value for name, (value, _) in CONFIG.items()}

# What identifies one qBittorrent: the scrape target (job, instance) and the name the exporter gives it.
# Every `sum by` keeps these and every `on (...)` joins on them: two qBittorrents never add up, and a
# tracker used by two of them is two ratios. Not a CONFIG entry: MIN_RATIO and THE_QBT name them too.
QBT_LABELS = "job, instance, qbittorrent"
# What the %-templates of expressions and descriptions are formatted with.
FORMAT = {**C, "qbt_labels": QBT_LABELS}


def seconds(duration: str) -> int:
    """ "5m" -> 300: Prometheus durations of one unit, for thresholds compared with time()."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(duration[:-1]) * units[duration[-1]]


def alert(name: str, expr: str, for_: str, severity: str, summary: str, description: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr % FORMAT,
        "for": for_ % FORMAT,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            "description": description % FORMAT,
            "runbook_url": f"{C['runbook_url']}#{name.lower()}",
        },
    }


# Go templates naming the qBittorrent an alert is about, from its labels. THE_QBT, in descriptions:
#   "qBittorrent home behind exporter:9713"   qbittorrent="home", scraped at the exporter's /metrics
#   "qBittorrent home"                        scraped at /probe?target=home: instance is the name itself
#   "exporter:9713"                           no qbittorrent label (an exporter older than multi-instance)
THE_QBT = (
    "{{ with $labels.qbittorrent }}qBittorrent {{ . }}{{ if ne . $labels.instance }} behind "
    "{{ $labels.instance }}{{ end }}{{ else }}{{ $labels.instance }}{{ end }}"
)
# QBT_NAME, in summaries: " home" (after the word qBittorrent), nothing without the label.
QBT_NAME = "{{ with $labels.qbittorrent }} {{ . }}{{ end }}"

# Go template: the qbittorrent_tracker_min_ratio of the alert's qBittorrent and tracker, looked up when the
# alert fires. A missing qbittorrent label renders as "", which matches the series without it.
MIN_RATIO = (
    '{{ with printf "qbittorrent_tracker_min_ratio{job=%%q, instance=%%q, qbittorrent=%%q, tracker=%%q}" '
    "$labels.job $labels.instance $labels.qbittorrent "
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
                "qBittorrent" + QBT_NAME + " is unreachable.",
                "The exporter has not synced with " + THE_QBT + " for %(unreachable_for)s "
                "(qbittorrent_up = {{ $value }}): qBittorrent is down, refuses the login, or times out.",
            ),
            alert(
                "QBittorrentSyncErrors",
                "(\n  sum by (%(qbt_labels)s) "
                "(rate(qbittorrent_exporter_sync_errors_total{%(selector)s}[%(sync_error_window)s]))\n"
                "/\n  (sum by (%(qbt_labels)s) "
                "(rate(qbittorrent_exporter_syncs_total{%(selector)s}[%(sync_error_window)s]))\n"
                "   + sum by (%(qbt_labels)s) "
                "(rate(qbittorrent_exporter_sync_errors_total{%(selector)s}[%(sync_error_window)s])))\n"
                ") > %(sync_error_ratio)s\nand on (%(qbt_labels)s) qbittorrent_up{%(selector)s} == 1\n",
                "%(sync_error_for)s",
                "warning",
                "Syncs with qBittorrent" + QBT_NAME + " keep failing.",
                "{{ $value | humanizePercentage }} of the syncs with " + THE_QBT + " failed over the last "
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
                "qBittorrent" + QBT_NAME + " is firewalled.",
                THE_QBT + " has had no incoming connections for %(firewalled_for)s: "
                "peers cannot connect to it, which hurts upload and ratio.",
            ),
            alert(
                "QBittorrentDisconnected",
                'qbittorrent_connection_status{status="disconnected", %(selector)s} == 1',
                "%(disconnected_for)s",
                "critical",
                "qBittorrent" + QBT_NAME + " has no network connection.",
                THE_QBT + " has reported `disconnected` for %(disconnected_for)s.",
            ),
            alert(
                "QBittorrentNoDHTNodes",
                "qbittorrent_dht_nodes{%(selector)s} == 0\n"
                "and max_over_time(qbittorrent_dht_nodes{%(selector)s}[%(dht_seen_window)s]) > 0\n",
                "%(dht_for)s",
                "warning",
                "qBittorrent" + QBT_NAME + "'s DHT has no nodes.",
                THE_QBT + " had DHT nodes in the last %(dht_seen_window)s but has had "
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
                "qBittorrent" + QBT_NAME + "'s download disk is almost full.",
                "Only {{ $value | humanize1024 }}B are free on the default save path of " + THE_QBT + " "
                "(threshold {{ %(free_space_min_bytes)s | humanize1024 }}B).",
            ),
            alert(
                "QBittorrentFreeSpaceRunningOut",
                "predict_linear(qbittorrent_free_space_bytes{%(selector)s}[%(free_space_trend_window)s], "
                "%(free_space_horizon_seconds)s) < 0",
                "%(free_space_trend_for)s",
                "warning",
                "qBittorrent" + QBT_NAME + "'s download disk is predicted to fill up.",
                "At the rate of the last %(free_space_trend_window)s, the default save path of "
                + THE_QBT
                + " "
                "runs out of space within {{ %(free_space_horizon_seconds)s | humanizeDuration }} (predicted "
                "free space then: {{ $value | humanize1024 }}B).",
            ),
        ],
    },
    {
        "name": "qbittorrent.torrents",
        "rules": [
            alert(
                "QBittorrentTorrentsErrored",
                'sum by (%(qbt_labels)s, state) (qbittorrent_torrents{status="errored", %(selector)s}) > 0',
                "%(errored_for)s",
                "warning",
                "Torrents are in error on qBittorrent" + QBT_NAME + ".",
                "{{ $value }} torrents of " + THE_QBT + " have been in state {{ $labels.state }} for "
                "%(errored_for)s (I/O error, or their files are missing).",
            ),
            alert(
                "QBittorrentDownloadsStalled",
                'sum by (%(qbt_labels)s) (qbittorrent_torrents{status="stalled", %(selector)s}) >= '
                "%(stalled_min_torrents)s",
                "%(stalled_for)s",
                "warning",
                "Downloads are stalled on qBittorrent" + QBT_NAME + ".",
                "{{ $value }} downloads of " + THE_QBT + " have made no progress (stalledDL) for "
                "%(stalled_for)s: no peers, or a dead tracker.",
            ),
        ],
    },
    {
        "name": "qbittorrent.trackers",
        "rules": [
            alert(
                "QBittorrentTrackerRatioBelowMinimum",
                "qbittorrent_tracker_ratio{%(selector)s} < on (%(qbt_labels)s, tracker) "
                "qbittorrent_tracker_min_ratio{%(selector)s}",
                "%(ratio_for)s",
                "critical",
                "A tracker's ratio on qBittorrent" + QBT_NAME + " is below its minimum.",
                "The ratio on {{ $labels.tracker }} of "
                + THE_QBT
                + ' is {{ $value | printf "%%.3f" }}, below '
                "the tracker's minimum of " + MIN_RATIO + "; the account risks a download ban.",
            ),
            alert(
                "QBittorrentTrackerRatioNearMinimum",
                "qbittorrent_tracker_ratio{%(selector)s} >= on (%(qbt_labels)s, tracker) "
                "qbittorrent_tracker_min_ratio{%(selector)s}\n"
                "and qbittorrent_tracker_ratio{%(selector)s} < on (%(qbt_labels)s, tracker) "
                "(qbittorrent_tracker_min_ratio{%(selector)s} + %(ratio_near_margin)s)\n"
                "and on (%(qbt_labels)s, tracker) qbittorrent_tracker_min_ratio{%(selector)s} > 0\n",
                "%(ratio_for)s",
                "warning",
                "A tracker's ratio on qBittorrent" + QBT_NAME + " is close to its minimum.",
                "The ratio on {{ $labels.tracker }} of "
                + THE_QBT
                + ' is {{ $value | printf "%%.3f" }}, within '
                "%(ratio_near_margin)s of the tracker's minimum of " + MIN_RATIO + ".",
            ),
            alert(
                "QBittorrentRatioEmergencyActive",
                "qbittorrent_exporter_ratio_emergency_active{%(selector)s} == 1",
                "%(ratio_emergency_for)s",
                "warning",
                "Downloads from a tracker on qBittorrent" + QBT_NAME + " are stopped to protect its ratio.",
                "qbittorrent-monitor has stopped the downloads of {{ $labels.tracker }} on " + THE_QBT + " "
                "because its ratio fell below the minimum; they resume when the ratio recovers.",
            ),
            alert(
                "QBittorrentHitAndRunRisk",
                "qbittorrent_hnr_risk_torrents{%(selector)s} > 0",
                "%(hnr_for)s",
                "warning",
                "Torrents on qBittorrent" + QBT_NAME + " risk a hit-and-run.",
                "{{ $value }} completed torrents of {{ $labels.tracker }} on " + THE_QBT + " are not seeding "
                "although they have not yet seeded for the tracker's minimum seed time.",
            ),
        ],
    },
    {
        "name": "qbittorrent-monitor.actions",
        "rules": [
            alert(
                "QBittorrentCompletionHandlersFailing",
                "sum by (%(qbt_labels)s, handler) "
                "(increase(qbittorrent_exporter_completion_handler_runs_total"
                '{result=~"error|dead", %(selector)s}[%(handler_failure_window)s])) > 0',
                "%(handler_failure_for)s",
                "warning",
                "Completion handlers of qBittorrent" + QBT_NAME + " are failing.",
                "The completion handler {{ $labels.handler }} of "
                + THE_QBT
                + " failed {{ $value | humanize }} "
                "times in the last %(handler_failure_window)s.",
            ),
            alert(
                "QBittorrentCompletionBacklogGrowing",
                "qbittorrent_exporter_completion_backlog{%(selector)s} > 0\n"
                "and delta(qbittorrent_exporter_completion_backlog{%(selector)s}[%(backlog_growth_window)s]) "
                "> 0\n",
                "%(backlog_for)s",
                "warning",
                "Completions of qBittorrent" + QBT_NAME + " are piling up unhandled.",
                THE_QBT
                + " has {{ $value }} completions pending or dead-lettered, and the number has grown over "
                "the last %(backlog_growth_window)s.",
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
                "A scheduled job of qBittorrent" + QBT_NAME + " has stopped succeeding.",
                "The {{ $labels.exported_job }} job of " + THE_QBT + " last succeeded "
                "{{ $value | humanizeDuration }} ago (thresholds: "
                + ", ".join(f"{job} {age}" for job, age in C["job_max_age"].items())
                + ").",
            ),
        ],
    },
]

# Tracker health (the read-only tracker scan): per qBittorrent and tracker host.
NOT_WORKING = (
    "sum by (%(qbt_labels)s, tracker) "
    '(qbittorrent_tracker_problem_torrents{reason!="unregistered", %(selector)s})'
)
ANNOUNCING = (
    "sum by (%(qbt_labels)s, tracker) "
    '(qbittorrent_tracker_announce_torrents{status!="disabled", %(selector)s})'
)
ALERTS.append(
    {
        "name": "qbittorrent.tracker_health",
        "rules": [
            alert(
                "QBittorrentTrackerNotWorking",
                f"(\n  {NOT_WORKING}\n/\n  {ANNOUNCING}\n) > %(tracker_not_working_share)s\n"
                f"and on (%(qbt_labels)s, tracker) {NOT_WORKING} >= %(tracker_not_working_min_torrents)s\n",
                "%(tracker_not_working_for)s",
                "warning",
                "A tracker is not working for most torrents on qBittorrent" + QBT_NAME + ".",
                "{{ $labels.tracker }} fails for {{ $value | humanizePercentage }} of its torrents on "
                + THE_QBT
                + " (down, refusing the passkey, or another error) for %(tracker_not_working_for)s: they get "
                "no peers from it.",
            ),
            alert(
                "QBittorrentUnregisteredTorrents",
                "sum by (%(qbt_labels)s, tracker) "
                '(qbittorrent_tracker_problem_torrents{reason="unregistered", %(selector)s}) > 0',
                "%(unregistered_for)s",
                "info",
                "A tracker no longer knows torrents of qBittorrent" + QBT_NAME + ".",
                "{{ $labels.tracker }} has called {{ $value }} torrents of " + THE_QBT + " unregistered for "
                "%(unregistered_for)s (deleted or trumped on the site): `qbittorrent-monitor trackers` or "
                "/api/report lists them.",
            ),
            alert(
                "QBittorrentTrackerScanStale",
                "qbittorrent_exporter_tracker_scan_stale_torrents{%(selector)s} > 0\n"
                "and on (%(qbt_labels)s)\n"
                "  qbittorrent_exporter_tracker_scan_backlog_torrents{%(selector)s} > 0\n",
                "%(tracker_scan_stale_for)s",
                "warning",
                "The tracker scan of qBittorrent" + QBT_NAME + " cannot keep up.",
                "{{ $value }} torrents of " + THE_QBT + " have had no fresh tracker data for "
                "%(tracker_scan_stale_for)s and the scan's request budget does not reach them: the tracker "
                "health metrics are behind.",
            ),
        ],
    }
)

ALERTS.append(
    {
        # Several replicas on one PostgreSQL store: every replica reports the leases of each qBittorrent it
        # would run jobs for, 1 where it holds it. Summed over the replicas of a job (not by instance).
        "name": "qbittorrent-monitor.leadership",
        "rules": [
            alert(
                "QBittorrentNoLeader",
                "max by (job, qbittorrent) (qbittorrent_exporter_lease_held{%(selector)s}) == 0",
                "%(no_leader_for)s",
                "warning",
                "No replica runs the jobs of qBittorrent{{ with $labels.qbittorrent }} {{ . }}{{ end }}.",
                "No replica of {{ $labels.job }} has held the lease of qBittorrent {{ $labels.qbittorrent }} "
                "for %(no_leader_for)s: its completions and actions wait (PostgreSQL unreachable, or every "
                "replica standing by).",
            ),
            alert(
                "QBittorrentTwoLeaders",
                "sum by (job, qbittorrent) (qbittorrent_exporter_lease_held{%(selector)s}) > 1",
                "%(two_leaders_for)s",
                "critical",
                "Two replicas claim qBittorrent{{ with $labels.qbittorrent }} {{ . }}{{ end }}.",
                "{{ $value }} replicas of {{ $labels.job }} say they hold the lease of qBittorrent "
                "{{ $labels.qbittorrent }} for %(two_leaders_for)s. The store's fencing refuses the writes "
                "of a term that is over; this must never last: check the replicas' clocks and logs.",
            ),
        ],
    }
)

# What the dashboards reuse. Names follow Prometheus's level:metric:operations convention; the level
# `instance` stands for one watched qBittorrent (the QBT_LABELS every rule keeps), as it did before one
# exporter could watch several: renaming the rules would break the queries built on them for nothing.
RECORDING = [
    {
        "name": "qbittorrent.recording",
        "rules": [
            {
                "record": "instance_status:qbittorrent_torrents:sum",
                "expr": "sum by (%(qbt_labels)s, status) (qbittorrent_torrents{%(selector)s})",
            },
            {
                "record": "instance_category:qbittorrent_torrents:sum",
                "expr": "sum by (%(qbt_labels)s, category) (qbittorrent_torrents{%(selector)s})",
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
                "expr": "sum by (%(qbt_labels)s) "
                "(rate(qbittorrent_exporter_sync_errors_total{%(selector)s}[5m]))\n"
                "/\n(sum by (%(qbt_labels)s) (rate(qbittorrent_exporter_syncs_total{%(selector)s}[5m]))\n"
                " + sum by (%(qbt_labels)s) "
                "(rate(qbittorrent_exporter_sync_errors_total{%(selector)s}[5m])))\n",
            },
            {
                "record": "instance_tracker:qbittorrent_tracker_ratio_headroom:sub",
                "expr": "qbittorrent_tracker_ratio{%(selector)s}\n"
                "- on (%(qbt_labels)s, tracker) qbittorrent_tracker_min_ratio{%(selector)s}\n",
            },
            {
                "record": "instance:qbittorrent_bonus_points_per_hour:sum",
                "expr": "sum by (%(qbt_labels)s) (qbittorrent_bonus_points_per_hour{%(selector)s})",
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
                "rules": [{"record": r["record"], "expr": r["expr"] % FORMAT} for r in group["rules"]],
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
        'One exporter can watch several qBittorrents; each of their series carries `qbittorrent="<name>"`.',
        f"Every aggregation and vector match keeps `{QBT_LABELS}`, so the rules work for one",
        "qBittorrent and for many, scraped at `/metrics` or at `/probe?target=<name>` (deploy/ has both).",
        "Alert summaries and descriptions name the qBittorrent.",
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
            summary = r["annotations"]["summary"].replace(QBT_NAME, " `<qbittorrent>`")  # the label's value
            out.append(f"| {link} | {r['labels']['severity']} | {r['for']} | {cell(summary)} |")
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
