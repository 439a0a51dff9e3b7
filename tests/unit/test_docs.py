"""docs/metrics.md and docs/configuration.md are generated from the code: they must be current."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from exporter import docsgen
from exporter.config import OPTIONS

ROOT = Path(__file__).resolve().parents[2]


def test_generated_docs_are_up_to_date():
    stale = [str(p.relative_to(ROOT)) for p, text in docsgen.outputs().items() if p.read_text() != text]
    assert not stale, f"out of date, run `python -m exporter.docsgen`: {stale}"


def test_metrics_reference_covers_the_golden_exposition():
    """Every family of the collectors' golden file (tests/golden/metrics.prom) is documented."""
    golden = (ROOT / "tests" / "golden" / "metrics.prom").read_text()
    names = {
        f.name + "_total" if f.type == "counter" else f.name for f in text_string_to_metric_families(golden)
    }
    documented = {d.name for d in docsgen.metric_docs()}
    assert names, "the golden file holds no metric"
    assert sorted(names - documented) == []


def test_metrics_reference_has_type_and_help_for_every_metric():
    docs = docsgen.metric_docs()
    assert len(docs) > 40
    for d in docs:
        assert d.type in ("counter", "gauge", "histogram", "summary", "info"), d
        assert d.help.strip(), d.name
        assert d.name.endswith("_total") == (d.type == "counter"), f"{d.name}: _total only on counters"


def test_configuration_reference_lists_every_option_with_flag_env_and_yaml_key():
    text = (ROOT / "docs" / "configuration.md").read_text()
    for o in OPTIONS:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{o.flag}` |")), None)
        assert row, f"{o.flag} missing from docs/configuration.md"
        assert f"`{o.env}`" in row and f"`{'.'.join(o.yaml_path)}`" in row


def test_relative_links_in_docs_and_readme_resolve():
    broken = []
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", md.read_text()):
            if "://" not in target and not (md.parent / target).exists():
                broken.append(f"{md.relative_to(ROOT)} -> {target}")
    assert broken == []
