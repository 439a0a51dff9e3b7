"""Generated files (docs, rules, dashboards): write them, or with --check report the stale ones.

    python -m exporter.docsgen [--check]      python prometheus/build.py [--check]
    python grafana/build.py [--check]

Each generator computes {path: text}; this is the one main they share. The tests run every --check.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path


def write_or_check(files: Mapping[Path, str], argv: list[str], command: str) -> int:
    """Write `files`; with --check in argv write nothing and exit 1 naming each stale file."""
    stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path} is out of date: run {command}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0
