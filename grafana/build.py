"""Renders grafana/dashboards/*.json from the panel tables below.

    python grafana/build.py          # rewrite the dashboards
    python grafana/build.py --check  # exit 1 if a committed dashboard is out of date

Each panel is one row: title, unit, description and its PromQL queries. Every dashboard gets the
template variables datasource, job, instance, qbittorrent (and category or tracker where its panels use
them).

One exporter may watch several qBittorrents; each of their series carries `qbittorrent="<name>"`. The
qbittorrent variable is multi-select with "All" by default, and every query keeps the label: sums are
`sum by (qbittorrent, ...)` and legends start with {{qbittorrent}}, so that several selected qBittorrents
stay apart. Its "All" is the regex .*, which also matches series without the label (an exporter older
than multi-instance).

Grafana cannot run here, so tests/e2e/test_dashboards.py runs every query of every panel, with the
variables substituted, against a live Prometheus scraping a real exporter and qBittorrent.

Edited a dashboard in Grafana? Port the change to the table here: the JSON files are generated.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporter.generated import write_or_check

HERE = Path(__file__).resolve().parent
DASHBOARDS = HERE / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
# Every query filters on these; {F} in a query below expands to them.
F = 'job=~"$job", instance=~"$instance", qbittorrent=~"$qbittorrent"'
# The scrape target alone, {T}: for Prometheus's own series of a scrape (scrape_duration_seconds), which
# have no qbittorrent label, so that picking one qBittorrent does not hide them.
T = 'job=~"$job", instance=~"$instance"'


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str  # a Grafana unit id: bytes, binBps, s, percentunit, none, short, dateTimeAsIso...
    description: str
    queries: tuple[tuple[str, str], ...]  # (PromQL, legend)
    kind: str = "timeseries"  # timeseries | stat | bargauge
    width: int = 12
    height: int = 8
    options: dict[str, Any] = field(default_factory=dict)
    row_start: bool = False  # begins a new row of panels (a group such as tracker health)


def q(expr: str, legend: str = "") -> tuple[str, str]:
    return expr.replace("{F}", F).replace("{T}", T), legend


OVERVIEW = [
    Panel(
        "qBittorrent reachable",
        "none",
        "1 when the exporter's last sync with qBittorrent succeeded (qbittorrent_up).",
        (q("qbittorrent_up{{F}}", "{{qbittorrent}}"),),
        kind="stat",
        width=4,
        height=4,
        options={
            "mappings": [
                {
                    "type": "value",
                    "options": {"0": {"text": "DOWN", "color": "red"}, "1": {"text": "UP", "color": "green"}},
                }
            ]
        },
    ),
    Panel(
        "Connection",
        "none",
        "qBittorrent's connection status: connected, firewalled (no incoming connections) or disconnected.",
        (q("qbittorrent_connection_status{{F}} == 1", "{{qbittorrent}} {{status}}"),),
        kind="stat",
        width=4,
        height=4,
        options={"text_mode": "name"},
    ),
    Panel(
        "Version",
        "none",
        "qBittorrent, Web API and libtorrent versions.",
        (
            q(
                "qbittorrent_info{{F}}",
                "{{qbittorrent}}: {{version}} (API {{webapi_version}}, libtorrent {{libtorrent}})",
            ),
        ),
        kind="stat",
        width=4,
        height=4,
        options={"text_mode": "name"},
    ),
    Panel(
        "Global ratio",
        "none",
        "All-time share ratio reported by qBittorrent (absent until something was downloaded).",
        (q("qbittorrent_global_ratio{{F}}", "{{qbittorrent}}"),),
        kind="stat",
        width=4,
        height=4,
    ),
    Panel(
        "Free space",
        "bytes",
        "Free space on the disk of qBittorrent's default save path.",
        (q("qbittorrent_free_space_bytes{{F}}", "{{qbittorrent}}"),),
        kind="stat",
        width=4,
        height=4,
    ),
    Panel(
        "Sync errors",
        "percentunit",
        "Share of the exporter's syncs with qBittorrent that failed over 5m "
        "(recording rule instance:qbittorrent_exporter_sync_errors:ratio_rate5m).",
        (q("instance:qbittorrent_exporter_sync_errors:ratio_rate5m{{F}}", "{{qbittorrent}}"),),
        kind="stat",
        width=4,
        height=4,
    ),
    *[
        Panel(
            title,
            "short",
            f"Torrents with status {status}, all categories "
            "(recording rule instance_status:qbittorrent_torrents:sum)." + note,
            (q('instance_status:qbittorrent_torrents:sum{{F}, status="' + status + '"}', "{{qbittorrent}}"),),
            kind="stat",
            width=6,
            height=4,
        )
        for title, status, note in (
            ("Downloading", "downloading", ""),
            ("Seeding", "seeding", " A seed with no peers (stalledUP) counts as seeding."),
            ("Stalled downloads", "stalled", " QBittorrentDownloadsStalled fires when it stays above 0."),
            ("Errored torrents", "errored", " State error or missingFiles: see QBittorrentTorrentsErrored."),
        )
    ],
    Panel(
        "Transfer speed",
        "binBps",
        "Current upload and download speed of qBittorrent, as it reports them.",
        (
            q("qbittorrent_upload_speed_bytes{{F}}", "{{qbittorrent}} upload"),
            q("qbittorrent_download_speed_bytes{{F}}", "{{qbittorrent}} download"),
        ),
    ),
    Panel(
        "Transferred (5m average)",
        "binBps",
        "Upload and download averaged over 5 minutes from the all-time "
        "byte counters (recording rules instance:qbittorrent_*_bytes:rate5m).",
        (
            q("instance:qbittorrent_uploaded_bytes:rate5m{{F}}", "{{qbittorrent}} upload"),
            q("instance:qbittorrent_downloaded_bytes:rate5m{{F}}", "{{qbittorrent}} download"),
        ),
    ),
    Panel(
        "Torrents by status",
        "short",
        "Torrents per coarse status (downloading, seeding, stalled, paused, "
        "queued, checking, errored, metadata, moving), for the selected categories.",
        (
            q(
                'sum by (qbittorrent, status) (qbittorrent_torrents{{F}, category=~"$category"})',
                "{{qbittorrent}} {{status}}",
            ),
        ),
    ),
    Panel(
        "Torrents by state now",
        "short",
        "Torrents per qBittorrent state (5.x names), for the selected "
        "categories; states with no torrent are hidden.",
        (
            q(
                'sum by (qbittorrent, state) (qbittorrent_torrents{{F}, category=~"$category"}) > 0',
                "{{qbittorrent}} {{state}}",
            ),
        ),
        kind="bargauge",
    ),
    Panel(
        "Torrents by category",
        "short",
        'Torrents per category ("" = none) (recording rule instance_category:qbittorrent_torrents:sum).',
        (
            q(
                'instance_category:qbittorrent_torrents:sum{{F}, category=~"$category"}',
                "{{qbittorrent}} {{category}}",
            ),
        ),
    ),
    Panel(
        "Size by category",
        "bytes",
        "Total size of the selected files of each category's torrents.",
        (q('qbittorrent_category_size_bytes{{F}, category=~"$category"}', "{{qbittorrent}} {{category}}"),),
    ),
    Panel(
        "Uploaded by category",
        "bytes",
        "Bytes uploaded by the torrents of each category that are present "
        "now (drops when torrents are removed).",
        (
            q(
                'qbittorrent_category_uploaded_bytes{{F}, category=~"$category"}',
                "{{qbittorrent}} {{category}}",
            ),
        ),
    ),
    Panel(
        "Free space and trend",
        "bytes",
        "Free space on the save path's disk, and where the trend of the "
        "last 6 hours puts it in 24 hours (the QBittorrentFreeSpaceRunningOut alert fires below 0).",
        (
            q("qbittorrent_free_space_bytes{{F}}", "{{qbittorrent}} free"),
            q("predict_linear(qbittorrent_free_space_bytes{{F}}[6h], 86400)", "{{qbittorrent}} in 24h"),
        ),
    ),
    Panel(
        "Peers and DHT",
        "short",
        "Open peer connections and DHT nodes.",
        (
            q("qbittorrent_peer_connections{{F}}", "{{qbittorrent}} peers"),
            q("qbittorrent_dht_nodes{{F}}", "{{qbittorrent}} DHT nodes"),
        ),
    ),
    Panel(
        "Exporter sync and scrape duration",
        "s",
        "How long a sync with qBittorrent and a whole scrape take "
        "(scrape_duration_seconds is Prometheus's own).",
        (
            q("qbittorrent_exporter_sync_duration_seconds{{F}}", "{{qbittorrent}} sync"),
            q("scrape_duration_seconds{{T}}", "scrape {{instance}}"),
        ),
    ),
]

TRACKERS = [
    Panel(
        "Ratio vs minimum",
        "none",
        "Ratio (uploaded/downloaded of the tracker's torrents present in "
        "qBittorrent) against the minimum ratio configured for the tracker.",
        (
            q('qbittorrent_tracker_ratio{{F}, tracker=~"$tracker"}', "{{qbittorrent}} {{tracker}} ratio"),
            q(
                'qbittorrent_tracker_min_ratio{{F}, tracker=~"$tracker"}',
                "{{qbittorrent}} {{tracker}} minimum",
            ),
        ),
    ),
    Panel(
        "Ratio headroom",
        "none",
        "Ratio minus minimum ratio per tracker: below 0 the tracker is under its "
        "minimum (recording rule instance_tracker:qbittorrent_tracker_ratio_headroom:sub).",
        (
            q(
                'instance_tracker:qbittorrent_tracker_ratio_headroom:sub{{F}, tracker=~"$tracker"}',
                "{{qbittorrent}} {{tracker}}",
            ),
        ),
        kind="bargauge",
    ),
    Panel(
        "Bonus points per hour",
        "short",
        "Estimated bonus points earned per hour on each tracker, by the tracker's points model.",
        (
            q(
                'qbittorrent_bonus_points_per_hour{{F}, tracker=~"$tracker"}',
                "{{qbittorrent}} {{tracker}} ({{model}})",
            ),
        ),
    ),
    Panel(
        "Bonus points per hour, all trackers",
        "short",
        "Sum of the estimated earning rates (recording rule instance:qbittorrent_bonus_points_per_hour:sum).",
        (q("instance:qbittorrent_bonus_points_per_hour:sum{{F}}", "{{qbittorrent}}"),),
        kind="stat",
    ),
    Panel(
        "Bonus points estimate error",
        "percentunit",
        "(estimate - reported) / reported, for trackers whose reported_points_per_hour is configured.",
        (
            q(
                'qbittorrent_bonus_points_estimate_error_ratio{{F}, tracker=~"$tracker"}',
                "{{qbittorrent}} {{tracker}}",
            ),
        ),
    ),
    Panel(
        "Hit-and-run risk",
        "short",
        "Completed torrents that have not seeded for the tracker's "
        "min_seed_time and are not seeding now (stopped, queued, errored).",
        (q('qbittorrent_hnr_risk_torrents{{F}, tracker=~"$tracker"}', "{{qbittorrent}} {{tracker}}"),),
    ),
    Panel(
        "Idle seeds",
        "short",
        "Seeding torrents with no upload for longer than the configured idle window.",
        (q('qbittorrent_seeding_torrents_idle{{F}, tracker=~"$tracker"}', "{{qbittorrent}} {{tracker}}"),),
    ),
    Panel(
        "Seeding torrents",
        "short",
        "Complete torrents seeding now, per tracker.",
        (q('qbittorrent_tracker_seeding_torrents{{F}, tracker=~"$tracker"}', "{{qbittorrent}} {{tracker}}"),),
    ),
    Panel(
        "Seeds uploading now",
        "percentunit",
        "Fraction of each tracker's seeding torrents that are uploading right now.",
        (
            q(
                'qbittorrent_tracker_seeds_uploading_ratio{{F}, tracker=~"$tracker"}',
                "{{qbittorrent}} {{tracker}}",
            ),
        ),
    ),
    Panel(
        "Upload efficiency",
        "none",
        "Bytes uploaded per byte stored, over each tracker's torrents present "
        "now: how much the disk space spent on a tracker pays back.",
        (
            q(
                'qbittorrent_tracker_upload_efficiency_ratio{{F}, tracker=~"$tracker"}',
                "{{qbittorrent}} {{tracker}}",
            ),
        ),
    ),
    Panel(
        "Seeding slots",
        "short",
        "Seeding slots in use against the number the seeding allocation "
        "recommends, and seeds that would earn more than the lowest-value active one.",
        (
            q("qbittorrent_seeding_slots_active{{F}}", "{{qbittorrent}} active"),
            q("qbittorrent_seeding_slots_recommended{{F}}", "{{qbittorrent}} recommended"),
            q("qbittorrent_seeding_misallocated_torrents{{F}}", "{{qbittorrent}} misallocated"),
        ),
    ),
    Panel(
        "Torrents per tracker",
        "short",
        "Torrents per tracker host.",
        (q('qbittorrent_tracker_torrents{{F}, tracker=~"$tracker"}', "{{qbittorrent}} {{tracker}}"),),
    ),
    Panel(
        "Uploaded per tracker",
        "bytes",
        "Bytes uploaded by each tracker's torrents present now (a gauge: it "
        "drops when torrents are removed).",
        (q('qbittorrent_tracker_uploaded_bytes{{F}, tracker=~"$tracker"}', "{{qbittorrent}} {{tracker}}"),),
    ),
]

# Tracker health (the read-only tracker scan): a row of its own at the end of the Trackers dashboard.
TRACKER_HEALTH = [
    Panel(
        "Tracker health: announce status",
        "short",
        "Torrents by the announce status of their tracker on each host, as the tracker scan last saw it "
        "(working, not_working, error, unreachable, updating, not_contacted, disabled).",
        (
            q(
                "sum by (qbittorrent, tracker, status) "
                '(qbittorrent_tracker_announce_torrents{{F}, tracker=~"$tracker"})',
                "{{qbittorrent}} {{tracker}} {{status}}",
            ),
        ),
        width=8,
        row_start=True,
    ),
    Panel(
        "Tracker health: problems by reason",
        "short",
        "Torrents whose tracker reports a problem, by reason: unregistered (the tracker no longer knows "
        "it), unauthorized (passkey, account), down (unreachable, timeouts, 5xx), other. "
        "`qbittorrent-monitor trackers` lists them.",
        (
            q(
                'qbittorrent_tracker_problem_torrents{{F}, tracker=~"$tracker"}',
                "{{qbittorrent}} {{tracker}} {{reason}}",
            ),
        ),
        width=8,
    ),
    Panel(
        "Tracker health: not working",
        "percentunit",
        "Share of each tracker host's torrents (disabled URLs aside) it fails for, unregistered ones "
        "aside: what QBittorrentTrackerNotWorking alerts on.",
        (
            q(
                "sum by (qbittorrent, tracker) "
                '(qbittorrent_tracker_problem_torrents{{F}, tracker=~"$tracker", reason!="unregistered"})\n'
                "/ sum by (qbittorrent, tracker) "
                '(qbittorrent_tracker_announce_torrents{{F}, tracker=~"$tracker", status!="disabled"})',
                "{{qbittorrent}} {{tracker}}",
            ),
        ),
        width=8,
    ),
    Panel(
        "Tracker scan: stale torrents and backlog",
        "short",
        "Torrents without fresh tracker data (none yet, or older than tracker_scan.stale_after), and how "
        "many the last run's request budget could not reach.",
        (
            q("qbittorrent_exporter_tracker_scan_stale_torrents{{F}}", "{{qbittorrent}} stale"),
            q("qbittorrent_exporter_tracker_scan_backlog_torrents{{F}}", "{{qbittorrent}} backlog"),
        ),
        width=8,
    ),
    Panel(
        "Tracker scan: oldest data",
        "s",
        "Age of the oldest tracker data the scan keeps: at most about tracker_scan.stale_after once the "
        "first sweep is done.",
        (q("qbittorrent_exporter_tracker_scan_oldest_age_seconds{{F}}", "{{qbittorrent}}"),),
        width=8,
    ),
    Panel(
        "Tracker scan: requests to qBittorrent",
        "reqps",
        "Requests per second the tracker scan makes, by kind (torrent: torrents/trackers; hashes, page: "
        "torrents/info?includeTrackers), and its failed ones.",
        (
            q(
                "sum by (qbittorrent, kind) "
                "(rate(qbittorrent_exporter_tracker_scan_requests_total{{F}}[$__rate_interval]))",
                "{{qbittorrent}} {{kind}}",
            ),
            q(
                "sum by (qbittorrent) "
                "(rate(qbittorrent_exporter_tracker_scan_request_errors_total{{F}}[$__rate_interval]))",
                "{{qbittorrent}} failed",
            ),
        ),
        width=8,
    ),
]

ACTIONS = [
    Panel(
        "Actions",
        "short",
        "Actions taken on torrents (or that a dry run would take) per interval, by action and result.",
        (
            q(
                "sum by (qbittorrent, action, result, dry_run) "
                "(increase(qbittorrent_exporter_actions_total{{F}}[$__rate_interval]))",
                "{{qbittorrent}} {{action}} {{result}} dry_run={{dry_run}}",
            ),
        ),
    ),
    Panel(
        "Completions",
        "short",
        "Torrent completions detected per interval, by category.",
        (
            q(
                "sum by (qbittorrent, category) (increase(qbittorrent_exporter_completions_total{{F}, "
                'category=~"$category"}'
                "[$__rate_interval]))",
                "{{qbittorrent}} {{category}}",
            ),
        ),
    ),
    Panel(
        "Completion handler runs",
        "short",
        "Completion handler attempts per interval by handler and result "
        "(ok, error = will retry, dead = gave up, dry_run).",
        (
            q(
                "sum by (qbittorrent, handler, result) "
                "(increase(qbittorrent_exporter_completion_handler_runs_total{{F}}"
                "[$__rate_interval]))",
                "{{qbittorrent}} {{handler}} {{result}}",
            ),
        ),
    ),
    Panel(
        "Handler failures (1h)",
        "short",
        "Failed completion handler attempts (error or dead) over the last hour, per handler.",
        (
            q(
                "sum by (qbittorrent, handler) "
                "(increase(qbittorrent_exporter_completion_handler_runs_total{{F}, "
                'result=~"error|dead"}[1h]))',
                "{{qbittorrent}} {{handler}}",
            ),
        ),
        kind="bargauge",
    ),
    Panel(
        "Completion backlog",
        "short",
        "Completions whose handlers are not all done: pending plus dead-letter.",
        (q("qbittorrent_exporter_completion_backlog{{F}}", "{{qbittorrent}}"),),
        kind="stat",
        width=6,
    ),
    Panel(
        "Stalled downloads",
        "short",
        "Downloads without progress for the configured stall_after (the "
        "control job's stall ladder works on these).",
        (q("qbittorrent_exporter_stalled_torrents{{F}}", "{{qbittorrent}}"),),
        kind="stat",
        width=6,
    ),
    Panel(
        "Ratio emergency",
        "none",
        "1 while the ratio emergency holds for a tracker: its downloads are "
        "stopped until its ratio recovers.",
        (
            q(
                'qbittorrent_exporter_ratio_emergency_active{{F}, tracker=~"$tracker"}',
                "{{qbittorrent}} {{tracker}}",
            ),
        ),
    ),
    Panel(
        "Time since last job success",
        "s",
        "Seconds since each scheduled job (control, completion) last "
        "succeeded. exported_job is the exporter's job label, renamed by Prometheus.",
        (
            q(
                "time() - qbittorrent_exporter_job_last_success_timestamp_seconds{{F}}",
                "{{qbittorrent}} {{exported_job}}",
            ),
        ),
    ),
    Panel(
        "Job runs",
        "short",
        "Scheduled job runs per interval by result (ok, error, skipped = qBittorrent unreachable).",
        (
            q(
                "sum by (qbittorrent, exported_job, result) "
                "(increase(qbittorrent_exporter_job_runs_total{{F}}[$__rate_interval]))",
                "{{qbittorrent}} {{exported_job}} {{result}}",
            ),
        ),
    ),
    Panel(
        "Job duration",
        "s",
        "Duration of the last run of each scheduled job.",
        (q("qbittorrent_exporter_job_duration_seconds{{F}}", "{{qbittorrent}} {{exported_job}}"),),
    ),
]


def variable(name: str, query: str, label: str, include_all: bool) -> dict[str, Any]:
    v = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "refresh": 2,
        "sort": 1,
        "query": {"query": query, "refId": f"var-{name}"},
        "definition": query,
        "multi": include_all,
        "includeAll": include_all,
        "current": {"text": "All", "value": "$__all"} if include_all else {},
    }
    if include_all:
        v["allValue"] = ".*"
    return v


def variables(extra: tuple[str, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        }
    ]
    out.append(variable("job", "label_values(qbittorrent_up, job)", "Job", False))
    out.append(variable("instance", 'label_values(qbittorrent_up{job=~"$job"}, instance)', "Instance", True))
    out.append(
        variable(
            "qbittorrent",
            'label_values(qbittorrent_up{job=~"$job", instance=~"$instance"}, qbittorrent)',
            "qBittorrent",
            True,
        )
    )
    if "category" in extra:
        out.append(
            variable("category", f"label_values(qbittorrent_torrents{{{F}}}, category)", "Category", True)
        )
    if "tracker" in extra:
        out.append(
            variable(
                "tracker", f"label_values(qbittorrent_tracker_torrents{{{F}}}, tracker)", "Tracker", True
            )
        )
    return out


def panel_json(p: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": p.unit}
    if "mappings" in p.options:
        defaults["mappings"] = p.options["mappings"]
    options: dict[str, Any] = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    if p.kind in ("stat", "bargauge"):
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal",
        }
        if p.kind == "stat":
            options.update(colorMode="value", graphMode="none", textMode=p.options.get("text_mode", "auto"))
    return {
        "id": pid,
        "type": p.kind,
        "title": p.title,
        "description": p.description,
        "datasource": DS,
        "gridPos": {"h": p.height, "w": p.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DS,
                "expr": expr,
                "legendFormat": legend,
                "instant": p.kind != "timeseries",
                "range": p.kind == "timeseries",
            }
            for i, (expr, legend) in enumerate(p.queries)
        ],
    }


def dashboard(
    uid: str, title: str, description: str, panels: list[Panel], extra: tuple[str, ...]
) -> dict[str, Any]:
    out, x, y, row_height = [], 0, 0, 0
    for pid, p in enumerate(panels, start=1):
        if x + p.width > 24 or (p.row_start and x):
            x, y, row_height = 0, y + row_height, 0
        out.append(panel_json(p, pid, x, y))
        x, row_height = x + p.width, max(row_height, p.height)
    links = [
        {
            "title": "qBittorrent dashboards",
            "type": "dashboards",
            "tags": ["qbittorrent"],
            "asDropdown": False,
        }
    ]
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["qbittorrent", "qbittorrent-monitor"],
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "",
        "links": links,
        "templating": {"list": variables(extra)},
        "annotations": {"list": []},
        "panels": out,
    }


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        "overview.json": dashboard(
            "qbittorrent-overview",
            "qBittorrent / Overview",
            "Health, transfer, torrents by status and category, free space, connection.",
            OVERVIEW,
            ("category",),
        ),
        "trackers.json": dashboard(
            "qbittorrent-trackers",
            "qBittorrent / Trackers",
            "Ratio against each tracker's minimum, bonus points per hour, hit-and-run risk, idle seeds; "
            "tracker health (announce status, unregistered and failing torrents, the tracker scan).",
            TRACKERS + TRACKER_HEALTH,
            ("tracker",),
        ),
        "actions.json": dashboard(
            "qbittorrent-actions",
            "qBittorrent / Actions",
            "What qbittorrent-monitor's scheduled jobs do: actions, completions, handler failures, backlog, "
            "job health.",
            ACTIONS,
            ("category", "tracker"),
        ),
    }


def outputs() -> dict[Path, str]:
    return {DASHBOARDS / name: json.dumps(d, indent=2) + "\n" for name, d in dashboards().items()}


def main(argv: list[str]) -> int:
    return write_or_check(outputs(), argv, "python grafana/build.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
