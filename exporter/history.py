"""What the service did, read back from the store: completion history and the audit log.

Shared by the `completions` and `audit` commands and by /api/completions and /api/audit, so that
both show the same fields. Dead-letter completions (a handler gave up) show status `dead` with each
handler's last error.
"""

from __future__ import annotations

import time
from typing import Any

from .store import AuditEntry, CompletionRecord, Store

COMPLETION_STATUSES = ("pending", "done", "dead")
AUDIT_LIMIT = 10_000


def completion_dict(r: CompletionRecord) -> dict[str, Any]:
    return {
        "instance": r.instance,
        "hash": r.hash,
        "name": r.torrent.get("name", ""),
        "category": r.torrent.get("category", ""),
        "completion_on": r.completion_on,
        "detected_at": r.detected_at,
        "status": r.status,
        "torrent": dict(r.torrent),
        "handlers": [
            {
                "handler": h.handler,
                "status": h.status,
                "attempts": h.attempts,
                "last_error": h.last_error,
                "next_attempt_at": h.next_attempt_at if h.status == "pending" else None,
            }
            for h in r.handlers
        ],
    }


def completion_dicts(
    store: Store, now: float, since: float, status: str = "", instance: str | None = None
) -> list[dict[str, Any]]:
    """Completions detected in the last `since` seconds (of one instance, or all), newest first."""
    return [completion_dict(r) for r in store.history(now - since, status, instance=instance)]


def completion_line(c: dict[str, Any]) -> str:
    runs = (
        " ".join(
            f"{h['handler']}:{h['status']}"
            + (f"({h['attempts']}x: {h['last_error']})" if h["last_error"] else "")
            for h in c["handlers"]
        )
        or "-"
    )
    return (
        f"{_when(c['detected_at'])}  {c['status']:<7}  {c['instance'] or '-'}  {c['hash'][:12]}  "
        f"{c['category'] or '-':<12}  "
        f"{c['name']}  [{runs}]"
    )


def audit_dict(e: AuditEntry) -> dict[str, Any]:
    return {
        "at": e.at,
        "instance": e.instance,
        "action": e.action,
        "hash": e.hash,
        "name": e.name,
        "reason": e.reason,
        "result": e.result,
        "dry_run": e.dry_run,
    }


def audit_dicts(
    store: Store, now: float, since: float, limit: int = AUDIT_LIMIT, instance: str | None = None
) -> list[dict[str, Any]]:
    """Audit rows of the last `since` seconds (of one instance, or all), oldest first."""
    return [audit_dict(e) for e in store.audit_log(now - since, limit, instance)]


def audit_line(a: dict[str, Any]) -> str:
    dry = " (dry run)" if a["dry_run"] else ""
    target = f"{a['hash'][:12]}  {a['name']}" if a["hash"] else a["name"]
    where = a["instance"] or "-"
    return f"{_when(a['at'])}  {where}  {a['result']:<5}  {a['action']}{dry}  {target}: {a['reason']}"


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
