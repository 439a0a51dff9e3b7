"""Every HTTP route of the service, in one table (`build_routes`).

    /                  links to the others
    /metrics           the scrape of every qBittorrent (path from --web.telemetry-path)
    /probe             ?target=NAME or URL: one configured qBittorrent (the multi-target pattern)
    /healthz           liveness: the process answers (no authentication)
    /readyz            readiness: every qBittorrent has synced and is reachable, the store is not lost
    /api/report        the seeding-slot recommendation, explained, and the tracker problems (?limit=N,
                       ?instance=NAME)
    /api/completions   completion history (?since=24h&status=dead&instance=NAME), when a completion job runs
    /api/audit         the audit log of every action (?since=24h&instance=NAME), when a job runs

A route is a function (query, headers) -> (status, content type, body, extra headers); it gets what it
reads through `Sources`, never the App.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from prometheus_client.exposition import choose_encoder

from ..collectors.instances import Scrape
from ..durations import parse_duration
from ..history import AUDIT_LIMIT, COMPLETION_STATUSES, audit_dicts, completion_dicts
from ..managers.policy import SeedingSettings, TrackerPolicies
from ..model import Snapshot
from ..qbt.tracker_scan import TrackerScan
from ..report import DEFAULT_LIMIT, build_report, parse_limit
from ..store import Store, StoreError, StoreLost
from . import exposition

SCRAPE_TIMEOUT_HEADER = "x-prometheus-scrape-timeout-seconds"
MAX_SCRAPE_TIMEOUT = 3600.0  # a bigger header is taken as this (the waits need a finite bound)

# A route answers (status, content type, body bytes, extra headers) for (query, headers).
Response = tuple[int, str, bytes, Mapping[str, str]]
Route = Callable[[Mapping[str, str], Mapping[str, str]], Response]


def text(status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return status, content_type, body.encode(), {}


def as_json(status: int, payload: Any) -> Response:
    return status, "application/json", json.dumps(payload, indent=1, default=str).encode(), {}


@dataclass(frozen=True)
class Sources:
    """What the routes read, per watched qBittorrent (by name). `store()` is None until the jobs have
    opened it; `store` itself is None when no job runs (then /api/completions and /api/audit do not exist)."""

    scrape: Callable[[Iterable[str] | None, float | None], Scrape]  # (names or all, timeout)
    snapshot: Callable[[str], Snapshot | None]  # that mirror, refreshed; None while it is down
    last_error: Callable[[str], str]
    instances: Mapping[str, str]  # name -> its configured URL, in configuration order
    policies: Mapping[str, tuple[TrackerPolicies, SeedingSettings]]
    clock: Callable[[], float]
    store: Callable[[], Store | None] | None = None
    completions: bool = False  # a completion job runs: /api/completions exists
    scrape_timeout: float = 8.0  # seconds a scrape may take when the scraper does not say
    scrape_timeout_offset: float = 0.5  # kept from the scraper's own timeout, for answering
    scans: Mapping[str, TrackerScan] = field(default_factory=dict)  # the instances' tracker scans, if on


def build_routes(telemetry_path: str, src: Sources) -> dict[str, Route]:
    writer = exposition.Writer()  # one per service: it remembers the last scrape's text per family
    routes: dict[str, Route] = {
        telemetry_path: lambda query, headers: _metrics(src, writer, None, headers),
        "/probe": lambda query, headers: _probe(src, writer, query, headers),
        "/healthz": lambda query, headers: text(200, "ok\n"),
        "/readyz": lambda query, headers: _ready(src),
        "/api/report": lambda query, headers: _report(src, query),
    }
    if src.store is not None:
        store = src.store
        if src.completions:
            routes["/api/completions"] = lambda query, headers: completions_route(store(), src.clock, query)
        routes["/api/audit"] = lambda query, headers: audit_route(store(), src.clock, query)
    links = {
        telemetry_path: "metrics",
        "/probe": "?target=NAME: one qBittorrent",
        "/healthz": "liveness",
        "/readyz": "readiness",
    }
    links.update({p: "" for p in routes if p.startswith("/api/")})
    return {"/": _landing_page("qbittorrent-monitor", links), **routes}


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


def resolve_target(src: Sources, target: str) -> str | None:
    """The configured instance a /probe target names (its name or its configured URL), else None."""
    if target in src.instances:
        return target
    wanted = target.strip().rstrip("/")
    return next((name for name, url in src.instances.items() if url == wanted), None)


def instance_query(src: Sources, query: Mapping[str, str]) -> tuple[list[str] | None, str]:
    """(instances selected by ?instance=NAME, all when absent; error text when NAME is unknown)."""
    wanted = unquote(query.get("instance", ""))
    if not wanted:
        return list(src.instances), ""
    if wanted not in src.instances:
        return (
            None,
            f"instance: no qBittorrent named {wanted!r} is configured (known: {', '.join(src.instances)})",
        )
    return [wanted], ""


def _landing_page(title: str, links: Mapping[str, str]) -> Route:
    items = "".join(
        f'<li><a href="{html.escape(p)}">{html.escape(p)}</a> {html.escape(d)}</li>' for p, d in links.items()
    )
    body = (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><ul>{items}</ul></body></html>"
    )
    return lambda query, headers: text(200, body, "text/html; charset=utf-8")


def _metrics(
    src: Sources, writer: exposition.Writer, names: list[str] | None, headers: Mapping[str, str]
) -> Response:
    scrape = src.scrape(names, scrape_timeout(headers, src.scrape_timeout, src.scrape_timeout_offset))
    accept = headers.get("Accept") or ""
    if not accept or "text/plain" in accept or "*/*" in accept:
        return (
            200,
            exposition.CONTENT_TYPE,
            writer.encode(scrape),
            {},
        )  # the fast path (Prometheus offers it)
    encoder, content_type = choose_encoder(accept)
    return 200, content_type, encoder(scrape.registry()), {}


def _probe(
    src: Sources, writer: exposition.Writer, query: Mapping[str, str], headers: Mapping[str, str]
) -> Response:
    target = unquote(query.get("target", ""))
    if not target:
        return text(400, "target: missing: /probe?target=NAME (a configured name or URL)\n")
    name = resolve_target(src, target)
    if name is None:  # never fetched: only what the configuration names is ever contacted
        return text(400, "target: not a configured qBittorrent name or URL\n")
    return _metrics(src, writer, [name], headers)


def _ready(src: Sources) -> Response:
    store = src.store() if src.store is not None else None
    try:
        if store is not None:
            store.check()
    except StoreLost as exc:  # lost: the jobs stopped acting, only a restart brings them back
        return text(503, f"not ready: {exc}\n")
    except StoreError:  # a shared store that does not answer for now: the jobs pause, metrics go on
        pass
    down = [name for name in src.instances if src.snapshot(name) is None]
    if not down:
        return text(200, "ready\n")
    reasons = "; ".join(
        f"{n}: {src.last_error(n) or 'first sync with qBittorrent not done yet'}" for n in down
    )
    return text(503, f"not ready: {reasons}\n")


def _report(src: Sources, query: Mapping[str, str]) -> Response:
    try:
        limit = parse_limit(query.get("limit", str(DEFAULT_LIMIT)))
    except ValueError:
        return as_json(400, {"error": "limit must be a whole number >= 0"})
    names, error = instance_query(src, query)
    if names is None:
        return as_json(400, {"error": error})
    reports = []
    for name in names:
        snapshot = src.snapshot(name)
        if snapshot is None:
            reports.append(
                {"instance": name, "error": f"qBittorrent is not reachable: {src.last_error(name)}"}
            )
        else:
            reports.append(
                build_report(snapshot, *src.policies[name], limit, src.scans.get(name), src.clock())
            )
    if len(reports) == 1:  # one qBittorrent selected (?instance=, or the only one): its report itself
        one = reports[0]
        return as_json(503 if "error" in one else 200, one if "error" not in one else {"error": one["error"]})
    return as_json(200 if any("error" not in r for r in reports) else 503, {"reports": reports})


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
    instance = unquote(query.get("instance", "")) or None
    return as_json(200, {"completions": completion_dicts(store, clock(), since, status, instance)})


def audit_route(store: Store | None, clock: Callable[[], float], query: Mapping[str, str]) -> Response:
    if store is None:
        return text(503, "the jobs have not started\n")
    try:
        since = _since(query)
    except ValueError as exc:
        return text(400, f"since: {exc}\n")
    instance = unquote(query.get("instance", "")) or None
    return as_json(200, {"audit": audit_dicts(store, clock(), since, AUDIT_LIMIT, instance)})
