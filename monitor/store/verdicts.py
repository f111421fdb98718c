"""Stored verdicts: each article version classified once per topic, when it is stored.

Tables of migration 3 (``db.py``). A row of ``verdicts`` holds one topic's score, verdict
(``relevant``, ``possible`` or ``not``) and matched phrases for one row of ``versions``. The
definition each topic was classified with is kept as a fingerprint in ``topic_state``:

- ``record`` classifies a version just stored (the collect hook);
- ``refresh`` brings the stored verdicts in line with the configured topics: a topic whose
  fingerprint changed (or that is new) is re-classified over the whole archive, once, in one
  pass and one transaction, with progress on a terminal; versions stored without a verdict (by
  an older program, or a crash between storing and classifying) are classified from the
  topic's watermark on. When nothing changed it costs two indexed reads.

Readers (deliveries, status, previews) never classify the archive: they read verdicts by
version id (``ledger.candidates``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TextIO

from monitor import relevance_model
from monitor.classify import judge
from monitor.config import TopicConfig
from monitor.models import Match, TopicVerdict, Verdict
from monitor.store.articles import iso, top_version
from monitor.store.db import transaction

log = logging.getLogger(__name__)

VERDICTS: tuple[Verdict, ...] = ("relevant", "possible", "not")
# Part of every fingerprint: raising it re-classifies the archive once after a scoring change.
# 2: near rules, context exclusions and the "possible" verdict (issue 12).
# 3: names' lower-case syllables, "TP.HCM" not a sentence end, any dash a hyphen, `numbered`.
CLASSIFIER_VERSION = 3
BATCH = 500
# From this many versions a re-classification uses every core (worker processes cost about half
# a second to start, and classifying is most of the work); below it, this process alone.
PARALLEL_FROM = 5000

Progress = Callable[[int, int], None]


def fingerprint(topic: TopicConfig) -> str:
    """What the verdicts of ``topic`` depend on: every setting but its label (display only).

    Taken from the whole record, so a setting added to topics later is covered without a change
    here; a reordering of phrases in the file re-classifies once, which is harmless.
    """
    data = f"{CLASSIFIER_VERSION}\n{replace(topic, label='')!r}"
    if topic.model_weight:  # a retrained model re-classifies once too
        data += f"\n{relevance_model.bundled().version}"
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _matched_json(matched: Sequence[Match]) -> str:
    return json.dumps([[m.phrase, m.where, m.count, m.weight, m.points, m.kind, list(m.terms)]
                       for m in matched], ensure_ascii=False)


def decode(topic: str, score: float, verdict: str, matched: str) -> TopicVerdict:
    rows = json.loads(matched)
    # Rows written before near rules have five fields: phrase matches without their words.
    return TopicVerdict(topic, score, verdict,  # type: ignore[arg-type]
                        tuple(Match(topic, r[0], r[1], r[2], r[3], r[4],
                                    kind=r[5] if len(r) > 5 else "phrase",
                                    terms=tuple(r[6]) if len(r) > 6 else ()) for r in rows))


# A row of ``verdicts``: version id, topic, score, verdict, matched (JSON)
Stored = tuple[int, str, float, str, str]


def _stored(version_id: int, verdicts: Iterable[TopicVerdict]) -> list[Stored]:
    return [(version_id, v.topic, v.score, v.verdict, _matched_json(v.matched)) for v in verdicts]


def _write(conn: sqlite3.Connection, rows: Iterable[Stored]) -> None:
    conn.executemany(
        "INSERT INTO verdicts (version_id, topic, score, verdict, matched) VALUES (?,?,?,?,?)"
        " ON CONFLICT (version_id, topic) DO UPDATE SET score = excluded.score,"
        " verdict = excluded.verdict, matched = excluded.matched", rows)


def version_id(conn: sqlite3.Connection, article_id: int, version: int) -> int | None:
    row = conn.execute("SELECT id FROM versions WHERE article_id = ? AND version = ?",
                       (article_id, version)).fetchone()
    return int(row[0]) if row else None


def record(conn: sqlite3.Connection, article_id: int, version: int, title: str, sapo: str,
           body: Sequence[str], topics: Sequence[TopicConfig]) -> None:
    """Classify one stored version against the topics whose stored fingerprint is current.

    A topic not yet refreshed is left to ``refresh``, which classifies the whole archive for it.
    """
    vid = version_id(conn, article_id, version)
    old = stale(conn, topics)
    current = [t for t in topics if t.name not in old]
    if vid is None or not current:
        return
    with transaction(conn):
        _write(conn, _stored(vid, judge(title, sapo, body, current)[0]))


def stale(conn: sqlite3.Connection, topics: Sequence[TopicConfig]) -> set[str]:
    """Topics whose stored verdicts were computed with another definition, or never."""
    stored = topic_fingerprints(conn)
    return {t.name for t in topics if stored.get(t.name) != fingerprint(t)}


def topic_fingerprints(conn: sqlite3.Connection) -> dict[str, str]:
    """The fingerprint each topic's stored verdicts were computed with."""
    return {r[0]: r[1] for r in conn.execute("SELECT topic, fingerprint FROM topic_state")}


