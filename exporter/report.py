"""The report behind `qbittorrent-monitor report` and /api/report: the seeding-slot recommendation, explained.

    qbittorrent-monitor report [--format text|json] [--limit N] [the usual flags]
    curl http://127.0.0.1:9713/api/report?limit=20

Both show the same thing: per-tracker numbers (points/hour, ratio, hit-and-run risk, idle seeds), how
many seeding slots qBittorrent's queue should allow and why, and which torrents should hold them, best
first, each with its reason. Read-only: applying it (max_active_uploads) is a separate, opt-in action.
Tracker hosts only, never URLs (they carry passkeys).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .managers.policy import SeedingSettings, TrackerPolicies
from .managers.ratio import SlotChoice, TrackerStats, analyze
from .model import Snapshot

DEFAULT_LIMIT = 50


def build_report(
    snapshot: Snapshot, policies: TrackerPolicies, settings: SeedingSettings, limit: int = DEFAULT_LIMIT
) -> dict[str, Any]:
    """The report as JSON-ready data; `limit` caps each torrent list (0: no cap)."""
    stats, rec = analyze(snapshot, policies, settings)
    cap = limit or None
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
    when = datetime.fromtimestamp(report["taken_at"], UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    lines = [
        f"qBittorrent {report['instance']} at {when}",
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
    return "\n".join(lines) + "\n"


def _more(lines: list[str], hidden: int) -> None:
    if hidden > 0:
        lines.append(f"  ... {hidden} more (--limit 0 shows all)")


def parse_limit(text: str) -> int:
    """The ?limit= / --limit value: a whole number >= 0 (0: no cap)."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value
