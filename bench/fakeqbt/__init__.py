"""A fake qBittorrent Web API for scale benchmarks only (a real qbittorrent-nox cannot hold 100k here).

profiles.py  what differs between 4.5.2 (recorded) and 5.0.4 (from the 5.0 API docs and source), 5.1.2, 5.2.0
records.py   seeded realistic torrent records and their churn
world.py     the data, ticks of churn, sync/maindata with real rid deltas
filters.py   torrents/info parameters
server.py    HTTP: login sessions, routes, gzip, per-endpoint byte and request counters
trackers.py  torrents/trackers and torrents/info?includeTrackers in each version's shapes
announce.py  what each fake tracker URL says (and 5.2's announce flags)
record.py    re-records recorded/<version>/ from a real qbittorrent-nox
"""
