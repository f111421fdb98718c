"""A site that is not what it claims: challenge pages whatever their status, empty and truncated
pages, listings without links, mislabelled charsets, invisible characters. Against a real HTTP
server on 127.0.0.1."""

from __future__ import annotations

import io
import sqlite3
import unicodedata
from pathlib import Path

import httpx
import pytest
from support import make_config, state_conn
from support.sitesrv import Fault, FixtureSite, SiteServer

from monitor.collect import run_collect
from monitor.config import Config
from monitor.fetch_response import challenge


@pytest.fixture
def config(tmp_path: Path, server: SiteServer) -> Config:
    return make_config(tmp_path, server.base)



def titles(config: Config) -> list[str]:
    return [r[0] for r in state_conn(config).execute("SELECT title FROM articles")]


# --- challenge and block pages ------------------------------------------------------------


def test_a_challenge_page_served_with_200_is_blocked_not_stored(
        config: Config, site: FixtureSite) -> None:
    site.fault(site.articles[0].path, Fault("block", status=200), times=None)
    report = run_collect(config)
    assert report.counts.blocked >= 1 and report.outcome == "blocked" and report.exit_code == 1
    assert "Just a moment..." not in titles(config)


def test_a_cf_mitigated_header_marks_a_block_whatever_the_page(
        config: Config, site: FixtureSite) -> None:
    page = site.render(site.articles[0].path)
    assert page is not None
    site.fault(site.articles[0].path, Fault("body", content=page[2],
                                            headers={"cf-mitigated": "challenge"}), times=None)
    report = run_collect(config)
    assert report.counts.blocked >= 1
    assert str(site.articles[0].id) not in {r[0] for r in state_conn(config).execute(
        "SELECT ident FROM articles")}


def test_after_a_challenge_no_request_goes_to_the_host_not_even_queued_ones(
        tmp_path: Path, server: SiteServer, site: FixtureSite) -> None:
    config = make_config(tmp_path, server.base, fetch={"concurrency": 1})
    site.fault(site.articles[2].path, Fault("block", status=403), times=None)
    run_collect(config)
    hits = site.hits
    first = next(i for i, h in enumerate(hits) if h.path == site.articles[2].path)
    assert hits[first + 1:] == [], [h.path for h in hits[first + 1:]]


def test_an_article_about_captchas_on_a_cloudflare_site_is_not_a_challenge() -> None:
    script = b'<script src="/cdn-cgi/challenge-platform/scripts/jsd/main.js"></script>'
    text = b"<p>" + "Người dùng phải giải captcha; access denied hiện ra. ".encode() * 400
    page = (b"<html><head><title>Access denied: khi captcha chan ca nguoi that</title>"
            + script + b"</head><body>" + text + b"</p></body></html>")
    assert challenge(200, httpx.Headers(), page) is None
    small = b"<html><head><title>Just a moment...</title></head><body></body></html>"
    assert challenge(200, httpx.Headers(), small) is not None
    assert challenge(403, httpx.Headers(), b"<p>verify you are human</p>") is not None
    assert challenge(200, httpx.Headers({"x-amzn-waf-action": "captcha"}), page) is not None


# --- empty, cut short, listing without links ---------------------------------------------------


def pending_of(config: Config, ident: str) -> sqlite3.Row | None:
    conn = state_conn(config)
    conn.row_factory = sqlite3.Row
    row: sqlite3.Row | None = conn.execute("SELECT * FROM pending WHERE ident = ?",
                                           (ident,)).fetchone()
    return row


def stored(config: Config, ident: str) -> bool:
    return state_conn(config).execute("SELECT 1 FROM articles WHERE ident = ?",
                                   (ident,)).fetchone() is not None


def test_an_empty_200_article_is_not_stored_and_asked_for_again_on_the_next_run(
        config: Config, site: FixtureSite) -> None:
    first = site.articles[0]
    site.fault(first.path, Fault("body", content=b""), times=1)
    report = run_collect(config)
    assert not stored(config, str(first.id)) and report.exit_code == 1
    assert any("empty" in e.reason for e in report.errors)
    run_collect(config)  # the next run, minutes later: not a day later
    assert stored(config, str(first.id))


