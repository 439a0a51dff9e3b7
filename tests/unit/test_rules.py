"""The shipped Prometheus rules: generated files current, promtool-valid, every alert unit-tested both ways.

promtool must be installed (scripts/setup installs Debian's prometheus package): a missing promtool
fails these tests, it never skips them.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "prometheus"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))


def load_build():
    spec = importlib.util.spec_from_file_location("prometheus_build", PROMETHEUS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def promtool(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("promtool")
    assert exe, "promtool is not installed: run scripts/setup (apt-get install prometheus)"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


def alerts() -> list[dict]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_generated_files_are_up_to_date():
    build = load_build()
    stale = [str(p.relative_to(ROOT)) for p, text in build.outputs().items() if p.read_text() != text]
    assert not stale, f"out of date, run `python prometheus/build.py`: {stale}"


def test_promtool_check_rules():
    result = promtool("check", "rules", str(PROMETHEUS / "alerts.yml"), str(PROMETHEUS / "recording.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=[p.stem for p in RULE_TESTS])
def test_promtool_test_rules(test_file):
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case():
    fires, quiet = set(), set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names - fires == set(), "alerts with no case where they fire"
    assert names - quiet == set(), "alerts with no case where they must not fire"
    assert fires | quiet <= names, "tests for alerts that do not exist"


def test_every_recording_rule_is_tested():
    groups = yaml.safe_load((PROMETHEUS / "recording.yml").read_text())["groups"]
    records = {r["record"] for g in groups for r in g["rules"]}
    tested = {
        check["expr"]
        for path in RULE_TESTS
        for case in yaml.safe_load(path.read_text())["tests"]
        for check in case.get("promql_expr_test", [])
    }
    assert records - tested == set()


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_alert_has_for_severity_summary_description_and_runbook(rule):
    assert rule.get("for"), "every alert waits: `for:` is required"
    assert rule["labels"]["severity"] in ("critical", "warning", "info")
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert "{{ $value" in annotations["description"] or "{{ $labels." in annotations["description"], (
        "the description must show the values"
    )
    base = load_build().C["runbook_url"]
    assert annotations["runbook_url"] == f"{base}#{rule['alert'].lower()}"


def github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_has_a_runbook_section():
    text = (ROOT / "docs" / "runbooks.md").read_text()
    anchors = {github_anchor(h) for h in re.findall(r"^## (.+)$", text, flags=re.M)}
    missing = [a["alert"] for a in alerts() if a["alert"].lower() not in anchors]
    assert not missing, f"docs/runbooks.md has no section for {missing}"


def test_rules_use_only_metrics_the_exporter_exports():
    """Catches typos and renamed metrics: every qbittorrent_* name in a rule is in the metrics reference."""
    from exporter.docsgen import metric_docs

    exported = {d.name for d in metric_docs()}
    used = set()
    for name in ("alerts.yml", "recording.yml"):
        for group in yaml.safe_load((PROMETHEUS / name).read_text())["groups"]:
            for rule in group["rules"]:
                used |= set(re.findall(r"\b(qbittorrent_[a-z_]+)\b", rule["expr"]))
    missing = sorted(used - exported)
    assert not missing, f"metrics used by rules but not exported by the code: {missing}"
