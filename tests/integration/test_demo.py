"""`qbittorrent-monitor demo`, run as a newcomer would: real qbittorrent-nox instances, the real command.

The demo runs the `qbittorrent-nox` it finds on PATH: the test puts the matrix version's first."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from exporter.sandbox import QBITTORRENT_NOX, free_port
from tests.kit import versions
from tests.kit.processes import http_get, parse_samples, sample, wait_for

pytestmark = pytest.mark.integration

STATUSES = ("downloading", "seeding", "stalled", "paused", "errored", "metadata")


class Demo:
    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exporter.cli", "demo", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"the demo did not stop on Ctrl-C:\n{self.output()}") from None
        return self.proc.returncode


def status_counts(url: str) -> dict[str, float]:
    status, body = http_get(url + "/metrics")
    assert status == 200
    counts = dict.fromkeys(STATUSES, 0.0)
    for (name, labels), value in parse_samples(body).items():
        if name == "qbittorrent_torrents" and dict(labels)["status"] in counts:
            counts[dict(labels)["status"]] += value
    return counts


def test_demo_shows_real_metrics_in_every_state_and_cleans_up(qbt_version, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    versions.on_path(versions.qbittorrent(qbt_version), tmp_path / "bin", QBITTORRENT_NOX)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    demo = Demo(["--web.listen-address", f"127.0.0.1:{port}"], env=env)
    try:
        wait_for(
            lambda: (
                any(line.startswith("  try: curl") for line in demo.lines) or demo.proc.poll() is not None
            ),
            timeout=60,
            what="the demo printing its URLs",
        )
        assert demo.proc.poll() is None, demo.output()
        out = demo.output()
        assert f"{base}/metrics" in out
        qbt_url = re.search(r"qBittorrent  (http://127\.0\.0\.1:\d+)", out).group(1)
        work = Path(re.search(r"removes (/\S+)\.", out).group(1))
        assert work.is_dir()

        # Every state the demo promises, at once, from a real qBittorrent.
        counts = wait_for(
            lambda: (c := status_counts(base)) and all(c[s] >= 1 for s in STATUSES) and c,
            timeout=30,
            what="a torrent in each status",
        )
        assert counts["downloading"] == 1

        # The download is real: bytes flow from the local seeder; the exporter's jobs run, in dry run.
        def transferring():
            samples = parse_samples(http_get(base + "/metrics")[1])
            return (
                sample(samples, "qbittorrent_download_speed_bytes", qbittorrent="demo") or 0
            ) > 0 and samples

        samples = wait_for(transferring, timeout=30, what="the demo download moving")
        runs = sample(
            samples, "qbittorrent_exporter_job_runs_total", job="control", result="ok", qbittorrent="demo"
        )
        assert runs >= 1
        # Two watched instances: the demo qBittorrent and its seeder; the jobs act on the demo one only.
        assert sample(samples, "qbittorrent_up", qbittorrent="demo") == 1
        assert sample(samples, "qbittorrent_up", qbittorrent="seeder") == 1
        assert (
            sample(
                samples,
                "qbittorrent_exporter_job_runs_total",
                job="control",
                result="ok",
                qbittorrent="seeder",
            )
            is None
        )
        assert http_get(base + "/probe?target=seeder")[0] == 200
        assert http_get(base + "/api/report")[0] == 200
        assert "dry run" in out.lower()
        running = {dict(labels)["version"] for (name, labels) in samples if name == "qbittorrent_info"}
        assert running == {versions.qbittorrent_version(qbt_version)}  # the version on PATH, not the host's
    finally:
        code = demo.stop()
    assert code == 0, demo.output()
    assert "stopped" in demo.lines[-1]
    assert not work.exists(), "the demo's temporary directory should be removed"
    with pytest.raises(OSError):  # its qBittorrent is gone too
        http_get(qbt_url + "/api/v2/app/version", timeout=2)


def test_demo_without_qbittorrent_nox_says_how_to_install_it(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBITTORRENT_MONITOR_")}
    env["PATH"] = str(empty)
    demo = Demo(
        ["--web.listen-address", f"127.0.0.1:{free_port()}", "--demo.dir", str(tmp_path / "demo")], env=env
    )
    assert demo.proc.wait(timeout=30) == 1
    wait_for(lambda: "apt-get install qbittorrent-nox" in demo.output(), timeout=5, what="the install hint")
