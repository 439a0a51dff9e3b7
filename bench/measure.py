"""What the driver reads about a process and the machine: CPU time, peak RSS, and the hardware.

CPU time is utime + stime of /proc/<pid>/stat (every thread, the dead ones included), in clock
ticks (10 ms here): per-scrape figures under ~50 ms are only meaningful as means over many scrapes.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import urllib.request
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of proc(5)


def _status(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    return 0.0


def peak_rss_mib(pid: int) -> float:
    return _status(pid, "VmHWM")


def rss_mib(pid: int) -> float:
    return _status(pid, "VmRSS")


def machine(python: dict[str, str]) -> dict[str, Any]:
    """The machine and software a run was measured on."""
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), ""
        )
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024**2
    return {
        "cpu_model": model,
        "nproc": os.cpu_count(),
        "mem_gib": mem,
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": python,
    }


def http_json(url: str, data: bytes | None = None, timeout: float = 60.0) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=timeout) as r:
        return json.loads(r.read())
