"""docs/compatibility.md, generated from the test suite's own ids: which test runs on which version.

    .venv/bin/python -m tests.kit.compatibility           # rewrite docs/compatibility.md
    .venv/bin/python -m tests.kit.compatibility --check   # exit 1 if it is out of date

It collects tests/ (`pytest --collect-only`: nothing runs), finds the matrix ids in each test id
(`qbt-4.5` ... `prom-3`: tests/conftest.py puts them there, tests/kit/versions.py defines them) and writes
one row per test function that carries any. A new matrix test, or one that changes versions, changes the
document; tests/integration/test_matrix_rig.py fails while the committed file is stale.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from exporter.generated import write_or_check
from tests.kit import versions

DOC = versions.REPO / "docs" / "compatibility.md"
COMMAND = ".venv/bin/python -m tests.kit.compatibility"

# One row per matrix id: what it is. The versions a machine really has: python -m tests.kit.versions.
MATRIX = {
    "qbt-4.5": ("qBittorrent 4.5.2 (Web API 2.8.19)", "Debian 12 bookworm"),
    "qbt-5.1": ("qBittorrent 5.1.x (Web API 2.11.x)", "Debian 13 trixie"),
    "qbt-5.x": ("qBittorrent, newest 5.x (5.2 or later: Web API 2.12+)", "Debian sid"),
    "prom-2": ("Prometheus, promtool 2.42; Alertmanager, amtool 0.25", "Debian 12 bookworm"),
    "prom-3": ("Prometheus, promtool 3.x; Alertmanager, amtool of sid", "Debian sid"),
}

# (version, what differs, what the exporter does about it, the tests that show it)
DIFFERENCES = [
    (
        "qBittorrent 5.0+",
        "`torrents/stop` and `torrents/start`; `pause` and `resume` answer 404",
        "writes spelled by version (`Connection.stop`/`start`)",
        "`test_stop_and_start_use_the_versions_endpoints_and_state_names`, the stall ladder and ratio "
        "emergency tests",
    ),
    (
        "qBittorrent 5.0+",
        "states `stoppedUP`/`stoppedDL` (4.x: `pausedUP`/`pausedDL`)",
        "4.x names are normalised to 5.x names",
        "`test_real_torrents_are_counted_by_state_category_and_tracker_host`, `test_real_sequence` (unit)",
    ),
    (
        "qBittorrent 5.0+",
        'the log says "Torrent stopped" (4.x: "Torrent paused")',
        "nothing (the tests pick the line by version)",
        "`test_a_real_stalled_download_is_reannounced_then_restarted_then_tagged`",
    ),
    (
        "qBittorrent 5.1+",
        'a torrent\'s `tracker` names its first tracker even when none works (4.x: "")',
        "tracker hosts come from sync/maindata's `trackers` map",
        "`test_tracker_hosts_come_from_the_trackers_map_whatever_the_tracker_field_says`",
    ),
    (
        "qBittorrent 5.2+",
        'login answers 204 (older: 200 "Ok."), wrong credentials 401 (200 "Fails."), the cookie is '
        "`QBT_SID_<port>` (`SID`)",
        "qbittorrentapi understands both",
        "`test_login_answer_and_session_cookie_of_each_version`",
    ),
    (
        "qBittorrent 5.2+",
        "API keys (`app/rotateAPIKey`, `Authorization: Bearer`)",
        '`--qbittorrent.api-key-file`; a wrong key is `reason="auth"` and never printed',
        "`test_an_api_key_made_on_the_real_instance_syncs_and_a_wrong_one_is_an_auth_error`, "
        "`test_an_api_key_given_to_a_version_without_api_keys_is_an_auth_error`",
    ),
    (
        "qBittorrent 5.0+, 5.2+",
        "more torrent fields (`private`, `popularity`, `reannounce`...; `has_tracker_error`, "
        "`share_limit_action`...)",
        "keys the model does not know are ignored: the same metrics as 4.5",
        "`test_fields_only_newer_versions_send_change_no_metric`",
    ),
    (
        "qBittorrent 5.1+",
        "`torrents/info?includeTrackers=true` lists each torrent's trackers (4.x, 5.0 ignore it: one "
        "`torrents/trackers` request per torrent)",
        "the tracker scan pages through 500 torrents a request (5.1) instead of one",
        "`test_gauges_per_host_the_unregistered_tag_after_its_grace_and_the_outage_guard`",
    ),
    (
        "qBittorrent 5.2+",
        'tracker status 5 "tracker error" and 6 "unreachable" (older: 4 for both, 3 "updating"); '
        "maindata's `has_tracker_error` flags",
        "statuses read by Web API version; only flagged torrents are asked for first",
        "`test_gauges_per_host_the_unregistered_tag_after_its_grace_and_the_outage_guard`, "
        "`test_tracker_health_classify.py` (unit)",
    ),
    (
        "Prometheus 3",
        "new TSDB and web UI, UTF-8 names, stricter scrape content types, Alertmanager API v2 only",
        "nothing needed",
        "the e2e alert and dashboard tests, `promtool check rules`/`test rules`/`check metrics` (unit)",
    ),
]


def collect() -> dict[str, Counter[str]]:
    """{test function ("tests/x.py::test_y"): {matrix id: number of its cases on that id}}."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=versions.REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode != 0:
        raise SystemExit(f"pytest --collect-only failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
    tokens = {
        token: re.compile(rf"(?<![\w.]){re.escape(token)}(?![\w.])")
        for token in [versions.param_id("qbt", i) for i in versions.QBITTORRENT]
        + [versions.param_id("prom", i) for i in versions.PROMETHEUS]
    }
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for line in run.stdout.splitlines():
        family, bracket, params = line.partition("[")
        if not bracket or "::" not in family:
            continue
        for token, pattern in tokens.items():
            if pattern.search(params):
                found[family][token] += 1
    return dict(found)


def render(found: dict[str, Counter[str]]) -> str:
    ids = list(MATRIX)
    assert ids == [versions.param_id("qbt", i) for i in versions.QBITTORRENT] + [
        versions.param_id("prom", i) for i in versions.PROMETHEUS
    ], "MATRIX must name every matrix id of tests/kit/versions.py"
    lines = [
        f"<!-- Generated by `{COMMAND}` from the test suite's ids. Do not edit: rerun it. -->",
        "",
        "# Compatibility",
        "",
        "What the test suite runs against which real version. Every run of `scripts/test` (CI: `.ci/run`)",
        "runs each test below once per version it lists, on that version's real binaries: the host's own",
        "Debian release from apt, the others from minimal Debian roots under `.roots/` (`scripts/roots`,",
        "run by `scripts/setup`; see `tests/kit/versions.py`). A root that cannot be built or a version",
        "that does not start fails the run; nothing is skipped. Tests not listed do not depend on a version.",
        "",
        "| id | what | from |",
        "|---|---|---|",
        *(f"| `{i}` | {what} | {source} |" for i, (what, source) in MATRIX.items()),
        "",
        "The versions installed on a machine: `python -m tests.kit.versions`. One row of the matrix:",
        "`pytest -k qbt-5.x` (or `qbt-4.5`, `qbt-5.1`, `prom-3`...). A test runs on `qbt-4.5` and `qbt-5.x`;",
        "`@pytest.mark.qbt51` adds `qbt-5.1`, `@pytest.mark.qbt_versions(...)` names the versions exactly.",
        "",
        "## What differs between versions, and where the suite checks it",
        "",
        "| version | difference | what the exporter does | tests |",
        "|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in DIFFERENCES),
        "",
        "## Tests per version",
        "",
        "The number of test cases of each test function on each version (a function with parameters of its",
        "own has several).",
        "",
        "| test | " + " | ".join(f"`{i}`" for i in ids) + " |",
        "|---|" + "---|" * len(ids),
    ]
    for family in sorted(found):
        cells = [str(found[family][i]) if found[family][i] else "" for i in ids]
        lines.append(f"| `{family.removeprefix('tests/')}` | " + " | ".join(cells) + " |")
    totals = [str(sum(c[i] for c in found.values())) for i in ids]
    lines += ["| **cases** | " + " | ".join(totals) + " |", ""]
    return "\n".join(lines)


def outputs(found: dict[str, Counter[str]] | None = None) -> dict[Path, str]:
    return {DOC: render(collect() if found is None else found)}


def main(argv: list[str]) -> int:
    return write_or_check(outputs(), argv, COMMAND)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
