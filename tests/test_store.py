"""The SQLite state: schema and migrations, articles and versions, pending refs, cache,
snapshots, runs and health, and the state-directory lock. A real file in a temporary folder."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import LockTimeout, StoreError
from monitor.models import Article, ArticleRef
from monitor.store import articles as store
from monitor.store import db
from monitor.store import runs as run_store
from monitor.store.articles import Fetched
from monitor.store.runs import RunCounts, SourceRun

NOW = datetime(2025, 12, 8, 3, 5, tzinfo=UTC)


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    return db.connect(tmp_path / db.DB_NAME)


def article(body: tuple[str, ...] = ("Đoạn một.", "Đoạn hai."), title: str = "Tiêu đề",
            extractor: str = "profile") -> Article:
    return Article(url="https://kinhtedothi.vn/a-b-c-d.704067.html", title=title,
                   sapo="Kinhtedothi - Sáng 8/12.", body=body,
                   published_at=datetime(2025, 12, 8, 10, 5, tzinfo=UTC),
                   extractor=extractor)  # type: ignore[arg-type]


def fetched(body: bytes = b"<html>page</html>") -> Fetched:
    return Fetched(url="https://kinhtedothi.vn/a-b-c-d.704067.html", etag='"e1"',
                   last_modified="Mon, 08 Dec 2025 03:05:00 GMT", content_type="text/html",
                   body=body)


def record(conn: sqlite3.Connection, art: Article, *, now: datetime = NOW,
           baseline: bool = False, page: bytes = b"<html>page</html>") -> store.Recorded:
    return store.record_article(conn, ident="704067", url=art.url, source="xdd", article=art,
                                fetched=fetched(page), run_id=None, now=now, baseline=baseline)


# --- schema -------------------------------------------------------------------------------


def test_a_new_database_uses_wal_foreign_keys_and_the_latest_schema(
        conn: sqlite3.Connection) -> None:
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS)


def test_migrations_run_once_and_in_order(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / db.DB_NAME
    db.connect(path).close()
    extra = "CREATE TABLE later_feature (id INTEGER PRIMARY KEY);"
    monkeypatch.setattr(db, "MIGRATIONS", [*db.MIGRATIONS, extra])
    conn = db.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS)
    conn.execute("SELECT * FROM later_feature")
    conn.close()
    db.connect(path).close()  # nothing left to apply: no "table already exists"


def test_a_failing_migration_leaves_the_database_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / db.DB_NAME
    db.connect(path).close()
    monkeypatch.setattr(db, "MIGRATIONS", [*db.MIGRATIONS, "CREATE TABLE t (x); BROKEN SQL;"])
    with pytest.raises(StoreError):
        db.connect(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS) - 1
    assert raw.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone()[0] == 0


def test_a_database_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / db.DB_NAME
    db.connect(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(db.MIGRATIONS) + 5}")
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        db.connect(path)


def test_a_dry_run_state_is_rolled_back_and_never_created(tmp_path: Path) -> None:
    with db.dry_state(tmp_path / "state", 1.0) as mem:
        record(mem, article())
    assert not (tmp_path / "state").exists()
    path = db.db_path(tmp_path / "state")
    conn = db.connect(path)
    record(conn, article())
    with db.dry_state(tmp_path / "state", 1.0) as dry:
        record(dry, article(body=("Khác.",)))  # its own transactions nest as savepoints
        assert store.get_article(dry, "704067").body == ("Khác.",)
    assert store.get_article(conn, "704067").body == ("Đoạn một.", "Đoạn hai.")
    assert [v.version for v in store.versions(conn, "704067")] == [1]


def test_a_reader_opens_the_live_file_read_only(tmp_path: Path) -> None:
    path = tmp_path / db.DB_NAME
    assert db.connect_readonly(path).execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    assert not path.exists()
    record(db.connect(path), article())
    reader = db.connect_readonly(path)
    assert store.get_article(reader, "704067") is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("DELETE FROM articles")


# --- articles and versions ----------------------------------------------------------------


def test_an_unseen_article_is_new_with_its_first_version(conn: sqlite3.Connection) -> None:
    rec = record(conn, article())
    assert (rec.kind, rec.version) == ("new", 1)
    stored = store.get_article(conn, "704067")
    assert stored is not None and stored.body == ("Đoạn một.", "Đoạn hai.")
    assert stored.published_at == datetime(2025, 12, 8, 10, 5, tzinfo=UTC)
    assert [v.kind for v in store.versions(conn, "704067")] == ["new"]


def test_the_same_content_again_is_unchanged_and_adds_no_version(
        conn: sqlite3.Connection) -> None:
    record(conn, article())
    rec = record(conn, article(), now=NOW + timedelta(hours=1))
    assert rec.kind == "unchanged"
    assert len(store.versions(conn, "704067")) == 1
    stored = store.get_article(conn, "704067")
    assert stored is not None and stored.last_checked == NOW + timedelta(hours=1)


def test_an_edit_is_a_change_and_both_versions_are_kept(conn: sqlite3.Connection) -> None:
    record(conn, article())
    rec = record(conn, article(body=("Đoạn một.", "Đoạn hai đã sửa.")))
    assert (rec.kind, rec.version, rec.changed_fields) == ("changed", 2, ("body",))
    old, new = store.versions(conn, "704067")
    assert old.body == ("Đoạn một.", "Đoạn hai.")
    assert new.body == ("Đoạn một.", "Đoạn hai đã sửa.") and new.changed_fields == ("body",)


def test_markup_only_changes_are_not_edits(conn: sqlite3.Connection) -> None:
    record(conn, article(), page=b"<html>v1</html>")
    assert record(conn, article(), page=b"<html><div>v2</div></html>").kind == "unchanged"


def test_a_baseline_article_is_recorded_as_seen_not_new(conn: sqlite3.Connection) -> None:
    assert record(conn, article(), baseline=True).kind == "baseline"
    stored = store.get_article(conn, "704067")
    assert stored is not None and stored.baseline


# --- pending refs -------------------------------------------------------------------------


def ref(ident: str = "704067") -> ArticleRef:
    return ArticleRef(url=f"https://kinhtedothi.vn/a-b-c-d.{ident}.html", article_id=ident,
                      source="xdd", title="T")


def test_listed_refs_wait_in_pending_until_stored(conn: sqlite3.Connection) -> None:
    assert store.add_pending(conn, [ref(), ref("704068")], now=NOW, baseline=False) == 2
    assert store.is_known(conn, "704068")
    record(conn, article())
    assert [p.ident for p in store.due_pending(conn, now=NOW)] == ["704068"]


def test_a_stored_article_is_not_made_pending_again(conn: sqlite3.Connection) -> None:
    record(conn, article())
    assert store.add_pending(conn, [ref()], now=NOW, baseline=False) == 0


def test_a_failed_ref_waits_for_its_next_attempt(conn: sqlite3.Connection) -> None:
    store.add_pending(conn, [ref()], now=NOW, baseline=False)
    store.pending_failed(conn, "704067", error="refused: robots",
                         retry_at=NOW + timedelta(hours=24))
    assert store.due_pending(conn, now=NOW + timedelta(hours=1)) == []
    [due] = store.due_pending(conn, now=NOW + timedelta(hours=25))
    assert due.attempts == 1 and due.last_error == "refused: robots"


# --- cache, robots, snapshots -------------------------------------------------------------


def test_the_fetch_cache_keeps_validators_and_a_page_summary(conn: sqlite3.Connection) -> None:
    store.put_cache(conn, "https://x/p", etag='"a"', last_modified=None, status=200, now=NOW,
                    summary={"refs": [], "next": ["https://x/p2"]})
    entry = store.get_cache(conn, "https://x/p")
    assert entry is not None and entry.etag == '"a"' and entry.summary["next"] == ["https://x/p2"]


def test_robots_txt_is_trusted_for_a_day(conn: sqlite3.Connection) -> None:
    store.save_robots(conn, "https://kinhtedothi.vn", "User-agent: *\n", now=NOW)
    fresh = store.load_robots(conn, "https://kinhtedothi.vn", fresh_after=NOW - timedelta(1))
    stale = store.load_robots(conn, "https://kinhtedothi.vn", fresh_after=NOW + timedelta(1))
    assert fresh == "User-agent: *\n" and stale is None


def test_raw_pages_are_kept_compressed_once_per_content_then_purged(
        conn: sqlite3.Connection) -> None:
    page = b"<html>" + "Nội dung ".encode() * 500 + b"</html>"
    record(conn, article(), page=page)
    record(conn, article(), page=page, now=NOW + timedelta(hours=1))
    assert conn.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 1
    assert store.snapshot_html(conn, "704067") == page
    stored = conn.execute("SELECT length(html) FROM snapshots").fetchone()[0]
    assert stored < len(page) / 5
    assert store.purge_snapshots(conn, before=NOW + timedelta(days=8)) == 1
    assert store.snapshot_html(conn, "704067") is None
    assert store.get_article(conn, "704067") is not None


# --- runs and health ----------------------------------------------------------------------


def test_a_run_left_running_by_a_dead_process_becomes_aborted(conn: sqlite3.Connection) -> None:
    first = run_store.start_run(conn, now=NOW, baseline=False)
    second = run_store.start_run(conn, now=NOW, baseline=False)
    run_store.finish_run(conn, second, now=NOW, outcome="ok", counts=RunCounts(new=2),
                         errors=[])
    assert run_store.get_run(conn, first).outcome == "aborted"  # type: ignore[union-attr]
    assert run_store.get_run(conn, second).counts.new == 2  # type: ignore[union-attr]


def test_consecutive_failures_count_up_and_reset_on_a_healthy_run(
        conn: sqlite3.Connection) -> None:
    bad = SourceRun("xdd", links=0, problems=("no article links found",))
    for _ in range(3):
        run_id = run_store.start_run(conn, now=NOW, baseline=False)
        run_store.record_source_run(conn, run_id, bad, now=NOW)
    [health] = run_store.source_health(conn)
    assert health.consecutive_failures == 3 and health.last_ok_at is None
    run_id = run_store.start_run(conn, now=NOW, baseline=False)
    run_store.record_source_run(conn, run_id, SourceRun("xdd", links=14, articles=2,
                                                        profile_ok=2), now=NOW)
    [health] = run_store.source_health(conn)
    assert health.consecutive_failures == 0 and health.last_ok_at == NOW


# --- the lock -----------------------------------------------------------------------------


def test_a_second_holder_of_the_state_directory_times_out(tmp_path: Path) -> None:
    with db.state_lock(tmp_path, 1.0):
        started = time.monotonic()
        with pytest.raises(LockTimeout, match=r"another run \(pid \d+\)"), \
                db.state_lock(tmp_path, 0.3):
            pass
        assert 0.3 <= time.monotonic() - started < 2
    with db.state_lock(tmp_path, 0.1):
        pass  # released


def test_the_lock_of_a_killed_process_is_released(tmp_path: Path) -> None:
    code = ("import sys, time; from pathlib import Path; from monitor.store.db import state_lock\n"
            "with state_lock(Path(sys.argv[1]), 1):\n print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(LockTimeout), db.state_lock(tmp_path, 0.2):
            pass
        proc.kill()
        proc.wait()
        with db.state_lock(tmp_path, 2.0):
            pass
    finally:
        proc.kill()
        proc.wait()


def test_processes_opening_a_fresh_state_at_once_all_get_it(
        tmp_path: Path) -> None:
    # The service and `monitor status` (or a test polling the state) may both find it new.
    import threading

    errors: list[Exception] = []
    for attempt in range(20):
        path = tmp_path / f"fresh-{attempt}.sqlite3"
        start = threading.Barrier(8)

        def open_it(path: Path = path, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                db.connect(path).close()
            except Exception as exc:  # collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def test_checking_a_file_keeps_the_locks_this_process_holds_on_it(tmp_path: Path) -> None:
    # Closing any descriptor of a file drops every POSIX lock the process holds on it. An open
    # connection holds a shared lock on the file (WAL mode); without it, another process takes
    # itself for the last user, checkpoints and resets the WAL under this one's feet.
    path = tmp_path / "monitor.sqlite3"
    holder = db.connect(path)
    try:
        holder.execute("SELECT count(*) FROM articles").fetchone()
        db.check_structure(path)
        # SQLite's shared-lock bytes (sqlite3 os_unix.c: PENDING_BYTE + 2, 510 bytes).
        probe = ("import fcntl, os, sys\n"
                 f"fd = os.open({str(path)!r}, os.O_RDWR)\n"
                 "try:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 510, 0x40000002)\n"
                 "except OSError:\n    sys.exit(3)\nsys.exit(0)\n")
        other = subprocess.run([sys.executable, "-c", probe], timeout=60, check=False)
        assert other.returncode == 3, "the check dropped this process's lock on the file"
    finally:
        holder.close()
