"""Runs and per-source health: what each collect did, and the canaries that watch the site.

A run row is written ``running`` when a run starts and completed when it ends; a row still
``running`` when the next run starts belongs to a process that died, and becomes ``aborted``.

Canaries, per source and run: the source gave at least one article link; every article fetched
for it was extracted by the site profile (not the generic fallback) with a title and a body; no
page of it failed or was blocked. ``source_health.consecutive_failures`` counts runs in a row
with a failed canary (a later feature alerts the operator on it).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.store.articles import from_iso, iso
from monitor.store.db import transaction

OUTCOMES = ("running", "ok", "partial", "blocked", "failed", "aborted")


@dataclass(frozen=True, slots=True)
class RunError:
    url: str
    kind: str  # failed | blocked | refused | not-an-article | error
    reason: str


@dataclass(frozen=True, slots=True)
class RunCounts:
    pages_fetched: int = 0
    not_modified: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    blocked: int = 0
    refused: int = 0
    requests: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class SourceRun:
    """One source's canaries in one run."""

    source: str
    pages: int = 0
    links: int = 0
    articles: int = 0
    profile_ok: int = 0
    failed: int = 0
    blocked: int = 0
    problems: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    started_at: datetime
    ended_at: datetime | None
    outcome: str
    baseline: bool
    counts: RunCounts
    errors: tuple[RunError, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Health:
    source: str
    last_checked_at: datetime
    last_ok_at: datetime | None
    consecutive_failures: int
    problems: tuple[str, ...]


def start_run(conn: sqlite3.Connection, *, now: datetime, baseline: bool,
              kind: str = "collect") -> int:
    with transaction(conn):
        conn.execute("UPDATE runs SET outcome = 'aborted' WHERE outcome = 'running'")
        cur = conn.execute("INSERT INTO runs (kind, started_at, baseline) VALUES (?, ?, ?)",
                           (kind, iso(now), int(baseline)))
    return int(cur.lastrowid or 0)


def finish_run(conn: sqlite3.Connection, run_id: int, *, now: datetime, outcome: str,
               counts: RunCounts, errors: list[RunError]) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE runs SET ended_at = ?, outcome = ?, pages_fetched = ?, not_modified = ?,"
            " new_count = ?, changed_count = ?, unchanged_count = ?, failed_count = ?,"
            " blocked_count = ?, refused_count = ?, requests = ?, bytes = ?, errors = ?"
            " WHERE id = ?",
            (iso(now), outcome, counts.pages_fetched, counts.not_modified, counts.new,
             counts.changed, counts.unchanged, counts.failed, counts.blocked, counts.refused,
             counts.requests, counts.bytes,
             json.dumps([{"url": e.url, "kind": e.kind, "reason": e.reason} for e in errors],
                        ensure_ascii=False),
             run_id),
        )


def record_source_run(conn: sqlite3.Connection, run_id: int, health: SourceRun, *,
                      now: datetime) -> None:
    problems = json.dumps(list(health.problems), ensure_ascii=False)
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO source_runs (run_id, source, pages, links, articles,"
            " profile_ok, failed, blocked, healthy, problems) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (run_id, health.source, health.pages, health.links, health.articles,
             health.profile_ok, health.failed, health.blocked, int(health.healthy), problems),
        )
        conn.execute(
            "INSERT INTO source_health (source, last_run_id, last_checked_at, last_ok_at,"
            " consecutive_failures, problems) VALUES (?1, ?2, ?3, CASE WHEN ?4 THEN ?3 END,"
            " CASE WHEN ?4 THEN 0 ELSE 1 END, ?5) ON CONFLICT (source) DO UPDATE SET"
            " last_run_id = ?2, last_checked_at = ?3,"
            " last_ok_at = CASE WHEN ?4 THEN ?3 ELSE last_ok_at END,"
            " consecutive_failures = CASE WHEN ?4 THEN 0 ELSE consecutive_failures + 1 END,"
            " problems = ?5",
            (health.source, run_id, iso(now), int(health.healthy), problems),
        )


def _run(row: sqlite3.Row) -> RunRow:
    counts = RunCounts(
        pages_fetched=row["pages_fetched"], not_modified=row["not_modified"],
        new=row["new_count"], changed=row["changed_count"], unchanged=row["unchanged_count"],
        failed=row["failed_count"], blocked=row["blocked_count"],
        refused=row["refused_count"], requests=row["requests"], bytes=row["bytes"],
    )
    errors = tuple(RunError(e["url"], e["kind"], e["reason"]) for e in json.loads(row["errors"]))
    return RunRow(id=row["id"], started_at=datetime.fromisoformat(row["started_at"]),
                  ended_at=from_iso(row["ended_at"]), outcome=row["outcome"],
                  baseline=bool(row["baseline"]), counts=counts, errors=errors)


def last_runs(conn: sqlite3.Connection, limit: int = 5, *, kind: str = "collect") -> list[RunRow]:
    rows = conn.execute("SELECT * FROM runs WHERE kind = ? ORDER BY id DESC LIMIT ?",
                        (kind, limit))
    return [_run(r) for r in rows]


def get_run(conn: sqlite3.Connection, run_id: int) -> RunRow | None:
    row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    return _run(row) if row else None


def source_health(conn: sqlite3.Connection) -> list[Health]:
    rows = conn.execute("SELECT * FROM source_health ORDER BY source")
    return [
        Health(source=r["source"], last_checked_at=datetime.fromisoformat(r["last_checked_at"]),
               last_ok_at=from_iso(r["last_ok_at"]),
               consecutive_failures=r["consecutive_failures"],
               problems=tuple(json.loads(r["problems"])))
        for r in rows
    ]


def source_runs(conn: sqlite3.Connection, run_id: int) -> list[SourceRun]:
    rows = conn.execute("SELECT * FROM source_runs WHERE run_id = ? ORDER BY source", (run_id,))
    return [
        SourceRun(source=r["source"], pages=r["pages"], links=r["links"], articles=r["articles"],
                  profile_ok=r["profile_ok"], failed=r["failed"], blocked=r["blocked"],
                  problems=tuple(json.loads(r["problems"])))
        for r in rows
    ]


def table_counts(conn: sqlite3.Connection) -> dict[str, Any]:
    one = conn.execute(
        "SELECT (SELECT count(*) FROM articles) AS articles,"
        " (SELECT count(*) FROM versions) AS versions,"
        " (SELECT count(*) FROM versions WHERE kind = 'changed') AS changes,"
        " (SELECT count(*) FROM pending) AS pending,"
        " (SELECT count(*) FROM snapshots) AS snapshots,"
        " (SELECT count(*) FROM runs) AS runs").fetchone()
    return {key: one[key] for key in one.keys()}  # noqa: SIM118 - sqlite3.Row is not a dict
