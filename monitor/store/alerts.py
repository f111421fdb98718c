"""Operator alert state (migration 3 of ``db.py``), so a restart neither repeats nor forgets.

A row is one spell of a condition: opened when the condition starts, stamped each time its
start mail or a reminder is accepted, resolved when the condition clears, and closed once the
"resolved" mail is accepted. A mail that could not be sent leaves its stamp unset, so the next
evaluation tries again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from monitor.store.articles import from_iso, iso
from monitor.store.db import transaction


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    key: str
    title: str
    details: str
    started_at: datetime
    last_sent_at: datetime | None
    reminders: int
    resolved_at: datetime | None


def _row(r: sqlite3.Row) -> AlertRow:
    return AlertRow(id=r["id"], key=r["key"], title=r["title"], details=r["details"],
                    started_at=datetime.fromisoformat(r["started_at"]),
                    last_sent_at=from_iso(r["last_sent_at"]), reminders=r["reminders"],
                    resolved_at=from_iso(r["resolved_at"]))


def waiting_since(conn: sqlite3.Connection, items: list[tuple[int, str]]) -> dict[int, datetime]:
    """Article id -> when it became something to send: first seen (new), last changed (update)."""
    found: dict[int, datetime] = {}
    for article_id, kind in items:
        row = conn.execute("SELECT first_seen, last_changed FROM articles WHERE id = ?",
                           (article_id,)).fetchone()
        if row is not None:
            found[article_id] = datetime.fromisoformat(
                row["first_seen"] if kind == "new" else row["last_changed"])
    return found


def open_alerts(conn: sqlite3.Connection) -> dict[str, AlertRow]:
    rows = conn.execute("SELECT * FROM alerts WHERE resolved_at IS NULL ORDER BY started_at")
    return {r["key"]: _row(r) for r in rows}


def unsent_resolutions(conn: sqlite3.Connection) -> list[AlertRow]:
    rows = conn.execute("SELECT * FROM alerts WHERE resolved_at IS NOT NULL AND "
                        "resolved_sent = 0 ORDER BY resolved_at")
    return [_row(r) for r in rows]


def start(conn: sqlite3.Connection, key: str, *, title: str, details: str,
          now: datetime) -> AlertRow:
    with transaction(conn):
        cur = conn.execute("INSERT INTO alerts (key, title, details, started_at) "
                           "VALUES (?, ?, ?, ?)", (key, title, details, iso(now)))
    row = conn.execute("SELECT * FROM alerts WHERE id = ?", (cur.lastrowid,)).fetchone()
    return _row(row)


def mark_sent(conn: sqlite3.Connection, alert_id: int, *, now: datetime, reminder: bool) -> None:
    with transaction(conn):
        conn.execute("UPDATE alerts SET last_sent_at = ?, reminders = reminders + ? "
                     "WHERE id = ?", (iso(now), int(reminder), alert_id))


def update_details(conn: sqlite3.Connection, alert_id: int, *, title: str, details: str) -> None:
    with transaction(conn):
        conn.execute("UPDATE alerts SET title = ?, details = ? WHERE id = ?",
                     (title, details, alert_id))


def resolve(conn: sqlite3.Connection, alert_id: int, *, now: datetime) -> None:
    with transaction(conn):
        conn.execute("UPDATE alerts SET resolved_at = ? WHERE id = ?", (iso(now), alert_id))


def mark_resolution_sent(conn: sqlite3.Connection, alert_id: int) -> None:
    with transaction(conn):
        conn.execute("UPDATE alerts SET resolved_sent = 1 WHERE id = ?", (alert_id,))


__all__ = ["AlertRow", "mark_resolution_sent", "mark_sent", "open_alerts", "resolve", "start",
           "unsent_resolutions", "update_details", "waiting_since"]
