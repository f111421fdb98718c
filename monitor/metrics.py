"""What ``monitor serve`` has done, for ``/metrics`` (Prometheus) and ``/healthz``.

The scheduler feeds ``Metrics`` the reports its jobs return (values, never printed text); the
HTTP endpoint reads it. One registry per service, not prometheus_client's global one, so two
services in one process (tests) never mix their counts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from monitor.models import HANDED_OVER
from monitor.store.runs import RunCounts

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True, slots=True)
class Health:
    healthy: bool
    reason: str


class Metrics:
    """Counters and gauges of one service, and the two facts ``/healthz`` is made of."""

    def __init__(self, *, collect_every_minutes: int) -> None:
        self.interval = collect_every_minutes * 60.0
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.runs = Counter("monitor_runs", "Runs by job and outcome", ["job", "outcome"],
                            registry=r)
        self.articles = Counter("monitor_articles", "Articles stored by kind (new, changed)",
                                ["kind"], registry=r)
        self.pages = Counter("monitor_fetch_pages", "Pages asked for, by result "
                             "(fetched, not_modified, failed, blocked, refused)", ["result"],
                             registry=r)
        self.requests = Counter("monitor_fetch_requests", "HTTP requests made", registry=r)
        self.responses = Counter("monitor_fetch_responses", "HTTP responses by status code",
                                 ["status"], registry=r)
        self.bytes = Counter("monitor_fetch_bytes", "Bytes downloaded", registry=r)
        self.digests = Counter("monitor_digests", "Digests by status (sent, resent, failed, "
                               "rejected)", ["status"], registry=r)
        self.last_success = Gauge("monitor_last_success_timestamp_seconds",
                                  "Unix time of the last successful run of each job "
                                  "(collect, or a digest schedule)", ["job"], registry=r)
        self.alerts = Gauge("monitor_alert_active", "1 while an operator alert condition holds",
                            ["condition"], registry=r)
        self.scheduler_up = Gauge("monitor_scheduler_running", "1 while the scheduler runs",
                                  registry=r)
        self._lock = threading.Lock()
        self._started = time.time()
        self._last_collect: float | None = None
        self._running = False
        self._alert_keys: set[str] = set()

    # --- fed by the scheduler ---------------------------------------------------------------

    def scheduler_running(self, running: bool) -> None:
        with self._lock:
            self._running = running
            if running:
                self._started = time.time()
        self.scheduler_up.set(1 if running else 0)

    def collected(self, outcome: str, counts: RunCounts | None,
                  by_status: Mapping[int, int] | None = None) -> None:
        """One collect finished (``counts`` is None when it failed before counting)."""
        self.runs.labels("collect", outcome).inc()
        with self._lock:
            # Finished counts for liveness, whatever the site did: a dead site is an alert,
            # not a dead service.
            self._last_collect = time.time()
        if outcome in ("ok", "partial"):
            self.last_success.labels("collect").set_to_current_time()
        if counts is None:
            return
        self.articles.labels("new").inc(counts.new)
        self.articles.labels("changed").inc(counts.changed)
        for result, n in (("fetched", counts.pages_fetched), ("not_modified", counts.not_modified),
                          ("failed", counts.failed), ("blocked", counts.blocked),
                          ("refused", counts.refused)):
            self.pages.labels(result).inc(n)
        self.requests.inc(counts.requests)
        self.bytes.inc(counts.bytes)
        for status, n in (by_status or {}).items():
            self.responses.labels(str(status)).inc(n)

    def delivered(self, schedule: str, ok: bool, statuses: Iterable[str]) -> None:
        self.runs.labels(f"deliver {schedule}", "ok" if ok else "failed").inc()
        for status in statuses:
            if status in HANDED_OVER:
                self.digests.labels(status).inc()
        if ok:
            self.last_success.labels(schedule).set_to_current_time()

    def alerts_active(self, keys: Iterable[str]) -> None:
        active = set(keys)
        with self._lock:
            gone, self._alert_keys = self._alert_keys - active, active
        for key in gone:
            self.alerts.labels(key).set(0)
        for key in active:
            self.alerts.labels(key).set(1)

    # --- read by the endpoint ---------------------------------------------------------------

    def health(self, now: float | None = None) -> Health:
        """Healthy while the scheduler runs and a collect finished within two intervals (or,
        before the first one, the service started less than two intervals ago)."""
        now = time.time() if now is None else now
        with self._lock:
            running, last, started = self._running, self._last_collect, self._started
        if not running:
            return Health(False, "the scheduler is not running")
        since = last if last is not None else started
        if now - since > 2 * self.interval:
            what = "the last collect finished" if last is not None else "started, no collect"
            return Health(False, f"{what} {int(now - since)} s ago, more than two intervals")
        return Health(True, "ok")

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["CONTENT_TYPE", "Health", "Metrics"]
