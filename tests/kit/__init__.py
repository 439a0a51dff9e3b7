"""The test kit: everything tests share. A test module imports from here (and fixtures come from a
conftest.py), never from another test module; tests/unit/test_test_kit.py enforces it.

builders   Torrent/Snapshot builders from qBittorrent-JSON-like keyword arguments, totals, tracker URLs
seeding    the seeding scenario the ratio, ratio-index, ratio-collector and report tests share
fakes      FakeConnection (scripted answers, recorded writes, failures), FakeMirror, Clock
receiver   LoopbackServer (the one HTTP server base) and Receiver (records; status, delay, gate, failure)
qbt_fake   a qBittorrent 5.2-shaped Web API on LoopbackServer
processes  wait_for, http_get, scraping; Service and ExporterProcess (real processes on 127.0.0.1)
torrents   real torrents on qbittorrent-nox sandboxes: seeds, transfers, stalled downloads
stack      real Prometheus and Alertmanager, the shipped rules and scripts
certs      a throwaway CA, server and client certificate
versions   the version matrix rig (which qBittorrent / Prometheus binaries to run)
"""
