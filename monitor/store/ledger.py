"""The delivery ledger: which subscriber received which version of which article, and when.

Tables of migration 2 (``db.py``). The protocol that makes a delivery neither lose nor repeat
an item:

1. ``reserve``: the digest is written ``pending`` with its items and its exact bytes, in one
   transaction, before it is handed to the server. Items of a pending digest are reserved: no
   other digest takes them.
2. The transport sends the bytes.
3. ``mark_sent``: only after the server accepted them, the digest becomes ``sent`` and its items
   become deliveries, in one transaction.

A crash between 2 and 3 leaves the digest pending; the next delivery sends the same bytes again
(same Message-ID), which is the one repeat the design allows. A temporary failure leaves it
pending too (``mark_failed``); a permanent rejection (``mark_rejected``) records the error for
the operator and frees the items for a later digest.

Due items (``candidates``) are read through indexes, never by walking the archive: versions by
id from the subscriber's cursor (``due_cursors``: every version up to its ``floor`` is settled
for them), each joined by primary key to its article, its stored verdicts, the deliveries and
the pending digests. A delivery advances the cursor past what it settled; a different selection
(topics, their fingerprints, start point) or a rejected digest starts it again from zero.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from monitor.classify import relevance_of
from monitor.digest import Candidate, Snapshot
from monitor.models import TopicVerdict, Verdict
from monitor.store import verdicts
from monitor.store.articles import from_iso, iso, top_version
from monitor.store.db import transaction

ItemKey = tuple[int, Literal["new", "update"], int]  # article id, kind, version


@dataclass(frozen=True, slots=True)
class SubscriberState:
    email: str
    added_at: datetime
    last_due_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredDigest:
    id: int
    subscriber: str
    message_id: str
    subject: str
    created_at: datetime
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    sent_via: str | None
    item_count: int
    message: bytes


def register(conn: sqlite3.Connection, emails: Iterable[str], *, now: datetime) -> None:
    """Remember subscribers the first time a delivery sees them (their default start point)."""
    with transaction(conn):
        conn.executemany("INSERT INTO subscribers (email, added_at) VALUES (?, ?)"
                         " ON CONFLICT (email) DO NOTHING",
                         [(e.lower(), iso(now)) for e in emails])


def state(conn: sqlite3.Connection, email: str) -> SubscriberState | None:
    row = conn.execute("SELECT * FROM subscribers WHERE email = ?", (email.lower(),)).fetchone()
    if row is None:
        return None
    return SubscriberState(row["email"], datetime.fromisoformat(row["added_at"]),
                           from_iso(row["last_due_at"]))


def restart(conn: sqlite3.Connection, email: str, *, now: datetime) -> None:
    """Start ``email`` afresh from ``now`` (re-subscribed): nothing from the gap is sent."""
    with transaction(conn):
        conn.execute("INSERT INTO subscribers (email, added_at) VALUES (?, ?)"
                     " ON CONFLICT (email) DO UPDATE SET added_at = excluded.added_at",
                     (email.lower(), iso(now)))


def mark_due(conn: sqlite3.Connection, email: str, *, now: datetime) -> None:
    """This delivery slot is used for ``email`` (even when its digest was empty)."""
    with transaction(conn):
        _mark_due(conn, email, now)


def _mark_due(conn: sqlite3.Connection, email: str, now: datetime) -> None:
    conn.execute("UPDATE subscribers SET last_due_at = ? WHERE email = ?",
                 (iso(now), email.lower()))


_RESERVED = (
    "EXISTS (SELECT 1 FROM digest_items i JOIN digests g ON g.id = i.digest_id"
    " WHERE g.subscriber = :email AND g.status = 'pending' AND i.article_id = a.id)"
)


@dataclass(frozen=True, slots=True)
class Selection:
    """What one subscriber is due: stored verdicts in ``verdicts`` on any of ``topics``."""

    email: str
    topics: tuple[str, ...]
    since: datetime | None
    verdicts: tuple[Verdict, ...] = ("relevant",)
    updates: bool = True
    # The fingerprints the stored verdicts of ``topics`` were computed with: a cursor is only
    # valid for the verdicts it was advanced over.
    fingerprints: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        data = [self.email.lower(), sorted(zip(self.topics, self.fingerprints, strict=False)),
                iso(self.since) if self.since else "", sorted(self.verdicts), self.updates]
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def floor(conn: sqlite3.Connection, selection: Selection) -> int:
    """The versions id up to which everything is settled for this subscriber and selection."""
    row = conn.execute("SELECT selection, floor FROM due_cursors WHERE subscriber = ?",
                       (selection.email.lower(),)).fetchone()
    return int(row[1]) if row and row[0] == selection.key else 0


def advance(conn: sqlite3.Connection, selection: Selection, to: int) -> None:
    """Everything up to the versions id ``to`` is settled (delivered, reserved, or not due)."""
    with transaction(conn):
        conn.execute("INSERT INTO due_cursors (subscriber, selection, floor) VALUES (?, ?, ?)"
                     " ON CONFLICT (subscriber) DO UPDATE SET selection = excluded.selection,"
                     " floor = excluded.floor", (selection.email.lower(), selection.key, to))


def _in(name: str, values: Sequence[str], params: dict[str, object]) -> str:
    keys = []
    for i, value in enumerate(values):
        params[f"{name}{i}"] = value
        keys.append(f":{name}{i}")
    return ",".join(keys) or "NULL"


def candidates(conn: sqlite3.Connection, selection: Selection, *, after: int = 0,
               upto: int | None = None, include_reserved: bool = False) -> list[Candidate]:
    """Articles the subscriber has not received whose current version is due, and delivered
    ones edited since; only versions with an id in (``after``, ``upto``] are read.

    Both read ``versions`` by id range (its primary key) and every other table by an index:
    the cost follows the versions stored since ``after`` (the subscriber's cursor), never the
    archive. New ones must have been both published (when known) and first seen from
    ``since`` on: a first collect that reads old listing pages does not make their articles new
    to anyone. A version without a stored verdict of the topics (not classified yet) is returned
    for ``digest.choose`` to classify. Baseline articles are never candidates; nor are those
    of a digest still pending for them, unless ``include_reserved`` (a preview shows everything
    not yet received).
    """
    params: dict[str, object] = {
        "email": selection.email.lower(), "after": after,
        "upto": top_version(conn) if upto is None else upto,
        "since": iso(selection.since) if selection.since else "",
    }
    topics = _in("t", selection.topics, params)
    wanted = _in("w", selection.verdicts, params)
    reserved = "0" if include_reserved else _RESERVED
    # CROSS JOIN keeps ``versions`` the outer loop, read by id range.
    new_rows = conn.execute(
        "SELECT v.id AS vid, a.* FROM versions v CROSS JOIN articles a"
        " WHERE v.id > :after AND v.id <= :upto AND a.id = v.article_id"
        " AND a.version = v.version AND a.baseline = 0 AND a.first_seen >= :since"
        " AND coalesce(a.published_at, a.first_seen) >= :since"
        " AND (EXISTS (SELECT 1 FROM verdicts x WHERE x.version_id = v.id"
        f" AND x.topic IN ({topics}) AND x.verdict IN ({wanted}))"
        " OR NOT EXISTS (SELECT 1 FROM verdicts x WHERE x.version_id = v.id"
        f" AND x.topic IN ({topics})))"
        " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscriber = :email"
        f" AND d.article_id = a.id) AND NOT {reserved}", params).fetchall()
    edited = []
    if selection.updates:
        edited = conn.execute(
            "SELECT v.id AS vid, a.*, d.version AS d_version, o.title AS d_title,"
            " o.sapo AS d_sapo, o.body AS d_body FROM versions v CROSS JOIN deliveries d"
            " CROSS JOIN articles a LEFT JOIN versions o ON o.article_id = a.id"
            " AND o.version = d.version WHERE v.id > :after AND v.id <= :upto"
            " AND v.kind = 'changed' AND d.subscriber = :email AND d.article_id = v.article_id"
            " AND d.version < v.version AND a.id = v.article_id AND a.version = v.version"
            f" AND NOT {reserved}", params).fetchall()
    judged = verdicts.of_versions(conn, [r["vid"] for r in (*new_rows, *edited)],
                                  selection.topics)
    found = [_candidate(r, judged.get(r["vid"]), selection) for r in new_rows]
    for r in edited:
        delivered = None
        if r["d_title"] is not None:
            delivered = Snapshot(r["d_title"], r["d_sapo"], tuple(json.loads(r["d_body"])))
        found.append(_candidate(r, judged.get(r["vid"]), selection,
                                delivered_version=r["d_version"], delivered=delivered))
    return found


def _candidate(row: sqlite3.Row, judged: list[TopicVerdict] | None,
               selection: Selection, *, delivered_version: int | None = None,
               delivered: Snapshot | None = None) -> Candidate:
    return Candidate(
        article_id=row["id"], url=row["url"], title=row["title"], sapo=row["sapo"],
        body=tuple(json.loads(row["body"])), published_at=from_iso(row["published_at"]),
        first_seen=datetime.fromisoformat(row["first_seen"]), version=row["version"],
        delivered_version=delivered_version, delivered=delivered,
        relevance=relevance_of(judged) if judged else None,
        due=bool(judged) and any(v.verdict in selection.verdicts for v in judged or ()),
        version_id=row["vid"],
    )


def reserve(conn: sqlite3.Connection, *, email: str, message_id: str, subject: str,
            created_at: datetime, message: bytes, items: Sequence[ItemKey]) -> int:
    """Write a digest ``pending``, with its items and bytes, before it is sent; its id."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO digests (subscriber, message_id, subject, created_at, message)"
            " VALUES (?, ?, ?, ?, ?)",
            (email.lower(), message_id, subject, iso(created_at), message))
        digest_id = int(cur.lastrowid or 0)
        conn.executemany(
            "INSERT INTO digest_items (digest_id, article_id, kind, version) VALUES (?,?,?,?)",
            [(digest_id, article_id, kind, version) for article_id, kind, version in items])
        _mark_due(conn, email, created_at)
    return digest_id


