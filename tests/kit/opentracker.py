"""A real opentracker on a loopback address, for the integration tests that need a tracker that works.

Debian's opentracker is the whitelist-only build: it answers announces for the info-hashes listed in its
whitelist file and refuses the rest. `OpenTracker(directory, hashes)` writes that list (lower-case hex,
one per line), starts `opentracker -i HOST -p PORT -P PORT -d DIR -w /whitelist.txt -A 127.0.0.1` (it
chroots into DIR, so the whitelist path is relative to it; run as root, as the tests are, without `-u`),
and waits until the port accepts connections. The announce URL is http://HOST:PORT/announce (libtorrent's
SSRF mitigation refuses a loopback tracker with any other path). Stopped at `stop()` or the end of a
`with` block; never outlives its test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from exporter.sandbox import free_port, stop_process

OPENTRACKER = "opentracker"


class OpenTracker:
    def __init__(self, directory: Path, hashes: Iterable[str], host: str = "127.0.0.3") -> None:
        if not host.startswith("127."):
            raise ValueError(f"opentracker listens on loopback only here, not {host}")
        self.directory, self.host, self.port = directory, host, free_port()
        self.hashes = [h.lower() for h in hashes]
        self.proc: subprocess.Popen | None = None

    @property
    def announce(self) -> str:
        return f"http://{self.host}:{self.port}/announce"

    def start(self, timeout: float = 10.0) -> OpenTracker:
        if shutil.which(OPENTRACKER) is None:
            raise RuntimeError("opentracker is not installed: apt-get install opentracker (scripts/setup)")
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "whitelist.txt").write_text("".join(f"{h}\n" for h in self.hashes))
        port = str(self.port)
        argv = [OPENTRACKER, "-i", self.host, "-p", port, "-P", port, "-d", str(self.directory)]
        argv += ["-w", "/whitelist.txt", "-A", "127.0.0.1"]
        with open(self.directory / "opentracker.log", "wb") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"opentracker exited with {self.proc.returncode}: see {self.directory}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"opentracker did not listen on {self.host}:{self.port} within {timeout}s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def __enter__(self) -> OpenTracker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
