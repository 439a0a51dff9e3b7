"""The processes of one benchmark size: the fake qBittorrent and the two exporters, all on 127.0.0.1.

    ours        python -m exporter.cli ... --qbittorrent.min-sync-age 0  (every scrape = one delta request)
    comparison  prometheus-qbittorrent-exporter 1.7.0 from bench/.venv-compare, configured by its
                environment (QBITTORRENT_HOST/PORT/USER/PASS, EXPORTER_ADDRESS/PORT); it logs in,
                downloads sync/maindata (rid 0) and torrents/info on every scrape

Every wait here is bounded and every process is stopped by its own pid.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMPARE_BIN = ROOT / "bench" / ".venv-compare" / "bin" / "qbittorrent-exporter"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait(predicate, timeout: float, what: str, proc: subprocess.Popen, interval: float = 0.02) -> float:
    """Poll until `predicate()` is true; the time it took. Fails if the process dies or time runs out."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        try:
            if predicate():
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(interval)
    raise RuntimeError(f"{what}: not within {timeout:.0f}s")


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None
    started: float = 0.0

    def start(self) -> Process:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log, "wb")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self.name == "fakeqbt" else self._log,
            stderr=self._log,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()
        self.proc = None


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QBITTORRENT_", "EXPORTER_", "METRICS_", "EXPORT_", "FILE__"))
    }
    env.update(extra)
    return env


@dataclass
class Fake:
    torrents: int
    version: str
    logs: Path
    seed: int = 1
    churn: float = 0.01
    process: Process | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def start(self) -> Fake:
        argv = [
            sys.executable,
            "-m",
            "bench.fakeqbt",
            "--torrents",
            str(self.torrents),
            "--version",
            self.version,
            "--seed",
            str(self.seed),
            "--churn",
            str(self.churn),
        ]
        self.process = Process(
            "fakeqbt", argv, clean_env(), self.logs / f"fakeqbt-{self.torrents}.log"
        ).start()
        line = self.process.proc.stdout.readline()  # bounded: the fake prints it once built, or exits
        if not line:
            raise RuntimeError(f"fake qBittorrent did not start; see {self.process.log}")
        self.info = json.loads(line)
        return self

    @property
    def url(self) -> str:
        return self.info["url"]

    def control(self, path: str, post: bool = False) -> Any:
        req = urllib.request.Request(self.url + path, data=b"" if post else None)
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())

    def stats(self) -> dict[str, Any]:
        return self.control("/bench/stats")

    def tick(self) -> dict[str, int]:
        return self.control("/bench/tick", post=True)

    def stop(self) -> None:
        if self.process:
            self.process.stop()


class Exporter:
    """One exporter process and how to scrape it."""

    def __init__(self, name: str, process: Process, port: int) -> None:
        self.name, self.process, self.port = name, process, port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def scrape(self, timeout: float) -> tuple[int, int]:
        status, body = get(self.url + "/metrics", timeout)
        return status, len(body)


def ours(fake_url: str, workdir: Path, python: str) -> Exporter:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    password = workdir / "password"
    password.write_text("adminadmin\n")
    argv = [
        python,
        "-m",
        "exporter.cli",
        "--qbittorrent.url",
        fake_url,
        "--qbittorrent.username",
        "admin",
        "--qbittorrent.password-file",
        str(password),
        "--web.listen-address",
        f"127.0.0.1:{port}",
        "--qbittorrent.min-sync-age",
        "0",
        "--log.level",
        "warning",
        "--data.dir",
        str(workdir / "data"),
    ]
    return Exporter("ours", Process("ours", argv, clean_env(), workdir / f"ours-{port}.log"), port)


def comparison(fake_url: str, workdir: Path) -> Exporter:
    port = free_port()
    host, fake_port = fake_url.removeprefix("http://").split(":")
    env = clean_env(
        QBITTORRENT_HOST=host,
        QBITTORRENT_PORT=fake_port,
        QBITTORRENT_USER="admin",
        QBITTORRENT_PASS="adminadmin",
        EXPORTER_ADDRESS="127.0.0.1",
        EXPORTER_PORT=str(port),
        EXPORTER_LOG_LEVEL="WARNING",
    )
    process = Process("comparison", [str(COMPARE_BIN)], env, workdir / f"comparison-{port}.log")
    return Exporter("comparison", process, port)


def precompile(process: Process) -> None:
    """Byte-compile the exporter package that `process` (python -m exporter.cli) will import, as every
    deployment has it: pip compiles what it installs, the Docker image included. The editable install
    here is source only, and on a machine with PYTHONDONTWRITEBYTECODE set (this one) every start would
    compile ~14,000 lines first: 0.1-0.15 s of start-up no deployment pays (bench/notes.md, round 6)."""
    code = (
        "import compileall, exporter, os; compileall.compile_dir(os.path.dirname(exporter.__file__), quiet=1)"
    )
    subprocess.run([process.argv[0], "-c", code], env=process.env, cwd=ROOT, check=True, timeout=120)


def start_ours(e: Exporter, timeout: float) -> dict[str, float]:
    """Start our exporter; seconds until it answers /healthz and until /readyz (first full sync done)."""
    precompile(e.process)
    e.process.start()
    healthy = wait(lambda: get(e.url + "/healthz", 2)[0] == 200, timeout, "ours /healthz", e.process.proc)
    ready = wait(lambda: get(e.url + "/readyz", timeout)[0] == 200, timeout, "ours /readyz", e.process.proc)
    return {"healthy_s": healthy, "ready_s": healthy + ready}


def start_comparison(e: Exporter, timeout: float) -> dict[str, float]:
    """Start the comparison; it collects once (a full download) before it opens its port."""
    e.process.start()

    def listening() -> bool:
        with socket.create_connection(("127.0.0.1", e.port), timeout=1):
            return True

    return {"ready_s": wait(listening, timeout, "comparison port", e.process.proc, interval=0.05)}