def mark_sent(conn: sqlite3.Connection, digest_id: int, *, now: datetime, via: str) -> None:
    """The server accepted the digest: it is sent and its items delivered, in one transaction."""
    with transaction(conn):
        updated = conn.execute(
            "UPDATE digests SET status = 'sent', sent_at = ?, sent_via = ?,"
            " attempts = attempts + 1, last_error = NULL WHERE id = ? AND status = 'pending'",
            (iso(now), via, digest_id)).rowcount
        if not updated:
            return  # already recorded: marking twice must not move anything
        conn.execute(
            "INSERT INTO deliveries (subscriber, article_id, version, digest_id, delivered_at)"
            " SELECT g.subscriber, i.article_id, i.version, g.id, ? FROM digest_items i"
            " JOIN digests g ON g.id = i.digest_id WHERE g.id = ?"
            " ON CONFLICT (subscriber, article_id) DO UPDATE SET"
            " version = max(version, excluded.version), digest_id = excluded.digest_id,"
            " delivered_at = excluded.delivered_at",
            (iso(now), digest_id))


def mark_failed(conn: sqlite3.Connection, digest_id: int, *, error: str) -> None:
    """Not accepted this time: stays pending, to be sent again as is."""
    with transaction(conn):
        conn.execute("UPDATE digests SET attempts = attempts + 1, last_error = ?"
                     " WHERE id = ? AND status = 'pending'", (error, digest_id))


