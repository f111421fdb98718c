"""``monitor serve``: the APScheduler (3.x) service around collect and deliver runs.

Collecting and delivering are two jobs on two schedules: collect every
``[serve] collect_every_minutes``; each digest schedule at its "HH:MM" Vietnam times, or, for a
schedule without times, right after every collect.

The jobs run through one queue, one at a time, on one worker thread. APScheduler only says when
a job is due; the job then waits in the queue for the one running, so a digest time that falls
during a collect runs as soon as the collect ends, and a collect due during a delivery runs after
it. Waiting in the queue is never a reason to skip a slot.

A job that cannot start (another process, such as a manual ``monitor run``, holds the state
directory beyond ``[state] lock_timeout_seconds``) is tried again every ``RETRY``; once its slot
is ``MISSED_AFTER`` old it is logged and recorded as missed (``monitor status`` shows it), and it
is still tried until the same job's next slot takes over its work. Every slot is recorded in the
state (``store.jobs``), and only a run records a slot as done.

SIGTERM and SIGINT stop the service after the running job has finished: nothing is cut in half;
slots still queued then are recorded as missed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Config
from monitor.errors import LockTimeout, MonitorError
from monitor.extract.text import VN_TZ, format_local
from monitor.logs import event
from monitor.metrics import Metrics
from monitor.models import HANDED_OVER
from monitor.store import db
from monitor.store import jobs as job_store

if TYPE_CHECKING:
    from monitor.collect import CollectReport
    from monitor.deliver import DeliverReport

log = logging.getLogger(__name__)

# A job that could not start is tried again this often...
RETRY = timedelta(minutes=1)
# ...and its slot is declared missed once it is this old (APScheduler's own grace before).
MISSED_AFTER = timedelta(minutes=15)

Outcome = Literal["ok", "failed", "busy"]  # busy: could not start, the state was held


@dataclass(frozen=True, slots=True)
class Jobs:
    """What one job does: each callable runs one half of a run."""

    collect: Callable[[], Outcome]
    deliver: Callable[[str], Outcome]  # the digest schedule's name
    # Evaluates the operator alerts and mails what changed (also when a slot is missed).
    alerts: Callable[[], None] | None = None


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
        "http_statuses": {str(k): v for k, v in sorted(report.by_status.items())},
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
        if o.status in HANDED_OVER:
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

    serial = threading.Lock()  # the job worker and a missed slot may both evaluate

    def alert(report: CollectReport | None) -> None:
        from monitor.alerts import run_alerts

        try:
            with serial:
                result = run_alerts(config, report=report)
        except MonitorError as exc:
            log.error("alerts not evaluated: %s", exc)
            return
        except Exception:
            log.exception("alerts crashed")
            return
        if metrics:
            metrics.alerts_active(c.key for c in result.active)

    def collect() -> Outcome:
        from monitor.collect import run_collect

        try:
            report = run_collect(config)
        except LockTimeout as exc:
            log.warning("collect could not start: %s", exc)
            return "busy"
        except MonitorError as exc:
            event("collect failed: %s", exc, level=logging.ERROR, event="collect",
                  outcome="error", error=str(exc))
            if metrics:
                metrics.collected("error", None)
            return "failed"
        except Exception:
            log.exception("collect crashed")
            if metrics:
                metrics.collected("error", None)
            return "failed"
        log_collect(report)
        if metrics:
            metrics.collected(report.outcome, report.counts, report.by_status)
        alert(report)
        return "ok" if report.exit_code == 0 else "failed"

    def deliver(schedule: str) -> Outcome:
        from monitor.deliver import run_deliver

        try:
            report = run_deliver(config, schedule=schedule)
        except LockTimeout as exc:
            log.warning("deliver %s could not start: %s", schedule, exc)
            return "busy"
        except MonitorError as exc:
            event("deliver %s failed: %s", schedule, exc, level=logging.ERROR,
                  event="deliver", schedule=schedule, outcome="error", error=str(exc))
            if metrics:
                metrics.delivered(schedule, False, ())
            return "failed"
        except Exception:
            log.exception("deliver %s crashed", schedule)
            if metrics:
                metrics.delivered(schedule, False, ())
            return "failed"
        log_deliver(report, schedule)
        if metrics:
            metrics.delivered(schedule, report.exit_code == 0,
                              (o.status for o in report.outcomes))
        alert(None)
        return "ok" if report.exit_code == 0 else "failed"

    return Jobs(collect, deliver, lambda: alert(None))


# --- the record of slots ------------------------------------------------------------------


class Recorder:
    """Writes each slot to the state; a failure to write is logged, never stops the service."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _write(self, what: str, write: Callable[..., None], *args: object,
               **kwargs: object) -> None:
        try:
            conn = db.connect(self.path)
            try:
                write(conn, *args, **kwargs)
            finally:
                conn.close()
        except Exception as exc:  # the record is for the operator; the job matters more
            log.error("could not record %s in the state: %s", what, exc)

    def started(self, job: str, slot: datetime, attempt: int) -> None:
        self._write(job, job_store.started, job, slot, now=_now(), attempt=attempt)

    def finished(self, job: str, slot: datetime, outcome: Literal["ok", "failed"]) -> None:
        self._write(job, job_store.finished, job, slot, now=_now(), outcome=outcome)

    def busy(self, job: str, slot: datetime, attempts: int, *, missed: bool,
             detail: str) -> None:
        self._write(job, job_store.busy, job, slot, now=_now(), attempts=attempts,
                    missed=missed, detail=detail)


