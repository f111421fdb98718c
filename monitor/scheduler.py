"""``monitor serve``: the APScheduler (3.x) service around one collect and one deliver run.

Collecting and delivering are two jobs on two schedules: collect every
``[serve] collect_every_minutes``; each digest schedule at its "HH:MM" Vietnam times, or, for a
schedule without times, right after every collect. Jobs never overlap (one instance each, missed
runs coalesced), and the state directory's lock keeps a manual ``monitor run`` out of their way.
SIGTERM and SIGINT stop the service after the running job has finished: nothing is cut in half.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Config
from monitor.errors import MonitorError
from monitor.extract.text import VN_TZ, format_local
from monitor.logs import event
from monitor.metrics import Metrics
from monitor.sdnotify import notify, watchdog_interval

if TYPE_CHECKING:
    from monitor.collect import CollectReport
    from monitor.deliver import DeliverReport

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Jobs:
    """What one job does: each callable runs one half of a run and returns an exit code."""

    collect: Callable[[], int]
    deliver: Callable[[str], int]  # the digest schedule's name


def _collect_values(report: CollectReport) -> dict[str, Any]:
    c = report.counts
    return {
        "event": "collect", "run_id": report.run_id, "outcome": report.outcome,
        "seconds": round(report.seconds, 3), "baseline": report.baseline,
        "counts": {"pages_fetched": c.pages_fetched, "not_modified": c.not_modified,
                   "new": c.new, "changed": c.changed, "unchanged": c.unchanged,
                   "failed": c.failed, "blocked": c.blocked, "refused": c.refused,
                   "requests": c.requests, "bytes": c.bytes},
        "unhealthy_sources": [s.source for s in report.sources if not s.healthy],
        "errors": [{"url": e.url, "kind": e.kind, "reason": e.reason[:300]}
                   for e in report.errors[:20]],
        "error_count": len(report.errors),
    }


def log_collect(report: CollectReport) -> None:
    """The run's one line: outcome, counts, duration, errors."""
    c = report.counts
    errors = "; ".join(f"{e.kind} {e.url}" for e in report.errors[:3])
    more = f" (+{len(report.errors) - 3} more)" if len(report.errors) > 3 else ""
    event("collect %s in %.1f s (run %s): new %d, changed %d, unchanged %d, 304s %d, "
          "failed %d, blocked %d, refused %d, requests %d, bytes %d%s",
          report.outcome, report.seconds, report.run_id, c.new, c.changed, c.unchanged,
          c.not_modified, c.failed, c.blocked, c.refused, c.requests, c.bytes,
          f"; errors: {errors}{more}" if errors else "",
          level=logging.INFO if report.outcome == "ok" else logging.WARNING,
          **_collect_values(report))


def log_deliver(report: DeliverReport, schedule: str) -> None:
    """One line per digest handed over or refused, and one for the delivery itself."""
    for o in report.outcomes:
        if o.status in ("sent", "resent", "failed", "rejected"):
            event("digest %s to %s: %d new, %d updated%s", o.status, o.subscriber, o.new,
                  o.updates, f"; error: {o.error}" if o.error else "",
                  level=logging.INFO if o.status in ("sent", "resent") else logging.WARNING,
                  event="digest", schedule=schedule, status=o.status, subscriber=o.subscriber,
                  message_id=o.message_id, new=o.new, updates=o.updates, error=o.error)
    counts = Counter(o.status for o in report.outcomes)
    event("deliver %s %s via %s: %s%s", schedule, "FAILED" if report.exit_code else "ok",
          report.via, ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing due",
          f"; stopped: {report.aborted}" if report.aborted else "",
          level=logging.WARNING if report.exit_code else logging.INFO,
          event="deliver", schedule=schedule, outcome="failed" if report.exit_code else "ok",
          via=report.via, counts=dict(counts), aborted=report.aborted)


def default_jobs(config: Config, metrics: Metrics | None = None) -> Jobs:
    """The service's jobs: each runs one step, logs its report and feeds the metrics; no
    error escapes (the service must outlive any one bad run)."""

    def collect() -> int:
        from monitor.collect import run_collect

        try:
            report = run_collect(config)
        except MonitorError as exc:
            event("collect failed: %s", exc, level=logging.ERROR, event="collect",
                  outcome="error", error=str(exc))
            if metrics:
                metrics.collected("error", None)
            return exc.exit_code
        except Exception:
            log.exception("collect crashed")
            if metrics:
                metrics.collected("error", None)
            return 1
        log_collect(report)
        if metrics:
            metrics.collected(report.outcome, report.counts)
        return report.exit_code

    def deliver(schedule: str) -> int:
        from monitor.deliver import run_deliver

        try:
            report = run_deliver(config, schedule=schedule)
        except MonitorError as exc:
            event("deliver %s failed: %s", schedule, exc, level=logging.ERROR,
                  event="deliver", schedule=schedule, outcome="error", error=str(exc))
            if metrics:
                metrics.delivered(schedule, False, ())
            return exc.exit_code
        except Exception:
            log.exception("deliver %s crashed", schedule)
            if metrics:
                metrics.delivered(schedule, False, ())
            return 1
        log_deliver(report, schedule)
        if metrics:
            metrics.delivered(schedule, report.exit_code == 0,
                              (o.status for o in report.outcomes))
        return report.exit_code

    return Jobs(collect, deliver)


def _triggers(config: Config) -> list[tuple[str, CronTrigger]]:
    found = []
    for schedule in config.schedules:
        for when in schedule.times:
            found.append((schedule.name, CronTrigger(hour=when.hour, minute=when.minute,
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
    metrics = Metrics(collect_every_minutes=config.serve.collect_every_minutes)
    web = None
    if config.serve.http_port:
        from monitor.web import WebServer, service_routes

        web = WebServer(service_routes(metrics), config.serve.http_host,
                        config.serve.http_port).start()
    scheduler = build(config, jobs or default_jobs(config, metrics))
    scheduler.start()
    metrics.scheduler_running(True)
    summary = (f"collecting every {config.serve.collect_every_minutes} min; next: "
               + "; ".join(f"{k} {v}" for k, v in next_times(config).items()))
    if web is not None:
        summary += "; http://{}:{}/healthz".format(*web.address)
    out.write(f"monitor serve: {summary}\n")
    out.flush()
    notify(f"READY=1\nSTATUS={summary}")
    every = watchdog_interval()
    last_ping = 0.0
    # Wake up now and then: the OS may deliver the signal to a scheduler thread, and Python runs
    # handlers only in the main thread, which a plain wait() would never leave.
    while not stop.wait(0.5):
        # The watchdog is fed only while the service makes progress (the scheduler runs and a
        # collect finished lately): a hung service is restarted by systemd.
        if every is not None and time.monotonic() - last_ping >= every:
            if metrics.health().healthy:
                notify("WATCHDOG=1")
            last_ping = time.monotonic()
    notify("STOPPING=1")
    scheduler.shutdown(wait=True)
    metrics.scheduler_running(False)
    if web is not None:
        web.stop()
    out.write("monitor serve: stopped\n")
    return 0
