"""Every HTTP route of the service, in one table (`build_routes`).

    /                  links to the others
    /metrics           the scrape (path from --web.telemetry-path)
    /healthz           liveness: the process answers (no authentication)
    /readyz            readiness: the first sync is done and qBittorrent is reachable
    /api/report        the seeding-slot recommendation, explained (?limit=N)
    /api/completions   completion history (?since=24h&status=dead), when the completion job runs
    /api/audit         the audit log of every action (?since=24h), when a job runs

A route is a function (query, headers) -> (status, content type, body, extra headers); it gets what it
reads through `Sources`, never the App.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from ..durations import parse_duration
from ..history import AUDIT_LIMIT, COMPLETION_STATUSES, audit_dicts, completion_dicts
from ..managers.policy import SeedingSettings, TrackerPolicies
from ..model import Snapshot
from ..report import DEFAULT_LIMIT, build_report, parse_limit
from ..store import Store

# A route answers (status, content type, body bytes, extra headers) for (query, headers).
Response = tuple[int, str, bytes, Mapping[str, str]]
Route = Callable[[Mapping[str, str], Mapping[str, str]], Response]


def text(status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return status, content_type, body.encode(), {}


def as_json(status: int, payload: Any) -> Response:
    return status, "application/json", json.dumps(payload, indent=1, default=str).encode(), {}


@dataclass(frozen=True)
class Sources:
    """What the routes read. `store()` is None until the jobs have opened it; `store` itself is None
    when no job runs (then the /api/completions and /api/audit routes do not exist)."""

    scrape: Callable[[float], CollectorRegistry]  # a fresh registry of one scrape, within the seconds given
    snapshot: Callable[[], Snapshot | None]  # the mirror, refreshed; None while qBittorrent is down
    last_error: Callable[[], str]
    policies: TrackerPolicies
    seeding: SeedingSettings
    clock: Callable[[], float]
    store: Callable[[], Store | None] | None = None
    completions: bool = False  # the completion job runs: /api/completions exists
    scrape_timeout: float = 8.0  # seconds a scrape may take when the scraper does not say
    scrape_timeout_offset: float = 0.5  # kept from the scraper's own timeout, for answering


def build_routes(telemetry_path: str, src: Sources) -> dict[str, Route]:
    routes: dict[str, Route] = {
        telemetry_path: lambda query, headers: _metrics(src, headers),
        "/healthz": lambda query, headers: text(200, "ok\n"),
        "/readyz": lambda query, headers: _ready(src),
        "/api/report": lambda query, headers: _report(src, query),
    }
    if src.store is not None:
        store = src.store
        if src.completions:
            routes["/api/completions"] = lambda query, headers: completions_route(store(), src.clock, query)
        routes["/api/audit"] = lambda query, headers: audit_route(store(), src.clock, query)
    links = {telemetry_path: "metrics", "/healthz": "liveness", "/readyz": "readiness"}
    links.update({p: "" for p in routes if p.startswith("/api/")})
    return {"/": _landing_page("qbittorrent-monitor", links), **routes}


def _landing_page(title: str, links: Mapping[str, str]) -> Route:
    items = "".join(
        f'<li><a href="{html.escape(p)}">{html.escape(p)}</a> {html.escape(d)}</li>' for p, d in links.items()
    )
    body = (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><ul>{items}</ul></body></html>"
    )
    return lambda query, headers: text(200, body, "text/html; charset=utf-8")


def _metrics(src: Sources, headers: Mapping[str, str]) -> Response:
    encoder, content_type = choose_encoder(headers.get("Accept") or "")
    timeout = scrape_timeout(headers, src.scrape_timeout, src.scrape_timeout_offset)
    return 200, content_type, encoder(src.scrape(timeout)), {}


SCRAPE_TIMEOUT_HEADER = "x-prometheus-scrape-timeout-seconds"
MAX_SCRAPE_TIMEOUT = 3600.0  # a bigger header is taken as this (the waits need a finite bound)


def scrape_timeout(headers: Mapping[str, str], default: float, offset: float) -> float:
    """Seconds this scrape may take: the scraper's X-Prometheus-Scrape-Timeout-Seconds minus `offset`
    (never below half of it), or `default` without a header that is a positive number."""
    raw = next((v for k, v in headers.items() if k.lower() == SCRAPE_TIMEOUT_HEADER), "")
    try:
        seconds = min(float(raw), MAX_SCRAPE_TIMEOUT)
    except ValueError:
        return default
    if not seconds > 0:  # also NaN
        return default
    return max(seconds - offset, seconds / 2)


def _ready(src: Sources) -> Response:
    if src.snapshot() is not None:
        return text(200, "ready\n")
    return text(503, f"not ready: {src.last_error() or 'first sync with qBittorrent not done yet'}\n")


def _report(src: Sources, query: Mapping[str, str]) -> Response:
    try:
        limit = parse_limit(query.get("limit", str(DEFAULT_LIMIT)))
    except ValueError:
        return as_json(400, {"error": "limit must be a whole number >= 0"})
    snapshot = src.snapshot()
    if snapshot is None:
        return as_json(503, {"error": f"qBittorrent is not reachable: {src.last_error()}"})
    return as_json(200, build_report(snapshot, src.policies, src.seeding, limit))


def _since(query: Mapping[str, str]) -> float:
    return parse_duration(unquote(query.get("since", "24h")))


def completions_route(store: Store | None, clock: Callable[[], float], query: Mapping[str, str]) -> Response:
    if store is None:
        return text(503, "completion tracking has not started\n")
    status = unquote(query.get("status", ""))
    if status and status not in COMPLETION_STATUSES:
        return text(400, f"status must be one of {', '.join(COMPLETION_STATUSES)}\n")
    try:
        since = _since(query)
    except ValueError as exc:
        return text(400, f"since: {exc}\n")
    return as_json(200, {"completions": completion_dicts(store, clock(), since, status)})


def audit_route(store: Store | None, clock: Callable[[], float], query: Mapping[str, str]) -> Response:
    if store is None:
        return text(503, "the jobs have not started\n")
    try:
        since = _since(query)
    except ValueError as exc:
        return text(400, f"since: {exc}\n")
    return as_json(200, {"audit": audit_dicts(store, clock(), since, AUDIT_LIMIT)})