def _now() -> datetime:
    return datetime.now(UTC)


# --- the queue ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Task:
    job: str
    slot: datetime
    work: Callable[[], Outcome]
    attempts: int = 0
    ready_at: float = 0.0  # time.monotonic() before which a retry does not start
    missed: bool = False


class JobQueue:
    """One worker thread running the due jobs one at a time, in the order they fell due."""

    def __init__(self, recorder: Recorder, *, retry: timedelta = RETRY,
                 missed_after: timedelta = MISSED_AFTER,
                 on_missed: Callable[[str, datetime, str], None] | None = None) -> None:
        self.recorder = recorder
        self.retry = retry.total_seconds()
        self.missed_after = missed_after
        self.on_missed = on_missed
        self._tasks: list[_Task] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="monitor-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: str, work: Callable[[], Outcome], *, slot: datetime | None = None,
               first: bool = False) -> None:
        """Queue ``job`` for ``slot`` (now by default); ``first`` puts it before the others."""
        slot = slot or _now()
        superseded = []
        with self._cond:
            for task in list(self._tasks):
                if task.job != job:
                    continue
                if task.attempts == 0:
                    return  # already waiting its turn: that run does the work of both slots
                # A slot still being retried: the new slot's run does its work, once.
                self._tasks.remove(task)
                superseded.append(task)
            task = _Task(job, slot, work)
            if first:
                self._tasks.insert(0, task)
            else:
                self._tasks.append(task)
            self._cond.notify_all()
        # Outside the lock: recording and alerting may take a while (an SMTP server).
        for old in superseded:
            self._declare_missed(old, f"not run before the next slot ({format_local(slot)})")

    def pending(self) -> list[str]:
        with self._cond:
            return [t.job for t in self._tasks]

    def close(self) -> None:
        """Stop after the running job; the slots still queued are recorded as missed."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        with self._cond:
            left, self._tasks = self._tasks, []
        for task in left:
            self._declare_missed(task, "the service stopped before it could run")

    def _next(self) -> _Task | None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                ready = [t for t in self._tasks if t.ready_at <= now]
                if ready:
                    self._tasks.remove(ready[0])
                    return ready[0]
                waits = [t.ready_at - now for t in self._tasks]
                self._cond.wait(min(waits) if waits else None)
            return None

    def _work(self) -> None:
        while (task := self._next()) is not None:
            self._run(task)

    def _run(self, task: _Task) -> None:
        task.attempts += 1
        self.recorder.started(task.job, task.slot, task.attempts)
        outcome = task.work()
        if outcome != "busy":
            self.recorder.finished(task.job, task.slot, outcome)
            if task.missed:
                log.info("%s for %s ran late, after %d attempts", task.job, format_local(task.slot),
                         task.attempts)
            return
        detail = f"could not start: the state was held by another run ({task.attempts} attempts)"
        if not task.missed and _now() - task.slot >= self.missed_after:
            self._declare_missed(task, detail)
        else:
            self.recorder.busy(task.job, task.slot, task.attempts, missed=task.missed,
                               detail=detail)
            log.warning("%s for %s %s; trying again in %g s", task.job, format_local(task.slot),
                        detail, self.retry)
        task.ready_at = time.monotonic() + self.retry
        with self._cond:
            if not self._stopping:
                self._tasks.append(task)
                self._cond.notify_all()
                return
        self._declare_missed(task, "the service stopped before it could run")

    def _declare_missed(self, task: _Task, detail: str) -> None:
        if not task.missed:
            log.error("MISSED: %s due at %s: %s", task.job, format_local(task.slot), detail)
        task.missed = True
        self.recorder.busy(task.job, task.slot, task.attempts, missed=True, detail=detail)
        if self.on_missed is not None:
            try:
                self.on_missed(task.job, task.slot, detail)
            except Exception:
                log.exception("reporting the missed slot of %s failed", task.job)


# --- the schedule -------------------------------------------------------------------------


Slots = Sequence[tuple[str, BaseTrigger]]


def _triggers(config: Config) -> list[tuple[str, BaseTrigger]]:
    found: list[tuple[str, BaseTrigger]] = []
    for schedule in config.schedules:
        for when in schedule.times:
            found.append((schedule.name, CronTrigger(hour=when.hour, minute=when.minute,
                                                     timezone=VN_TZ)))
    return found


def build(config: Config, jobs: Jobs, queue: JobQueue, *, first_collect: datetime | None = None,
          slots: Slots | None = None) -> BackgroundScheduler:
    """The scheduler with every job added, not started: each firing only queues its job.

    ``slots`` replaces the digest times of the config (tests put one a second ahead).
    """
    scheduler = BackgroundScheduler(timezone=VN_TZ, job_defaults={
        "coalesce": True, "max_instances": 1,
        "misfire_grace_time": int(MISSED_AFTER.total_seconds()),
    })
    immediate = [s.name for s in config.schedules if not s.times]

    def collect() -> Outcome:
        outcome = jobs.collect()
        if outcome != "busy":
            # Before anything else waiting: these subscribers asked for "as soon as possible".
            for name in reversed(immediate):
                queue.submit(f"deliver {name}", partial(jobs.deliver, name), first=True)
        return outcome

    def due_collect() -> None:
        queue.submit("collect", collect, slot=_now().replace(microsecond=0))

    def due_deliver(name: str) -> None:
        # A digest time is a whole minute: the slot is that minute, however late the firing.
        queue.submit(f"deliver {name}", partial(jobs.deliver, name),
                     slot=_now().replace(second=0, microsecond=0))

    scheduler.add_job(
        due_collect,
        IntervalTrigger(minutes=config.serve.collect_every_minutes, timezone=VN_TZ),
        id="collect", name="collect", next_run_time=first_collect or datetime.now(VN_TZ),
    )
    for i, (name, trigger) in enumerate(_triggers(config) if slots is None else slots):
        scheduler.add_job(due_deliver, trigger, args=[name], id=f"deliver-{name}-{i}",
                          name=f"deliver {name}")
    return scheduler


def next_fire(config: Config, schedule: str, now: datetime) -> datetime | None:
    """The next of a digest schedule's times after ``now``; None for "after each collect"."""
    fires = [t.get_next_fire_time(None, now) for name, t in _triggers(config) if name == schedule]
    found = [f for f in fires if f is not None]
    return min(found) if found else None


