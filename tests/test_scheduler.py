"""`monitor serve`: jobs on their schedules, and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from monitor import config as config_module
from monitor.extract.text import VN_TZ
from monitor.scheduler import Jobs, build, next_times

CONFIG = """
[serve]
collect_every_minutes = 30
[[schedules]]
name = "daily"
times = ["07:00", "17:00"]
[[schedules]]
name = "asap"
times = []
"""


def test_next_times_are_in_vietnam_time() -> None:
    loaded = config_module.loads(CONFIG)
    now = datetime(2025, 12, 8, 12, 0, tzinfo=VN_TZ)
    assert next_times(loaded, now) == {
        "collect": "every 30 min", "daily": "08/12/2025 17:00", "asap": "after each collect",
    }


def test_collect_runs_first_then_immediate_digests() -> None:
    loaded = config_module.loads(CONFIG)
    calls: list[str] = []
    jobs = Jobs(collect=lambda: calls.append("collect") or 0,
                deliver=lambda name: calls.append(f"deliver {name}") or 0)
    scheduler = build(loaded, jobs)
    scheduler.start()
    try:
        names = sorted(job.name for job in scheduler.get_jobs())
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert calls == ["collect", "deliver asap"]
    assert names == ["collect", "deliver daily", "deliver daily"]


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG + "\n[state]\ndir = 'state'\n", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"), "serve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert "monitor serve" in first
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
