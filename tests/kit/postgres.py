"""A throwaway PostgreSQL cluster for the store tests: Debian's postgresql package, in a tmp directory.

`PostgresCluster().start()` runs initdb and the server from /usr/lib/postgresql/<newest>/bin, listening on
127.0.0.1 (a free port) and on a Unix socket in its own directory; durability is off (fsync, synchronous
commit), which no test needs. Roles: `admin` (the superuser), `qbm` (owner of the database `qbm`, what the
store logs in as) and `stranger` (may connect, may create nothing); every role has a password (scram),
fresh per cluster, so that a test can check that no message shows it. The database `qbm` sorts text
like en-US (ICU), not by bytes: the store must sort by bytes all the same.

initdb and postgres refuse to run as root: as root the cluster runs as the `postgres` user that Debian's
package creates (its directory is chowned to it); as anyone else, as that user. The server gets SIGINT
(fast shutdown) if the test process dies, so no server outlives a killed pytest.

Missing binaries or user are a RigError, never a skip: scripts/setup installs postgresql.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from exporter.sandbox import free_port, stop_process
from tests.kit.versions import RigError

DATABASE, ROLE, STRANGER, ADMIN = "qbm", "qbm", "stranger", "admin"
PR_SET_PDEATHSIG = 1


def bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name or 0)
    )
    if not found:
        raise RigError(
            "no PostgreSQL under /usr/lib/postgresql/*/bin: run scripts/setup (apt-get install postgresql)"
        )
    return found[-1].parent


def os_user() -> pwd.struct_passwd | None:
    """Whom to run the cluster as: `postgres` when we are root (initdb refuses root), else None (us)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RigError(
            "initdb refuses to run as root and there is no postgres user: "
            "run scripts/setup (Debian's postgresql package creates it)"
        ) from None


def _die_with_parent() -> None:
    """In the server's process, after its user is set (which would clear it): SIGINT when we die."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


class PostgresCluster:
    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        """`settings`: server settings over the defaults (e.g. {"fsync": "on"} to measure with durability)."""
        self.settings = settings or {}
        self.bin = bin_dir()
        self.user = os_user()
        self.dir = Path(tempfile.mkdtemp(prefix="qbm-pg-"))  # short: a socket path has 107 bytes at most
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.passwords = {name: secrets.token_urlsafe(12) for name in (ADMIN, ROLE, STRANGER)}
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in = 0.0  # seconds from initdb to the roles created

    # -- addresses -------------------------------------------------------------------------------

    def url(self, database: str = DATABASE, user: str = ROLE) -> str:
        """A TCP URL without the password (the store gets it apart, as from store.password_file)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def socket_url(self, database: str = DATABASE, user: str = ROLE) -> str:
        return f"postgresql://{user}@/{database}?host={self.dir}&port={self.port}"

    def admin(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(database, ADMIN), password=self.passwords[ADMIN], autocommit=True)

    # -- life ---------------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> PostgresCluster:
        began = time.monotonic()
        self._initdb(timeout)
        for _ in range(3):  # a free port can be taken between free_port() and the server's bind
            self.port = free_port()
            if self._serve(began + timeout):
                break
        else:
            raise RuntimeError(f"postgres did not start on three ports:\n{self.log_tail()}")
        self._create_roles()
        self.started_in = time.monotonic() - began
        return self

    def pause(self, timeout: float = 15.0) -> None:
        """The server stopped (a fast shutdown: sessions cut), its data kept: `resume()` starts it again."""
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT, timeout)
            self.proc = None

    def resume(self, timeout: float = 60.0) -> None:
        """The server started again on the same port, with the same data (a PostgreSQL restart)."""
        if not self._serve(time.monotonic() + timeout):
            raise RuntimeError(f"postgres did not start again on port {self.port}:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT, timeout)  # SIGINT: fast shutdown
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 20) -> str:
        return (
            "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""
        )

    def _as_user(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _initdb(self, timeout: float) -> None:
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.passwords[ADMIN] + "\n")
        if self.user is not None:
            for path in (self.dir, pwfile):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        argv = [str(self.bin / "initdb"), "-D", str(self.data), "-U", ADMIN, f"--pwfile={pwfile}"]
        argv += [
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
            "--no-instructions",
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **self._as_user())
        pwfile.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    def _serve(self, deadline: float) -> bool:
        """Start the server on self.port; True once it accepts connections, False if it exited."""
        settings = {
            "port": self.port,
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": self.dir,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": 100,
            **self.settings,
        }
        argv = [str(self.bin / "postgres"), "-D", str(self.data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, **self._as_user()
            )
        pid_file = self.data / "postmaster.pid"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            if pid_file.exists() and "ready" in pid_file.read_text(errors="replace"):
                return True
            time.sleep(0.02)
        raise RuntimeError(f"postgres not ready within the deadline:\n{self.log_tail()}")

    def _create_roles(self) -> None:
        with self.admin() as db:
            for role in (ROLE, STRANGER):
                db.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{self.passwords[role]}'")
            db.execute(
                f"CREATE DATABASE {DATABASE} OWNER {ROLE} TEMPLATE template0 ENCODING 'UTF8' "
                "LOCALE 'C.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
            )

    # -- between tests --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Database `qbm` empty again: the role's sessions ended (their advisory locks with them), its
        tables dropped. Much faster than a new database per test (10 ms against 200)."""
        with self.admin(DATABASE) as db:
            db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (ROLE,))
            db.execute(f"DROP OWNED BY {ROLE}")
