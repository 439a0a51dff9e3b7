"""The Grafana dashboards, without Grafana: structure checks, then every panel's PromQL run against a live
Prometheus that scrapes the real exporter watching a real qbittorrent-nox.

The live setup makes every panel's data exist, with two watched instances (so that the `qbittorrent`
variable is checked on several): a second qBittorrent, the seeder, seeds a torrent that the watched one
downloads (completion, ratio, bonus points, seeding), a torrent with a dead tracker stalls (stall ladder,
in dry run), the ratio emergency holds for the tracker (dry run), and a completion webhook gets HTTP 500
(handler failures). A query error, or an empty result, fails the test with the panel's title.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from exporter.sandbox import free_port, make_payload, make_torrent
from tests.kit.processes import ExporterProcess, wait_for
from tests.kit.stack import ROOT, load_script, scrape_job_name

pytestmark = pytest.mark.e2e

DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
# What Grafana would put in place of its built-in variables (a range long enough for a few samples).
BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m"}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def panels():
    for path in DASHBOARDS:
        for panel in load(path)["panels"]:
            yield path.stem, panel


# -- structure ----------------------------------------------------------------------------------


def test_dashboards_are_generated_and_up_to_date():
    build = load_script("grafana/build.py")
    assert {p.name for p in DASHBOARDS} == {p.name for p in build.outputs()}
    stale = [p.name for p, text in build.outputs().items() if p.read_text() != text]
    assert stale == [], "out of date: run python grafana/build.py"


def test_dashboard_structure():
    uids = set()
    for path in DASHBOARDS:
        d = load(path)
        assert d["uid"] not in uids
        uids.add(d["uid"])
        names = [v["name"] for v in d["templating"]["list"]]
        assert names[:3] == ["datasource", "job", "instance"], path.name
        used = " ".join(t["expr"] for p in d["panels"] for t in p["targets"])
        for name in names[1:]:
            assert f"${name}" in used, f"{path.name}: variable ${name} is never used"
        for var in re.findall(r"\$(\w+)", used):
            assert var in names or f"${var}" in BUILTINS, f"{path.name}: unknown variable ${var}"
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids))


@pytest.mark.parametrize("panel", [p for _, p in panels()], ids=[f"{d}:{p['title']}" for d, p in panels()])
def test_every_panel_has_title_unit_description_and_queries(panel):
    assert panel["title"].strip()
    assert panel["description"].strip()
    assert panel["fieldConfig"]["defaults"]["unit"]
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])


def test_every_recording_rule_is_used_by_a_dashboard():
    groups = yaml.safe_load((ROOT / "prometheus" / "recording.yml").read_text())["groups"]
    used = " ".join(t["expr"] for _, p in panels() for t in p["targets"])
    unused = [r["record"] for g in groups for r in g["rules"] if r["record"] not in used]
    assert unused == []


# -- live ---------------------------------------------------------------------------------------

LABEL_VALUES = re.compile(r"label_values\((?:(.+),\s*)?(\w+)\)")


def resolve_variables(prometheus, dashboard: dict) -> dict[str, str]:
    """Each query variable's values from Prometheus, as Grafana would get them; the substitution to use."""
    values: dict[str, str] = {}
    for var in dashboard["templating"]["list"]:
        if var["type"] != "query":
            continue
        selector, label = LABEL_VALUES.fullmatch(var["query"]["query"]).groups()
        selector = substitute(selector, values)
        found = prometheus.api(f"label/{label}/values", **{"match[]": selector})
        assert found, f"variable ${var['name']} has no values ({var['query']['query']})"
        # "All" is the default of multi-value variables: Grafana then sends allValue.
        values[var["name"]] = var["allValue"] if var.get("includeAll") else re.escape(found[0])
    return values


