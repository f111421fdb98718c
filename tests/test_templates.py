"""Operators' templates in templates/ (beside the config): exported, edited, used before the
built-in ones for digests and alerts; a broken one names its file and line and sends nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import state_conn
from support.smtpsrv import SmtpServer, delivery_toml

from monitor.alerts import send_test
from monitor.cli import main
from monitor.config import Config, loads
from monitor.models import Article
from monitor.store.articles import Fetched, record_article

MARK = "Bản tin riêng của ban biên tập"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def setup(root: Path, port: int) -> Config:
    text = delivery_toml(smtp_port=port) + (
        '\n[alerts]\nrecipients = ["ops@example.org"]\n')
    (root / "config.toml").write_text(text, encoding="utf-8")
    config = loads(text, root=root, name=str(root / "config.toml"))
    conn = state_conn(config)
    try:
        at = datetime.now(UTC) - timedelta(hours=1)
        article = Article(url="https://kinhtedothi.vn/bai-1.1.html",
                          title="Sắp xếp bộ máy: bài một", sapo="Kinhtedothi - Tin.",
                          body=("Một đoạn của bài.",), published_at=at)
        record_article(conn, ident="1", url=article.url, source="test", article=article,
                       fetched=Fetched(article.url, None, None, "text/html", b"x"),
                       run_id=None, now=at, baseline=False)
    finally:
        conn.close()
    return config


def cli(root: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--config", str(root / "config.toml"), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_export_writes_the_builtin_templates_and_keeps_edited_ones(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    code, out, _ = cli(tmp_path, "templates", "export")
    names = sorted(p.name for p in (tmp_path / "templates").iterdir())
    assert code == 0 and names == ["alert.txt.j2", "digest.html.j2", "digest.txt.j2"]
    edited = tmp_path / "templates" / "digest.txt.j2"
    edited.write_text("mine\n", encoding="utf-8")
    code, out, _ = cli(tmp_path, "templates", "export")
    assert "kept" in out and edited.read_text(encoding="utf-8") == "mine\n"
    cli(tmp_path, "templates", "export", "--force")
    assert edited.read_text(encoding="utf-8") != "mine\n"


def test_an_edited_template_in_templates_is_in_the_sent_digest_and_alert(
        tmp_path: Path, smtp: SmtpServer) -> None:
    config = setup(tmp_path, smtp.port)
    assert cli(tmp_path, "templates", "export")[0] == 0
    for name in ("digest.txt.j2", "alert.txt.j2"):
        path = tmp_path / "templates" / name
        path.write_text(f"{MARK}\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, err = cli(tmp_path, "deliver")
    assert code == 0, out + err
    assert send_test(config).ok
    digest, alert = smtp.messages
    for message in (digest, alert):
        part = message.message.get_body(("plain",))
        assert part is not None and str(part.get_content()).startswith(MARK)
    html = digest.message.get_body(("html",))
    assert html is not None and MARK not in str(html.get_content())  # only the text was edited


def test_a_broken_template_names_file_and_line_and_nothing_is_sent(
        tmp_path: Path, smtp: SmtpServer) -> None:
    setup(tmp_path, smtp.port)
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "digest.html.j2").write_text("<p>{{ subject }}</p>\n<p>ok</p>\n{% if %}\n",
                                           encoding="utf-8")
    code, _, err = cli(tmp_path, "deliver")
    assert code == 1 and smtp.messages == []
    assert "digest.html.j2 line 3" in err and "Traceback" not in err
    (folder / "digest.html.j2").write_text("<p>{{ subject }}</p>\n{{ no_such_name }}\n",
                                           encoding="utf-8")
    code, _, err = cli(tmp_path, "deliver")
    assert code == 1 and smtp.messages == []
    assert "digest.html.j2 line 2" in err and "no_such_name" in err
    (folder / "digest.html.j2").unlink()  # back to the built-in one: the items were kept
    code, _, err = cli(tmp_path, "deliver")
    assert code == 0 and len(smtp.messages) == 1
