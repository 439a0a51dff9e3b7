"""Plot scrape CPU, wall time and peak memory vs torrent count for both exporters (log-log), from a results
JSON.

    bench/.venv-plot/bin/python bench/plot.py bench/results/scale.json [--out docs/performance.png]

Runs in the matplotlib virtualenv that bench/run creates, so it imports nothing from the project.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
STYLE = {
    "ours": ("qbittorrent-monitor (delta sync)", "tab:blue"),
    "comparison": ("prometheus-qbittorrent-exporter 1.7.0", "tab:red"),
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("results", type=Path)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.png")
    args = p.parse_args()
    result = json.loads(args.results.read_text())
    sizes = [s["torrents"] for s in result["sizes"]]
    fig, (cpu_ax, wall_ax, rss_ax) = plt.subplots(1, 3, figsize=(15, 4.5))
    for name, (label, color) in STYLE.items():
        cpu = [
            max(s["summary"][name]["cpu_mean_s"], 0.001) for s in result["sizes"]
        ]  # 0 ticks -> floor of 1 ms
        wall = [s["summary"][name]["wall_median_s"] for s in result["sizes"]]
        cpu_ax.plot(sizes, cpu, "o-", color=color, label=label)
        wall_ax.plot(sizes, wall, "o-", color=color, label=label)
        rss_ax.plot(sizes, [s["peak_rss_mib"][name] for s in result["sizes"]], "o-", color=color, label=label)
    resync = [s.get("resync", {}).get("ours", {}).get("peak_rss_mib") for s in result["sizes"]]
    if all(r is not None for r in resync):
        label = "qbittorrent-monitor, across an unplanned full resync"
        rss_ax.plot(sizes, resync, "o--", color="tab:blue", alpha=0.6, label=label)
    wall_ax.axhline(10, color="grey", linestyle="--", linewidth=1)
    wall_ax.text(sizes[0], 10.8, "Prometheus default scrape timeout (10 s)", color="grey", fontsize=8)
    wall_ax.axhline(0.25, color="tab:blue", linestyle=":", linewidth=1)
    wall_ax.text(sizes[0], 0.27, "target for ours at 50k: 0.25 s", color="tab:blue", fontsize=8)
    for ax, title, unit in (
        (cpu_ax, "exporter CPU per scrape", "CPU seconds (mean)"),
        (wall_ax, "scrape wall time", "seconds (median)"),
        (rss_ax, "peak memory (VmHWM)", "MiB"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("torrents")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    m = result["machine"]
    fig.suptitle(
        f"1 % churn per scrape interval; {m['cpu_model']}, {m['nproc']} cores; {result['started_at']}",
        fontsize=9,
    )
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