def _watermark(conn: sqlite3.Connection, topics: Sequence[TopicConfig]) -> int | None:
    names = [t.name for t in topics]
    if not names:
        return None
    marks = dict(conn.execute(
        f"SELECT topic, classified_upto FROM topic_state WHERE topic IN ({_marks(names)})",
        names).fetchall())
    return min(int(marks.get(n, 0)) for n in names)


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def _missing(conn: sqlite3.Connection, topics: Sequence[TopicConfig], upto: int) -> list[int]:
    names = [t.name for t in topics]
    rows = conn.execute(
        "SELECT v.id FROM versions v WHERE v.id > ? AND (SELECT count(*) FROM verdicts x"
        f" WHERE x.version_id = v.id AND x.topic IN ({_marks(names)})) < ? ORDER BY v.id",
        (upto, *names, len(names)))
    return [int(r[0]) for r in rows]


@dataclass(frozen=True, slots=True)
class Refreshed:
    reclassified_topics: tuple[str, ...] = ()
    versions: int = 0  # versions classified by this refresh


def refresh(conn: sqlite3.Connection, topics: Sequence[TopicConfig], *, now: datetime,
            progress: Progress | None = None, workers: int | None = None) -> Refreshed:
    """Bring the stored verdicts in line with ``topics``; one transaction. ``workers``: the
    processes that classify (0: this one alone; default: every core for a large archive)."""
    if not topics:
        return Refreshed()
    old = stale(conn, topics)
    changed = [t for t in topics if t.name in old]
    with transaction(conn):
        top = top_version(conn)
        done = 0
        if changed:
            total = int(conn.execute("SELECT count(*) FROM versions").fetchone()[0])
            log.info("topics %s changed: re-classifying %d article versions",
                     ", ".join(t.name for t in changed), total)
            done += _classify(conn, changed, _all_ids(conn, top), total, progress,
                              _workers(total) if workers is None else workers)
            conn.executemany(
                "INSERT INTO topic_state (topic, fingerprint, classified_upto, classified_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (topic) DO UPDATE SET"
                " fingerprint = excluded.fingerprint, classified_upto = excluded.classified_upto,"
                " classified_at = excluded.classified_at",
                [(t.name, fingerprint(t), top, iso(now)) for t in changed])
        upto = _watermark(conn, topics)
        if upto is not None and upto < top:
            missing = [i for i in _missing(conn, topics, upto) if i <= top]
            done += _classify(conn, topics, iter(missing), len(missing), None,
                              _workers(len(missing)) if workers is None else workers)
            names = [t.name for t in topics]
            conn.execute(f"UPDATE topic_state SET classified_upto = ? WHERE topic IN"
                         f" ({_marks(names)})", (top, *names))
    return Refreshed(tuple(t.name for t in changed), done)


def _all_ids(conn: sqlite3.Connection, top: int) -> Iterable[int]:
    last = 0
    while True:
        ids = [int(r[0]) for r in conn.execute(
            "SELECT id FROM versions WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
            (last, top, BATCH))]
        if not ids:
            return
        yield from ids
        last = ids[-1]


Row = tuple[int, str, str, str]  # version id, title, sapo, body (JSON list of paragraphs)


def judge_rows(rows: Sequence[Row], topics: Sequence[TopicConfig]) -> list[Stored]:
    """The verdicts of stored versions, as rows to store (pure; what a worker process runs:
    plain tuples and strings cross between processes cheaply)."""
    return [row for r in rows
            for row in _stored(r[0], judge(r[1], r[2], json.loads(r[3]), topics)[0])]


