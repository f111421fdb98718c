"""`monitor serve` as an operator watches it: /healthz and /metrics on 127.0.0.1, systemd's
READY and WATCHDOG, and one JSON log line per run carrying the run's counts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import config_toml
from support.sitesrv import FixtureSite, SiteServer
from support.smtpsrv import free_port

from monitor.metrics import Metrics
from monitor.store.runs import RunCounts
from monitor.web import Reply, Request, Routes, WebServer, service_routes

ROOT = Path(__file__).resolve().parents[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, FixtureSite]]:
    site = FixtureSite(articles_count=6, per_page=10)
    port = free_port()
    with SiteServer(site) as server:
        text = config_toml(server.base) + (
            f"\n[serve]\ncollect_every_minutes = 30\nhttp_port = {port}\nlog_format = 'json'\n")
        (tmp_path / "config.toml").write_text(text, encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"),
             "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            yield proc, port, site
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.communicate(timeout=60)


def test_serve_answers_healthz_and_metrics_and_logs_one_json_line_per_run(
        serving: tuple[subprocess.Popen[str], int, FixtureSite]) -> None:
    proc, port, _site = serving
    assert proc.stdout is not None and proc.stderr is not None
    assert f"http://127.0.0.1:{port}/healthz" in proc.stdout.readline()
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    deadline = time.monotonic() + 60
    collected = ("monitor_runs_total", (("job", "collect"), ("outcome", "ok")))
    while collected not in metrics and time.monotonic() < deadline:
        time.sleep(0.2)
        status, body = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        metrics = samples(body)
    assert metrics[collected] == 1
    assert metrics[("monitor_articles_total", (("kind", "new"),))] == 6
    assert metrics[("monitor_fetch_requests_total", ())] >= 7
    assert metrics[("monitor_fetch_responses_total", (("status", "200"),))] >= 7
    assert metrics[("monitor_scheduler_running", ())] == 1
    assert metrics[("monitor_last_success_timestamp_seconds", (("job", "collect"),))] > 0
    assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
    assert get(f"http://127.0.0.1:{port}/nothing")[0] == 404

    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    runs = [line for line in lines if line.get("event") == "collect"]
    assert len(runs) == 1, err
    run = runs[0]
    assert run["outcome"] == "ok" and run["counts"]["new"] == 6
    assert run["http_statuses"]["200"] == metrics[
        ("monitor_fetch_responses_total", (("status", "200"),))]
    assert run["counts"]["requests"] == metrics[("monitor_fetch_requests_total", ())]
    assert run["ts"].endswith("+07:00") and run["level"] == "INFO"
    assert "collect ok" in run["msg"]


def test_healthz_is_503_when_no_collect_finished_within_two_intervals() -> None:
    metrics = Metrics(collect_every_minutes=30)
    assert not metrics.health().healthy  # the scheduler is not running yet
    metrics.scheduler_running(True)
    now = time.time()
    assert metrics.health(now).healthy
    assert not metrics.health(now + 2 * 30 * 60 + 1).healthy
    metrics.collected("failed", RunCounts(failed=1))  # a failing site is an alert, not death
    with WebServer(service_routes(metrics)) as web:
        base = "http://{}:{}".format(*web.address)
        assert get(base + "/healthz") == (200, "ok\n")
        metrics.scheduler_running(False)
        status, body = get(base + "/healthz")
    assert status == 503 and "not running" in body


def test_routes_answer_404_405_and_pass_the_body_to_the_handler() -> None:
    routes = Routes()
    seen: list[Request] = []

    def echo(request: Request) -> Reply:
        seen.append(request)
        return Reply(200, request.body)

    routes.add("POST", "/echo", echo)
    with WebServer(routes) as web:
        base = "http://{}:{}".format(*web.address)
        posted = urllib.request.Request(base + "/echo?x=1", data=b"List-Unsubscribe=One-Click",
                                        method="POST")
        with urllib.request.urlopen(posted, timeout=5) as response:
            assert response.read() == b"List-Unsubscribe=One-Click"
        assert get(base + "/echo")[0] == 405
        assert get(base + "/other")[0] == 404
    assert seen[0].param("x") == "1"
    with pytest.raises(ValueError, match="already taken"):
        routes.add("POST", "/echo", echo)


def test_serve_tells_systemd_ready_and_feeds_the_watchdog(tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(30)
    (tmp_path / "config.toml").write_text("[state]\ndir = 'state'\n", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"), "serve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1000000"})
    try:
        got: list[str] = []
        while not any("WATCHDOG=1" in m for m in got):
            got.append(sock.recv(4096).decode())
        assert got[0].startswith("READY=1\nSTATUS=collecting every")
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in got[-1]:
            got.append(sock.recv(4096).decode())
        proc.communicate(timeout=60)
    finally:
        sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
