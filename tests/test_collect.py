"""One collect run against a real HTTP server on 127.0.0.1 serving a fixture site of 3 listing
pages and 40 articles: discovery, conditional re-checks, diffs, failures, refusals, canaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import make_config, state_conn
from support.sitesrv import Fault, FixtureSite, SiteServer

from monitor.collect import CollectReport, run_collect
from monitor.commands.collect import render_summary
from monitor.config import Config, FetchConfig, loads
from monitor.store import articles as store
from monitor.store import runs as run_store


@pytest.fixture
def config(tmp_path: Path, server: SiteServer) -> Config:
    return make_config(tmp_path, server.base)



def stored_ids(config: Config) -> set[str]:
    return {r[0] for r in state_conn(config).execute("SELECT ident FROM articles")}


def ids(articles: list) -> set[str]:  # type: ignore[type-arg]
    return {str(a.id) for a in articles}


# --- first and steady-state runs ----------------------------------------------------------


def test_a_first_run_finds_and_stores_every_article(config: Config, site: FixtureSite) -> None:
    report = run_collect(config)
    assert report.outcome == "ok" and report.exit_code == 0
    assert report.counts.new == 40 and report.counts.pages_fetched == 43
    assert stored_ids(config) == ids(site.articles)
    article = store.get_article(state_conn(config), str(site.articles[0].id))
    assert article is not None and article.title == site.articles[0].title
    assert article.sapo.startswith("Sáng") and len(article.body) >= 6
    assert article.published_at is not None and article.extractor == "profile"
    [health] = report.sources
    assert health.healthy and health.links == 40 and health.profile_ok == 40


def test_a_second_run_with_nothing_changed_sends_one_conditional_request(
        config: Config, site: FixtureSite) -> None:
    run_collect(config)
    versions_before = state_conn(config).execute("SELECT count(*) FROM versions").fetchone()[0]
    site.reset_log()
    report = run_collect(config)
    hits = site.hits
    # Page 1 is unchanged (304), and no article has reached its next re-check age yet.
    assert [(h.path, h.status, h.conditional) for h in hits] == [("/xay-dung-dang", 304, True)]
    assert report.counts.new == 0 and report.counts.changed == 0
    assert report.counts.pages_fetched == 0 and report.counts.not_modified == 1
    assert state_conn(config).execute("SELECT count(*) FROM versions").fetchone()[0] == \
        versions_before


def test_young_articles_are_rechecked_at_spaced_ages_not_at_every_collect(
        config: Config, site: FixtureSite) -> None:
    """16 articles inside the 48 h window, a collect every 30 min for 48 h: at most 2 requests
    per collect on average (it was 17: the listing and every young article, every time)."""
    start = datetime.now(UTC)
    run_collect(config, now=start)
    site.reset_log()
    collects = 96
    per_collect = []
    for k in range(1, collects + 1):
        before = len(site.hits)
        run_collect(config, now=start + k * timedelta(minutes=30))
        per_collect.append(len(site.hits) - before)
    hits = site.hits
    assert sum(per_collect) / collects <= 2.0, per_collect
    assert max(per_collect) <= 1 + 4 + 1  # listing, recheck_per_collect, a deeper read
    young = [a for a in site.articles if start - a.published < timedelta(hours=48)]
    assert len(young) == 16
    for article in young:  # each is re-checked at the ages still ahead of it, once each
        ahead = [h for h in (1, 3, 12, 24, 48)
                 if start < article.published + timedelta(hours=h)]
        assert len(site.requests_to(article.path)) == len(ahead), article.published
    assert all(h.conditional and h.status == 304 for h in hits if h.path.endswith(".html"))
    old = site.articles[-1]
    assert site.requests_to(old.path) == []


def test_articles_older_than_the_recheck_window_are_not_fetched_again(
        config: Config, site: FixtureSite) -> None:
    run_collect(config)
    site.reset_log()
    run_collect(config)
    old = site.articles[-1]
    assert site.requests_to(old.path) == []


# --- changes ------------------------------------------------------------------------------


def test_an_edited_article_comes_back_changed_with_both_versions_kept(
        config: Config, site: FixtureSite) -> None:
    run_collect(config)
    edited = site.articles[0]  # published 30 min ago: re-checked when 1 h old
    site.edit(edited, "Đoạn bổ sung sau khi bài được cập nhật.")
    report = run_collect(config, now=datetime.now(UTC) + timedelta(hours=1))
    assert report.counts.changed == 1 and report.counts.new == 0
    [change] = report.changes
    assert change.kind == "changed" and change.changed_fields == ("body",)
    old, new = store.versions(state_conn(config), str(edited.id))
    assert "Đoạn bổ sung sau khi bài được cập nhật." not in old.body
    assert new.body[-1] == "Đoạn bổ sung sau khi bài được cập nhật."


def test_a_new_article_is_found_and_only_it_is_new(config: Config, site: FixtureSite) -> None:
    run_collect(config)
    added = site.add()
    report = run_collect(config)
    assert [c.ident for c in report.changes] == [str(added.id)]
    assert report.changes[0].kind == "new"


def test_a_quiet_hour_at_a_5_minute_interval_costs_at_most_13_requests(tmp_path: Path) -> None:
    """Nothing published, nothing young: with the default politeness, 12 collects in an hour
    send one conditional request each (the listing), and the deeper read comes every 6 h."""
    quiet = FixtureSite(articles_count=40, per_page=14, newest_age=timedelta(hours=72))
    start = datetime.now(UTC)
    with SiteServer(quiet) as server:
        run_collect(make_config(tmp_path, server.base), now=start)  # the archive, known
        polite = make_config(tmp_path, server.base, fetch={
            "min_delay_seconds": 2.0, "jitter_seconds": 1.0, "concurrency": 2,
            "timeout_seconds": 20.0})
        shipped = FetchConfig()
        assert (polite.fetch.min_delay_seconds, polite.fetch.jitter_seconds,
                polite.fetch.concurrency) == (shipped.min_delay_seconds,
                                              shipped.jitter_seconds, shipped.concurrency)
        assert loads("[serve]\ncollect_every_minutes = 5\n").serve.collect_every_minutes == 5
        quiet.reset_log()
        for k in range(1, 13):
            run_collect(polite, now=start + k * timedelta(minutes=5))
        hits = quiet.hits
    assert len(hits) <= 13
    assert [h.path for h in hits] == ["/xay-dung-dang"] * 12


def test_a_collect_after_one_new_article_makes_two_requests(config: Config,
                                                           site: FixtureSite) -> None:
    run_collect(config)
    added = site.add()
    site.reset_log()
    report = run_collect(config)
    assert [h.path for h in site.hits] == ["/xay-dung-dang", added.path]  # not page 2
    assert report.counts.requests == 2 and report.counts.new == 1


def test_new_articles_pushed_onto_page_2_are_found(config: Config, site: FixtureSite) -> None:
    run_collect(config)
    burst = [site.add() for _ in range(15)]  # page 1 holds 14: the 15th lands on page 2
    site.reset_log()
    report = run_collect(config)
    assert report.counts.new == 15
    assert ids(burst) <= stored_ids(config)
    assert site.requests_to("/xay-dung-dang/trang-2")


# --- failures, retries, no article lost ---------------------------------------------------


def test_transient_failures_are_retried_within_the_bounds_and_the_run_goes_on(
        config: Config, site: FixtureSite) -> None:
    a = site.articles
    site.fault(a[0].path, Fault("status", status=500), times=2)
    site.fault(a[1].path, Fault("slow", delay=1.5), times=1)
    site.fault(a[2].path, Fault("reset"), times=1)
    site.fault(a[3].path, Fault("status", status=429, retry_after="1"), times=1)
    report = run_collect(config)
    assert report.outcome == "ok" and report.counts.new == 40
    assert len(site.requests_to(a[0].path)) == 3
    assert stored_ids(config) == ids(a)


def test_what_failed_is_fetched_on_the_next_run(config: Config, site: FixtureSite) -> None:
    broken = site.articles[20:22]  # outside the re-check window: only "pending" brings them back
    for article in broken:
        site.fault(article.path, Fault("status", status=503), times=None)
    report = run_collect(config)
    assert report.outcome == "partial" and report.exit_code == 1
    assert report.counts.failed == 2 and report.counts.new == 38
    assert {e.url.rsplit("/", 1)[1] for e in report.errors} == {a.path[1:] for a in broken}
    assert all("HTTP 503" in e.reason for e in report.errors)
    site.clear_faults()
    report = run_collect(config)
    assert report.outcome == "ok" and report.counts.new == 2
    assert stored_ids(config) == ids(site.articles)
    assert store.pending_count(state_conn(config)) == 0


def test_a_gone_article_is_asked_for_again_after_a_day_not_every_run(
        config: Config, site: FixtureSite) -> None:
    gone = site.articles[20]
    site.fault(gone.path, Fault("status", status=404), times=None)
    report = run_collect(config)
    assert report.counts.failed == 1 and "HTTP 404" in report.errors[0].reason
    assert store.pending_count(state_conn(config)) == 1  # kept, not lost
    site.reset_log()
    run_collect(config)
    assert site.requests_to(gone.path) == []


def test_a_failed_listing_page_does_not_stop_the_other_pages_work(
        config: Config, site: FixtureSite) -> None:
    site.fault("/xay-dung-dang/trang-2", Fault("status", status=500), times=None)
    report = run_collect(config)
    assert report.counts.new == 14 and report.counts.failed == 1
    site.clear_faults()
    report = run_collect(config)
    assert stored_ids(config) == ids(site.articles)


# --- refusals -----------------------------------------------------------------------------


def test_refused_pages_are_recorded_with_their_reason(config: Config, site: FixtureSite) -> None:
    a = site.articles
    site.fault(a[0].path, Fault("redirect", location="http://evil.example/trap.html"), times=None)
    site.robots = f"User-agent: *\nDisallow: {a[1].path}\n"
    site.fault(a[2].path, Fault("huge", size=20_000_000), times=None)
    site.fault(a[3].path, Fault("type", content_type="application/pdf"), times=None)
    report = run_collect(config)
    assert report.counts.refused == 4 and report.counts.new == 36
    reasons = {e.url.rsplit("/", 1)[1]: e.reason for e in report.errors if e.kind == "refused"}
    assert "evil.example" in reasons[a[0].path[1:]]
    assert "robots.txt" in reasons[a[1].path[1:]]
    assert "max_bytes" in reasons[a[2].path[1:]]
    assert "application/pdf" in reasons[a[3].path[1:]]
    assert site.requests_to(a[1].path) == []
    saved = run_store.get_run(state_conn(config), report.run_id or 0)
    assert saved is not None and len([e for e in saved.errors if e.kind == "refused"]) == 4
    # Not asked for again on the next run (policy does not change in an hour).
    site.reset_log()
    run_collect(config)
    assert site.requests_to(a[2].path) == []


# --- blocks, canaries, baseline, dry run --------------------------------------------------


def test_a_blocked_listing_is_blocked_not_quiet(config: Config, site: FixtureSite) -> None:
    site.fault("/xay-dung-dang", Fault("block", status=403), times=None)
    report = run_collect(config)
    assert report.outcome == "blocked" and report.exit_code == 1
    assert report.counts.blocked == 1 and report.counts.new == 0
    assert "BLOCKED" in render_summary(report)
    [health] = report.sources
    assert not health.healthy and "no article links found" in health.problems


def test_canaries_count_consecutive_failures_of_a_source(config: Config,
                                                         site: FixtureSite) -> None:
    empty = "<html><body><h1>Xây dựng Đảng</h1><p>Chưa có bài viết.</p></body></html>".encode()
    site.fault("/xay-dung-dang", Fault("body", content=empty), times=None)
    for _ in range(2):
        run_collect(config)
    [health] = run_store.source_health(state_conn(config))
    assert health.consecutive_failures == 2 and health.problems == ("no article links found",)
    site.clear_faults()
    run_collect(config)
    [health] = run_store.source_health(state_conn(config))
    assert health.consecutive_failures == 0


def test_an_article_the_profile_misses_fails_the_extraction_canary(
        config: Config, site: FixtureSite) -> None:
    text = "".join(f"<p>Đoạn văn số {i} của một bài viết có bố cục lạ, không theo mẫu của "
                   f"trang, nhưng vẫn có nội dung đủ dài để đọc.</p>" for i in range(8))
    odd = f"<html><body><div class='x'><h1>Tiêu đề lạ</h1>{text}</div></body></html>".encode()
    site.fault(site.articles[0].path, Fault("body", content=odd), times=None)
    report = run_collect(config)
    [health] = report.sources
    assert (health.articles, health.profile_ok) == (40, 39)
    assert any("not extracted by the profile" in p for p in health.problems)
    article = store.get_article(state_conn(config), str(site.articles[0].id))
    assert article is not None and article.extractor == "generic"


def test_a_listed_page_without_an_article_fails_the_canary(config: Config,
                                                           site: FixtureSite) -> None:
    # Not empty (an empty page is asked for again next run): a page with text but no article.
    notice = ("<html><body><nav><a href='/'>Trang chủ</a></nav><div>Trang bạn tìm không tồn "
              "tại hoặc đã được chuyển sang địa chỉ khác.</div></body></html>")
    site.fault(site.articles[0].path, Fault("body", content=notice.encode()), times=None)
    report = run_collect(config)
    [health] = report.sources
    assert "1 listed article pages where no article was found" in health.problems
    assert [e.kind for e in report.errors] == ["not-an-article"]


def test_a_baseline_run_records_everything_as_seen(config: Config, site: FixtureSite) -> None:
    report = run_collect(config, baseline=True)
    assert report.counts.new == 40 and {c.kind for c in report.changes} == {"baseline"}
    assert "recorded as seen (baseline)" in render_summary(report)
    added = site.add()
    report = run_collect(config)
    assert [(c.ident, c.kind) for c in report.changes] == [(str(added.id), "new")]


def test_a_dry_run_writes_no_state(config: Config, site: FixtureSite) -> None:
    report = run_collect(config, dry_run=True)
    assert report.counts.new == 40 and report.run_id is None
    assert not config.state_dir.exists()
    run_collect(config)
    site.edit(site.articles[0])  # published 30 min ago: re-checked when 1 h old
    before = state_conn(config).execute("SELECT count(*) FROM versions").fetchone()[0]
    later = datetime.now(UTC) + timedelta(hours=1)
    assert run_collect(config, dry_run=True, now=later).counts.changed == 1
    assert state_conn(config).execute("SELECT count(*) FROM versions").fetchone()[0] == before


def test_the_summary_fits_one_screen(config: Config) -> None:
    report: CollectReport = run_collect(config)
    text = render_summary(report)
    assert len(text.splitlines()) <= 24
    for label in ("pages fetched", "not modified", "new", "changed", "failed", "blocked"):
        assert label in text
    assert " s (run " in text.splitlines()[0]


# --- sitemap and feed sources -------------------------------------------------------------


def test_a_sitemap_source_refetches_an_old_article_whose_lastmod_moved(
        tmp_path: Path, server: SiteServer, site: FixtureSite) -> None:
    config = make_config(tmp_path, server.base, sources=[
        {"name": "sitemap", "kind": "sitemap", "url": server.url("/sitemap.xml")}])
    assert run_collect(config).counts.new == 40
    old = site.articles[-1]  # far outside the re-check window
    site.edit(old)
    site.reset_log()
    report = run_collect(config)
    assert [(c.ident, c.kind) for c in report.changes] == [(str(old.id), "changed")]
    assert len(site.requests_to(old.path)) == 1


def test_a_feed_source_finds_the_articles_it_lists(tmp_path: Path, server: SiteServer,
                                                   site: FixtureSite) -> None:
    config = make_config(tmp_path, server.base, sources=[
        {"name": "rss", "kind": "feed", "url": server.url("/rss.xml")}])
    report = run_collect(config)
    assert report.counts.new == 20 and report.outcome == "ok"
    assert stored_ids(config) == ids(site.articles[:20])


def test_the_header_charset_wins_over_the_page_meta(config: Config, site: FixtureSite) -> None:
    article = site.articles[0]
    page = site.render(article.path)
    assert page is not None
    lying = page[2].replace(b'<meta charset="utf-8">', b'<meta charset="iso-8859-1">')
    site.fault(article.path, Fault("body", content=lying,
                                   content_type="text/html; charset=utf-8"), times=None)
    run_collect(config)
    stored = store.get_article(state_conn(config), str(article.id))
    assert stored is not None and stored.title == article.title
