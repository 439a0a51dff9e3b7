"""The completion job against real transfers between two qbittorrent-nox instances, through the real
exporter process, with real webhook receivers (the kit's Receiver) on loopback.

- a real completion gives exactly one POST; a receiver answering 500 is retried, then dead-lettered,
  and never holds back the other handlers (webhook, add_tags in qBittorrent);
- the service is SIGKILLed while the ledger says pending (the receiver holds the request): after a
  restart the handler runs once more, and only once;
- a completion that happens while the service is stopped is handled after it starts; one from
  before the first start (the baseline) is not.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.store import open_store
from tests.kit.processes import http_get, sample, wait_for
from tests.kit.torrents import download, exporter_args, seed_on, torrent_of

pytestmark = pytest.mark.integration


def config_for(tmp_path: Path, handlers: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(f"completion:\n  interval: 300ms\n  handlers:\n{handlers}")
    return path


def runs(exporter) -> float:
    return (
        sample(exporter.scrape(), "qbittorrent_exporter_job_runs_total", job="completion", result="ok") or 0
    )


def settle(exporter, more: int = 3) -> None:
    """Wait for `more` further completion-job runs: anything still to happen would have happened."""
    start = runs(exporter)
    wait_for(lambda: runs(exporter) >= start + more, timeout=15, what=f"{more} more completion runs")


@pytest.mark.qbt51
def test_a_real_completion_posts_exactly_once_and_a_failing_handler_blocks_nothing(
    qbt_factory, password_file, exporter_factory, tmp_path, receivers
):
    a, b = qbt_factory("a"), qbt_factory("b")
    ca, cb = a.client(), b.client()
    good, bad = receivers(200), receivers(500)
    config = config_for(
        tmp_path,
        f"""
    - {{name: broken, type: webhook, url: "{bad.url("/hook")}", retries: 1, backoff: 200ms}}
    - {{name: notify, type: webhook, url: "{good.url("/hook")}", secret: k3y}}
    - {{name: mark, type: add_tags, tags: [done]}}
