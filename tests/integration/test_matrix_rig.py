"""The version matrix rig (tests/kit/versions.py) runs the real binary of each matrix id, and the matrix is
what the fixtures hand out (tests/conftest.py) and what docs/compatibility.md says.

Every id of the matrix is exercised: a missing root or binary fails (RigError), it never skips.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import qbittorrentapi
import yaml

from exporter.sandbox import free_port, stop_process
from tests.kit import compatibility, versions
from tests.kit.processes import http_get, wait_for

pytestmark = pytest.mark.integration

RULE_FILES = [versions.REPO / "prometheus" / "alerts.yml", versions.REPO / "prometheus" / "recording.yml"]


major_minor = versions.major_minor


def expected_qbittorrent(matrix_id: str, version: str) -> bool:
    if matrix_id == "5.x":
        return major_minor(version)[0] == 5 and major_minor(version) >= (5, 2)
    return major_minor(version) == tuple(map(int, matrix_id.split(".")))


def host_mounts_under(path: Path) -> list[str]:
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [m for m in mounts if m == str(path) or m.startswith(f"{path}/")]


@pytest.mark.qbt51
def test_qbittorrent_of_each_matrix_id_starts_with_the_sandbox_profile(qbt_version, qbt_factory):
    matrix_id = qbt_version
    q = qbt_factory()
    assert q.command == versions.qbittorrent(matrix_id)  # the fixture runs the version the test id names
    client = qbittorrentapi.Client(
        host=q.url,
        username=q.username,
        password=q.password,
        SIMPLE_RESPONSES=True,
        REQUESTS_ARGS={"timeout": 10},
    )
    client.auth_log_in()
    reported = client.app_version()
    assert expected_qbittorrent(matrix_id, reported), (
        f"{matrix_id} ({versions.QBITTORRENT[matrix_id]}): {reported}"
    )
    assert versions.qbittorrent_version(matrix_id) == reported  # the binary and its Web API agree
    prefs = client.app_preferences()  # the 4.5.2-style profile config is honoured as written
    assert (prefs["dht"], prefs["lsd"], prefs["pex"], prefs["upnp"]) == (False, False, False, False)
    assert (prefs["current_network_interface"], prefs["web_ui_address"], prefs["listen_port"]) == (
        "lo",
        "127.0.0.1",
        q.bt_port,
    )
    assert prefs["save_path"].rstrip("/") == str(q.downloads)  # a host path under pytest's tmp_path
    assert prefs["bittorrent_protocol"] == 1  # TCP only: see QBittorrentProcess.write_config
    assert host_mounts_under(versions.ROOTS) == []  # the root's mounts live in the process's own namespace
    assert stop_process(q.proc) == 0  # SIGTERM reached qBittorrent itself: a clean exit, not a kill


def test_promtool_of_each_matrix_id_checks_the_shipped_rules(prometheus_version):
    matrix_id = prometheus_version
    for tool in versions.PROMETHEUS_TOOLS:
        versions.prometheus_version(matrix_id, tool)  # each one runs and reports a version (or RigError)
    assert major_minor(versions.prometheus_version(matrix_id, "promtool"))[0] == int(matrix_id)
    assert major_minor(versions.prometheus_version(matrix_id, "prometheus"))[0] == int(matrix_id)
    check = subprocess.run(
        [*versions.prometheus(matrix_id, "promtool"), "check", "rules", *map(str, RULE_FILES)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("SUCCESS") == len(RULE_FILES), check.stdout


def test_prometheus_and_alertmanager_of_each_matrix_id_use_host_paths(prometheus_version, tmp_path):
    """Rule files in the checkout, config and TSDB under tmp_path: all visible to the root's binaries."""
    matrix_id = prometheus_version
    prom_port, am_port = free_port(), free_port()
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump({"global": {"evaluation_interval": "1s"}, "rule_files": [str(p) for p in RULE_FILES]})
    )
    (tmp_path / "alertmanager.yml").write_text(
        yaml.safe_dump({"route": {"receiver": "none"}, "receivers": [{"name": "none"}]})
    )
    procs = []
    try:
        with open(tmp_path / "prometheus.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        *versions.prometheus(matrix_id, "prometheus"),
                        f"--config.file={tmp_path / 'prometheus.yml'}",
                        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                        f"--web.listen-address=127.0.0.1:{prom_port}",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        with open(tmp_path / "alertmanager.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        *versions.prometheus(matrix_id, "prometheus-alertmanager"),
                        f"--config.file={tmp_path / 'alertmanager.yml'}",
                        f"--storage.path={tmp_path / 'am'}",
                        f"--web.listen-address=127.0.0.1:{am_port}",
                        "--cluster.listen-address=",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

        def ready(port: int, proc: subprocess.Popen, name: str) -> bool:
            assert proc.poll() is None, (tmp_path / f"{name}.log").read_text(errors="replace")
            try:
                return http_get(f"http://127.0.0.1:{port}/-/ready", timeout=1)[0] == 200
            except OSError:
                return False

        wait_for(lambda: ready(prom_port, procs[0], "prometheus"), timeout=30, what="prometheus ready")
        wait_for(lambda: ready(am_port, procs[1], "alertmanager"), timeout=30, what="alertmanager ready")
        status, body = http_get(f"http://127.0.0.1:{prom_port}/api/v1/rules")
        assert status == 200, body
        loaded = sorted(g["name"] for g in json.loads(body)["data"]["groups"])
        shipped = sorted(g["name"] for p in RULE_FILES for g in yaml.safe_load(p.read_text())["groups"])
        assert loaded == shipped, (tmp_path / "prometheus.log").read_text(errors="replace")
        assert (tmp_path / "tsdb" / "wal").is_dir()
        assert host_mounts_under(versions.ROOTS) == []
    finally:
        codes = [stop_process(p) for p in procs]
    assert codes == [0, 0], codes  # SIGTERM reached the programs themselves


def test_a_missing_root_or_binary_is_an_error_not_a_skip():
    with pytest.raises(versions.RigError, match="scripts/roots"):
        versions.root("no-such-suite")
    with pytest.raises(versions.RigError, match="unknown matrix id"):
        versions.qbittorrent("4.4")
    with pytest.raises(versions.RigError, match="no-such-binary"):
        versions.command("no-such-binary", versions.QBITTORRENT["5.x"])
    with pytest.raises(versions.RigError, match="no-such-binary"):
        versions.command("no-such-binary", versions.host_suite())


# The 5.1 row runs what differs there or is at the heart of the service (and the version tests).
QBT51_AT_LEAST = (
    "integration/test_exporter_real.py::test_real_torrents_are_counted_by_state_category_and_tracker_host",
    "integration/test_exporter_real.py::test_qbittorrent_down_then_back_without_restarting_the_exporter",
    "integration/test_completion_real.py::"
    "test_a_real_completion_posts_exactly_once_and_a_failing_handler_blocks_nothing",
    "integration/test_actions_real.py::test_a_real_stalled_download_is_reannounced_then_restarted_then_tagged",
    "integration/test_actions_real.py::test_ratio_emergency_stops_only_downloads_and_resumes_exactly_those",
)


def test_docs_compatibility_is_the_suites_matrix():
    """docs/compatibility.md is generated from the collected test ids: current, and with the rows the
    matrix promises (every qBittorrent test on 4.5 and 5.x; the named ones on 5.1 too)."""
    found = compatibility.collect()
    assert compatibility.DOC.read_text() == compatibility.render(found), (
        f"docs/compatibility.md is out of date: run {compatibility.COMMAND}"
    )
    families = {family.removeprefix("tests/"): ids for family, ids in found.items()}
    missing = [f for f in QBT51_AT_LEAST if not families.get(f, {}).get("qbt-5.1")]
    assert missing == [], "these must run on qBittorrent 5.1 (@pytest.mark.qbt51)"
    qbt = {f: ids for f, ids in families.items() if any(i.startswith("qbt-") for i in ids)}
    assert len(qbt) > 20, sorted(qbt)
    only_some = [
        f
        for f, ids in qbt.items()
        if not (ids["qbt-4.5"] and ids["qbt-5.x"]) and "test_versions_real.py" not in f
    ]
    assert only_some == [], "outside test_versions_real.py, every qBittorrent test runs on 4.5 and 5.x"
    e2e = {f: ids for f, ids in families.items() if f.startswith("e2e/")}
    assert e2e and all(ids["prom-2"] and ids["prom-3"] for ids in e2e.values()), e2e
