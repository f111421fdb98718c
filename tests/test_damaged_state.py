"""A damaged state: every command that touches it, against a read-only state folder and a
corrupted database file, ends with one line on stderr, a documented exit code, no traceback,
and the database file's bytes unchanged. (`inspect` and `demo` never open the configured state.)
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import config_toml

from monitor.cli import main
from monitor.store import db

SUBSCRIBER = """
[mail]
sender = "Monitor <monitor@example.org>"
outbox_dir = "outbox"

[[topics]]
name = "bo-may"
phrases = { "sắp xếp bộ máy" = 3.0 }

[[subscribers]]
email = "an@example.org"
topics = ["bo-may"]
schedule = "asap"

[[schedules]]
name = "asap"
times = []
"""

COMMANDS = [
    ["collect"], ["collect", "--dry-run"], ["collect", "--baseline"], ["deliver"],
    ["deliver", "--dry-run"], ["run"], ["run", "--dry-run"], ["status"], ["status", "--json"],
    ["preview", "--text"], ["serve"], ["check"], ["state", "check"], ["state", "backup", "{out}"],
]


def _project(root: Path) -> Path:
    # Port 9 (discard) on localhost: nothing may be fetched before the state is known usable.
    text = config_toml("http://127.0.0.1:9", state={"lock_timeout_seconds": 0.5}) + SUBSCRIBER
    (root / "config.toml").write_text(text, encoding="utf-8")
    (root / "outbox").mkdir()
    conn = db.connect(root / "state" / db.DB_NAME)
    with db.transaction(conn):
        conn.execute("CREATE TABLE filler (x TEXT)")
        conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,) for _ in range(200)])
    conn.close()
    return root / "config.toml"


def _run(config: Path, argv: list[str], out_dir: Path) -> tuple[int, str, str]:
    args = [a.replace("{out}", str(out_dir / "backup.sqlite3")) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    code = main(["--config", str(config), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` made read-only for this process: permissions, or for root (whom permissions
    do not stop) a read-only bind mount."""
    if os.geteuid() != 0:
        files = [folder, *folder.iterdir()]
        for f in files:
            f.chmod(0o555 if f.is_dir() else 0o444)
        try:
            yield
        finally:
            for f in files:
                f.chmod(0o755 if f.is_dir() else 0o644)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("running as root without the right to mount: cannot make a read-only folder")
    try:
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)],
                                 capture_output=True)
        if remount.returncode != 0:
            pytest.skip("cannot remount read-only")
        yield
    finally:
        # A busy mount here means the command left a file of the state open.
        unmounted = subprocess.run(["umount", str(folder)], capture_output=True, text=True)
        if unmounted.returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
    assert unmounted.returncode == 0, f"a file in the state stayed open: {unmounted.stderr}"


# (exit code, what stderr says) per command; None: success, nothing on stderr required.
READ_ONLY = {
    "collect": (1, "read-only"), "collect --dry-run": (1, "read-only"),
    "collect --baseline": (1, "read-only"), "deliver": (1, "read-only"),
    "deliver --dry-run": (1, "read-only"), "run": (1, "read-only"),
    "run --dry-run": (1, "read-only"), "status": (0, None), "status --json": (0, None),
    "preview --text": (0, None), "serve": (1, "read-only"), "check": (2, "not writable"),
    "state check": (0, None), "state backup {out}": (0, None),
}


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_command_on_a_read_only_state_dir_fails_cleanly_and_changes_nothing(
    argv: list[str], tmp_path: Path,
) -> None:
    config = _project(tmp_path)
    state = tmp_path / "state"
    before = (state / db.DB_NAME).read_bytes()
    (tmp_path / "elsewhere").mkdir()
    with read_only(state):
        code, _, err = _run(config, argv, tmp_path / "elsewhere")
    expected_code, message = READ_ONLY[" ".join(argv)]
    assert code == expected_code, err
    assert "Traceback" not in err
    if message is not None:
        assert err.startswith("monitor: error: ") and err.count("\n") == 1, err
        assert message in err
    assert (state / db.DB_NAME).read_bytes() == before