def mark_rejected(conn: sqlite3.Connection, digest_id: int, *, error: str) -> None:
    """Refused for good: recorded for the operator; its items are free for a later digest
    (the subscriber's cursor, which had passed them as reserved, starts again)."""
    with transaction(conn):
        conn.execute("UPDATE digests SET status = 'rejected', attempts = attempts + 1,"
                     " last_error = ? WHERE id = ? AND status = 'pending'", (error, digest_id))
        conn.execute("DELETE FROM due_cursors WHERE subscriber ="
                     " (SELECT subscriber FROM digests WHERE id = ?)", (digest_id,))


_DIGEST_COLUMNS = (
    "g.*, (SELECT count(*) FROM digest_items i WHERE i.digest_id = g.id) AS item_count"
)


def _digest(row: sqlite3.Row) -> StoredDigest:
    return StoredDigest(
        id=row["id"], subscriber=row["subscriber"], message_id=row["message_id"],
        subject=row["subject"], created_at=datetime.fromisoformat(row["created_at"]),
        status=row["status"], attempts=row["attempts"], last_error=row["last_error"],
        sent_at=from_iso(row["sent_at"]), sent_via=row["sent_via"],
        item_count=row["item_count"], message=bytes(row["message"]),
    )


def pending_digests(conn: sqlite3.Connection) -> list[StoredDigest]:
    """Digests not known to be accepted, oldest first: the next delivery sends them again."""
    rows = conn.execute(f"SELECT {_DIGEST_COLUMNS} FROM digests g WHERE g.status = 'pending'"
                        " ORDER BY g.id")
    return [_digest(r) for r in rows]


def digests(conn: sqlite3.Connection, *, status: str | None = None,
            limit: int = 20) -> list[StoredDigest]:
    """The latest digests, newest first (``status`` filters: pending, sent, rejected)."""
    where = "WHERE g.status = ?" if status else ""
    args: tuple[object, ...] = (status, limit) if status else (limit,)
    rows = conn.execute(f"SELECT {_DIGEST_COLUMNS} FROM digests g {where}"
                        " ORDER BY g.id DESC LIMIT ?", args)
    return [_digest(r) for r in rows]


def delivered_ids(conn: sqlite3.Connection, email: str) -> dict[int, int]:
    """Article id -> the version ``email`` last received."""
    rows = conn.execute("SELECT article_id, version FROM deliveries WHERE subscriber = ?",
                        (email.lower(),))
    return {r[0]: r[1] for r in rows}
