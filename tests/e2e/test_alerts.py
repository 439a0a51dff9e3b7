"""End to end, all real, on loopback: qbittorrent-nox -> exporter -> Prometheus (shipped rules) ->
Alertmanager -> a webhook receiver in this test.

The rules are the shipped prometheus/alerts.yml with every `for:` set to 0s (generated from the file by
stack.alerts_without_for, not copied), so an alert fires on its first evaluation. Each scenario takes
about 8 s, most of it Prometheus's 5 s wait before it scrapes a new target.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.sandbox import free_port, make_payload, make_torrent
from tests.kit.processes import ExporterProcess, wait_for
from tests.kit.stack import ROOT, alerts_without_for, delivered_alerts, scrape_job_name

pytestmark = pytest.mark.e2e


def start_stack(tmp_path, qbt, password_file, prometheus, alertmanager, receiver) -> ExporterProcess:
    """Prometheus and Alertmanager first (Prometheus waits 5 s before its first scrape), then the exporter."""
    exporter = ExporterProcess(
        args=["--qbittorrent.url", qbt.url, "--qbittorrent.password-file", str(password_file)],
        workdir=tmp_path / "exporter",
    )
    alertmanager.start(receiver.url("/alert"))
    prometheus.start(
        targets=[f"127.0.0.1:{exporter.port}"],
        rule_files=[alerts_without_for(tmp_path), ROOT / "prometheus" / "recording.yml"],
        alertmanager=f"127.0.0.1:{alertmanager.port}",
    )
    exporter.start()
    try:
        prometheus.wait_ready()
        alertmanager.wait_ready()
        prometheus.assert_matrix_version()
    except BaseException:
        exporter.stop()  # the test's `finally` only gets it once it is returned
        raise
    return exporter


def test_errored_torrent_fires_the_errored_alert_at_the_receiver(
    tmp_path: Path, qbt, password_file, prometheus, alertmanager, receiver
):
    exporter = start_stack(tmp_path, qbt, password_file, prometheus, alertmanager, receiver)
    try:
        # An errored torrent, for real: its save path lies under a regular file (RECIPES.md).
        payload = make_payload(tmp_path / "src", "broken.bin", 256 * 1024)
        torrent = make_torrent(
            payload, tmp_path / "broken.torrent", [f"http://127.0.0.1:{free_port()}/announce"]
        )
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("a file where qBittorrent expects a directory\n")
        qbt.client().torrents_add(torrent_files=torrent, save_path=str(blocker / "downloads"))

        alerts = wait_for(
            lambda: delivered_alerts(receiver, "QBittorrentTorrentsErrored"),
            timeout=30,
            what="QBittorrentTorrentsErrored at the webhook receiver",
        )
        alert = alerts[0]
        instance = f"127.0.0.1:{exporter.port}"
        qbt_name = f"127.0.0.1:{qbt.webui_port}"  # the default name of the flags' qBittorrent: host:port
        assert alert["labels"] == {
            "alertname": "QBittorrentTorrentsErrored",
            "severity": "warning",
            "state": "error",
            "job": scrape_job_name(),
            "instance": instance,
            "qbittorrent": qbt_name,
        }
        assert alert["annotations"]["description"] == (
            f"1 torrents of qBittorrent {qbt_name} behind {instance} have been in state error for 5m "
            "(I/O error, or their files are missing)."
        )
        assert alert["annotations"]["runbook_url"].endswith("/docs/runbooks.md#qbittorrenttorrentserrored")
        # qBittorrent is up all along: the unreachable alert must not have fired.
        assert delivered_alerts(receiver, "QBittorrentUnreachable") == []
        assert prometheus.query("qbittorrent_up == 1"), "Prometheus should see qBittorrent up"
    finally:
        exporter.stop()


def test_stopping_qbittorrent_fires_the_unreachable_alert_at_the_receiver(
    tmp_path: Path, qbt, password_file, prometheus, alertmanager, receiver
):
    exporter = start_stack(tmp_path, qbt, password_file, prometheus, alertmanager, receiver)
    try:
        wait_for(
            lambda: prometheus.query("qbittorrent_up == 1"),
            timeout=20,
            what="Prometheus scraping qBittorrent up",
        )
        assert delivered_alerts(receiver, "QBittorrentUnreachable") == [], "fired while qBittorrent was up"
        qbt_name = f"127.0.0.1:{qbt.webui_port}"

        qbt.stop()

        alerts = wait_for(
            lambda: delivered_alerts(receiver, "QBittorrentUnreachable"),
            timeout=30,
            what="QBittorrentUnreachable at the webhook receiver",
        )
        instance = f"127.0.0.1:{exporter.port}"
        assert alerts[0]["labels"] == {
            "alertname": "QBittorrentUnreachable",
            "severity": "critical",
            "job": scrape_job_name(),
            "instance": instance,
            "qbittorrent": qbt_name,  # which qBittorrent: the default name of the flags' one is its host:port
        }
        assert "(qbittorrent_up = 0)" in alerts[0]["annotations"]["description"]
        # The exporter itself is still scraped: that is a different alert, and it must stay quiet.
        assert prometheus.query(f'up{{instance="{instance}"}} == 1')
        assert delivered_alerts(receiver, "QBittorrentExporterDown") == []
    finally:
        exporter.stop()
