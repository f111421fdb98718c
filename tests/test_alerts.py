"""Operator alerts end to end: the fixture site over HTTP, a real SMTP server (aiosmtpd) on
127.0.0.1, a real state file. An alert starts once, reminds at most daily, resolves once, never
goes to a subscriber, and survives a restart (every evaluation opens the state afresh)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import config_toml, state_conn
from support.sitesrv import SECTION, Fault, FixtureSite, SiteServer
from support.smtpsrv import Received, SmtpServer, delivery_toml

from monitor.alerts import run_alerts
from monitor.cli import main
from monitor.collect import run_collect
from monitor.commands.status import status_command
from monitor.config import Config, loads
from monitor.deliver import run_deliver
from monitor.extract.text import format_local

ROOT = Path(__file__).resolve().parents[1]
OPS = "ops@example.org"
READER = "an@example.org"

REDESIGNED = """<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">
<title>Trang mới</title></head><body><div class="wrap"><div class="post-v2">
<span class="kicker">Xây dựng Đảng</span><div class="lede-x">Tóm tắt bài.</div>
<section class="story-body-x">{paras}</section></div></div></body></html>"""


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def site() -> FixtureSite:
    return FixtureSite(articles_count=4, per_page=10)


def alert_config(root: Path, base: str, smtp_port: int, extra: str = "") -> Config:
    text = delivery_toml(smtp_port=smtp_port, base=config_toml(base)) + (
        "\n[serve]\nalert_after_failures = 2\n"
        f'\n[alerts]\nrecipients = ["{OPS}"]\nsender = "Monitor <alerts@example.org>"\n'
        + extra)
    (root / "config.toml").write_text(text, encoding="utf-8")
    return loads(text, root=root, name=str(root / "config.toml"))


def subjects(smtp: SmtpServer) -> list[str]:
    return [str(m.message["Subject"]) for m in smtp.messages]


def to_ops(smtp: SmtpServer) -> list[Received]:
    assert all(m.recipients == [OPS] for m in smtp.messages
               if "monitor" in str(m.message["Subject"])), "an alert went to a subscriber"
    return [m for m in smtp.messages if m.recipients == [OPS]]


def body(message: Received) -> str:
    part = message.message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_failing_source_alerts_once_reminds_daily_and_resolves(
        tmp_path: Path, site: FixtureSite, smtp: SmtpServer) -> None:
    with SiteServer(site) as server:
        config = alert_config(tmp_path, server.base, smtp.port)
        site.fault(SECTION, Fault("status", status=500), times=None)
        run_collect(config)
        run_alerts(config)
        assert smtp.messages == []  # one failing run: not yet
        run_collect(config)
        now = datetime.now(UTC)
        report = run_alerts(config, now=now)
        assert [c.key for c in report.active] == ["source:xay-dung-dang"]
        (alert,) = to_ops(smtp)
        assert subjects(smtp) == ["[monitor ALERT] source xay-dung-dang failed 2 runs in a row"]
        assert "What to do:" in body(alert) and "monitor check --network" in body(alert)

        run_alerts(config, now=now + timedelta(hours=1))  # a restart, an hour later
        run_alerts(config, now=now + timedelta(hours=23))
        assert len(smtp.messages) == 1
        run_alerts(config, now=now + timedelta(hours=24, minutes=1))
        run_alerts(config, now=now + timedelta(hours=25))
        assert len(smtp.messages) == 2
        assert subjects(smtp)[1].startswith("[monitor still failing] source xay-dung-dang")

        site.clear_faults()
        run_collect(config)
        run_alerts(config, now=now + timedelta(hours=26))
        run_alerts(config, now=now + timedelta(hours=27))
    assert len(to_ops(smtp)) == 3
    assert subjects(smtp)[2] == "[monitor resolved] source xay-dung-dang failed 2 runs in a row"


def test_broken_markup_alerts_with_urls_fields_command_and_the_page(
        tmp_path: Path, site: FixtureSite, smtp: SmtpServer) -> None:
    paras = "".join(f"<p>{s} {s}</p>" for s in site.articles[0].body * 3)
    page = REDESIGNED.format(paras=paras).encode()
    for article in site.articles:
        site.fault(article.path, Fault("body", content=page), times=None)
    with SiteServer(site) as server:
        config = alert_config(tmp_path, server.base, smtp.port)
        report = run_collect(config)
        run_alerts(config, report=report)
    (alert,) = to_ops(smtp)
    assert str(alert.message["Subject"]).startswith("[monitor ALERT] the site profile missed on")
    text = body(alert)
    first = server.url(site.articles[0].path)
    assert f"monitor inspect {server.url('')}" in text
    assert "missed: " in text and "body" in text and "confidence" in text
    assert any(server.url(a.path) in text for a in site.articles) and first
    attached = [p for p in alert.message.iter_attachments()]
    assert attached and attached[0].get_filename() == "page.html"
    assert b"post-v2" in attached[0].get_payload(decode=True)


def test_a_stuck_digest_alerts_the_operator_and_never_the_subscriber(
        tmp_path: Path, site: FixtureSite, smtp: SmtpServer) -> None:
    with SiteServer(site) as server:
        config = alert_config(tmp_path, server.base, smtp.port,
                              extra="stuck_after_hours = 6\n")
        for a in site.articles:  # relevant to the subscriber's topic
            a.title = f"Sắp xếp bộ máy: {a.title}"
        run_collect(config)
    smtp.handler.rcpt_replies[READER] = "451 4.2.0 mailbox busy, try later"
    now = datetime.now(UTC)
    assert run_deliver(config, now=now).outcomes[0].status == "failed"
    run_alerts(config, now=now + timedelta(hours=5))
    assert smtp.messages == []
    run_alerts(config, now=now + timedelta(hours=7))
    (alert,) = to_ops(smtp)
    assert str(alert.message["Subject"]) == f"[monitor ALERT] digests to {READER} stuck for 7 h"
    out = io.StringIO()
    assert status_command(config, as_json=False, out=out, now=now + timedelta(hours=7)) == 1
    assert f"ALERT: digests to {READER} stuck" in out.getvalue()

    del smtp.handler.rcpt_replies[READER]
    assert run_deliver(config, now=now + timedelta(hours=8)).outcomes[0].status == "resent"
    run_alerts(config, now=now + timedelta(hours=8))
    assert [m.recipients for m in smtp.messages] == [[OPS], [READER], [OPS]]
    assert "[monitor resolved]" in subjects(smtp)[2]
    assert all("monitor" not in s for s, m in zip(subjects(smtp), smtp.messages, strict=True)
               if m.recipients == [READER])


def test_status_exits_0_without_alert_conditions_and_1_with_one(
        tmp_path: Path, site: FixtureSite, smtp: SmtpServer) -> None:
    with SiteServer(site) as server:
        config = alert_config(tmp_path, server.base, smtp.port)
        run_collect(config)
        cfg = str(tmp_path / "config.toml")
        out, err = io.StringIO(), io.StringIO()
        assert main(["--config", cfg, "status"], out=out, err=err) == 0
        assert "No alert conditions." in out.getvalue()
        site.fault(SECTION, Fault("block", status=403), times=None)
        run_collect(config)
        out = io.StringIO()
        assert main(["--config", cfg, "status", "--json"], out=out, err=err) == 1
    data = json.loads(out.getvalue())
    assert data["exit_code"] == 1 and [a["key"] for a in data["alerts"]] == ["blocked"]


def test_check_sends_a_test_alert_when_asked(tmp_path: Path, site: FixtureSite,
                                             smtp: SmtpServer) -> None:
    with SiteServer(site) as server:
        alert_config(tmp_path, server.base, smtp.port)
        out, err = io.StringIO(), io.StringIO()
        code = main(["--config", str(tmp_path / "config.toml"), "check", "--network",
                     "--test-alert"], out=out, err=err)
    assert code == 0, out.getvalue() + err.getvalue()
    (alert,) = to_ops(smtp)
    assert str(alert.message["Subject"]) == "[monitor test] test alert from monitor check"
    assert "test alert: sent" in out.getvalue()


def test_a_missed_slot_alerts_until_the_job_runs_again(tmp_path: Path, site: FixtureSite,
                                                       smtp: SmtpServer) -> None:
    from monitor.store import jobs as job_store

    with SiteServer(site) as server:
        config = alert_config(tmp_path, server.base, smtp.port)
    now = datetime.now(UTC).replace(microsecond=0)
    conn = state_conn(config)
    try:
        job_store.busy(conn, "deliver daily", now, now=now, attempts=15, missed=True,
                       detail="could not start: the state was held by another run")
        run_alerts(config, now=now)
        run_alerts(config, now=now + timedelta(minutes=5))
        assert subjects(smtp) == [f"[monitor ALERT] deliver daily missed its slot of "
                                  f"{format_local(now)}"]
        later = now + timedelta(hours=10)
        job_store.started(conn, "deliver daily", later, now=later, attempt=1)
        job_store.finished(conn, "deliver daily", later, now=later, outcome="ok")
        run_alerts(config, now=later)
    finally:
        conn.close()
    assert len(to_ops(smtp)) == 2 and subjects(smtp)[1].startswith("[monitor resolved]")


def test_monitor_run_from_cron_alerts_too_and_a_restart_repeats_nothing(
        tmp_path: Path, site: FixtureSite, smtp: SmtpServer) -> None:
    with SiteServer(site) as server:
        alert_config(tmp_path, server.base, smtp.port)
        site.fault(SECTION, Fault("status", status=500), times=None)
        outputs = []
        for _ in range(3):  # each run a process of its own: the alert state is in the file
            done = subprocess.run(
                [sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"),
                 "run"], capture_output=True, text=True, timeout=120, cwd=ROOT)
            assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
            outputs.append(done.stdout)
    assert "ALERT" not in outputs[0]
    assert "ALERT: source xay-dung-dang failed 2 runs in a row" in outputs[1]
    assert "ALERT: source xay-dung-dang failed 3 runs in a row" in outputs[2]
    (alert,) = to_ops(smtp)  # the third run is the same spell: no second mail
    assert "source xay-dung-dang" in str(alert.message["Subject"])


def test_a_recipient_rejected_for_good_alerts_the_operator(
        tmp_path: Path, site: FixtureSite, smtp: SmtpServer) -> None:
    with SiteServer(site) as server:
        config = alert_config(tmp_path, server.base, smtp.port)
        for a in site.articles:
            a.title = f"Sắp xếp bộ máy: {a.title}"
        run_collect(config)
    smtp.handler.rcpt_replies[READER] = "550 5.1.1 no such user"
    assert run_deliver(config).outcomes[0].status == "rejected"
    run_alerts(config)
    (alert,) = to_ops(smtp)
    assert str(alert.message["Subject"]) == (
        f"[monitor ALERT] the mail server rejected the digest to {READER}")
    assert "550 5.1.1 no such user" in body(alert) and f"Fix or remove {READER}" in body(alert)
