"""Small fakes for unit tests: a connection that replays scripted answers and records calls, a clock."""

from __future__ import annotations

from exporter.model import AppInfo
from exporter.qbt.connection import ConnectionSettings, QBittorrentError


class FakeConnection:
    def __init__(self, answers):
        self.answers = list(answers)  # payload dicts or QBittorrentError instances, one per maindata call
        self.calls: list[tuple] = []
        self.settings = ConnectionSettings(url="http://127.0.0.1:1", password="hunter2")

    def login(self):
        self.calls.append(("login",))
        if (
            self.answers
            and isinstance(self.answers[0], QBittorrentError)
            and self.answers[0].reason == "auth"
        ):
            raise self.answers.pop(0)
        return AppInfo("v5.0.2", "2.11.2", "2.0.10.0")

    def maindata(self, rid):
        self.calls.append(("maindata", rid))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self):
        self.calls.append(("close",))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now