def next_times(config: Config, now: datetime | None = None) -> dict[str, str]:
    """The next time each job runs, as subscribers read times (for ``monitor status``)."""
    now = now or datetime.now(VN_TZ)
    result = {"collect": f"every {config.serve.collect_every_minutes} min"}
    for schedule in config.schedules:
        fire = next_fire(config, schedule.name, now)
        result[schedule.name] = format_local(fire) if fire else "after each collect"
    return result


class Service:
    """The queue and the scheduler around it: what ``monitor serve`` runs between signals."""

    def __init__(self, config: Config, jobs: Jobs | None = None, *,
                 retry: timedelta = RETRY, missed_after: timedelta = MISSED_AFTER,
                 slots: Slots | None = None, first_collect: datetime | None = None,
                 metrics: Metrics | None = None) -> None:
        recorder = Recorder(str(db.db_path(config.state_dir)))
        jobs = jobs or default_jobs(config, metrics)
        alerts = jobs.alerts

        def on_missed(job: str, slot: datetime, detail: str) -> None:
            if alerts is not None:
                alerts()  # while the slot is still missed: once the job runs, it clears

        self.queue = JobQueue(recorder, retry=retry, missed_after=missed_after,
                              on_missed=on_missed)
        self.scheduler = build(config, jobs, self.queue, first_collect=first_collect,
                               slots=slots)

    def start(self) -> None:
        self.queue.start()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)  # firings only queue: this is quick
        self.queue.close()
