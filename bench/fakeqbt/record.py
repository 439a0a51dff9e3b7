"""Re-record bench/fakeqbt/recorded/<version>/ from a real qbittorrent-nox (apt's 4.5.2 here).

    python -m bench.fakeqbt.record

Starts a throwaway qbittorrent-nox on 127.0.0.1 (exporter/sandbox.py), adds three small torrents (one
private, two in a category, one tagged), pauses one, and saves the answers the fake server copies:
sync/maindata (full, delta, empty delta, too-old rid), torrents/info, app/*, transfer/info,
torrents/categories and torrents/tags. Profile paths are rewritten to /data/torrents.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import qbittorrentapi

from exporter.sandbox import QBittorrentProcess, make_payload, make_torrent

OUT = Path(__file__).parent / "recorded"


def record() -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        with QBittorrentProcess(profile=base / "qbt") as q:
            c = qbittorrentapi.Client(
                host=q.url, username=q.username, password=q.password, SIMPLE_RESPONSES=True
            )
            c.auth_log_in()
            c.torrents_create_category("movies", save_path=str(base / "movies"))
            c.torrents_create_tags(["hd", "private"])
            for i in range(3):
                data = make_payload(base / "data", f"file{i}.bin", 300_000, seed=i + 1)
                trackers = [
                    f"http://127.0.0.1:9/announce?passkey=abc{i}",
                    "udp://tracker.example.org:6969/announce",
                ]
                torrent = make_torrent(data, base / f"t{i}.torrent", trackers, private=(i == 0))
                c.torrents_add(
                    torrent_files=torrent,
                    save_path=str(base / "data"),
                    category="movies" if i else "",
                    tags="hd" if i == 1 else None,
                )
            time.sleep(3)  # rechecked and seeding
            out = OUT / c.app_version().lstrip("v")
            out.mkdir(parents=True, exist_ok=True)

            def save(name: str, value: object) -> None:
                (out / f"{name}.json").write_text(
                    json.dumps(value, indent=1).replace(str(base), "/data/torrents")
                )

            full = c.sync_maindata(rid=0)
            save("sync_maindata_full", full)
            c.torrents_pause(torrent_hashes=next(iter(full["torrents"])))
            time.sleep(1.5)
            delta = c.sync_maindata(rid=full["rid"])
            save("sync_maindata_delta", delta)
            save("sync_maindata_delta2", c.sync_maindata(rid=delta["rid"]))
            save("sync_maindata_old_rid", c.sync_maindata(rid=full["rid"]))
            save("torrents_info", c.torrents_info())
            save("app_version", c.app_version())
            save("app_webapiVersion", c.app_web_api_version())
            save("app_buildInfo", c.app_build_info())
            save("app_preferences", c.app_preferences())
            save("transfer_info", c.transfer_info())
            save("torrents_categories", c.torrents_categories())
            save("torrents_tags", c.torrents_tags())
            return out


if __name__ == "__main__":
    print(f"recorded into {record()}")
