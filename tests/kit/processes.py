"""Real processes on 127.0.0.1 and how tests talk to them: bounded waiting, HTTP GET, scraping, and
`Service`, the base of the exporter process here and of Prometheus/Alertmanager in tests/kit/stack.py.

Every wait has a deadline and fails with what it waited for; nothing sleeps for logic.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

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


def sample(samples: dict, name: str, /, **labels: str) -> float | None:
    """The value of the series `name{labels}`; None if absent. The `qbittorrent` label may be left out
    when the scrape shows one qBittorrent: every series about it carries the same value."""
    exact = samples.get((name, frozenset(labels.items())))
    if exact is not None or "qbittorrent" in labels:
        return exact
    instances = {value for (_, pairs) in samples for key, value in pairs if key == "qbittorrent"}
    if len(instances) != 1:
        return None
    return samples.get((name, frozenset({**labels, "qbittorrent": instances.pop()}.items())))


def http_get(url: str, timeout: float = 10.0, headers: dict | None = None, context=None) -> tuple[int, str]:
    """(status, body) of a GET; an HTTP error status is an answer, not an exception."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Service:
    """A program listening on 127.0.0.1:`port`, its output in `directory`/<name>.log, stopped by stop()
    (the fixtures call it at teardown)."""

    scheme = "http"
    ready_path = "/-/ready"  # answers 200 once the service is ready (Prometheus's and Alertmanager's)
    ssl_context = None  # for https: an ssl.SSLContext that trusts the service's certificate

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = directory / f"{self.name}.log"
        self._log: IO[bytes] | None = None
        self._argv: list[str] = []
        self._env: dict[str, str] | None = None
        self._rebinds = 0
        self._log_from = 0  # where the current start's output begins in the log

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self._argv, self._env, self._log_from = argv, env, self._log.tell()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )

    def _rebind(self) -> bool:
        """After a start lost its free port to another process (free_port() only finds a port that was
        free a moment ago): the same command on a new port, at most twice. False when that was not it."""
        output = self.log_path.read_bytes()[self._log_from :].decode(errors="replace")
        lost = "address already in use" in output.lower()
        old = f"127.0.0.1:{self.port}"
        if not lost or self._rebinds >= 2 or not any(old in a for a in self._argv):
            return False
        self._rebinds += 1
        if self._log is not None:
            self._log.close()
        self.port = free_port()
        self._spawn([a.replace(old, f"127.0.0.1:{self.port}") for a in self._argv], self._env)
        return True

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Until `ready_path` answers 200; fails at once if the process exits, with its log (unless it lost
        its port to another process: then it starts again on a new one)."""

        def ready() -> bool:
            assert self.proc is not None, f"{self.name} was not started"
            if self.proc.poll() is not None:
                if self._rebind():
                    return False
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            try:
                return http_get(self.url + self.ready_path, timeout=1, context=self.ssl_context)[0] == 200
            except OSError:  # includes ssl.SSLError and URLError
                return False

        wait_for(ready, timeout=timeout, what=f"{self.name} on {self.url} (log: {self.log_path})")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """The exit code (negative: the signal that ended it); None if it was not running."""
        if self.proc is None:
            return None
        code = stop_process(self.proc, sig)
        self.proc = None
        if self._log is not None:
            self._log.close()
        return code


class ExporterProcess(Service):
    """`qbittorrent-monitor` run as a real process (python -m exporter.cli) on 127.0.0.1."""

    ready_path = "/healthz"

    def __init__(
        self,
        args: list[str],
        workdir: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        scheme: str = "http",
        ssl_context=None,
    ) -> None:
        self.args, self.env = args, dict(env or {})
        self.scheme, self.ssl_context = scheme, ssl_context
        super().__init__(workdir, port)

    @property
    def name(self) -> str:
        return f"exporter-{self.port}"

    def start(self, wait: bool = True) -> ExporterProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QBITTORRENT_MONITOR_")}
        env.update(self.env)
        listen = ["--web.listen-address", f"127.0.0.1:{self.port}"]
        self._spawn([sys.executable, "-m", "exporter.cli", *self.args, *listen], env)
        if wait:
            try:
                self.wait_ready(timeout=15)
            except BaseException:
                self.stop()  # not ready: nobody holds it yet to stop it later
                raise
        return self

    def scrape(self, path: str = "/metrics", headers: dict | None = None) -> dict:
        status, body = http_get(self.url + path, headers=headers, context=self.ssl_context)
        assert status == 200, f"{path} answered {status}: {body}"
        return parse_samples(body)
