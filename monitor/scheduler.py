"""``monitor serve``: the APScheduler (3.x) service around one collect and one deliver run.

Collecting and delivering are two jobs on two schedules: collect every
``[serve] collect_every_minutes``; each digest schedule at its "HH:MM" Vietnam times, or, for a
schedule without times, right after every collect. Jobs never overlap (one instance each, missed
runs coalesced), and the state directory's lock keeps a manual ``monitor run`` out of their way.
SIGTERM and SIGINT stop the service after the running job has finished: nothing is cut in half.
"""

from __future__ import annotations

import io
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import TextIO

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Config
from monitor.errors import MonitorError
from monitor.extract.text import VN_TZ, format_local

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Jobs:
    """What one job does: each callable runs one half of a run and returns an exit code."""

    collect: Callable[[], int]
    deliver: Callable[[str], int]  # the digest schedule's name


def _quietly(name: str, work: Callable[[TextIO], int]) -> int:
    """Run a command for the service: its summary goes to the log, its errors never escape."""
    buffer = io.StringIO()
    try:
        code = work(buffer)
    except MonitorError as exc:
        log.error("%s failed: %s", name, exc)
        return exc.exit_code
    except Exception:  # the service must outlive any one bad run
        log.exception("%s crashed", name)
        return 1
    for line in buffer.getvalue().splitlines():
        log.info("%s: %s", name, line)
    return code


def default_jobs(config: Config) -> Jobs:
    def collect() -> int:
        from monitor.collect import collect_command

        return _quietly("collect", lambda out: collect_command(
            config, dry_run=False, baseline=False, out=out))

    def deliver(schedule: str) -> int:
        from monitor.deliver import deliver_command

        return _quietly(f"deliver[{schedule}]", lambda out: deliver_command(
            config, dry_run=False, out=out, schedule=schedule))

    return Jobs(collect, deliver)


def _triggers(config: Config) -> list[tuple[str, CronTrigger]]:
    found = []
    for schedule in config.schedules:
        for when in schedule.times:
            hour, minute = when.split(":")
            found.append((schedule.name, CronTrigger(hour=int(hour), minute=int(minute),
                                                     timezone=VN_TZ)))
    return found


def build(config: Config, jobs: Jobs, *, first_collect: datetime | None = None) -> (
    BackgroundScheduler
):
    """The scheduler with every job added, not started."""
    scheduler = BackgroundScheduler(timezone=VN_TZ, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": 15 * 60,
    })
    immediate = [s.name for s in config.schedules if not s.times]

    def collect_then_immediate() -> None:
        jobs.collect()
        for name in immediate:
            jobs.deliver(name)

    scheduler.add_job(
        collect_then_immediate,
        IntervalTrigger(minutes=config.serve.collect_every_minutes, timezone=VN_TZ),
        id="collect", name="collect", next_run_time=first_collect or datetime.now(VN_TZ),
    )
    for i, (name, trigger) in enumerate(_triggers(config)):
        scheduler.add_job(jobs.deliver, trigger, args=[name], id=f"deliver-{name}-{i}",
                          name=f"deliver {name}")
    return scheduler


def next_times(config: Config, now: datetime | None = None) -> dict[str, str]:
    """The next time each job runs, as subscribers read times (for ``monitor status``)."""
    now = now or datetime.now(VN_TZ)
    earliest: dict[str, datetime] = {}
    for name, trigger in _triggers(config):
        fire = trigger.get_next_fire_time(None, now)
        if fire is not None and (name not in earliest or fire < earliest[name]):
            earliest[name] = fire
    result = {"collect": f"every {config.serve.collect_every_minutes} min"}
    result.update({name: format_local(fire) for name, fire in earliest.items()})
    for schedule in config.schedules:
        result.setdefault(schedule.name, "after each collect")
    return result


def serve_command(config: Config, *, out: TextIO, jobs: Jobs | None = None) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the running job", signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    scheduler = build(config, jobs or default_jobs(config))
    scheduler.start()
    out.write(f"monitor serve: collecting every {config.serve.collect_every_minutes} min; ")
    out.write("next: " + "; ".join(f"{k} {v}" for k, v in next_times(config).items()) + "\n")
    out.flush()
    # Wake up now and then: the OS may deliver the signal to a scheduler thread, and Python runs
    # handlers only in the main thread, which a plain wait() would never leave.
    while not stop.wait(0.5):
        pass
    scheduler.shutdown(wait=True)
    out.write("monitor serve: stopped\n")
    return 0