def _cut(site: FixtureSite, index: int) -> bytes:
    page = site.render(site.articles[index].path)
    assert page is not None
    body = page[2]
    return body[: int(len(body) * 0.7)]


def test_a_page_cut_short_is_not_stored_on_first_sight_and_is_retried_next_run(
        config: Config, site: FixtureSite) -> None:
    first = site.articles[0]
    site.fault(first.path, Fault("body", content=_cut(site, 0)), times=1)
    report = run_collect(config)
    assert not stored(config, str(first.id))
    assert any("page cut short" in e.reason for e in report.errors)
    report = run_collect(config)
    assert stored(config, str(first.id)) and not [e for e in report.errors if e.kind == "warning"]
    conn = state_conn(config)
    body = conn.execute("SELECT body FROM articles WHERE ident = ?", (str(first.id),)).fetchone()
    assert len(body[0]) > 200  # the whole article, not the cut copy


def test_a_page_still_cut_on_the_retry_is_stored_with_a_warning_status_shows(
        config: Config, site: FixtureSite, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main

    first = site.articles[0]
    site.fault(first.path, Fault("body", content=_cut(site, 0)), times=None)
    run_collect(config)
    report = run_collect(config)
    assert stored(config, str(first.id))
    assert [e.kind for e in report.errors if first.path in e.url] == ["warning"]
    capsys.readouterr()
    main(["--config", str(config.root / "config.toml"), "status"])
    out = capsys.readouterr().out
    assert "WARNING" in out and "cut short again on the retry" in out


def test_a_listing_page_with_no_article_links_fails_the_run(
        config: Config, site: FixtureSite) -> None:
    from monitor.commands.collect import collect_command

    empty = "<html><body><h1>Xây dựng Đảng</h1><p>Chưa có bài viết.</p></body></html>".encode()
    site.fault("/xay-dung-dang", Fault("body", content=empty), times=None)
    report = run_collect(config)
    assert report.outcome == "failed" and report.exit_code == 1
    assert collect_command(config, dry_run=False, baseline=False, out=io.StringIO()) == 1


# --- charset and invisible characters ------------------------------------------------------

_TONES = "\u0300\u0301\u0303\u0309\u0323"


def windows_1258(text: str) -> bytes:
    """Vietnamese as windows-1258 writes it: base letters precomposed, tone marks combining."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
            out += base.encode("cp1258") + "".join(c for c in parts if c in _TONES).encode(
                "cp1258")
    return bytes(out)


def test_windows_1258_bytes_declared_utf8_are_read_as_windows_1258_with_a_warning(
        config: Config, site: FixtureSite) -> None:
    first = site.articles[0]
    page = site.render(first.path)
    assert page is not None
    legacy = windows_1258(page[2].decode("utf-8"))
    site.fault(first.path, Fault("body", content=legacy,
                                 content_type="text/html; charset=utf-8"), times=None)
    report = run_collect(config)
    title = state_conn(config).execute("SELECT title FROM articles WHERE ident = ?",
                                    (str(first.id),)).fetchone()[0]
    assert title == unicodedata.normalize("NFC", first.title)
    warnings = [e.reason for e in report.errors if e.kind == "warning"]
    assert any("cp1258" in w for w in warnings), warnings


def test_bidi_controls_and_invisible_format_characters_are_dropped_at_extraction() -> None:
    from monitor.extract import extract_article

    evil = "\u202e\u2066"
    text = f"Thành ủy{evil} Hà Nội triển khai sắp xếp tổ chức bộ máy\u200f tinh gọn. " * 8
    html = (f"<html><head><title>t</title></head><body><article><h1 class='article-title'>"
            f"Sắp xếp{evil} bộ máy\u061c</h1><div id='article-brief'>Sapo{evil} ngắn.</div>"
            f"<div id='article-detail'><p>{text}</p><p>{text}</p></div></article></body></html>")
    article = extract_article(html.encode(), "https://kinhtedothi.vn/a.1.html")
    for value in (article.title, article.sapo, *article.body):
        assert not any(unicodedata.category(c) == "Cf" for c in value), repr(value)
    assert article.title == "Sắp xếp bộ máy"
