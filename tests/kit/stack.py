"""Real Prometheus and Alertmanager on 127.0.0.1 for the end-to-end tests, and the shipped rules and
scripts they load. The webhook receiver Alertmanager posts to is the kit's Receiver.

Nothing here is a mock: `prometheus` and `prometheus-alertmanager` are Debian's binaries of a matrix id
(tests/kit/versions.py: "2" bookworm's, "3" sid's); a missing binary or root is an error, never a skip.
See ../shared/RECIPES.md for the flags.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

from tests.kit import versions
from tests.kit.processes import Service, http_get
from tests.kit.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]


def load_script(relative: str):
    """A script of the repository (prometheus/build.py, grafana/build.py) as a module."""
    name = relative.replace("/", "_").removesuffix(".py")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / relative)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[name]


def rules_build():
    """prometheus/build.py: its CONFIG is where the shipped rules' selector comes from."""
    return load_script("prometheus/build.py")


def scrape_job_name() -> str:
    """The job name the shipped rules select (`job="qbittorrent"` in CONFIG)."""
    match = re.fullmatch(r'job="([^"]+)"', rules_build().C["selector"])
    assert match, "the e2e tests expect CONFIG['selector'] to be job=\"...\""
    return match.group(1)


def alerts_without_for(directory: Path) -> Path:
    """The shipped alerts.yml with every `for:` set to 0s, so that an alert fires on its first evaluation.

    Generated from the shipped file, so the test follows every change to the rules themselves.
    """
    rules = yaml.safe_load((ROOT / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert "for" in rule, rule["alert"]
            rule["for"] = "0s"
    path = directory / "alerts-for-0s.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


class MatrixService(Service):
    """A Service run from the binary `program` of Prometheus matrix id `matrix_id`."""

    program = ""

    def __init__(self, directory: Path, matrix_id: str, port: int | None = None) -> None:
        self.matrix_id = matrix_id
        self.command = versions.prometheus(matrix_id, self.program)
        super().__init__(directory, port)


class Prometheus(MatrixService):
    program = "prometheus"

    def start(self, targets: list[str], rule_files: list[Path], alertmanager: str = "") -> Prometheus:
        config: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": scrape_job_name(), "static_configs": [{"targets": targets}]}],
        }
        if alertmanager:
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "prometheus.yml").write_text(yaml.safe_dump(config))
        self._spawn(
            [
                *self.command,
                f"--config.file={self.directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ]
        )
        return self

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        status, body = http_get(url)
        data = json.loads(body)
        assert status == 200 and data["status"] == "success", f"{path} {params}: {status} {body}"
        return data["data"]

    def assert_matrix_version(self) -> None:
        """The running Prometheus is the major version its matrix id names (2 or 3)."""
        running = self.api("status/buildinfo")["version"]
        assert versions.major_minor(running)[0] == int(self.matrix_id), (self.matrix_id, running)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; raises AssertionError with Prometheus's message on a bad expression."""
        data = self.api("query", query=expr)
        return data["result"] if data["resultType"] in ("vector", "matrix") else [data["result"]]

    def query_range(self, expr: str, seconds: int = 60) -> list[dict[str, Any]]:
        now = float(self.api("query", query="time()")["result"][1])
        return self.api("query_range", query=expr, start=str(now - seconds), end=str(now), step="1")["result"]


class Alertmanager(MatrixService):
    program = "prometheus-alertmanager"

    def start(self, webhook_url: str) -> Alertmanager:
        config = {
            "route": {
                "receiver": "test",
                "group_by": ["alertname", "instance"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [{"name": "test", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "alertmanager.yml").write_text(yaml.safe_dump(config))
        self._spawn(
            [
                *self.command,
                f"--config.file={self.directory / 'alertmanager.yml'}",
                f"--storage.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ]
        )
        return self


def delivered_alerts(receiver: Receiver, name: str, status: str = "firing") -> list[dict[str, Any]]:
    """Alerts named `name` with `status` that Alertmanager delivered to the receiver's /alert."""
    return [
        a
        for request in receiver.requests
        if request.path == "/alert"
        for a in request.json()["alerts"]
        if a["labels"].get("alertname") == name and a["status"] == status
    ]