def _workers(total: int) -> int:
    """Worker processes for a re-classification of ``total`` versions (0: none)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(cores or 1, 8) if total >= PARALLEL_FROM and (cores or 1) > 1 else 0


def _batches(conn: sqlite3.Connection, ids: Iterable[int]) -> Iterator[list[Row]]:
    batch: list[int] = []
    for vid in ids:
        batch.append(vid)
        if len(batch) >= BATCH:
            yield _rows(conn, batch)
            batch = []
    if batch:
        yield _rows(conn, batch)


def _rows(conn: sqlite3.Connection, ids: list[int]) -> list[Row]:
    return [(int(r[0]), r[1], r[2], r[3]) for r in conn.execute(
        f"SELECT id, title, sapo, body FROM versions WHERE id IN ({_marks(ids)})", ids)]


def _classify(conn: sqlite3.Connection, topics: Sequence[TopicConfig], ids: Iterable[int],
              total: int, progress: Progress | None, workers: int) -> int:
    """Classify the versions ``ids`` for ``topics``, in batches (memory stays flat); a large
    archive on every core, the database read and written by this process only."""
    done = 0
    for size, judged in _judged(_batches(conn, ids), topics, workers):
        _write(conn, judged)
        done += size
        if progress is not None:
            progress(done, total)
    return done


def _judged(batches: Iterator[list[Row]], topics: Sequence[TopicConfig],
            workers: int) -> Iterator[tuple[int, list[Stored]]]:
    """Each batch's size and ``judge_rows``, in order: here, or in ``workers`` processes with a
    few batches ahead each. Whatever the workers cannot do (no processes in a sandbox, a worker
    killed, a pool that breaks) this process does: a batch is never lost."""
    pool = None
    if workers:
        try:
            # spawn, not fork: the service has threads (the scheduler's), which fork copies badly
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        except (OSError, ValueError, NotImplementedError) as exc:
            log.warning("re-classifying in one process: %s", exc)
    if pool is None:
        for rows in batches:
            yield len(rows), judge_rows(rows, topics)
        return
    with pool:
        pending: list[tuple[list[Row], Future[list[Stored]] | None]] = []
        for rows in batches:
            future = None
            if pool is not None:
                try:
                    future = pool.submit(judge_rows, rows, topics)
                except (BrokenProcessPool, RuntimeError, OSError) as exc:
                    log.warning("re-classifying in one process from here: %s", exc)
                    pool = None
            pending.append((rows, future))
            while len(pending) > (2 * workers if pool is not None else 0):
                done = pending.pop(0)
                yield len(done[0]), _result(*done, topics)
        for rows, future in pending:
            yield len(rows), _result(rows, future, topics)


def _result(rows: list[Row], future: Future[list[Stored]] | None,
            topics: Sequence[TopicConfig]) -> list[Stored]:
    if future is None:
        return judge_rows(rows, topics)
    try:
        return future.result()
    except Exception as exc:  # a worker killed or a pool broken: this process does its share
        log.warning("a re-classifying worker failed (%s): batch classified here", exc)
        return judge_rows(rows, topics)


def terminal_progress(stream: TextIO | None = None) -> Progress | None:
    """A progress line on ``stream`` (stderr) when it is a terminal; else nothing."""
    out = stream or sys.stderr
    if not out.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        out.write(f"\rre-classifying stored articles: {done:,}/{total:,}{end}")
        out.flush()

    return show


def of_versions(conn: sqlite3.Connection, ids: Sequence[int],
                topics: Sequence[str]) -> dict[int, list[TopicVerdict]]:
    """The stored verdicts of ``topics`` on the versions ``ids`` (by primary key)."""
    found: dict[int, list[TopicVerdict]] = {}
    if not ids or not topics:
        return found
    for start in range(0, len(ids), BATCH):
        part = list(ids[start:start + BATCH])
        rows = conn.execute(
            f"SELECT version_id, topic, score, verdict, matched FROM verdicts WHERE version_id"
            f" IN ({_marks(part)}) AND topic IN ({_marks(topics)})", (*part, *topics))
        for r in rows:
            found.setdefault(int(r[0]), []).append(decode(r[1], r[2], r[3], r[4]))
    return found
