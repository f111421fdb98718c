"""A run costs what is new, not what is stored: verdicts stored once per version, due items and
status counts read through indexes, topic changes re-classify once, old state carried forward,
retention keeps ids. Real SQLite files, a real SMTP server."""

from __future__ import annotations

import io
import os
import re
import sqlite3
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support import state_conn
from support.smtpsrv import SmtpServer
from test_deliver import T0, all_titles, make_config, store, titles

from monitor import classify
from monitor.collect import run_collect
from monitor.commands.demo import SampleSite, demo_config, serve
from monitor.commands.status import gather
from monitor.config import Config, TopicConfig
from monitor.deliver import pending_counts, run_deliver
from monitor.store import db, ledger, verdicts


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The titles classified against a topic, in order (the cost the archive must not add)."""
    seen: list[str] = []
    real = classify.score_topic

    def counting(topic: TopicConfig, title: str, *args: Any) -> Any:
        seen.append(title)
        return real(topic, title, *args)

    monkeypatch.setattr(classify, "score_topic", counting)
    return seen


def with_phrases(config: Config, phrases: dict[str, float]) -> Config:
    topic = replace(config.topics[0], phrases=phrases)
    return replace(config, topics=(topic,))


# --- classify once ------------------------------------------------------------------------------


def test_collected_versions_are_classified_when_stored_and_never_at_delivery(
        tmp_path: Path, judged: list[str]) -> None:
    with serve(SampleSite()) as base:
        config = demo_config(base, tmp_path, None)
        run_collect(config)
    conn = state_conn(config)
    versions = conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    stored = conn.execute("SELECT count(*) FROM verdicts").fetchone()[0]
    assert versions > 0 and stored == versions * len(config.topics)
    assert len(judged) == versions * len(config.topics)
    judged.clear()
    report = run_deliver(config)
    assert report.outcomes[0].new >= 1
    assert judged == []  # the delivery read the stored verdicts
    judged.clear()
    gather(config)
    assert judged == []


def test_changing_a_topic_reclassifies_once_and_the_next_delivery_uses_the_new_verdicts(
        tmp_path: Path, smtp: SmtpServer, judged: list[str]) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sắp xếp bộ máy: bài một")
    store(config, 2, "Hợp nhất xã: bài hai")
    first = run_deliver(config, now=T0)
    assert [titles(m) for m in smtp.messages] == [["Sắp xếp bộ máy: bài một"]]
    assert sorted(judged) == ["Hợp nhất xã: bài hai", "Sắp xếp bộ máy: bài một"]
    assert first.exit_code == 0
    judged.clear()
    changed = with_phrases(config, {"sắp xếp bộ máy": 3.0, "hợp nhất xã": 3.0})
    second = run_deliver(changed, now=T0 + timedelta(minutes=30))
    assert sorted(judged) == ["Hợp nhất xã: bài hai", "Sắp xếp bộ máy: bài một"]  # once each
    assert second.outcomes[0].status == "sent"
    assert [titles(m) for m in smtp.messages][1] == ["Hợp nhất xã: bài hai"]
    judged.clear()
    third = run_deliver(changed, now=T0 + timedelta(minutes=60))
    assert judged == [] and third.outcomes[0].status == "empty"
    assert all_titles(smtp) == ["Hợp nhất xã: bài hai", "Sắp xếp bộ máy: bài một"]


def test_a_dropped_phrase_stops_new_items_but_resends_nothing(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sáp nhập tỉnh: bài một")
    run_deliver(config, now=T0)
    narrower = with_phrases(config, {"sắp xếp bộ máy": 3.0})
    store(config, 2, "Sáp nhập tỉnh: bài hai", at=T0 + timedelta(minutes=5))
    store(config, 3, "Sắp xếp bộ máy: bài ba", at=T0 + timedelta(minutes=5))
    run_deliver(narrower, now=T0 + timedelta(minutes=30))
    run_deliver(narrower, now=T0 + timedelta(minutes=60))
    assert [titles(m) for m in smtp.messages] == [["Sáp nhập tỉnh: bài một"],
                                                  ["Sắp xếp bộ máy: bài ba"]]


def test_the_reclassification_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert verdicts.terminal_progress(io.StringIO()) is None
    screen = Tty()
    config = make_config(tmp_path)
    for n in range(3):
        store(config, n, f"Sắp xếp bộ máy: bài {n}")
    conn = state_conn(config)
    verdicts.refresh(conn, config.topics, now=T0, progress=verdicts.terminal_progress(screen))
    assert screen.getvalue().endswith("re-classifying stored articles: 3/3\n")


def _stored_verdicts(config: Config) -> list[tuple[Any, ...]]:
    conn = state_conn(config)
    try:
        return conn.execute("SELECT version_id, topic, score, verdict, matched FROM verdicts"
                            " ORDER BY version_id, topic").fetchall()
    finally:
        conn.close()


def _reclassified(root: Path, workers: int) -> list[tuple[Any, ...]]:
    """The verdicts stored by re-classifying 12 articles after a topic change."""
    titles = ["Sắp xếp bộ máy: bài {}", "Giá vàng {}", "Sáp nhập 3 huyện và 12 xã: bài {}",
              "Xã {} ra mắt sản phẩm OCOP", "Giảm 4 sở, 2 ban: bài {}"]
    config = make_config(root)
    for i in range(12):
        store(config, i, titles[i % len(titles)].format(i),
              body=(f"Đoạn {i}: sáp nhập tỉnh, tinh gọn bộ máy.", "Sau sắp xếp, còn 40 xã."))
    conn = state_conn(config)
    try:
        done = verdicts.refresh(conn, with_phrases(config, {"sáp nhập": 3.0}).topics, now=T0,
                                workers=workers)
    finally:
        conn.close()
    assert done.versions == 12
    found = _stored_verdicts(config)
    assert len(found) == 12
    return found


def test_a_large_reclassification_on_every_core_stores_what_one_process_would(
        tmp_path: Path) -> None:
    assert _reclassified(tmp_path / "2", 2) == _reclassified(tmp_path / "0", 0)


class _Pool:
    """A stand-in for the worker pool that fails as real ones do: it cannot start, it breaks
    after some batches, or its workers die."""

    def __init__(self, how: str) -> None:
        self.how, self.submitted = how, 0

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        self.submitted += 1
        if self.how == "breaks" and self.submitted > 2:
            raise BrokenProcessPool("a worker died")
        future: Future[Any] = Future()
        if self.how == "dies":
            future.set_exception(BrokenProcessPool("a worker died"))
        else:
            future.set_result(fn(*args))
        return future


@pytest.mark.parametrize("how", ["cannot start", "breaks", "dies"])
def test_a_failing_worker_pool_loses_no_verdict(tmp_path: Path, how: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _reclassified(tmp_path / "alone", 0)

    def pool(*args: Any, **kwargs: Any) -> _Pool:
        if how == "cannot start":
            raise OSError("no semaphores here")
        return _Pool(how)

    monkeypatch.setattr(verdicts, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(verdicts, "BATCH", 2)  # six batches: the pool breaks in the middle
    assert _reclassified(tmp_path / "pool", 2) == expected


def test_only_a_large_archive_is_reclassified_in_worker_processes() -> None:
    assert verdicts._workers(verdicts.PARALLEL_FROM - 1) == 0  # starting them costs more
    cores = len(os.sched_getaffinity(0))
    assert verdicts._workers(verdicts.PARALLEL_FROM) == (min(cores, 8) if cores > 1 else 0)


# --- due items by index -------------------------------------------------------------------------


def _plans(conn: sqlite3.Connection, run: Any) -> list[tuple[str, list[str]]]:
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        run()
    finally:
        conn.set_trace_callback(None)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")
             and re.search(r"\b(versions|articles|deliveries|verdicts)\b", s)]
    return [(s, [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + s)]) for s in reads]


def _archive(config: Config, n: int) -> None:
    for i in range(n):
        store(config, i, f"Sắp xếp bộ máy: bài {i}" if i % 3 else f"Giá vàng {i}",
              at=T0 - timedelta(hours=n - i))


def test_the_due_query_and_status_counts_read_through_indexes(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    _archive(config, 30)
    conn = state_conn(config)
    verdicts.refresh(conn, config.topics, now=T0)
    sub = config.subscribers[0]
    plans = _plans(conn, lambda: pending_counts(conn, config, now=T0))
    due = [p for s, p in plans if "FROM versions v" in s]
    assert len(due) == 2, plans  # new items, and edits of delivered ones
    for _, plan in plans:
        # (SQLite before 3.36 writes "SCAN TABLE versions AS v")
        assert not any(re.match(r"SCAN (TABLE (\w+ AS )?)?(a|v|d|x|o|articles|versions|deliveries"
                                r"|verdicts)\b", line)
                       for line in plan), plan
    for plan in due:
        # versions by id range (from the cursor on), alone or within its ``kind`` index
        assert any(re.match(r"SEARCH (TABLE versions AS )?v USING", line)
                   and "rowid>? AND rowid<?" in line
                   for line in plan), plan
        assert any(re.match(r"SEARCH (TABLE articles AS )?a USING INTEGER PRIMARY KEY", line)
                   for line in plan), plan
    assert pending_counts(conn, config, now=T0)[sub.email] == (20, 0)


def test_a_delivery_reads_only_what_was_stored_since_the_last(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    _archive(config, 30)
    run_deliver(config, now=T0)
    conn = state_conn(config)
    chosen = ledger.Selection(config.subscribers[0].email, ("bo-may",), None,
                              fingerprints=(verdicts.fingerprint(config.topics[0]),))
    assert ledger.floor(conn, chosen) == 0  # another selection: from the beginning
    from monitor.deliver import selection

    mine = selection(conn, config, config.subscribers[0], now=T0)
    assert ledger.floor(conn, mine) == ledger.top_version(conn) == 30
    store(config, 99, "Sắp xếp bộ máy: bài mới", at=T0 + timedelta(minutes=5))
    assert [c.title for c in ledger.candidates(conn, mine, after=ledger.floor(conn, mine))] == [
        "Sắp xếp bộ máy: bài mới"]


def test_items_held_back_by_the_limit_come_in_later_digests_each_once(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port, digest="max_items = 2")
    for n in range(5):
        store(config, n, f"Sắp xếp bộ máy: bài {n}", at=T0 - timedelta(hours=5 - n))
    for k in range(4):
        run_deliver(config, now=T0 + timedelta(minutes=10 * k))
    assert [len(titles(m)) for m in smtp.messages] == [2, 2, 1]
    assert all_titles(smtp) == sorted(f"Sắp xếp bộ máy: bài {n}" for n in range(5))


def test_items_of_a_rejected_digest_are_free_again_though_the_cursor_passed_them(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sắp xếp bộ máy: bài một")
    smtp.handler.data_replies.append("451 4.3.0 try again later")
    run_deliver(config, now=T0)  # reserved, cursor advanced past it
    conn = state_conn(config)
    (pending,) = ledger.pending_digests(conn)
    ledger.mark_rejected(conn, pending.id, error="550 given up")
    run_deliver(config, now=T0 + timedelta(minutes=30))
    assert all_titles(smtp) == ["Sắp xếp bộ máy: bài một"]


# --- status, preview and dry runs read the live file ---------------------------------------------


def test_status_reads_the_live_file_and_notes_topics_not_yet_reclassified(
        tmp_path: Path) -> None:
    config = make_config(tmp_path)
    store(config, 1, "Sắp xếp bộ máy: bài một")
    path = db.db_path(config.state_dir)
    before = path.stat().st_mtime_ns, path.stat().st_size
    data = gather(config, now=T0)
    assert data["digests"]["pending_items"]["an@example.org"] == {"new": 1, "updated": 0}
    assert (path.stat().st_mtime_ns, path.stat().st_size) == before
    conn = state_conn(config)
    verdicts.refresh(conn, config.topics, now=T0)
    changed = with_phrases(config, {"hợp nhất xã": 3.0})
    assert gather(changed, now=T0)["digests"]["stale_topics"] == ["bo-may"]
    assert gather(config, now=T0)["digests"]["stale_topics"] == []


# --- migrations ---------------------------------------------------------------------------------


def test_a_database_of_the_previous_schema_is_carried_forward(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    path = db.db_path(config.state_dir)
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("PRAGMA journal_mode = WAL")
    for number, script in enumerate(db.MIGRATIONS[:3], start=1):  # schema 3, as shipped
        old.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    old.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    from monitor.models import Article
    from monitor.store.articles import Fetched, record_article

    for n, title in ((1, "Sắp xếp bộ máy: đã gửi"), (2, "Sáp nhập tỉnh: chưa gửi")):
        art = Article(url=f"https://kinhtedothi.vn/b.{n}.html", title=title, sapo="s",
                      body=("đoạn",), published_at=T0 - timedelta(hours=2))
        record_article(conn, ident=str(n), url=art.url, source="t", article=art,
                       fetched=Fetched(art.url, None, None, "text/html", b"x"), run_id=None,
                       now=T0 - timedelta(hours=2), baseline=False)
    conn.execute("INSERT INTO subscribers (email, added_at) VALUES ('an@example.org', ?)",
                 ("2020-01-01T00:00:00+00:00",))
    digest = ledger.reserve(conn, email="an@example.org", message_id="<m@x>", subject="s",
                            created_at=T0 - timedelta(hours=1), message=b"m",
                            items=[(1, "new", 1)])
    conn.execute("UPDATE digests SET status = 'sent' WHERE id = ?", (digest,))
    conn.execute("INSERT INTO deliveries VALUES ('an@example.org', 1, 1, ?, ?)",
                 (digest, "2025-12-08T00:00:00+00:00"))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    conn.close()

    report = run_deliver(config, now=T0)
    assert report.outcomes[0].status == "sent"
    assert all_titles(smtp) == ["Sáp nhập tỉnh: chưa gửi"]
    conn = state_conn(config)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 2


# --- retention ------------------------------------------------------------------------------------


def test_retention_purges_old_text_and_versions_but_keeps_ids(tmp_path: Path,
                                                               smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sắp xếp bộ máy: cũ", at=T0 - timedelta(days=40),
          body=("Đoạn dài của bài cũ.",))
    store(config, 2, "Sắp xếp bộ máy: mới", at=T0 - timedelta(days=1))
    conn = state_conn(config)
    from monitor.store import articles as store_articles

    assert store_articles.purge_old(conn, before=T0 - timedelta(days=30)) == 1
    old = store_articles.get_article(conn, "1")
    assert old is not None and old.body == () and old.title == "Sắp xếp bộ máy: cũ"
    assert store_articles.versions(conn, "1") == []
    assert store_articles.is_known(conn, "1")
    assert [v.version for v in store_articles.versions(conn, "2")] == [1]
    assert store_articles.purge_old(conn, before=T0 - timedelta(days=30)) == 0
    run_deliver(config, now=T0)
    assert all_titles(smtp) == ["Sắp xếp bộ máy: mới"]


def test_a_preview_after_a_topic_change_shows_the_new_verdicts(tmp_path: Path,
                                                               judged: list[str]) -> None:
    from monitor.commands.preview import preview_command

    config = make_config(tmp_path)
    store(config, 1, "Hợp nhất xã: bài một")
    verdicts.refresh(state_conn(config), config.topics, now=T0)
    changed = with_phrases(config, {"hợp nhất xã": 3.0})
    judged.clear()
    out = io.StringIO()
    assert preview_command(changed, subscriber=None, output=None, text=True, out=out, now=T0) == 0
    assert "1 bài mới" in out.getvalue() and "bài một" in out.getvalue()
    assert judged == ["Hợp nhất xã: bài một"]  # re-classified once, and kept
    assert gather(changed, now=T0)["digests"]["stale_topics"] == []


def test_the_recheck_window_is_read_through_its_index(tmp_path: Path) -> None:
    from monitor.store import articles as store_articles

    config = make_config(tmp_path)
    _archive(config, 5)
    conn = state_conn(config)
    plans = _plans(conn, lambda: store_articles.recheck_due(conn, younger_than=T0))
    assert plans and not any(re.match(r"SCAN (TABLE )?articles\b", line)
                             for _, plan in plans for line in plan), plans
    assert any("USING INDEX articles_recheck" in line for _, plan in plans for line in plan)


def test_opening_the_state_reads_the_whole_file_at_most_daily(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import time

    path = tmp_path / db.DB_NAME
    db.connect(path).close()
    whole: list[Path] = []
    real = db.check_integrity

    def counting(p: Path) -> None:
        whole.append(p)
        real(p)

    monkeypatch.setattr(db, "check_integrity", counting)
    for _ in range(3):
        db.connect(path).close()
        db.connect_readonly(path).close()
    assert len(whole) == 1  # the first writer; then the structure only (a few pages)
    day_ago = time.time() - db.FULL_CHECK_EVERY_SECONDS - 60
    os.utime(path.with_name(path.name + ".checked"), (day_ago, day_ago))
    db.connect(path).close()
    assert len(whole) == 2
