"""A site that is not what it claims: challenge pages whatever their status, empty and truncated
pages, listings without links, mislabelled charsets, invisible characters. Against a real HTTP
server on 127.0.0.1."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from support import make_config
from support.sitesrv import Fault, FixtureSite, SiteServer

from monitor.collect import run_collect
from monitor.config import Config
from monitor.fetch_response import challenge
from monitor.store import db


@pytest.fixture
def config(tmp_path: Path, server: SiteServer) -> Config:
    return make_config(tmp_path, server.base)


def conn_of(config: Config) -> sqlite3.Connection:
    return db.connect(db.db_path(config.state_dir))


def titles(config: Config) -> list[str]:
    return [r[0] for r in conn_of(config).execute("SELECT title FROM articles")]


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
    assert str(site.articles[0].id) not in {r[0] for r in conn_of(config).execute(
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
