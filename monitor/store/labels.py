"""Operators' relevance labels: "this stored article is (not) about the topics".

Table of migration 7 (``db.py``), keyed by the article's identity (``extract.urls.article_id``):
a label survives re-fetches, edits of the article and later migrations. Labels never change the
rules by themselves; ``monitor topics test`` shows how the configured topics score on them, so
the operator can edit the config with the evidence in front of them.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from monitor.store.articles import iso
from monitor.store.db import transaction

Label = Literal["relevant", "not"]


@dataclass(frozen=True, slots=True)
class LabelledArticle:
    """A label with the current text of its article (None when the article is no longer
    stored)."""

    ident: str
    url: str
    label: Label
    note: str
    labelled_at: datetime
    title: str | None = None
    sapo: str = ""
    body: tuple[str, ...] = ()


def put(conn: sqlite3.Connection, ident: str, url: str, label: Label, *, note: str,
        now: datetime) -> bool:
    """Record (or replace) the label of one article; True if it replaced another label."""
    with transaction(conn):
        old = conn.execute("SELECT label FROM labels WHERE ident = ?", (ident,)).fetchone()
        conn.execute(
            "INSERT INTO labels (ident, url, label, note, labelled_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (ident) DO UPDATE SET url = excluded.url, label = excluded.label,"
            " note = excluded.note, labelled_at = excluded.labelled_at",
            (ident, url, label, note, iso(now)))
    return old is not None


def all_labels(conn: sqlite3.Connection) -> list[LabelledArticle]:
    """Every label, oldest first, joined to its article's current title, sapo and body."""
    rows = conn.execute(
        "SELECT l.ident, l.url, l.label, l.note, l.labelled_at, a.title, a.sapo, a.body"
        " FROM labels l LEFT JOIN articles a ON a.ident = l.ident"
        " ORDER BY l.labelled_at, l.ident").fetchall()
    return [LabelledArticle(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4]), r[5],
                            r[6] or "", tuple(json.loads(r[7])) if r[7] else ()) for r in rows]