def substitute(expr: str, values: dict[str, str]) -> str:
    for name, value in {**BUILTINS, **{f"${k}": v for k, v in values.items()}}.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def exporter_config(tmp_path: Path, receiver_url: str, watched: dict, seeder: dict) -> Path:
    """Two instances, so that every panel is also checked with the qbittorrent variable on several."""
    config = {
        "instances": [{"name": "watched", **watched}, {"name": "seeder", "actions": False, **seeder}],
        "trackers": {
            "default": {"min_ratio": 1.0, "min_seed_time": "72h"},
            "127.0.0.1": {"min_ratio": 1.0, "points": {"model": "gazelle"}, "reported_points_per_hour": 0.5},
        },
        "seeding": {"upload_capacity": "10MiB"},
        "control": {
            "interval": "1s",
            "dry_run": True,
            "stalled": {"enabled": True, "stall_after": "1s", "grace": "0s", "cooldown": "1s"},
            "ratio_emergency": {"enabled": True, "min_downloaded": 0},
        },
        "completion": {
            "interval": "1s",
            "backfill": "1h",
            "handlers": [
                {"name": "notify", "type": "webhook", "url": receiver_url, "retries": 0, "timeout": "2s"},
                {"name": "mark", "type": "command", "argv": ["true"]},
            ],
        },
    }
    path = tmp_path / "exporter.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_every_panel_query_returns_data_from_a_live_prometheus(
    tmp_path: Path, qbt_factory, password_file, prometheus, receiver, request
):
    seeder, watched = qbt_factory("seeder"), qbt_factory("watched")

    def instance(q) -> dict:
        return {"url": q.url, "password_file": str(password_file)}

    config = exporter_config(tmp_path, receiver.url("/fail"), instance(watched), instance(seeder))
    exporter = ExporterProcess(
        args=[
            "--config.file",
            str(config),
            "--data.dir",
            str(tmp_path / "data"),
        ],
        workdir=tmp_path / "exporter",
    )
    request.addfinalizer(exporter.stop)  # started below; stopped whatever happens
    # Prometheus first: it scrapes a new target only after ~5 s.
    prometheus.start(
        targets=[f"127.0.0.1:{exporter.port}"], rule_files=[ROOT / "prometheus" / "recording.yml"]
    )

    dead_tracker = f"http://127.0.0.1:{free_port()}/announce"  # a closed port: host label 127.0.0.1
    data = tmp_path / "data-seeder"
    shared = make_torrent(
        make_payload(data, "shared.bin", 4 << 20), tmp_path / "shared.torrent", [dead_tracker]
    )
    orphan = make_torrent(
        make_payload(tmp_path / "nowhere", "orphan.bin", 1 << 20), tmp_path / "orphan.torrent", [dead_tracker]
    )
    seeder_client, client = seeder.client(), watched.client()
    seeder_client.torrents_add(torrent_files=shared, save_path=str(data))
    client.torrents_add(torrent_files=shared, category="movies")
    client.torrents_add(torrent_files=orphan, category="tv")  # no peer anywhere: stalls
    exporter.start()

    def downloaded() -> bool:
        torrents = {t["name"]: t for t in client.torrents_info()}
        shared_t = torrents.get("shared.bin")
        if shared_t and shared_t["state"] not in ("checkingResumeData", "metaDL"):
            client.torrents_add_peers(torrent_hashes=shared_t["hash"], peers=[f"127.0.0.1:{seeder.bt_port}"])
        return bool(shared_t) and shared_t["amount_left"] == 0 and shared_t["completion_on"] > 0

    wait_for(downloaded, timeout=30, interval=0.5, what="the watched qBittorrent downloading from the seeder")
    prometheus.assert_matrix_version()
    wait_for(
        lambda: prometheus.query(
            'qbittorrent_exporter_completion_handler_runs_total{result=~"error|dead"} > 0'
        ),
        timeout=30,
        what="a failed completion handler run scraped by Prometheus",
    )
    wait_for(
        lambda: prometheus.query('qbittorrent_exporter_actions_total{dry_run="true"} > 0'),
        timeout=30,
        what="a dry-run stall action scraped by Prometheus",
    )

    def empty_panels() -> list[str]:
        empty = []
        for path in DASHBOARDS:
            dashboard = load(path)
            values = resolve_variables(prometheus, dashboard)
            for panel in dashboard["panels"]:
                for target in panel["targets"]:
                    expr = substitute(target["expr"], values)
                    if not prometheus.query(expr):  # a query error raises right here, naming the query
                        empty.append(f"{path.stem}: {panel['title']} [{target['refId']}] {expr}")
        return empty

    # Rates and recording rules need a few samples: wait for all, then report the ones still empty.
    try:
        wait_for(lambda: not empty_panels(), timeout=20, interval=1, what="data in every panel")
    except AssertionError:
        pytest.fail("panels with no data:\n" + "\n".join(empty_panels()))
    assert scrape_job_name() in prometheus.api("label/job/values")
    # The qbittorrent variable sees both instances; the per-instance panels show each (both are up).
    assert sorted(prometheus.api("label/qbittorrent/values")) == ["seeder", "watched"]
    assert {r["metric"]["qbittorrent"] for r in prometheus.query("qbittorrent_up == 1")} == {
        "seeder",
        "watched",
    }
    # The exporter's own `job` label (control, completion) arrives as exported_job, which the rules select.
    assert prometheus.query('qbittorrent_exporter_job_last_success_timestamp_seconds{exported_job="control"}')
    assert prometheus.query(
        'qbittorrent_exporter_job_last_success_timestamp_seconds{exported_job="completion"}'
    )
