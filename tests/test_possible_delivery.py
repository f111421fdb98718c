"""Possible items through the ledger: delivered once, never again as new (real SQLite, SMTP)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support import state_conn
from support.smtpsrv import SmtpServer, delivery_toml

from monitor.config import Config, loads
from monitor.deliver import run_deliver
from monitor.extract.text import VN_TZ
from monitor.models import Article
from monitor.store.articles import Fetched, record_article

T0 = datetime(2025, 12, 8, 7, 5, tzinfo=VN_TZ)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def make_config(root: Path, port: int, **sub: str) -> Config:
    # The shared test topic ("tinh gọn" = 1, threshold 3) with a possible band from 1.5.
    subscriber = {"email": "an@example.org", "name": "An", "schedule": "asap",
                  "since": "2020-01-01T00:00:00+07:00", **sub}
    text = delivery_toml(smtp_port=port, subscribers=[subscriber]).replace(
        "review_threshold = 3.0", "review_threshold = 1.5")
    if sub.get("possible") == "false":
        text = text.replace('possible = "false"', "possible = false")
    return loads(text, root=root, name="config.toml")


def store(config: Config, title: str, sapo: str, *, seen: datetime) -> None:
    conn = state_conn(config)
    try:
        article = Article(url="https://kinhtedothi.vn/bai-1.1.html", title=title, sapo=sapo,
                          body=("Một đoạn của bài.",), published_at=T0 - timedelta(hours=1))
        record_article(conn, ident="1", url=article.url, source="test", article=article,
                       fetched=Fetched(article.url, None, None, "text/html", title.encode()),
                       run_id=None, now=seen, baseline=False)
    finally:
        conn.close()


def text_of(smtp: SmtpServer, n: int) -> str:
    part = smtp.messages[n].message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_possible_item_is_sent_once_and_not_again_as_new_when_it_becomes_relevant(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port)
    store(config, "Hội nghị cán bộ Thành phố", "Kinhtedothi - Bàn việc tinh gọn.",
          seen=T0 - timedelta(hours=1))
    first = run_deliver(config, now=T0)
    assert first.outcomes[0].status == "sent" and len(smtp.messages) == 1
    assert "== Có thể liên quan ==" in text_of(smtp, 0)
    assert "Hội nghị cán bộ Thành phố" in text_of(smtp, 0).split("== Có thể liên quan ==")[1]

    # edited so that it is now relevant: a reader who saw it is told of the edit, not of a
    # "new" article
    store(config, "Tinh gọn bộ máy: hội nghị cán bộ Thành phố", "Kinhtedothi - Bàn việc tinh gọn.",
          seen=T0 + timedelta(minutes=5))
    second = run_deliver(config, now=T0 + timedelta(minutes=10))
    assert second.outcomes[0].new == 0
    if second.outcomes[0].status == "sent":
        assert "== Cập nhật ==" in text_of(smtp, 1) and "Có thể liên quan" not in text_of(smtp, 1)
    assert run_deliver(config, now=T0 + timedelta(minutes=20)).outcomes[0].status == "empty"


def test_a_subscriber_without_the_possible_section_is_not_sent_possible_items(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = make_config(tmp_path, smtp.port, possible="false")
    assert config.subscribers[0].possible is False
    store(config, "Hội nghị cán bộ Thành phố", "Kinhtedothi - Bàn việc tinh gọn.",
          seen=T0 - timedelta(hours=1))
    assert run_deliver(config, now=T0).outcomes[0].status == "empty"
    assert smtp.messages == []
