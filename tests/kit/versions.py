"""The version matrix: which real qBittorrent / Prometheus to run for a matrix id, and how.

Each matrix id names a Debian suite whose packaged binaries are that version:

    qBittorrent  "4.5" bookworm (4.5.2)   "5.1" trixie (5.1.x)   "5.x" sid (newest 5.x)
    Prometheus   "2"   bookworm (2.42)    "3"   sid (3.x)         (promtool, alertmanager, amtool alike)

The host's own suite (/etc/os-release VERSION_CODENAME; MATRIX_HOST_SUITE=none overrides it, to use a root
for every suite) is served by the host's binaries, installed by scripts/setup. Every other suite is a
minimal Debian root under <repo>/.roots/<suite>, built by scripts/roots (as root; so are the roots' binaries
run); a missing or incomplete root is an error (RigError), never a skip.

A root's binary runs in a private mount namespace (`unshare --mount`) in which the root's /usr and
/etc/ld.so.cache (plus /etc/alternatives, and /bin, /lib... on a host without merged /usr) are bound over the
host's. Everything else is the host's: the checkout, /tmp, pytest's tmp_path, the network, /proc. Binaries,
libraries and the loader all come from the root, so the process is the root's Debian release.
Why not the alternatives:
- chroot + `mount --bind /tmp ROOT/tmp` leaves mounts behind on the host (a later `rm -rf ROOT` walks into
  /tmp), and only the folders bound in are visible (a rule file in the checkout silently not loaded);
- bwrap binds the same way without persistent mounts, but it forks and does not forward signals: SIGTERM
  to the pid the caller holds kills bwrap and the program gets SIGKILL (no graceful qBittorrent shutdown,
  no resume data, no real exit code).
unshare and the shell exec in place, so the pid the caller holds is the program itself: signals and exit
codes are the program's own. The namespace and its mounts vanish with the process; nothing is left on the
host to clean up.

Tests get the matrix as fixture parameters (tests/conftest.py: `qbt_version`, `prometheus_version`) whose
ids are `param_id(...)`: "qbt-4.5", "qbt-5.1", "qbt-5.x", "prom-2", "prom-3"; docs/compatibility.md lists
which test runs on which (tests/kit/compatibility.py writes it).
What a test expects of a version comes from the version the binary reports (`qbittorrent_at_least`,
`qbittorrent_log`), never from a version string written into the test.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = REPO / ".roots"

QBITTORRENT = {"4.5": "bookworm", "5.1": "trixie", "5.x": "sid"}
PROMETHEUS = {"2": "bookworm", "3": "sid"}
PROMETHEUS_TOOLS = ("prometheus", "promtool", "prometheus-alertmanager", "amtool")

# $1 = root, then the program's argv. /usr is bound last: every `mount` before it is still the host's.
_ENTER_ROOT = r"""set -e
r=$1; shift
for d in bin sbin lib lib64; do
    if [ -d "/$d" ] && [ ! -L "/$d" ]; then mount --rbind "$r/usr/$d" "/$d"; fi
done
for f in /etc/ld.so.cache /etc/alternatives; do
    if [ -e "$f" ] && [ -e "$r$f" ]; then mount --bind "$r$f" "$f"; fi
