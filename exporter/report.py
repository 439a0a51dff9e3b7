"""The report behind `qbittorrent-monitor report` and /api/report: the seeding-slot recommendation, explained,
and the torrents whose trackers report a problem.

    qbittorrent-monitor report [--format text|json] [--limit N] [the usual flags]
    curl http://127.0.0.1:9713/api/report?limit=20
    qbittorrent-monitor trackers [--format text|json] [--limit N] [--max-requests N]

Both show the same thing: per-tracker numbers (points/hour, ratio, hit-and-run risk, idle seeds), how
many seeding slots qBittorrent's queue should allow and why, and which torrents should hold them, best
first, each with its reason. Read-only: applying it (max_active_uploads) is a separate, opt-in action.
/api/report also lists the problem torrents the service's tracker scan knows of (`tracker_health`: name,
tracker host, reason, since when, the tracker's message redacted); the `trackers` command makes a one-off
scan of its own and lists the same. Tracker hosts only, never URLs (they carry passkeys).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .managers.policy import SeedingSettings, TrackerPolicies
from .managers.ratio import SlotChoice, TrackerStats, analyze
from .model import Snapshot
from .qbt.tracker_scan import TrackerScan

DEFAULT_LIMIT = 50


def build_report(
    snapshot: Snapshot,
    policies: TrackerPolicies,
    settings: SeedingSettings,
    limit: int = DEFAULT_LIMIT,
    scan: TrackerScan | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The report as JSON-ready data; `limit` caps each torrent list (0: no cap). With `scan`, also
    its problem torrents (`tracker_health`, as of `now`)."""
    stats, rec = analyze(snapshot, policies, settings)
    cap = limit or None
    health = (
        tracker_health(snapshot, scan, now if now is not None else snapshot.taken_at, limit) if scan else None
    )
    return {
        "instance": snapshot.instance,
        "taken_at": snapshot.taken_at,
        "seeding_slots": {
            "active": rec.active,
            "recommended": rec.recommended,
            "candidates": rec.candidates,
            "owing_seed_time": rec.owed,
            "misallocated": rec.misallocated,
            "upload_capacity_bytes_per_second": rec.capacity,
            "explanation": rec.explanation,
        },
        "trackers": [_tracker(s) for s in stats],
        "slots": [_choice(i, c) for i, c in enumerate(rec.slots[:cap], start=1)],
        "slots_total": len(rec.slots),
        "release": [_choice(None, c) for c in rec.release[:cap]],
        "release_total": len(rec.release),
        "tracker_health": health,
    }


def tracker_health(snapshot: Snapshot, scan: TrackerScan, now: float, limit: int) -> dict[str, Any]:
    """What the tracker scan knows: how fresh, and every (torrent, host) with a problem, longest first."""
    view = scan.view(now)
    problems = [
        {
            "hash": p.hash,
            "name": snapshot.torrents[p.hash].name,
            "tracker": p.host,
            "reason": p.reason,
            "status": p.status,
            "since": p.since,
            "checked_at": p.fetched_at,
            "message": p.detail,
        }
        for p in scan.problems()
        if p.hash in snapshot.torrents
    ]
    return {
        "source": view.stats.source,
        "torrents": view.torrents,
        "stale": view.stale,
        "oldest_data_at": view.oldest,
        "problems": problems[: limit or None],
        "problems_total": len(problems),
    }


def _tracker(s: TrackerStats) -> dict[str, Any]:
    ratio = s.ratio
    return {
        "tracker": s.tracker,
        "model": s.model,
        "points_per_hour": s.points_per_hour,
        "reported_points_per_hour": s.reported_points_per_hour,
        "estimate_error_ratio": s.estimate_error,
        "ratio": ratio if ratio is not None and ratio != float("inf") else None,  # JSON has no Infinity
        "min_ratio": s.min_ratio,
        "uploaded_bytes": s.uploaded,
        "downloaded_bytes": s.downloaded,
        "size_bytes": s.size,
        "seeding": s.seeding,
        "uploading": s.uploading,
        "idle": s.idle,
        "hnr_risk": s.hnr_risk,
    }


def _choice(rank: int | None, c: SlotChoice) -> dict[str, Any]:
    out: dict[str, Any] = {"rank": rank} if rank is not None else {}
    out.update(
        hash=c.hash,
        name=c.name,
        tracker=c.tracker,
        state=c.state,
        active_now=c.active_now,
        points_per_hour=c.points_per_hour,
        owed_seconds=c.owed_seconds,
        value=c.value,
        reason=c.reason,
    )
    return out


def format_report(report: Mapping[str, Any]) -> str:
    slots = report["seeding_slots"]
    lines = [
        f"qBittorrent {report['instance']} at {_when(report['taken_at'])}",
        f"Seeding slots: {slots['active']} active, {slots['recommended']} recommended "
        f"({slots['explanation']})",
        f"  {slots['candidates']} complete seeds, {slots['owing_seed_time']} still owing hit-and-run seed "
        f"time, "
        f"{slots['misallocated']} queued/stopped worth more than the lowest active seed",
        "",
        "Trackers:",
    ]
    for t in report["trackers"] or []:
        reported = ""
        if t["reported_points_per_hour"] is not None:
            reported = (
                f" (site says {t['reported_points_per_hour']:g}, error {t['estimate_error_ratio']:+.1%})"
            )
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.3g}"
        if t["ratio"] is None and t["uploaded_bytes"] > 0:
            ratio = "inf"
        lines.append(
            f"  {t['tracker']}: {t['points_per_hour']:.4g} points/h ({t['model']}){reported}; ratio {ratio} "
            f"(min {t['min_ratio']:g}); hit-and-run risk {t['hnr_risk']}; idle {t['idle']} of {t['seeding']} "
            f"seeds"
        )
    if not report["trackers"]:
        lines.append("  (none)")
    lines += ["", "Should be active (best first):"]
    for c in report["slots"]:
        lines.append(f"  {c['rank']:>4}. {c['hash'][:16]}  {c['name']}  [{c['state']}]  {c['reason']}")
    _more(lines, report["slots_total"] - len(report["slots"]))
    if report["release_total"]:
        lines += ["", "Active now but not recommended (could be queued):"]
        lines += [
            f"        {c['hash'][:16]}  {c['name']}  [{c['state']}]  {c['reason']}" for c in report["release"]
        ]
        _more(lines, report["release_total"] - len(report["release"]))
    if report.get("tracker_health") is not None:
        lines += ["", *format_tracker_health(report["tracker_health"])]
    return "\n".join(lines) + "\n"


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_tracker_health(health: Mapping[str, Any]) -> list[str]:
    fresh = (
        f"{health['torrents'] - health['stale']} of {health['torrents']} torrents checked within stale_after"
    )
    lines = [f"Tracker problems (scan: {health['source'] or 'not run yet'}; {fresh}):"]
    for p in health["problems"]:
        message = f' ("{p["message"]}")' if p["message"] else ""
        since = _when(p["since"])
        lines.append(f"  {p['hash'][:16]}  {p['name']}  {p['tracker']}: {p['reason']} since {since}{message}")
    if not health["problems_total"]:
        lines.append("  (none)")
    _more(lines, health["problems_total"] - len(health["problems"]))
    return lines


def _more(lines: list[str], hidden: int) -> None:
    if hidden > 0:
        lines.append(f"  ... {hidden} more (--limit 0 shows all)")


def parse_limit(text: str) -> int:
    """The ?limit= / --limit value: a whole number >= 0 (0: no cap)."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value
