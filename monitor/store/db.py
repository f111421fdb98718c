"""The SQLite file of a state directory: opening, migrations, and the one-run-at-a-time lock.

Every connection gets WAL (readers never block the writer, and a killed process leaves a file
that recovers on the next open), foreign keys and a busy timeout. The schema is the list of SQL
scripts in ``monitor/store/schema.py``; ``PRAGMA user_version`` records how many have been
applied, and the missing ones run in order, each in one transaction, when the file is opened.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import LockTimeout, StoreError
from monitor.store.schema import MIGRATIONS as MIGRATIONS  # re-exported: one place to ask

if TYPE_CHECKING:
    from monitor.config import Config

log = logging.getLogger(__name__)

DB_NAME = "monitor.sqlite3"
LOCK_NAME = "monitor.lock"
BUSY_TIMEOUT_MS = 10_000



def db_path(state_dir: Path) -> Path:
    return state_dir / DB_NAME


# --- one way into the state -------------------------------------------------------------------


@contextlib.contextmanager
def open_state(config: Config, *, write: bool,
               dry_run: bool = False) -> Iterator[sqlite3.Connection]:
    """The state of ``config`` for one command: the only way commands open it.

    ``write=True``: the state directory's lock, an integrity check of an existing file (a damaged
    database is never written to), the schema brought up to date; with ``dry_run`` everything
    written is rolled back at the end (``dry_state``). ``write=False``: the live file read-only
    (``connect_readonly``), for status and previews. Either way the connection is closed on
    leaving, and any ``sqlite3.Error`` raised inside becomes a ``StoreError`` whose hint fits.
    """
    state_dir = config.state_dir
    path = db_path(state_dir)
    with contextlib.ExitStack() as stack:
        if write and dry_run:
            conn = stack.enter_context(dry_state(state_dir, config.state.lock_timeout_seconds))
        elif write:
            stack.enter_context(state_lock(state_dir, config.state.lock_timeout_seconds))
            conn = connect(path)
            stack.callback(conn.close)
        else:
            conn = connect_readonly(path)
            stack.callback(conn.close)
        try:
            yield conn
        except sqlite3.Error as exc:
            raise store_error(exc, path, doing="during the run") from exc


# A whole-file check reads every page: seconds for a year's archive. Opening a file checks its
# structure (header, schema, the root page of every table and index: a few pages); writers add
# the whole-file check at most this often, and `monitor state check` runs it on demand.
FULL_CHECK_EVERY_SECONDS = 24 * 3600


def check_opened(path: Path, *, write: bool) -> None:
    """The check made when a command opens the file: its structure always, and for a writer
    the whole-file check when the last one is older than a day (``FULL_CHECK_EVERY_SECONDS``),
    so a run's cost does not grow with the archive. SQLite itself refuses any damaged page a
    run reads; a damaged page nothing reads is found by the next whole-file check."""
    check_structure(path)
    if write and _full_check_due(path):
        check_integrity(path)
        _mark_checked(path)


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".checked")


def _full_check_due(path: Path) -> bool:
    try:
        return time.time() - _marker(path).stat().st_mtime >= FULL_CHECK_EVERY_SECONDS
    except OSError:
        return True


def _mark_checked(path: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only folder: checked again next time
        _marker(path).touch()


def check_structure(path: Path) -> None:
    """A damaged header, schema or root page refuses the file; reads a few pages, not all.

    Every read goes through SQLite, never through a file handle of our own: closing any
    descriptor of the database file drops every POSIX lock this process holds on it, so a raw
    read beside a live connection (the service's web thread, the scheduler's) let other
    connections write under it, and readers saw a malformed image.
    """
    try:
        if path.stat().st_size == 0:
            return  # created, not yet written: SQLite makes it a database
        conn = _connect_ro(path)
        try:
            for query in _root_reads(conn):
                try:
                    conn.execute(query).fetchone()
                except sqlite3.OperationalError as exc:
                    if "no query solution" not in str(exc):
                        raise  # an index the planner cannot scan alone: the daily check reads it
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise store_error(exc, path, doing="while checking it") from exc
    except OSError as exc:
        raise store_error(exc, path, doing="reading it") from exc


def _root_reads(conn: sqlite3.Connection) -> list[str]:
    """One query a table or index that reads its root page (and the path to its first row)."""
    queries = []
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                        "WHERE rootpage > 0 AND type IN ('table', 'index')").fetchall()
    for kind, name, table, sql in rows:
        if kind == "table":
            queries.append(f"SELECT 1 FROM {_quoted(name)} NOT INDEXED LIMIT 1")
            continue
        partial = re.split(r"\bWHERE\b", sql or "", maxsplit=1, flags=re.IGNORECASE)
        where = f" WHERE {partial[1]}" if len(partial) == 2 else ""
        queries.append(f"SELECT 1 FROM {_quoted(table)} INDEXED BY {_quoted(name)}{where} LIMIT 1")
    return queries


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_integrity(path: Path) -> None:
    """``PRAGMA quick_check`` through a read-only connection; StoreError unless the file is ok.

    Read-only on purpose: a connection that can write may replay or checkpoint a journal into a
    damaged file on close.
    """
    try:
        conn = _connect_ro(path)
        try:
            rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)")]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise store_error(exc, path, doing="while checking it") from exc
    if rows != ["ok"]:
        raise store_error(sqlite3.DatabaseError("; ".join(rows)[:200]), path,
                          doing="quick_check", corrupted=True)


def _connect_ro(path: Path) -> sqlite3.Connection:
    """A read-only connection; in a read-only folder, where SQLite cannot create the WAL index,
    the file is read as immutable (nothing can be writing it there)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)
    try:
        _configure(conn)
        conn.execute("PRAGMA user_version").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        if os.access(path.parent, os.W_OK):
            raise
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, isolation_level=None,
                           check_same_thread=False)
    _configure(conn)
    return conn


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")


