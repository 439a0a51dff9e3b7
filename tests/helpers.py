"""Helpers shared by the tests: bounded waiting, scraping, starting the exporter as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from prometheus_client.parser import text_string_to_metric_families

from exporter.sandbox import free_port, stop_process

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.1, what: str = "") -> T:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate} (last: {last!r})")


def parse_samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Exposition text -> {(sample name, frozenset(labels.items())): value}."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def sample(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def http_get(url: str, timeout: float = 10.0, headers: dict | None = None, context=None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@dataclass
class ExporterProcess:
    """`qbittorrent-monitor` run as a real process (python -m exporter.cli) on 127.0.0.1."""

    args: list[str]
    workdir: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    scheme: str = "http"
    ssl_context: object = None  # for https: an ssl.SSLContext that trusts the exporter's certificate
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"exporter-{self.port}.log"

    def start(self, wait: bool = True) -> ExporterProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("QBITTORRENT_MONITOR_")}
        env.update(self.env)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter.cli",
                *self.args,
                "--web.listen-address",
                f"127.0.0.1:{self.port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        if wait:
            wait_for(self._healthy, timeout=15, what=f"exporter on {self.url} (log: {self.log_path})")
        return self

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"exporter exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return http_get(self.url + "/healthz", timeout=1, context=self.ssl_context)[0] == 200
        except OSError:  # includes ssl.SSLError and URLError
            return False

    def scrape(self, path: str = "/metrics", headers: dict | None = None) -> dict:
        status, body = http_get(self.url + path, headers=headers, context=self.ssl_context)
        assert status == 200, f"{path} answered {status}: {body}"
        return parse_samples(body)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        code = stop_process(self.proc, sig)
        self.proc = None
        self._log.close()
        return code
