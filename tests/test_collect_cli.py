"""`monitor collect` and `monitor status` from the command line: exit codes, messages, the
state lock, a bad config, and a run killed with SIGKILL in the middle."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import config_toml, make_config
from support.sitesrv import FixtureSite, SiteServer

from monitor.cli import main
from monitor.store import db

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def monitor(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


# --- bad config ---------------------------------------------------------------------------


BAD_CONFIGS = {
    "unknown key": ("[fetch]\nmin_delay = 2\n", "[fetch] min_delay: unknown key; accepted:"),
    "wrong type": ("[fetch]\nmin_delay_seconds = 'fast'\n",
                   "[fetch] min_delay_seconds: expected a number, got 'fast'"),
    "source without url": ("[[sources]]\nname = 'x'\nkind = 'listing'\n",
                           "url: missing; it is required"),
    "url outside allowed_hosts": (
        "[[sources]]\nname = 'x'\nkind = 'listing'\nurl = 'https://evil.example/x'\n",
        "host 'evil.example' is not in [site] allowed_hosts"),
    "unknown kind": ("[[sources]]\nname = 'x'\nkind = 'rss'\nurl = 'https://kinhtedothi.vn/x'\n",
                     "kind: expected one of 'listing', 'sitemap', 'feed', got 'rss'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_bad_config_exits_2_with_one_line_naming_the_key(tmp_path: Path, case: str) -> None:
    text, message = BAD_CONFIGS[case]
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = cli("--config", str(path), "collect")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "state").exists()


def test_a_bad_config_in_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[fetch]\nmin_delay = 2\n", encoding="utf-8")
    proc = monitor("--config", str(path), "collect")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "unknown key" in proc.stderr


# --- collect and status -------------------------------------------------------------------


def test_collect_prints_the_summary_and_exits_0(tmp_path: Path, server: SiteServer) -> None:
    make_config(tmp_path, server.base)
    code, out, err = cli("--config", str(tmp_path / "config.toml"), "collect")
    assert code == 0, err
    assert "collect OK" in out and "new" in out
    new_line = next(line for line in out.splitlines() if line.strip().startswith("new "))
    assert new_line.split()[-1] == "40"


def test_a_dry_run_from_the_command_line_writes_nothing(tmp_path: Path,
                                                        server: SiteServer) -> None:
    make_config(tmp_path, server.base)
    code, out, _ = cli("--config", str(tmp_path / "config.toml"), "collect", "--dry-run")
    assert code == 0 and "dry run, nothing written" in out
    assert not (tmp_path / "state").exists()


def test_status_shows_runs_health_and_counts(tmp_path: Path, server: SiteServer) -> None:
    make_config(tmp_path, server.base)
    config = str(tmp_path / "config.toml")
    code, out, _ = cli("--config", config, "status")
    assert code == 0 and "no state yet" in out
    cli("--config", config, "collect", "--baseline")
    code, out, _ = cli("--config", config, "status")
    assert code == 0 and "(baseline)" in out and "40 articles" in out
    assert "xay-dung-dang: ok" in out
    code, out, _ = cli("--config", config, "status", "--json")
    data = json.loads(out)
    assert data["counts"]["articles"] == 40
    assert data["runs"][0]["outcome"] == "ok"
    assert data["sources"][0]["consecutive_failures"] == 0


def test_a_second_collect_waits_then_exits_1_with_a_clear_message(
        tmp_path: Path, server: SiteServer) -> None:
    make_config(tmp_path, server.base, state={"lock_timeout_seconds": 0.5})
    started = time.monotonic()
    with db.state_lock(tmp_path / "state", 1.0):
        code, out, err = cli("--config", str(tmp_path / "config.toml"), "collect")
    assert time.monotonic() - started >= 0.5
    assert code == 1 and out == ""
    assert "another run" in err and "state directory" in err and "0.5 s" in err
    assert len(err.strip().splitlines()) == 1


# --- SIGKILL ------------------------------------------------------------------------------


def _articles_stored(path: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_a_collect_killed_midway_leaves_a_sound_database_and_the_next_run_finishes(
        tmp_path: Path, server: SiteServer, site: FixtureSite) -> None:
    (tmp_path / "config.toml").write_text(
        config_toml(server.base, fetch={"concurrency": 2}), encoding="utf-8")
    site.latency = 0.15  # 40 articles, two at a time: about 3 s of work
    path = tmp_path / "state" / db.DB_NAME
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config",
                             str(tmp_path / "config.toml"), "collect"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while _articles_stored(path) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stored = _articles_stored(path)
    assert 5 <= stored < 40, "the kill must land in the middle of the run"

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()

    site.latency = 0.0
    code, out, err = cli("--config", str(tmp_path / "config.toml"), "collect")
    assert code == 0, out + err
    conn = db.connect(path)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 40
    assert conn.execute("SELECT count(*) FROM pending").fetchone()[0] == 0
    outcomes = [r[0] for r in conn.execute("SELECT outcome FROM runs ORDER BY id")]
    assert outcomes == ["aborted", "ok"]


def test_status_lists_what_is_waiting_to_be_fetched(tmp_path: Path, server: SiteServer,
                                                    site: FixtureSite) -> None:
    from support.sitesrv import Fault

    make_config(tmp_path, server.base)
    site.fault(site.articles[5].path, Fault("status", status=503), times=None)
    config = str(tmp_path / "config.toml")
    code, _, _ = cli("--config", config, "collect")
    assert code == 1
    code, out, _ = cli("--config", config, "status")
    assert "1 waiting to be fetched" in out and "HTTP 503" in out
    assert "1 pages failed" in out