done
mount --rbind "$r/usr" /usr
exec "$@"
"""


class RigError(RuntimeError):
    """A matrix component is missing: run scripts/setup (which runs scripts/roots)."""


@functools.cache
def host_suite() -> str:
    if os.environ.get("MATRIX_HOST_SUITE"):
        return os.environ["MATRIX_HOST_SUITE"]
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return ""


def root(suite: str) -> Path:
    """The complete root of `suite` (not the host's suite)."""
    path = ROOTS / suite
    if not (path / ".complete").is_file():
        raise RigError(f"no complete Debian {suite} root at {path}: run scripts/roots (scripts/setup does)")
    return path


def command(name: str, suite: str) -> tuple[str, ...]:
    """argv prefix that runs Debian `suite`'s /usr/bin/`name`: append the program's arguments."""
    if suite == host_suite():
        path = shutil.which(name)
        if path is None:
            raise RigError(f"{name} is not installed on this {suite} host: run scripts/setup")
        return (path,)
    base = root(suite)
    if not (base / "usr" / "bin" / name).is_file():
        raise RigError(f"the {suite} root {base} has no /usr/bin/{name}: add its package in scripts/roots")
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RigError("unshare (util-linux) is not installed")
    return (
        unshare,
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        _ENTER_ROOT,
        "enter-root",
        str(base),
        f"/usr/bin/{name}",
    )


def _suite(table: dict[str, str], matrix_id: str) -> str:
    if matrix_id not in table:
        raise RigError(f"unknown matrix id {matrix_id!r}: one of {', '.join(table)}")
    return table[matrix_id]


def qbittorrent(matrix_id: str) -> tuple[str, ...]:
    """argv prefix of qbittorrent-nox for a QBITTORRENT id ("4.5", "5.1", "5.x")."""
    return command("qbittorrent-nox", _suite(QBITTORRENT, matrix_id))


def prometheus(matrix_id: str, name: str = "prometheus") -> tuple[str, ...]:
    """argv prefix of one of PROMETHEUS_TOOLS for a PROMETHEUS id ("2", "3")."""
    if name not in PROMETHEUS_TOOLS:
        raise RigError(f"{name!r} is none of {PROMETHEUS_TOOLS}")
    return command(name, _suite(PROMETHEUS, matrix_id))


@functools.cache
def version(argv: tuple[str, ...]) -> str:
    """The version `argv --version` reports: "v5.3.0" (qBittorrent), "3.5.3+ds" (Prometheus tools)."""
    try:
        out = subprocess.run(
            [*argv, "--version"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RigError(f"{' '.join(argv[-1:])} --version failed: {e}") from e
    text = out.stdout + out.stderr
    match = re.search(r"\bv?\d+\.\d+\.\d+\S*", text)
    if out.returncode != 0 or match is None:
        raise RigError(f"{argv[-1]} --version: exit {out.returncode}, no version in {text!r}")
    return match.group(0)


def qbittorrent_version(matrix_id: str) -> str:
    return version(qbittorrent(matrix_id))


def major_minor(text: str) -> tuple[int, int]:
    """(5, 3) for "v5.3.0", (3, 5) for "3.5.3+ds1"."""
    match = re.match(r"v?(\d+)\.(\d+)\.", text)
    if match is None:
        raise RigError(f"not a version: {text!r}")
    return int(match.group(1)), int(match.group(2))


def qbittorrent_at_least(matrix_id: str, release: tuple[int, int]) -> bool:
    """Whether the qBittorrent of `matrix_id` is `release` (major, minor) or newer."""
    return major_minor(qbittorrent_version(matrix_id)) >= release


def qbittorrent_log(matrix_id: str, event: str, name: str) -> str:
    """The line qBittorrent writes to its log (app/log/main) when torrent `name` is "stopped" or "resumed"
    by the Web API: 4.x says "Torrent paused", 5.0+ "Torrent stopped"; both say "Torrent resumed"."""
    if event == "stopped":
        verb = "stopped" if qbittorrent_at_least(matrix_id, (5, 0)) else "paused"
    elif event == "resumed":
        verb = "resumed"
    else:
        raise ValueError(f"event must be 'stopped' or 'resumed', not {event!r}")
    return f'Torrent {verb}. Torrent: "{name}"'


def param_id(kind: str, matrix_id: str) -> str:
    """A matrix id as it appears in test ids: param_id("qbt", "5.x") == "qbt-5.x" (kind "qbt" or "prom")."""
    table = {"qbt": QBITTORRENT, "prom": PROMETHEUS}[kind]
    _suite(table, matrix_id)
    return f"{kind}-{matrix_id}"


def on_path(argv: tuple[str, ...], directory: Path, name: str) -> Path:
    """An executable `directory`/`name` that runs `argv` with its own arguments appended: put `directory`
    first on PATH and a program that looks `name` up (the demo's qbittorrent-nox) runs that version."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f'#!/bin/sh\nexec {" ".join(map(shlex.quote, argv))} "$@"\n')
    path.chmod(0o755)
    return path


def prometheus_version(matrix_id: str, name: str = "prometheus") -> str:
    return version(prometheus(matrix_id, name))


if __name__ == "__main__":  # python -m tests.kit.versions: the matrix as this machine has it
    print(f"host suite: {host_suite()}")
    for qid, suite in QBITTORRENT.items():
        print(f"qbittorrent {qid:<4} {suite:<9} qbittorrent-nox {qbittorrent_version(qid)}")
    for pid, suite in PROMETHEUS.items():
        print(
            f"prometheus  {pid:<4} {suite:<9} "
            + " ".join(f"{t} {prometheus_version(pid, t)}" for t in PROMETHEUS_TOOLS)
        )