def _corrupt(path: Path, kind: str) -> None:
    data = bytearray(path.read_bytes())
    if kind == "garbage":
        data[:] = os.urandom(len(data))
    else:  # the header survives, a page in the middle is overwritten
        page = int.from_bytes(data[16:18], "big") or 65536
        start = page * 3
        data[start:start + page] = b"\xde\xad\xbe\xef" * (page // 4)
    path.write_bytes(bytes(data))


CORRUPTED = {" ".join(argv): (1, "damaged") for argv in COMMANDS}
CORRUPTED["check"] = (0, None)  # the config is fine; `state check` is the state's test


@pytest.mark.parametrize("kind", ["garbage", "damaged-page"])
@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_command_on_a_corrupted_database_stops_and_never_writes_it(
    argv: list[str], kind: str, tmp_path: Path,
) -> None:
    config = _project(tmp_path)
    path = tmp_path / "state" / db.DB_NAME
    _corrupt(path, kind)
    before = path.read_bytes()
    code, _, err = _run(config, argv, tmp_path)
    expected_code, message = CORRUPTED[" ".join(argv)]
    assert code == expected_code, err
    assert "Traceback" not in err
    if message is not None:
        assert err.startswith("monitor: error: ") and err.count("\n") == 1, err
        assert message in err and "monitor collect --baseline" in err
    assert path.read_bytes() == before


def test_a_database_locked_outside_the_monitor_says_locked_not_permissions(
    tmp_path: Path,
) -> None:
    config = _project(tmp_path)
    holder = sqlite3.connect(tmp_path / "state" / db.DB_NAME, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    old = db.BUSY_TIMEOUT_MS
    db.BUSY_TIMEOUT_MS = 100
    try:
        code, _, err = _run(config, ["collect"], tmp_path)
    finally:
        db.BUSY_TIMEOUT_MS = old
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1 and err.count("\n") == 1
    assert "locked by another process (not a monitor run" in err and "permission" not in err


def test_a_state_held_by_another_run_names_its_pid(tmp_path: Path) -> None:
    config = _project(tmp_path)
    script = ("import sys, time; from pathlib import Path; from monitor.store import db\n"
              "with db.state_lock(Path(sys.argv[1]), 1):\n"
              "    print('ready', flush=True); time.sleep(30)\n")
    other = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "state")],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline() == "ready\n"
        code, _, err = _run(config, ["collect"], tmp_path)
    finally:
        other.kill()
        other.wait()
    assert code == 1 and err.count("\n") == 1 and f"(pid {other.pid})" in err


def test_a_full_disk_says_so(tmp_path: Path) -> None:
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorname = "SQLITE_FULL"  # type: ignore[attr-defined]
    mapped = db.store_error(error, tmp_path / db.DB_NAME, doing="during the run")
    assert mapped.reason == "disk-full" and "free some space" in str(mapped)


def test_backup_is_a_checked_copy_that_restores(tmp_path: Path) -> None:
    config = _project(tmp_path)
    code, out, _ = _run(config, ["state", "backup", "{out}"], tmp_path)
    assert code == 0 and "backed up" in out
    copy = sqlite3.connect(tmp_path / "backup.sqlite3")
    assert copy.execute("SELECT count(*) FROM filler").fetchone()[0] == 200
    copy.close()
    code, _, err = _run(config, ["state", "backup", "{out}"], tmp_path)
    assert code == 2 and "never overwrites" in err
    # Restore: the damaged file replaced by the backup, and the state checks out again.
    path = tmp_path / "state" / db.DB_NAME
    _corrupt(path, "damaged-page")
    assert _run(config, ["state", "check"], tmp_path)[0] == 1
    (tmp_path / "backup.sqlite3").replace(path)
    code, out, _ = _run(config, ["state", "check"], tmp_path)
    assert code == 0 and out.startswith("state ok:")


def test_a_refused_sql_write_in_deliver_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    config = _project(tmp_path)
    conn = db.connect(tmp_path / "state" / db.DB_NAME)
    conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON subscribers "
                 "BEGIN SELECT RAISE(ABORT, 'write refused by the database'); END")
    conn.close()
    code, _, err = _run(config, ["deliver"], tmp_path)
    assert code == 1 and err.count("\n") == 1 and err.startswith("monitor: error: ")
    assert "write refused by the database" in err and "Traceback" not in err


def test_an_internal_error_is_one_line_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitor import cli

    config = _project(tmp_path)

    def broken(*args: object) -> int:
        raise RuntimeError("something\nunexpected")

    monkeypatch.setitem(cli.HANDLERS, "status", broken)
    code, _, err = _run(config, ["status"], tmp_path)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("monitor: internal error: RuntimeError: something unexpected")