""",
    )
    exporter = exporter_factory(exporter_args(b, password_file, data_dir=tmp_path / "data", config=config))
    wait_for(lambda: runs(exporter) >= 1, what="the baseline run")
    h, data = seed_on(ca, tmp_path, "movie.bin")
    download(cb, b, data, a.bt_port)

    wait_for(lambda: len(good.requests) >= 1, timeout=15, what="the webhook POST")
    wait_for(
        lambda: "done" in torrent_of(cb, h)["tags"], timeout=10, what="the add_tags handler in qBittorrent"
    )
    s = wait_for(
        lambda: (
            (s := exporter.scrape())
            and sample(
                s, "qbittorrent_exporter_completion_handler_runs_total", handler="broken", result="dead"
            )
            == 1
            and s
        ),
        timeout=15,
        what="the broken handler to give up",
    )
    settle(exporter)

    assert len(good.requests) == 1, "exactly one POST per completion"
    headers, payload = good.requests[0].headers, good.requests[0].json()
    assert payload["event"] == "torrent_completed" and payload["torrent"]["hash"] == h
    assert payload["torrent"]["name"] == "movie.bin" and payload["torrent"]["size"] == 2 * 2**20
    instance = payload["torrent"]["instance"]  # the flags' qBittorrent: host:port of its URL
    assert instance.startswith("127.0.0.1:")
    assert headers["X-Qbittorrent-Monitor-Delivery"] == (
        f"{instance}:{h}:{payload['torrent']['completion_on']}:notify"
    )
    assert headers["X-Qbittorrent-Monitor-Signature"].startswith("sha256=")
    assert len(bad.requests) == 2, "one attempt and one retry, then dead-letter"

    s = exporter.scrape()
    assert sample(s, "qbittorrent_exporter_completions_total", category="") == 1, [
        k for k in s if k[0] == "qbittorrent_exporter_completions_total"
    ]
    assert sample(s, "qbittorrent_exporter_completion_handler_runs_total", handler="notify", result="ok") == 1
    assert sample(s, "qbittorrent_exporter_completion_handler_runs_total", handler="mark", result="ok") == 1
    assert (
        sample(s, "qbittorrent_exporter_completion_handler_runs_total", handler="broken", result="error") == 1
    )
    assert sample(s, "qbittorrent_exporter_completion_backlog") == 1  # the dead-letter

    status, body = http_get(exporter.url + "/api/completions?since=1h&status=dead")
    assert status == 200
    [record] = json.loads(body)["completions"]
    handlers = {r["handler"]: (r["status"], r["last_error"]) for r in record["handlers"]}
    assert handlers == {
        "broken": ("dead", "webhook answered HTTP 500"),
        "notify": ("done", ""),
        "mark": ("done", ""),
    }

    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter.cli",
            "completions",
            "--data.dir",
            str(tmp_path / "data"),
            "--since",
            "1h",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert (
        "dead" in cli.stdout
        and "movie.bin" in cli.stdout
        and "broken:dead(2x: webhook answered HTTP 500)" in cli.stdout
    )
    assert "k3y" not in exporter.log() and bad.url("/hook") not in exporter.log()

    bad.status = 200  # the cause is fixed: queue the dead-letter again, the running service delivers it
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter.cli",
            "completions",
            "--data.dir",
            str(tmp_path / "data"),
            "--retry-dead",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cli.returncode == 0 and "1 dead-letter handler run(s) queued again" in cli.stdout, (
        cli.stdout + cli.stderr
    )
    wait_for(
        lambda: sample(exporter.scrape(), "qbittorrent_exporter_completion_backlog") == 0,
        timeout=15,
        what="the retried dead-letter to be delivered",
    )
    assert len(bad.requests) == 3 and len(good.requests) == 1


def test_sigkill_while_pending_runs_the_handler_once_more_after_restart(
    qbt_factory, password_file, exporter_factory, tmp_path, receivers
):
    a, b = qbt_factory("a"), qbt_factory("b")
    ca, cb = a.client(), b.client()
    hook = receivers(200)
    hook.gate.clear()  # hold the first POST: the handler is running, its ledger row pending
    config = config_for(
        tmp_path, f"""    - {{name: notify, type: webhook, url: "{hook.url("/hook")}", timeout: 20s}}\n"""
    )
    data_dir = tmp_path / "data"
    args = exporter_args(b, password_file, data_dir=data_dir, config=config)
    exporter = exporter_factory(args)
    wait_for(lambda: runs(exporter) >= 1, what="the baseline run")
    h, data = seed_on(ca, tmp_path, "film.bin")
    download(cb, b, data, a.bt_port)
    wait_for(lambda: len(hook.requests) == 1, timeout=15, what="the first POST")

    store = open_store(str(data_dir), readonly=True)
    [record] = store.history(0)
    assert record.status == "pending" and record.handlers[0].status == "pending"
    assert exporter.stop(signal.SIGKILL) == -signal.SIGKILL

    hook.gate.set()  # the receiver answers from now on
    exporter = exporter_factory(args)
    wait_for(lambda: store.history(0)[0].status == "done", timeout=15, what="the ledger to say done")
    settle(exporter)
    assert len(hook.requests) == 2, "once more after the restart, and only once"
    deliveries = {r.headers["X-Qbittorrent-Monitor-Delivery"] for r in hook.requests}
    assert len(deliveries) == 1, "the repeat carries the same delivery id, so a receiver can drop it"
    assert store.history(0)[0].handlers[0].attempts == 1
    store.close()


def test_a_completion_while_the_service_is_stopped_is_handled_after_start(
    qbt_factory, password_file, exporter_factory, tmp_path, receivers
):
    a, b = qbt_factory("a"), qbt_factory("b")
    ca, cb = a.client(), b.client()
    hook = receivers(200)
    config = config_for(tmp_path, f"""    - {{name: notify, type: webhook, url: "{hook.url("/hook")}"}}\n""")
    args = exporter_args(b, password_file, data_dir=tmp_path / "data", config=config)

    h_before, data = seed_on(ca, tmp_path, "before.bin")
    download(cb, b, data, a.bt_port)  # complete before the first start: the baseline
    exporter = exporter_factory(args)
    settle(exporter, 2)
    assert exporter.stop() == 0
    assert hook.requests == []

    h_while, data = seed_on(ca, tmp_path, "while-stopped.bin")
    download(cb, b, data, a.bt_port)
    exporter = exporter_factory(args)
    wait_for(lambda: hook.requests, timeout=15, what="the POST for the completion while stopped")
    settle(exporter)
    assert [r.json()["torrent"]["hash"] for r in hook.requests] == [h_while]
    assert h_before != h_while
