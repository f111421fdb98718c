"""Delivery: the ledger never loses or repeats an item (real SQLite file, real SMTP server)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import state_conn
from support.smtpsrv import Received, SmtpServer, delivery_toml, free_port

from monitor.config import Config, loads
from monitor.deliver import DeliverReport, is_due, next_due, pending_counts, run_deliver
from monitor.extract.text import VN_TZ
from monitor.mail import SmtpTransport
from monitor.models import Article
from monitor.store import ledger
from monitor.store.articles import Fetched, record_article

T0 = datetime(2025, 12, 8, 7, 5, tzinfo=VN_TZ)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def make_config(root: Path, port: int | None = None, **kw: Any) -> Config:
    return loads(delivery_toml(smtp_port=port, **kw), root=root, name="config.toml")


def store(config: Config, n: int, title: str, *, at: datetime = T0 - timedelta(hours=1),
          body: tuple[str, ...] = ("Một đoạn của bài.",), sapo: str = "Kinhtedothi - Tin.",
          baseline: bool = False, seen: datetime | None = None) -> None:
    conn = state_conn(config)
    try:
        article = Article(url=f"https://kinhtedothi.vn/bai-{n}.{n}.html", title=title, sapo=sapo,
                          body=body, published_at=at)
        record_article(conn, ident=str(n), url=article.url, source="test", article=article,
                       fetched=Fetched(article.url, None, None, "text/html", title.encode()),
                       run_id=None, now=seen or at, baseline=baseline)
    finally:
        conn.close()


def titles(message: Received) -> list[str]:
    text = message.message.get_body(("plain",))
    assert text is not None
    return [line[2:].replace("*", "") for line in text.get_content().splitlines()
            if line.startswith("* ")]


def all_titles(server: SmtpServer) -> list[str]:
    return sorted(t for m in server.messages for t in titles(m))


# --- once and only once -------------------------------------------------------------------------


def test_two_deliveries_in_a_row_send_each_item_once(tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sắp xếp bộ máy: bài một")
    store(config, 2, "Giá vàng hôm nay")
    store(config, 3, "Sáp nhập tỉnh: bài ba")
    first = run_deliver(config, now=T0)
    second = run_deliver(config, now=T0 + timedelta(minutes=30))
    assert first.exit_code == second.exit_code == 0
    assert [o.status for o in first.outcomes] == ["sent"]
    assert [o.status for o in second.outcomes] == ["empty"]
    (message,) = smtp.messages
    assert sorted(titles(message)) == ["Sáp nhập tỉnh: bài ba", "Sắp xếp bộ máy: bài một"]
    store(config, 4, "Sắp xếp bộ máy: bài bốn", at=T0 + timedelta(minutes=40))
    run_deliver(config, now=T0 + timedelta(hours=1))
    assert [titles(m) for m in smtp.messages][1] == ["Sắp xếp bộ máy: bài bốn"]


def test_smtp_down_then_up_delivers_each_item_once(tmp_path: Path) -> None:
    port = free_port()
    config = make_config(tmp_path, port)
    store(config, 1, "Sắp xếp bộ máy: bài một")
    down = run_deliver(config, now=T0)
    assert down.exit_code == 1 and [o.status for o in down.outcomes] == ["failed"]
    assert down.outcomes[0].new == 1
    assert "cannot reach" in down.outcomes[0].error
    conn = state_conn(config)
    assert ledger.digests(conn) == []  # nothing reserved while the server is unreachable
    conn.close()
    store(config, 2, "Sáp nhập tỉnh: bài hai", at=T0 + timedelta(minutes=10))
    with SmtpServer(port=port) as server:
        up = run_deliver(config, now=T0 + timedelta(minutes=30))
        again = run_deliver(config, now=T0 + timedelta(minutes=60))
    assert up.exit_code == again.exit_code == 0
    assert len(server.messages) == 1
    assert all_titles(server) == ["Sáp nhập tỉnh: bài hai", "Sắp xếp bộ máy: bài một"]


def test_a_deferred_digest_is_sent_again_with_the_same_message_id(tmp_path: Path,
                                                                   smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sắp xếp bộ máy: bài một")
    smtp.handler.data_replies.append("451 4.3.0 try again later")
    deferred = run_deliver(config, now=T0)
    assert deferred.exit_code == 1 and deferred.outcomes[0].status == "failed"
    store(config, 2, "Sáp nhập tỉnh: bài hai", at=T0 + timedelta(minutes=10))
    retry = run_deliver(config, now=T0 + timedelta(minutes=30))
    assert [o.status for o in retry.outcomes] == ["resent", "sent"]
    assert smtp.messages[0].message_id == deferred.outcomes[0].message_id
    assert [titles(m) for m in smtp.messages] == [["Sắp xếp bộ máy: bài một"],
                                                  ["Sáp nhập tỉnh: bài hai"]]
    assert run_deliver(config, now=T0 + timedelta(hours=1)).outcomes[0].status == "empty"
    assert len(smtp.messages) == 2


def test_a_rejected_recipient_is_recorded_and_does_not_hold_back_the_others(
        tmp_path: Path, smtp: SmtpServer) -> None:
    subscribers = [{"email": "bad@example.org", "schedule": "asap", "since": "2020-01-01"},
                   {"email": "an@example.org", "schedule": "asap", "since": "2020-01-01"}]
    config = make_config(tmp_path, smtp.port, subscribers=subscribers)
    store(config, 1, "Sắp xếp bộ máy: bài một")
    smtp.handler.rcpt_replies["bad@example.org"] = "550 5.1.1 no such user"
    report = run_deliver(config, now=T0)
    assert report.exit_code == 1
    assert [(o.subscriber, o.status) for o in report.outcomes] == [
        ("bad@example.org", "rejected"), ("an@example.org", "sent")]
    assert [m.recipients for m in smtp.messages] == [["an@example.org"]]
    conn = state_conn(config)
    (rejected,) = ledger.digests(conn, status="rejected")
    conn.close()
    assert rejected.subscriber == "bad@example.org" and "550" in (rejected.last_error or "")


class Killed(BaseException):
    """Stands for the process dying: not an Exception, nothing in deliver catches it."""


class DiesAfterSending(SmtpTransport):
    def send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        super().send(raw, sender=sender, recipient=recipient)
        raise Killed


def test_dying_after_acceptance_repeats_only_that_digest_with_its_message_id(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sắp xếp bộ máy: bài một")
    with pytest.raises(Killed):
        run_deliver(config, now=T0, transport=DiesAfterSending(config.mail.smtp, None))
    store(config, 2, "Sáp nhập tỉnh: bài hai", at=T0 + timedelta(minutes=10))
    report = run_deliver(config, now=T0 + timedelta(minutes=30))
    assert [o.status for o in report.outcomes] == ["resent", "sent"]
    first, repeat, new = smtp.messages
    assert first.data == repeat.data  # byte for byte, same Message-ID and Date
    assert titles(new) == ["Sáp nhập tỉnh: bài hai"]


# --- what is due --------------------------------------------------------------------------------


def test_a_new_subscriber_does_not_receive_the_backlog(tmp_path: Path, smtp: SmtpServer) -> None:
    subscribers = [{"email": "an@example.org", "schedule": "asap"},  # no start point: from now
                   {"email": "binh@example.org", "schedule": "asap",
                    "since": "2025-12-08T06:00:00+07:00"}]
    config = make_config(tmp_path, smtp.port, subscribers=subscribers)
    store(config, 1, "Sắp xếp bộ máy: tuần trước", at=T0 - timedelta(days=7))
    store(config, 2, "Sắp xếp bộ máy: sáng nay", at=T0 - timedelta(minutes=30))
    run_deliver(config, now=T0)
    store(config, 3, "Sắp xếp bộ máy: mới", at=T0 + timedelta(minutes=5))
    run_deliver(config, now=T0 + timedelta(minutes=10))
    got = {(m.recipients[0], t) for m in smtp.messages for t in titles(m)}
    assert got == {("binh@example.org", "Sắp xếp bộ máy: sáng nay"),
                   ("binh@example.org", "Sắp xếp bộ máy: mới"),
                   ("an@example.org", "Sắp xếp bộ máy: mới")}


def test_baseline_articles_are_never_sent(tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sắp xếp bộ máy: cũ", baseline=True)
    assert run_deliver(config, now=T0).outcomes[0].status == "empty"
    assert not smtp.messages


def test_a_material_edit_is_sent_once_as_an_update(tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sắp xếp bộ máy: bài một")
    run_deliver(config, now=T0)
    store(config, 1, "Sắp xếp bộ máy: bài một (cập nhật)", seen=T0 + timedelta(minutes=5))
    report = run_deliver(config, now=T0 + timedelta(minutes=10))
    assert (report.outcomes[0].status, report.outcomes[0].updates) == ("sent", 1)
    text = smtp.messages[1].message.get_body(("plain",))
    assert text is not None and "== Cập nhật ==" in text.get_content()
    assert "Sắp xếp bộ máy: bài một {+(cập nhật)+}" in text.get_content()
    assert run_deliver(config, now=T0 + timedelta(minutes=20)).outcomes[0].status == "empty"
    assert len(smtp.messages) == 2


def test_a_daily_subscriber_gets_one_digest_per_slot(tmp_path: Path, smtp: SmtpServer) -> None:
    subscribers = [{"email": "an@example.org", "schedule": "daily", "since": "2020-01-01"}]
    config = make_config(tmp_path, smtp.port, subscribers=subscribers)
    store(config, 1, "Sắp xếp bộ máy: một")
    assert run_deliver(config, now=T0).outcomes[0].status == "sent"  # 07:05
    store(config, 2, "Sắp xếp bộ máy: hai", at=T0 + timedelta(hours=1))
    later = run_deliver(config, now=T0 + timedelta(hours=2))  # 09:05
    assert (later.outcomes[0].status, later.outcomes[0].next_due) == ("not-due",
                                                                      "08/12/2025 17:00")
    evening = run_deliver(config, now=datetime(2025, 12, 8, 17, 1, tzinfo=VN_TZ))
    assert evening.outcomes[0].status == "sent"
    assert [titles(m) for m in smtp.messages] == [["Sắp xếp bộ máy: một"],
                                                  ["Sắp xếp bộ máy: hai"]]


def test_is_due_follows_the_slots() -> None:
    times = (time(7), time(17))
    at = datetime(2025, 12, 8, 9, 0, tzinfo=VN_TZ)
    assert is_due((), at, at) and is_due(times, None, at)
    assert not is_due(times, at - timedelta(hours=1), at)  # 08:00 used the 07:00 slot
    assert is_due(times, at - timedelta(hours=3), at)  # 06:00 was before it
    assert is_due(times, at - timedelta(days=1), at - timedelta(hours=8))  # 01:00: last night
    assert next_due(times, at) == "08/12/2025 17:00"
    assert next_due(times, at + timedelta(hours=9)) == "09/12/2025 07:00"


def test_only_the_named_schedule_is_delivered(tmp_path: Path, smtp: SmtpServer) -> None:
    subscribers = [{"email": "an@example.org", "schedule": "daily", "since": "2020-01-01"},
                   {"email": "binh@example.org", "schedule": "asap", "since": "2020-01-01"}]
    config = make_config(tmp_path, smtp.port, subscribers=subscribers)
    store(config, 1, "Sắp xếp bộ máy: một")
    report = run_deliver(config, now=T0, schedule="asap")
    assert [o.subscriber for o in report.outcomes] == ["binh@example.org"]


# --- modes ------------------------------------------------------------------------------------


def test_a_dry_run_sends_and_records_nothing(tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sắp xếp bộ máy: một")
    dry = run_deliver(config, now=T0, dry_run=True)
    assert dry.dry_run and [o.status for o in dry.outcomes] == ["sent"] and not smtp.messages
    conn = state_conn(config)
    assert ledger.digests(conn) == [] and ledger.state(conn, "an@example.org") is None
    conn.close()
    assert run_deliver(config, now=T0).outcomes[0].status == "sent"
    assert len(smtp.messages) == 1


def test_an_empty_digest_is_sent_only_when_configured(tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port, digest="send_empty = true")
    report = run_deliver(config, now=T0)
    assert report.outcomes[0].status == "sent"
    assert "Không có bài mới" in str(smtp.messages[0].message["Subject"])


def test_without_an_smtp_host_digests_go_to_the_outbox(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    store(config, 1, "Sắp xếp bộ máy: một")
    report: DeliverReport = run_deliver(config, now=T0)
    (outcome,) = report.outcomes
    assert outcome.status == "sent" and outcome.where.endswith(".eml")
    files = list((tmp_path / "state" / "outbox").glob("*.eml"))
    assert [str(f) for f in files] == [outcome.where]
    assert outcome.message_id.encode() in files[0].read_bytes()


def test_a_removed_subscriber_gets_nothing_more_not_even_a_pending_digest(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sắp xếp bộ máy: một")
    smtp.handler.data_replies.append("451 4.3.0 try again later")
    assert run_deliver(config, now=T0).outcomes[0].status == "failed"
    gone = make_config(tmp_path, smtp.port, subscribers=[
        {"email": "binh@example.org", "schedule": "asap", "since": "2020-01-01"}])
    report = run_deliver(gone, now=T0 + timedelta(minutes=30))
    assert [(o.subscriber, o.status) for o in report.outcomes] == [
        ("an@example.org", "skipped"), ("binh@example.org", "sent")]
    assert [m.recipients for m in smtp.messages] == [["binh@example.org"]]


def test_pending_counts_show_what_each_subscriber_has_not_received(tmp_path: Path,
                                                                     smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, 1, "Sắp xếp bộ máy: một")
    store(config, 2, "Giá vàng")
    conn = state_conn(config)
    try:
        assert pending_counts(conn, config, now=T0) == {"an@example.org": (1, 0)}
    finally:
        conn.close()
    run_deliver(config, now=T0)
    conn = state_conn(config)
    try:
        assert pending_counts(conn, config, now=T0) == {"an@example.org": (0, 0)}
    finally:
        conn.close()


def test_a_bad_address_fails_only_its_own_digest(tmp_path: Path, smtp: SmtpServer) -> None:
    subscribers = [{"email": "an;x@example.org", "schedule": "asap", "since": "2020-01-01"},
                   {"email": "binh@example.org", "schedule": "asap", "since": "2020-01-01"}]
    config = make_config(tmp_path, smtp.port, subscribers=subscribers)
    store(config, 1, "Sắp xếp bộ máy: một")
    report = run_deliver(config, now=T0)
    assert [o.status for o in report.outcomes] == ["failed", "sent"] and report.exit_code == 1
    assert "not an email address" in report.outcomes[0].error


def test_over_the_budget_the_ledger_records_only_what_the_message_carries(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port, digest="max_items = 200\nmax_message_kb = 30")
    conn = state_conn(config)
    try:
        for n in range(1, 101):
            url = (f"https://kinhtedothi.vn/dao-tao-boi-duong-can-bo-cap-xa-dap-ung-yeu-cau-chinh"
                   f"-quyen-dia-phuong-hai-cap-sau-sap-xep-bo-may-so-{n}.{n}.html")
            title = f"Đào tạo cán bộ cấp xã đáp ứng yêu cầu sau sắp xếp bộ máy, bài số {n}"
            article = Article(url=url, title=title, sapo="Kinhtedothi - Tin.",
                              body=("Một đoạn.",), published_at=T0 - timedelta(minutes=n))
            record_article(conn, ident=str(n), url=url, source="test", article=article,
                           fetched=Fetched(url, None, None, "text/html", b"x"), run_id=None,
                           now=T0 - timedelta(minutes=n), baseline=False)
    finally:
        conn.close()
    statuses = [run_deliver(config, now=T0 + timedelta(minutes=30 * k)).outcomes[0]
                for k in range(5)]
    assert [o.status for o in statuses].count("sent") >= 2  # one message could not hold all
    assert statuses[-1].status == "empty"
    carried: list[set[str]] = []
    for message in smtp.messages:
        assert len(message.data) <= 30 * 1024
        body = message.message.get_body(("plain",))
        assert body is not None
        carried.append(set(re.findall(r"-(\d+)\.\d+\.html", body.get_content())))
    # Every item in exactly one message.
    assert sum(len(c) for c in carried) == 100
    assert set().union(*carried) == {str(n) for n in range(1, 101)}
    conn = state_conn(config)
    try:
        counts = [r[0] for r in conn.execute(
            "SELECT count(*) FROM deliveries GROUP BY digest_id ORDER BY digest_id")]
    finally:
        conn.close()
    assert counts == [len(c) for c in carried]
    assert [o.new for o in statuses if o.status == "sent"] == counts
