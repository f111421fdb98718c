"""The collect side of the state: articles and versions, pending refs, fetch cache, snapshots,
runs and per-source health (tables of migration 1 in ``db.py``).

Identity is ``ident``: the numeric id of the article URL, else its slug (``extract.urls``). An
article row exists once its page has been fetched and extracted; until then the ref waits in
``pending``, written as soon as a listing names it, so a failed fetch or a killed process never
loses it. ``record_article`` stores one fetched page as one transaction: the article, its version
if new or changed, the HTTP validators, the raw-HTML snapshot and the removal from ``pending``.

Versions are what later steps read: ``kind`` is ``new``, ``changed`` or ``baseline`` (first seen
by ``collect --baseline``: known, never announced), ``run_id`` the run that saw it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from monitor.models import Article, ArticleRef
from monitor.store.db import transaction

ChangeKind = Literal["new", "changed", "unchanged", "baseline"]
CONTENT_FIELDS = ("title", "sapo", "body")


def iso(value: datetime) -> str:
    """The one stored form of a time: UTC, ISO 8601, seconds."""
    return value.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def content_hash(title: str, sapo: str, body: Sequence[str]) -> str:
    """Of the cleaned text only: markup, captions, tags and layout changes are not edits."""
    data = json.dumps([title, sapo, list(body)], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


# --- records --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredArticle:
    id: int
    ident: str
    url: str
    source: str
    title: str
    sapo: str
    body: tuple[str, ...]
    content_hash: str
    published_at: datetime | None
    extractor: str
    version: int
    baseline: bool
    first_seen: datetime
    last_checked: datetime


@dataclass(frozen=True, slots=True)
class Version:
    article_id: int
    version: int
    kind: Literal["new", "changed", "baseline"]
    run_id: int | None
    seen_at: datetime
    title: str
    sapo: str
    body: tuple[str, ...]
    changed_fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Pending:
    ident: str
    url: str
    source: str
    title: str
    published_at: datetime | None
    baseline: bool
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class CacheEntry:
    url: str
    etag: str | None
    last_modified: str | None
    status: int
    fetched_at: datetime
    summary: Any  # decoded JSON, or None


@dataclass(frozen=True, slots=True)
class Fetched:
    """What ``record_article`` needs of the HTTP answer (kept free of ``monitor.fetch``)."""

    url: str
    etag: str | None
    last_modified: str | None
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Recorded:
    article_id: int
    ident: str
    kind: ChangeKind
    version: int
    changed_fields: tuple[str, ...] = ()


def _article(row: sqlite3.Row) -> StoredArticle:
    return StoredArticle(
        id=row["id"], ident=row["ident"], url=row["url"], source=row["source"],
        title=row["title"], sapo=row["sapo"], body=tuple(json.loads(row["body"])),
        content_hash=row["content_hash"], published_at=from_iso(row["published_at"]),
        extractor=row["extractor"], version=row["version"], baseline=bool(row["baseline"]),
        first_seen=datetime.fromisoformat(row["first_seen"]),
        last_checked=datetime.fromisoformat(row["last_checked"]),
    )


# --- articles and versions ----------------------------------------------------------------


def get_article(conn: sqlite3.Connection, ident: str) -> StoredArticle | None:
    row = conn.execute("SELECT * FROM articles WHERE ident = ?", (ident,)).fetchone()
    return _article(row) if row else None


def article_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])


def known_idents(conn: sqlite3.Connection) -> set[str]:
    """Every identity ever listed: stored articles and refs still waiting to be fetched."""
    rows = conn.execute("SELECT ident FROM articles UNION SELECT ident FROM pending")
    return {r[0] for r in rows}


def recheck_due(conn: sqlite3.Connection, *, younger_than: datetime) -> list[StoredArticle]:
    """Articles published (or, without a date, first seen) after ``younger_than``."""
    rows = conn.execute(
        # ``+id``: ordering by the rowid would make SQLite walk the whole table in that order
        # instead of reading the window through the ``articles_recheck`` index.
        "SELECT * FROM articles WHERE coalesce(published_at, first_seen) >= ? ORDER BY +id",
        (iso(younger_than),),
    )
    return [_article(r) for r in rows]


def touch_seen(conn: sqlite3.Connection, idents: Iterable[str], *, now: datetime) -> None:
    with transaction(conn):
        conn.executemany("UPDATE articles SET last_seen = ? WHERE ident = ?",
                         [(iso(now), i) for i in idents])


def record_not_modified(conn: sqlite3.Connection, ident: str, url: str, *,
                        now: datetime) -> None:
    with transaction(conn):
        conn.execute("UPDATE articles SET last_seen = ?1, last_checked = ?1 WHERE ident = ?2",
                     (iso(now), ident))
        _touch_cache(conn, url, now)


def touch_cache(conn: sqlite3.Connection, url: str, *, now: datetime) -> None:
    """A page answered 304: as remembered, and read at ``now``."""
    with transaction(conn):
        _touch_cache(conn, url, now)


def _touch_cache(conn: sqlite3.Connection, url: str, now: datetime) -> None:
    conn.execute("UPDATE fetch_cache SET fetched_at = ? WHERE url = ?", (iso(now), url))


def record_article(
    conn: sqlite3.Connection, *, ident: str, url: str, source: str, article: Article,
    fetched: Fetched, run_id: int | None, now: datetime, baseline: bool,
    published_hint: datetime | None = None,
) -> Recorded:
    """Store one fetched and extracted page: new, changed (a new version) or unchanged."""
    body = list(article.body)
    digest = content_hash(article.title, article.sapo, body)
    published = article.published_at or published_hint
    stamp = iso(now)
    changed: tuple[str, ...] = ()
    with transaction(conn):
        old = get_article(conn, ident)
        if old is None:
            kind: ChangeKind = "baseline" if baseline else "new"
            cur = conn.execute(
                "INSERT INTO articles (ident, url, source, title, sapo, body, captions, author,"
                " tags, content_hash, published_at, extractor, version, baseline, first_seen,"
                " last_seen, last_checked, last_changed)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,1,?,?,?,?,?)",
                (ident, url, source, article.title, article.sapo, _json(body),
                 _json(list(article.captions)), article.author, _json(list(article.tags)),
                 digest, iso(published) if published else None, article.extractor,
                 int(baseline), stamp, stamp, stamp, stamp),
            )
            article_id = int(cur.lastrowid or 0)
            version = 1
            _insert_version(conn, article_id, 1, kind, run_id, stamp, article, digest, ())
        elif old.content_hash != digest:
            kind = "changed"
            article_id, version = old.id, old.version + 1
            new_values = {"title": article.title, "sapo": article.sapo, "body": tuple(body)}
            changed = tuple(f for f in CONTENT_FIELDS if getattr(old, f) != new_values[f])
            conn.execute(
                "UPDATE articles SET url = ?, title = ?, sapo = ?, body = ?, captions = ?,"
                " author = ?, tags = ?, content_hash = ?, published_at = coalesce(?, published_at),"
                " extractor = ?, version = ?, last_seen = ?, last_checked = ?, last_changed = ?"
                " WHERE id = ?",
                (url, article.title, article.sapo, _json(body), _json(list(article.captions)),
                 article.author, _json(list(article.tags)), digest,
                 iso(published) if published else None, article.extractor, version,
                 stamp, stamp, stamp, article_id),
            )
            _insert_version(conn, article_id, version, "changed", run_id, stamp, article, digest,
                            changed)
        else:
            kind, article_id, version = "unchanged", old.id, old.version
            conn.execute(
                "UPDATE articles SET last_seen = ?, last_checked = ?, extractor = ?,"
                " published_at = coalesce(published_at, ?) WHERE id = ?",
                (stamp, stamp, article.extractor, iso(published) if published else None,
                 article_id),
            )
        conn.execute("DELETE FROM pending WHERE ident = ?", (ident,))
        _put_cache(conn, url, etag=fetched.etag, last_modified=fetched.last_modified,
                   status=200, now=now, final_url=fetched.url, summary=None)
        _add_snapshot(conn, article_id, fetched, run_id, stamp)
    return Recorded(article_id, ident, kind, version, changed)


def _insert_version(conn: sqlite3.Connection, article_id: int, version: int, kind: str,
                    run_id: int | None, stamp: str, article: Article, digest: str,
                    changed: tuple[str, ...]) -> None:
    conn.execute(
        "INSERT INTO versions (article_id, version, kind, run_id, seen_at, title, sapo, body,"
        " content_hash, changed_fields) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (article_id, version, kind, run_id, stamp, article.title, article.sapo,
         _json(list(article.body)), digest, _json(list(changed))),
    )


def top_version(conn: sqlite3.Connection) -> int:
    """The highest ``versions`` id (0 without any): where a delivery or a refresh reads up to."""
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM versions").fetchone()[0])


def versions(conn: sqlite3.Connection, ident: str) -> list[Version]:
    rows = conn.execute(
        "SELECT v.* FROM versions v JOIN articles a ON a.id = v.article_id"
        " WHERE a.ident = ? ORDER BY v.version", (ident,))
    return [
        Version(article_id=r["article_id"], version=r["version"], kind=r["kind"],
                run_id=r["run_id"], seen_at=datetime.fromisoformat(r["seen_at"]),
                title=r["title"], sapo=r["sapo"], body=tuple(json.loads(r["body"])),
                changed_fields=tuple(json.loads(r["changed_fields"])))
        for r in rows
    ]


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- pending refs -------------------------------------------------------------------------


def add_pending(conn: sqlite3.Connection, refs: Iterable[ArticleRef], *, now: datetime,
                baseline: bool) -> int:
    """Remember refs not yet stored as articles; returns how many were not known before."""
    before = conn.total_changes
    conn.executemany(
        "INSERT INTO pending (ident, url, source, title, published_at, first_seen, baseline,"
        " next_attempt_at) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS"
        " (SELECT 1 FROM articles WHERE ident = ?) ON CONFLICT (ident) DO NOTHING",
        [(r.article_id, r.url, r.source, r.title,
          iso(r.published_at) if r.published_at else None, iso(now), int(baseline), iso(now),
          r.article_id) for r in refs],
    )
    return conn.total_changes - before


def remember_page(conn: sqlite3.Connection, url: str, *, etag: str | None,
                  last_modified: str | None, final_url: str, summary: object,
                  refs: Iterable[ArticleRef], now: datetime, baseline: bool) -> None:
    """A listing, sitemap or feed page read whole: its refs become pending and its summary is
    cached with its validators, together (a later 304 replays the summary, so the refs it
    stands for must have been saved)."""
    with transaction(conn):
        add_pending(conn, refs, now=now, baseline=baseline)
        _put_cache(conn, url, etag=etag, last_modified=last_modified, status=200, now=now,
                   final_url=final_url, summary=summary)


def is_known(conn: sqlite3.Connection, ident: str) -> bool:
    row = conn.execute("SELECT 1 FROM articles WHERE ident = ?1 UNION ALL"
                       " SELECT 1 FROM pending WHERE ident = ?1 LIMIT 1", (ident,)).fetchone()
    return row is not None


def due_pending(conn: sqlite3.Connection, *, now: datetime) -> list[Pending]:
    rows = conn.execute(
        "SELECT * FROM pending WHERE next_attempt_at <= ? ORDER BY first_seen, rowid",
        (iso(now),))
    return [_pending(r) for r in rows]


def _pending(r: sqlite3.Row) -> Pending:
    return Pending(ident=r["ident"], url=r["url"], source=r["source"], title=r["title"],
                   published_at=from_iso(r["published_at"]), baseline=bool(r["baseline"]),
                   attempts=r["attempts"], last_error=r["last_error"])


def list_pending(conn: sqlite3.Connection, *, limit: int = 100) -> list[Pending]:
    rows = conn.execute("SELECT * FROM pending ORDER BY first_seen, rowid LIMIT ?", (limit,))
    return [_pending(r) for r in rows]


def pending_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM pending").fetchone()[0])


def pending_failed(conn: sqlite3.Connection, ident: str, *, error: str,
                   retry_at: datetime) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE pending SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE ident = ?", (error, iso(retry_at), ident))


# --- fetch cache and robots.txt -----------------------------------------------------------


def get_cache(conn: sqlite3.Connection, url: str) -> CacheEntry | None:
    row = conn.execute("SELECT * FROM fetch_cache WHERE url = ?", (url,)).fetchone()
    if row is None:
        return None
    return CacheEntry(url=row["url"], etag=row["etag"], last_modified=row["last_modified"],
                      status=row["status"], fetched_at=datetime.fromisoformat(row["fetched_at"]),
                      summary=json.loads(row["summary"]) if row["summary"] else None)


def put_cache(conn: sqlite3.Connection, url: str, *, etag: str | None,
              last_modified: str | None, status: int, now: datetime,
              final_url: str | None = None, summary: object = None) -> None:
    with transaction(conn):
        _put_cache(conn, url, etag=etag, last_modified=last_modified, status=status, now=now,
                   final_url=final_url, summary=summary)


def _put_cache(conn: sqlite3.Connection, url: str, *, etag: str | None,
               last_modified: str | None, status: int, now: datetime, final_url: str | None,
               summary: object) -> None:
    conn.execute(
        "INSERT INTO fetch_cache (url, etag, last_modified, status, fetched_at, final_url,"
        " summary) VALUES (?,?,?,?,?,?,?) ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,"
        " last_modified = excluded.last_modified, status = excluded.status,"
        " fetched_at = excluded.fetched_at, final_url = excluded.final_url,"
        " summary = excluded.summary",
        (url, etag, last_modified, status, iso(now), final_url,
         None if summary is None else _json(summary)),
    )


# The status of a cache entry for a page that failed: no validators, no summary.
FAILED_STATUS = 0


def mark_failed(conn: sqlite3.Connection, url: str, *, now: datetime) -> None:
    put_cache(conn, url, etag=None, last_modified=None, status=FAILED_STATUS, now=now)


def _robots_key(origin: str) -> str:
    return f"{origin}/robots.txt"


def load_robots(conn: sqlite3.Connection, origin: str, *, fresh_after: datetime) -> str | None:
    entry = get_cache(conn, _robots_key(origin))
    if entry is None or entry.fetched_at < fresh_after or not isinstance(entry.summary, str):
        return None
    return entry.summary


def save_robots(conn: sqlite3.Connection, origin: str, text: str, *, now: datetime) -> None:
    put_cache(conn, _robots_key(origin), etag=None, last_modified=None, status=200, now=now,
              summary=text)


# --- snapshots ----------------------------------------------------------------------------


def _add_snapshot(conn: sqlite3.Connection, article_id: int, fetched: Fetched,
                  run_id: int | None, stamp: str) -> None:
    raw_hash = hashlib.sha256(fetched.body).hexdigest()
    last = conn.execute(
        "SELECT raw_hash FROM snapshots WHERE article_id = ? ORDER BY id DESC LIMIT 1",
        (article_id,)).fetchone()
    if last is not None and last[0] == raw_hash:
        return  # the same bytes again: one copy is enough to debug with
    conn.execute(
        "INSERT INTO snapshots (article_id, url, fetched_at, run_id, content_type, raw_hash,"
        " html) VALUES (?,?,?,?,?,?,?)",
        (article_id, fetched.url, stamp, run_id, fetched.content_type, raw_hash,
         zlib.compress(fetched.body, 6)),
    )


def snapshot_html(conn: sqlite3.Connection, ident: str) -> bytes | None:
    """The latest raw page kept for an article, decompressed."""
    row = conn.execute(
        "SELECT s.html FROM snapshots s JOIN articles a ON a.id = s.article_id"
        " WHERE a.ident = ? ORDER BY s.id DESC LIMIT 1", (ident,)).fetchone()
    return zlib.decompress(row[0]) if row else None


def purge_snapshots(conn: sqlite3.Connection, *, before: datetime) -> int:
    with transaction(conn):
        count = conn.execute("DELETE FROM snapshots WHERE fetched_at < ?", (iso(before),)).rowcount
    if count:
        conn.execute("PRAGMA incremental_vacuum")
    return int(count)


# --- retention ([state] keep_days) ----------------------------------------------------------


def purge_old(conn: sqlite3.Connection, *, before: datetime) -> int:
    """Drop the text of what is older than ``before``; returns how many versions went.

    Versions seen before then go (with their verdicts); an article whose current version is
    among them keeps its row, id, URL, title and content hash, so it is never announced again
    as new and an unchanged page stays unchanged, but loses its sapo, body and captions. Read
    through the ``versions_seen`` index: what was purged is gone, so each run reads only what
    aged since the last.
    """
    cut = iso(before)
    with transaction(conn):
        conn.execute(
            "UPDATE articles SET sapo = '', body = '[]', captions = '[]', tags = '[]'"
            " WHERE id IN (SELECT v.article_id FROM versions v JOIN articles a"
            " ON a.id = v.article_id AND a.version = v.version WHERE v.seen_at < ?)", (cut,))
        gone = conn.execute("DELETE FROM versions WHERE seen_at < ?", (cut,)).rowcount
    if gone:
        conn.execute("PRAGMA incremental_vacuum")
    return int(gone)
