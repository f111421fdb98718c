"""`monitor serve`: one queue for every job, no slot lost or taken as done, a clean stop."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

from apscheduler.triggers.date import DateTrigger
from support import config_toml, state_conn
from support.sitesrv import Fault, FixtureSite, SiteServer
from support.smtpsrv import delivery_toml

from monitor import config as config_module
from monitor.collect import run_collect
from monitor.commands.serve import serve_command
from monitor.commands.status import gather, render_text
from monitor.config import Config
from monitor.extract.text import VN_TZ
from monitor.scheduler import JobQueue, Jobs, Outcome, Recorder, Service, build, next_times
from monitor.store import db
from monitor.store import jobs as job_store

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

# Every fixture article's sapo speaks of "công tác xây dựng Đảng": relevant to this topic.
PARTY = """
[[topics]]
name = "xdd"
[topics.phrases]
"xây dựng đảng" = 3.0
"""


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def runs_of(config: Config) -> dict[str, job_store.JobRun]:
    conn = state_conn(config)
    try:
        return job_store.last_runs(conn)
    finally:
        conn.close()


def site_config(tmp_path: Path, base_url: str, *, schedule: str = "daily",
                lock_timeout: float = 2.0) -> Config:
    base = (config_toml(base_url, state={"lock_timeout_seconds": lock_timeout}) + PARTY
            + '\n[alerts]\nrecipients = ["ops@example.org"]\n')
    text = delivery_toml(base=base, subscribers=[
        {"email": "an@example.org", "schedule": schedule, "topics": ["xdd"],
         "since": "2020-01-01T00:00:00+07:00"}])
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return config_module.loads(text, root=tmp_path)


def test_next_times_are_in_vietnam_time() -> None:
    loaded = config_module.loads(CONFIG)
    now = datetime(2025, 12, 8, 12, 0, tzinfo=VN_TZ)
    assert next_times(loaded, now) == {
        "collect": "every 30 min", "daily": "08/12/2025 17:00", "asap": "after each collect",
    }


def test_collect_runs_first_then_immediate_digests(tmp_path: Path) -> None:
    loaded = config_module.loads(CONFIG, root=tmp_path)
    calls: list[str] = []

    def collect() -> Outcome:
        calls.append("collect")
        return "ok"

    def deliver(name: str) -> Outcome:
        calls.append(f"deliver {name}")
        return "ok"

    queue = JobQueue(Recorder(str(db.db_path(loaded.state_dir))))
    scheduler = build(loaded, Jobs(collect, deliver), queue)
    queue.start()
    scheduler.start()
    try:
        names = sorted(job.name for job in scheduler.get_jobs())
        wait_for(lambda: len(calls) >= 2)
    finally:
        scheduler.shutdown(wait=True)
        queue.close()
    assert calls == ["collect", "deliver asap"]
    assert names == ["collect", "deliver daily", "deliver daily"]
    assert set(runs_of(loaded)) == {"collect", "deliver asap"}


# --- one queue: nothing lost to a running job ---------------------------------------------


def test_a_digest_time_during_a_slow_collect_is_sent_as_soon_as_the_collect_ends(
        tmp_path: Path) -> None:
    """`monitor serve` (its command, in this process, stopped by SIGTERM) with a digest slot
    one second after start, while the first collect waits 3 s on a slow listing page."""
    site = FixtureSite(articles_count=6, per_page=10)
    site.fault("/xay-dung-dang", Fault("slow", delay=3.0))  # the collect outlasts the slot
    outbox = tmp_path / "state" / "outbox"

    def stop_when_sent() -> None:
        try:
            wait_for(lambda: any(outbox.glob("*.eml")), timeout=60)
            time.sleep(0.2)  # the job records its end
        finally:  # whatever happens, the service stops and the assertions below tell
            os.kill(os.getpid(), signal.SIGTERM)

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    out = io.StringIO()
    with SiteServer(site) as server:
        config = site_config(tmp_path, server.base, lock_timeout=0.5)
        slot = datetime.now(UTC) + timedelta(seconds=1)
        watcher = threading.Thread(target=stop_when_sent, daemon=True)
        watcher.start()
        try:
            assert serve_command(config, out=out, slots=[("daily", DateTrigger(slot))]) == 0
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
    assert "monitor serve: stopped" in out.getvalue()
    runs = runs_of(config)
    collect, digest = runs["collect"], runs["deliver daily"]
    assert collect.outcome == "ok" and collect.ended_at is not None
    assert digest.outcome == "ok" and digest.started_at is not None
    assert digest.started_at >= collect.ended_at  # queued behind the collect, not dropped
    assert digest.attempts == 1 and digest.missed_at is None  # its turn came: no retry
    assert digest.slot <= collect.ended_at  # it fell due while the collect was running
    [eml] = outbox.glob("*.eml")
    body = BytesParser(policy=policy.default).parsebytes(eml.read_bytes()).get_body(("plain",))
    assert body is not None
    assert f"Bài {site.articles[0].id}:" in body.get_content()  # what that collect found


def test_a_collect_due_during_a_delivery_waits_for_it(tmp_path: Path) -> None:
    order: list[str] = []
    delivering = threading.Event()
    release = threading.Event()

    def deliver() -> Outcome:
        order.append("deliver start")
        delivering.set()
        release.wait(10)
        order.append("deliver end")
        return "ok"

    def collect() -> Outcome:
        order.append("collect")
        return "ok"

    queue = JobQueue(Recorder(str(tmp_path / "state.sqlite3")))
    queue.start()
    try:
        queue.submit("deliver daily", deliver)
        delivering.wait(10)
        queue.submit("collect", collect)
        queue.submit("collect", collect)  # a second tick while the first waits: one run
        assert queue.pending() == ["collect"]
        release.set()
        wait_for(lambda: "collect" in order)
    finally:
        queue.close()
    assert order == ["deliver start", "deliver end", "collect"]


# --- a job that cannot start --------------------------------------------------------------


def test_a_digest_that_cannot_start_is_retried_shown_missed_and_never_recorded_done(
        tmp_path: Path) -> None:
    site = FixtureSite(articles_count=3, per_page=10)
    with SiteServer(site) as server:
        config = site_config(tmp_path, server.base, lock_timeout=0.1)
        run_collect(config)  # three articles wait for the 17:00 digest
        missed: list[str] = []
        with db.state_lock(config.state_dir, 1.0):  # a manual `monitor run` that goes on
            service = Service(config, retry=timedelta(seconds=0.1),
                              missed_after=timedelta(seconds=0.3),
                              slots=[("daily", DateTrigger(datetime.now(UTC)))],
                              first_collect=datetime.now(UTC) + timedelta(hours=1))
            alert = service.queue.on_missed
            assert alert is not None

            def on_missed(job: str, slot: datetime, detail: str) -> None:
                assert alert is not None
                alert(job, slot, detail)
                missed.append(job)

            service.queue.on_missed = on_missed
            service.start()
            wait_for(lambda: missed == ["deliver daily"])
            shown = render_text(gather(config))
            assert "deliver daily" not in runs_of(config)  # never recorded as run
            assert list((tmp_path / "state").glob("outbox/*.eml")) == []
            [mail] = (tmp_path / "state" / "alerts").glob("*.eml")  # the operator is told
            subject = BytesParser(policy=policy.default).parsebytes(mail.read_bytes())["Subject"]
            assert "deliver daily missed its slot" in str(subject)
        # The other run ends: the missed digest still runs, late, and says so.
        try:
            wait_for(lambda: "deliver daily" in runs_of(config))
            wait_for(lambda: runs_of(config)["deliver daily"].outcome == "ok")
        finally:
            service.stop()
    assert "MISSED: deliver daily due" in shown and "held by another run" in shown
    assert "deliver daily: never run; next " in shown  # and when it is next due
    assert "collect: never run; next " in shown
    digest = runs_of(config)["deliver daily"]
    assert digest.attempts >= 2 and digest.missed_at is not None
    assert "ran late" in render_text(gather(config))
    assert len(list((tmp_path / "state").glob("outbox/*.eml"))) == 1


def test_a_slot_still_retried_at_the_next_slot_is_missed_and_the_next_one_runs(
        tmp_path: Path) -> None:
    tries: list[str] = []

    def busy_once() -> Outcome:
        tries.append("try")
        return "busy" if len(tries) == 1 else "ok"

    path = tmp_path / "state.sqlite3"
    queue = JobQueue(Recorder(str(path)), retry=timedelta(minutes=5),
                     missed_after=timedelta(hours=1))
    queue.start()
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    try:
        queue.submit("collect", busy_once, slot=first)
        wait_for(lambda: tries == ["try"] and queue.pending() == ["collect"])  # to be retried
        queue.submit("collect", busy_once)  # the next tick takes over its work
        wait_for(lambda: len(tries) == 2)
    finally:
        queue.close()
    conn = db.connect(path)
    [missed] = job_store.missed_slots(conn, since=first - timedelta(hours=1))
    assert missed.slot == first and "not run before the next slot" in missed.detail
    ran = job_store.last_runs(conn)["collect"]
    assert ran.outcome == "ok" and ran.slot > first


def test_slots_still_queued_when_the_service_stops_are_recorded_missed(tmp_path: Path) -> None:
    release = threading.Event()

    def slow() -> Outcome:
        release.wait(10)
        return "ok"

    path = tmp_path / "state.sqlite3"
    queue = JobQueue(Recorder(str(path)))
    queue.start()
    queue.submit("collect", slow)
    queue.submit("deliver daily", lambda: "ok")
    wait_for(lambda: queue.pending() == ["deliver daily"])
    closing = threading.Thread(target=queue.close)
    closing.start()
    release.set()
    closing.join(10)
    conn = db.connect(path)
    [missed] = job_store.missed_slots(conn, since=datetime.now(UTC) - timedelta(hours=1))
    assert missed.job == "deliver daily" and missed.outcome == "missed"
    assert "stopped" in missed.detail
    assert job_store.last_runs(conn)["collect"].outcome == "ok"


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
