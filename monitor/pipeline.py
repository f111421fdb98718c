"""`monitor run`: one collect, then one delivery, on one connection under one lock.

Both halves always run: a collect that failed (the site down, a page refused) still leaves the
articles it did store, and whatever earlier runs stored is still due. The exit code is 1 when
either half failed. Then the operator alerts are evaluated and mailed, as the service does after
each job, so a `monitor run` from cron alerts too. With ``--dry-run`` both work inside one
transaction that is rolled back at the end, so the delivery shows the digests the collected
articles would make, and nothing is written or sent (and no alert).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from monitor.alerts import AlertReport
from monitor.collect import CollectReport, collect
from monitor.config import Config
from monitor.deliver import DeliverReport, DryTransport, deliver
from monitor.errors import MonitorError, StoreError
from monitor.fetch_policy import Resolver
from monitor.mail import Transport, transport_for
from monitor.store import db

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunReport:
    collect: CollectReport | None
    collect_error: str
    deliver: DeliverReport
    alerts: AlertReport | None = None  # None: a dry run, or the alerts could not be evaluated

    @property
    def exit_code(self) -> int:
        collected = self.collect is not None and self.collect.exit_code == 0
        return 0 if collected and self.deliver.exit_code == 0 else 1


def _collect(config: Config, conn: sqlite3.Connection, *, dry_run: bool, now: datetime,
             http: httpx.AsyncBaseTransport | None,
             resolver: Resolver | None) -> tuple[CollectReport | None, str]:
    if not config.sources:
        return None, "no [[sources]] in the config: nothing to collect"
    try:
        return asyncio.run(collect(config, conn, dry_run=dry_run, now=now, transport=http,
                                   resolver=resolver)), ""
    except StoreError:
        raise  # the state itself failed: delivering from it would fail the same way
    except MonitorError as exc:
        log.error("collect failed: %s", exc)
        return None, str(exc)


def run_once(config: Config, *, dry_run: bool = False, now: datetime | None = None,
             mail: Transport | None = None, http: httpx.AsyncBaseTransport | None = None,
             resolver: Resolver | None = None) -> RunReport:
    now = now or datetime.now(UTC)
    real = mail or transport_for(config)
    with db.open_state(config, write=True, dry_run=dry_run) as conn:
        collected, error = _collect(config, conn, dry_run=dry_run, now=now, http=http,
                                    resolver=resolver)
        transport = DryTransport(real.name) if dry_run else real
        delivered = deliver(conn, config, transport, now=now, dry_run=dry_run)
        alerted = None if dry_run else _alerts(conn, config, now, collected)
    return RunReport(collected, error, delivered, alerted)


def _alerts(conn: sqlite3.Connection, config: Config, now: datetime,
            collected: CollectReport | None) -> AlertReport | None:
    """Operator alerts from cron as from the service: a failure here fails nothing else."""
    from monitor.alerts import process

    try:
        return process(conn, config, now=now, report=collected)
    except (MonitorError, sqlite3.Error) as exc:
        log.error("operator alerts not evaluated: %s", exc)
        return None
