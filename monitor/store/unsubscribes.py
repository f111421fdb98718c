"""Subscribers who unsubscribed (table of migration 3): the ledger sends them nothing more.

Written by the one-click unsubscribe endpoint (``monitor.unsubscribe``), read by every delivery
and by ``monitor status``, and cleared by the operator's ``monitor resubscribe``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from monitor.store.articles import iso
from monitor.store.db import transaction

Via = Literal["one-click", "page"]


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    email: str
    at: datetime
    via: str


def record(conn: sqlite3.Connection, email: str, *, now: datetime, via: Via) -> bool:
    """Unsubscribe ``email``; False when it already was (the first time is kept)."""
    with transaction(conn):
        cur = conn.execute("INSERT INTO unsubscribes (email, unsubscribed_at, via)"
                           " VALUES (?, ?, ?) ON CONFLICT (email) DO NOTHING",
                           (email.lower(), iso(now), via))
    return cur.rowcount > 0


def remove(conn: sqlite3.Connection, email: str) -> Unsubscribed | None:
    """Re-subscribe ``email``: what was recorded, or None if it was not unsubscribed."""
    with transaction(conn):
        found = find(conn, email)
        conn.execute("DELETE FROM unsubscribes WHERE email = ?", (email.lower(),))
    return found


def find(conn: sqlite3.Connection, email: str) -> Unsubscribed | None:
    row = conn.execute("SELECT * FROM unsubscribes WHERE email = ?", (email.lower(),)).fetchone()
    return _row(row) if row else None


def all_unsubscribed(conn: sqlite3.Connection) -> dict[str, Unsubscribed]:
    """Lower-case email -> its unsubscription."""
    rows = conn.execute("SELECT * FROM unsubscribes ORDER BY unsubscribed_at")
    return {r["email"]: _row(r) for r in rows}


def _row(row: sqlite3.Row) -> Unsubscribed:
    return Unsubscribed(row["email"], datetime.fromisoformat(row["unsubscribed_at"]), row["via"])