def _to_wal(conn: sqlite3.Connection) -> None:
    """Switch a file to WAL. SQLite answers "locked" at once, without its busy handler, while
    another connection reads a file still in rollback mode (two processes opening a fresh state):
    wait for the reader here instead."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorname", "").startswith("SQLITE_BUSY")
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def connect(path: Path | str, *, create: bool = True) -> sqlite3.Connection:
    """Open (creating if asked) the state database and bring its schema up to date.

    An existing file is checked first (``check_opened``) and refused, unwritten, if damaged.
    """
    target = str(path)
    if target != ":memory:":
        file = Path(target)
        if file.exists():
            check_opened(file, write=True)
        elif not create:
            raise StoreError(f"no state database at {target}", reason="missing",
                             hint="run `monitor collect --baseline` first")
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise store_error(exc, file, doing="creating its folder") from exc
    try:
        # Autocommit mode: transactions are explicit (see ``transaction``), so a crash between
        # statements never leaves half a unit of work.
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise store_error(exc, Path(target), doing="opening it") from exc
    try:
        _configure(conn)
        # Only takes effect on a new, empty file, and must precede WAL there: lets snapshot
        # purges give space back to the disk.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        if target != ":memory:":
            _to_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise store_error(exc, Path(target), doing="opening it") from exc
    except StoreError:
        conn.close()
        raise
    return conn


def connect_readonly(path: Path) -> sqlite3.Connection:
    """The live database for a reader that never writes (``status``, ``preview``).

    No copy is made: WAL lets it read while a run writes. An empty in-memory database stands in
    when there is no file yet, so a reader never creates the state directory. A file of an older
    schema is first brought forward by ``connect`` (the one write a reader may cause, which any
    run would make), since the queries of this version need its tables. A damaged file is
    refused, as ``connect`` refuses it.
    """
    if not path.exists():
        return connect(":memory:")
    check_opened(path, write=False)
    try:
        conn = _connect_ro(path)
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        raise store_error(exc, path, doing="reading it") from exc
    if version < len(MIGRATIONS):
        conn.close()
        connect(path).close()
        return connect_readonly(path)
    if version > len(MIGRATIONS):
        try:
            migrate(conn)  # says the file is newer than this program
        finally:
            conn.close()
    return conn


@contextlib.contextmanager
def dry_state(state_dir: Path, lock_timeout: float) -> Iterator[sqlite3.Connection]:
    """The state for a dry run: everything it writes is rolled back at the end.

    It holds the state lock like any run (its writes, though temporary, would otherwise make a
    real run wait on the database); without a database it works on an empty one in memory, so
    it never creates the state directory.
    """
    path = db_path(state_dir)
    if not path.exists():
        conn = connect(":memory:")
        try:
            yield conn
        finally:
            conn.close()
        return
    with state_lock(state_dir, lock_timeout):
        conn = connect(path)
        try:
            with rolled_back(conn):
                yield conn
        finally:
            conn.close()


@contextlib.contextmanager
def rolled_back(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Everything done inside happens in one transaction that is rolled back: a dry run.

    The work sees its own writes (``transaction`` nests as savepoints), and the file is left
    as it was, without a copy of the database.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _statements(script: str) -> list[str]:
    """A migration script cut into statements (``executescript`` would commit first)."""
    found, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    return found


# --- errors -----------------------------------------------------------------------------------

RECOVERY = ("nothing was written to it; restore a backup (`monitor state backup` makes them) or "
            "move it aside and start over with `monitor collect --baseline` (README: Backup and "
            "recovery)")


def store_error(exc: sqlite3.Error | OSError, path: Path, *, doing: str,
                corrupted: bool = False) -> StoreError:
    """One ``StoreError`` for any failure of the state, with the hint that fits its cause."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    code = getattr(exc, "errno", None)
    detail = str(exc) or type(exc).__name__
    folder = path.parent
    if corrupted or name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or (
            not name and isinstance(exc, sqlite3.DatabaseError)
            and ("malformed" in detail or "not a database" in detail)):
        return StoreError(f"the state database {path} is damaged ({detail})", reason="corrupted",
                          hint=RECOVERY)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        holder = _read_holder(folder / LOCK_NAME)
        if holder == f" (pid {os.getpid()})":  # we hold the runs' lock: someone else has the file
            holder = " (not a monitor run: an sqlite3 shell or a copy tool?)"
        return StoreError(
            f"the state database {path} is locked by another process{holder} ({detail})",
            reason="locked", hint="wait for it to finish, or stop it, then run again")
    if name == "SQLITE_FULL" or code in (errno.ENOSPC, errno.EDQUOT):
        return StoreError(f"no space left on the disk of {folder} {doing} ({detail})",
                          reason="disk-full",
                          hint="free some space; nothing committed was lost and the next run "
                          "resumes the work")
    unwritable = not os.access(folder if folder.exists() else folder.parent, os.W_OK) or (
        path.exists() and not os.access(path, os.W_OK))
    if (name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH"))
            or code in (errno.EROFS, errno.EACCES, errno.EPERM)
            or (unwritable and (name.startswith(("SQLITE_CANTOPEN", "SQLITE_IOERR"))))):
        return StoreError(f"the state directory {folder} is read-only for this process {doing} "
                          f"({detail})", reason="read-only",
                          hint="fix its permissions or mount, or point [state] dir at a writable "
                          "folder")
    return StoreError(f"the state database {path} failed {doing}: {detail}",
                      hint="check the disk and the [state] dir; `monitor state check` tests the "
                      "file")


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the missing migrations in order; returns the schema version reached."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > len(MIGRATIONS):
        raise StoreError(
            f"the state database has schema version {current}, newer than this program "
            f"knows ({len(MIGRATIONS)})", reason="newer",
            hint="upgrade the monitor, or point [state] dir at another folder",
        )
    for number in range(current + 1, len(MIGRATIONS) + 1):
        # One transaction per migration, its version bump included. The version is read again
        # under the write lock: two processes opening a fresh state at once (the service and
        # `monitor status`) must not both apply it.
        try:
            conn.execute("BEGIN IMMEDIATE")
            if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= number:
                conn.execute("COMMIT")
                continue
            log.info("applying schema migration %d", number)
            for statement in _statements(MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except sqlite3.Error:
            # The database is unchanged; the caller names the file and the cause.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One unit of work: committed whole, or rolled back whole on any exception.

    Inside an outer transaction (a dry run, a bulk load) it is a savepoint of it, so the same
    code runs whether or not its writes are to be kept.
    """
    if conn.in_transaction:
        conn.execute("SAVEPOINT unit")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO unit")
            conn.execute("RELEASE unit")
            raise
        conn.execute("RELEASE unit")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextlib.contextmanager
def state_lock(state_dir: Path, timeout: float, *, poll: float = 0.2) -> Iterator[None]:
    """Hold the state directory for one run; wait up to ``timeout`` seconds for another run.

    An advisory ``flock`` on a file in the directory: the kernel releases it when the holder
    exits, however it exits, so a killed run never leaves a stale lock behind.
    """
    path = state_dir / LOCK_NAME
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except ValueError as exc:  # a NUL in the path: refused at load, kept for safety
        raise StoreError(f"bad state directory {state_dir!r}: {exc}") from exc
    except OSError as exc:
        raise store_error(exc, db_path(state_dir), doing="taking its lock") from exc
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(path)
                    raise LockTimeout(
                        f"another run{holder} is using the state directory {state_dir}; "
                        f"gave up after waiting {timeout:g} s", reason="locked",
                        hint="wait for it to finish, or raise [state] lock_timeout_seconds",
                    ) from None
                time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            raise store_error(exc, db_path(state_dir), doing="taking its lock") from exc
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


# --- backup and check (``monitor state``) ------------------------------------------------------


def backup(path: Path, target: Path) -> int:
    """Copy the database to ``target`` with SQLite's online backup API; returns its size.

    Consistent while a run writes (the API restarts on a change). Written to a partial file then
    renamed, so ``target`` is either absent or a whole, checked copy.
    """
    if not path.exists():
        raise StoreError(f"no state database at {path}", reason="missing",
                         hint="nothing to back up yet; run `monitor collect --baseline` first")
    check_integrity(path)
    partial = target.with_name(f".{target.name}.partial")
    try:
        src = _connect_ro(path)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)
                ok = [str(r[0]) for r in dst.execute("PRAGMA quick_check(1)")] == ["ok"]
            finally:
                dst.close()
        finally:
            src.close()
        if not ok:
            raise StoreError(f"the backup {target} did not check out", hint="try again")
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise store_error(exc, target, doing="writing the backup") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target.stat().st_size


def integrity(path: Path) -> dict[str, int]:
    """The full ``integrity_check`` of the file, then what it holds; StoreError if damaged."""
    if not path.exists():
        raise StoreError(f"no state database at {path}", reason="missing",
                         hint="run `monitor collect --baseline` to start one")
    try:
        conn = _connect_ro(path)
        try:
            rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check(5)")]
            if rows != ["ok"]:
                raise store_error(sqlite3.DatabaseError("; ".join(rows)[:200]), path,
                                  doing="integrity_check", corrupted=True)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master "
                                                  "WHERE type = 'table'")}
            counts = {"schema": int(conn.execute("PRAGMA user_version").fetchone()[0])}
            for table in ("articles", "versions", "runs", "digests"):
                if table in tables:
                    counts[table] = int(conn.execute(
                        f"SELECT count(*) FROM {table}").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise store_error(exc, path, doing="while checking it") from exc
    return counts
