"""The service's job slots (table of migration 3 in ``db.py``): what ran, when, and what was missed.

A slot is the time a job was due: a collect tick or a digest time. Its row is written when the
job starts (``running``) and completed when it ends (``ok`` or ``failed``). A slot whose job
could not start (the state held by another process) is ``waiting`` while it is retried, then
``missed`` once too late, and stays so unless a later attempt for the same slot runs: nothing
marks a slot done but a run.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from monitor.store.articles import from_iso, iso
from monitor.store.db import transaction

JobOutcome = Literal["running", "ok", "failed", "waiting", "missed"]


@dataclass(frozen=True, slots=True)
class JobRun:
    job: str
    slot: datetime
    started_at: datetime | None
    ended_at: datetime | None
    outcome: JobOutcome
    attempts: int
    missed_at: datetime | None
    detail: str


def _row(r: sqlite3.Row) -> JobRun:
    return JobRun(job=r["job"], slot=datetime.fromisoformat(r["slot"]),
                  started_at=from_iso(r["started_at"]), ended_at=from_iso(r["ended_at"]),
                  outcome=r["outcome"], attempts=r["attempts"], missed_at=from_iso(r["missed_at"]),
                  detail=r["detail"])


def started(conn: sqlite3.Connection, job: str, slot: datetime, *, now: datetime,
            attempt: int) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO job_runs (job, slot, started_at, outcome, attempts) VALUES"
            " (?1, ?2, ?3, 'running', ?4) ON CONFLICT (job, slot) DO UPDATE SET"
            " started_at = ?3, ended_at = NULL, outcome = 'running', attempts = ?4",
            (job, iso(slot), iso(now), attempt))


def finished(conn: sqlite3.Connection, job: str, slot: datetime, *, now: datetime,
             outcome: Literal["ok", "failed"], detail: str = "") -> None:
    with transaction(conn):
        conn.execute("UPDATE job_runs SET ended_at = ?, outcome = ?, detail = ?"
                     " WHERE job = ? AND slot = ?", (iso(now), outcome, detail, job, iso(slot)))


def busy(conn: sqlite3.Connection, job: str, slot: datetime, *, now: datetime, attempts: int,
         missed: bool, detail: str) -> None:
    """An attempt could not start: the slot waits for the next one, or is declared missed."""
    outcome = "missed" if missed else "waiting"
    with transaction(conn):
        conn.execute(
            "INSERT INTO job_runs (job, slot, outcome, attempts, missed_at, detail) VALUES"
            " (?1, ?2, ?3, ?4, CASE WHEN ?3 = 'missed' THEN ?5 END, ?6)"
            " ON CONFLICT (job, slot) DO UPDATE SET started_at = NULL, outcome = ?3,"
            " attempts = ?4, missed_at = coalesce(missed_at, CASE WHEN ?3 = 'missed' THEN ?5 END),"
            " detail = ?6", (job, iso(slot), outcome, attempts, iso(now), detail))


def last_runs(conn: sqlite3.Connection) -> dict[str, JobRun]:
    """Each job's latest slot that ran (or is running)."""
    rows = conn.execute(
        "SELECT * FROM job_runs WHERE id IN (SELECT max(id) FROM job_runs"
        " WHERE started_at IS NOT NULL GROUP BY job) ORDER BY job")
    return {r["job"]: _row(r) for r in rows}


def missed_slots(conn: sqlite3.Connection, *, since: datetime) -> list[JobRun]:
    """Slots due since ``since`` that have not run (missed, or waiting to), oldest first."""
    rows = conn.execute("SELECT * FROM job_runs WHERE outcome IN ('missed', 'waiting')"
                        " AND slot >= ?"
                        " ORDER BY slot, job", (iso(since),))
    return [_row(r) for r in rows]
