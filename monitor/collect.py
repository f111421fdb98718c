"""One collect run: sources -> fetch -> extract -> store (``monitor collect``: commands/collect).

The order of a run, and why:

1. the run row is written first (``running``), so a killed run is visible afterwards;
2. every source is read; the refs of each page read whole are saved as ``pending`` before the
   next page is asked for, so no later failure can lose them;
3. the work list: every pending ref (new articles, and those a previous run failed to fetch),
   then the known articles whose next re-check is due (``recheck_at_hours`` after publication,
   inside ``recheck_hours``, at most ``recheck_per_collect`` a run) or whose sitemap ``lastmod``
   is newer than our copy, fetched conditionally;
4. each article page is stored in its own transaction as it arrives: a crash costs at most the
   pages in flight, and they are still pending;
5. counts, errors and the health canaries are recorded, and the report returned.

Every page is guarded on its own: a failing, refused or blocked page is recorded and the run
goes on. ``--dry-run`` works inside a transaction that is rolled back, so it writes nothing.

Each new or changed version is classified when it is stored (``store.verdicts``); deliveries
read the stored verdicts and never re-classify the archive.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import httpx

from monitor.config import Config, SourceConfig, StateConfig
from monitor.errors import (
    BlockedError,
    ExtractError,
    FetchError,
    MonitorError,
    NotAnArticle,
    RefusedError,
)
from monitor.extract import extract_article, page
from monitor.fetch import Fetcher, Response, Validators
from monitor.fetch_policy import ROBOTS_TTL, Resolver
from monitor.models import Article
from monitor.sources import Discovery, PageOutcome, PageSummary, discover
from monitor.store import articles as store
from monitor.store import db, verdicts
from monitor.store import runs as run_store
from monitor.store.articles import Fetched, Recorded, StoredArticle
from monitor.store.runs import RunCounts, RunError, SourceRun

log = logging.getLogger(__name__)

# A page refused by policy, or that holds no article, is not asked for again before this.
REFUSED_RETRY = timedelta(hours=24)
CUT_SHORT = "page cut short"
# A re-check the monitor could not make in time (stopped, busy) is still made this late, no later.
RECHECK_GRACE = timedelta(hours=12)

JobKind = Literal["new", "recheck"]
Result = Literal["new", "baseline", "changed", "unchanged", "not_modified", "failed", "blocked",
                 "refused", "not_article"]


@dataclass(frozen=True, slots=True)
class Job:
    ident: str
    url: str
    source: str
    kind: JobKind
    baseline: bool = False
    validators: Validators | None = None
    published_hint: datetime | None = None
    # Why the previous attempt of a pending ref failed: a page cut short twice is stored.
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class JobResult:
    job: Job
    result: Result
    article: Article | None = None
    recorded: Recorded | None = None
    error: str | None = None
    html: bytes | None = None  # kept only for a page the profile missed (the markup alert)
    warnings: tuple[str, ...] = ()  # stored, but the operator should know (a cut page, charset)


@dataclass(frozen=True, slots=True)
class Miss:
    """An article page the site profile did not extract whole: a sign the markup changed."""

    url: str
    fields: tuple[str, ...]  # what the profile missed: title, sapo, body
    extractor: str  # what was kept instead: "generic", "profile" (partial) or "none"
    confidence: float
    html: bytes = b""


@dataclass(frozen=True, slots=True)
class CollectReport:
    """What one run did; ``changes`` are the stored new, changed and baseline versions."""

    run_id: int | None
    started_at: datetime
    ended_at: datetime
    dry_run: bool
    baseline: bool
    outcome: str
    counts: RunCounts
    errors: tuple[RunError, ...] = ()
    sources: tuple[SourceRun, ...] = ()
    changes: tuple[Recorded, ...] = ()
    titles: dict[str, str] = field(default_factory=dict)
    misses: tuple[Miss, ...] = ()
    # HTTP status -> responses this run (for /metrics); a request with no answer has none.
    by_status: dict[int, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def exit_code(self) -> int:
        return 0 if self.outcome == "ok" else 1


class _Memory:
    """The state database seen by ``sources`` (pages) and ``fetch`` (robots.txt)."""

    def __init__(self, conn: sqlite3.Connection, *, now: datetime, baseline: bool) -> None:
        self.conn, self.now, self.baseline = conn, now, baseline

    def page_validators(self, url: str) -> Validators | None:
        entry = store.get_cache(self.conn, url)
        if entry is None or entry.summary is None or not (entry.etag or entry.last_modified):
            return None
        return Validators(entry.etag, entry.last_modified)

    def page_summary(self, url: str, source: str) -> PageSummary | None:
        entry = store.get_cache(self.conn, url)
        return PageSummary.from_json(entry.summary, source) if entry else None

    def remember_page(self, source: str, response: Response, summary: PageSummary) -> None:
        store.remember_page(self.conn, response.url, etag=response.etag,
                            last_modified=response.last_modified, final_url=response.final_url,
                            summary=summary.to_json(), refs=summary.refs, now=self.now,
                            baseline=self.baseline)

    def mark_failed(self, url: str) -> None:
        store.mark_failed(self.conn, url, now=self.now)

    def page_failed(self, url: str) -> bool:
        entry = store.get_cache(self.conn, url)
        return entry is not None and entry.status == store.FAILED_STATUS

    def page_not_modified(self, url: str) -> None:
        store.touch_cache(self.conn, url, now=self.now)

    def page_read_at(self, url: str) -> datetime | None:
        entry = store.get_cache(self.conn, url)
        if entry is None or entry.status == store.FAILED_STATUS:
            return None
        return entry.fetched_at

    def is_known(self, ident: str) -> bool:
        return store.is_known(self.conn, ident)

    def load_robots(self, origin: str) -> str | None:
        return store.load_robots(self.conn, origin, fresh_after=self.now - ROBOTS_TTL)

    def save_robots(self, origin: str, text: str) -> None:
        store.save_robots(self.conn, origin, text, now=self.now)


# --- the run ------------------------------------------------------------------------------


async def collect(
    config: Config, conn: sqlite3.Connection, *, baseline: bool = False, dry_run: bool = False,
    now: datetime | None = None, transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> CollectReport:
    """One collect run against ``conn`` (the caller holds the state lock and owns ``conn``)."""
    started = now or datetime.now(UTC)
    # Measured, not read off the clock: with an injected ``now`` the length is still real.
    t0 = time.monotonic()
    try:
        run_id = run_store.start_run(conn, now=started, baseline=baseline)
        purged = store.purge_snapshots(
            conn, before=started - timedelta(days=config.state.snapshot_days))
        if purged:
            log.info("purged %d snapshots older than %d days", purged, config.state.snapshot_days)
        if config.state.keep_days:
            store.purge_old(conn, before=started - timedelta(days=config.state.keep_days))
        verdicts.refresh(conn, config.topics, now=started, progress=verdicts.terminal_progress())
        memory = _Memory(conn, now=started, baseline=baseline)
        async with Fetcher(config.site, config.fetch, robots=memory, transport=transport,
                           resolver=resolver) as fetcher:
            discoveries = [await _discover(source, fetcher, memory, config, started)
                           for source in config.sources]
            jobs = plan(conn, discoveries, now=started, state=config.state, baseline=baseline)
            log.info("%d article pages to fetch (%d new or retried, %d re-checks)", len(jobs),
                     sum(j.kind == "new" for j in jobs), sum(j.kind == "recheck" for j in jobs))
            results = await asyncio.gather(
                *(_process(job, fetcher, conn, config, run_id, started) for job in jobs))
            stats = fetcher.stats
        ended = started + timedelta(seconds=time.monotonic() - t0)
        counts, errors = _tally(discoveries, results, stats.requests, stats.bytes)
        health = _health(config, discoveries, results)
        outcome = _outcome(counts, discoveries)
        for source_run in health:
            run_store.record_source_run(conn, run_id, source_run, now=ended)
        run_store.finish_run(conn, run_id, now=ended, outcome=outcome, counts=counts,
                             errors=errors)
    except sqlite3.Error as exc:
        raise db.store_error(exc, db.db_path(config.state_dir), doing="during the run") from exc
    changes = tuple(r.recorded for r in results
                    if r.recorded is not None and r.recorded.kind != "unchanged")
    titles = {r.job.ident: r.article.title for r in results if r.article is not None}
    return CollectReport(run_id=None if dry_run else run_id, started_at=started, ended_at=ended,
                         dry_run=dry_run, baseline=baseline, outcome=outcome, counts=counts,
                         errors=tuple(errors), sources=tuple(health), changes=changes,
                         titles=titles, misses=tuple(_misses(results)),
                         by_status=dict(stats.by_status))


async def _discover(source: SourceConfig, fetcher: Fetcher, memory: _Memory, config: Config,
                    now: datetime) -> Discovery:
    """One source; whatever goes wrong in it is that source's failure, not the run's."""
    try:
        return await discover(source, fetcher, memory, hosts=config.site.allowed_hosts, now=now)
    except sqlite3.Error:
        raise
    except Exception as exc:
        log.exception("source %s failed", source.name)
        page = PageOutcome(source.url, "failed", error=f"{type(exc).__name__}: {exc}")
        return Discovery(source.name, (), (page,))


def plan(conn: sqlite3.Connection, discoveries: Sequence[Discovery], *, now: datetime,
         state: StateConfig, baseline: bool) -> list[Job]:
    """The article pages to fetch: pending refs first, then the re-checks due."""
    jobs: dict[str, Job] = {}
    for pending in store.due_pending(conn, now=now):
        jobs[pending.ident] = Job(pending.ident, pending.url, pending.source, "new",
                                  baseline=pending.baseline or baseline,
                                  published_hint=pending.published_at,
                                  last_error=pending.last_error)
    listed: dict[str, datetime | None] = {}
    for discovery in discoveries:
        for ref in discovery.refs:
            listed.setdefault(ref.article_id, ref.lastmod)
    known = [store.get_article(conn, ident) for ident in listed if ident not in jobs]
    store.touch_seen(conn, (a.ident for a in known if a is not None), now=now)
    recheck = {a.ident: a for a in rechecks_due(conn, state, now=now)
               if a.ident not in jobs}
    for article in known:
        lastmod = listed.get(article.ident) if article else None
        if article is not None and lastmod is not None and lastmod >= article.last_checked:
            recheck[article.ident] = article
    for article in recheck.values():
        if article.ident in jobs:
            continue
        entry = store.get_cache(conn, article.url)
        validators = Validators(entry.etag, entry.last_modified) if entry else None
        jobs[article.ident] = Job(article.ident, article.url, article.source, "recheck",
                                  validators=validators)
    return list(jobs.values())


def next_recheck(article: StoredArticle, ages: Sequence[timedelta], *,
                 now: datetime) -> datetime | None:
    """When the article's latest re-check not yet done fell due (None: none is due now).

    Ages count from publication (or first sight, for an article without a date, or dated after
    it was first seen); an age passed before the article was last fetched needs no re-check,
    and one fetch stands for every age passed since.
    """
    born = min(article.published_at or article.first_seen, article.first_seen)
    passed = [born + age for age in ages if article.last_checked < born + age <= now]
    return passed[-1] if passed else None


def rechecks_due(conn: sqlite3.Connection, state: StateConfig, *,
                 now: datetime) -> list[StoredArticle]:
    """The articles whose next re-check is due, longest overdue first, at most
    ``recheck_per_collect`` of them: the rest wait for the next collect."""
    ages = [timedelta(hours=h) for h in state.recheck_at_hours if h <= state.recheck_hours]
    if not ages:
        return []
    window = timedelta(hours=state.recheck_hours) + RECHECK_GRACE
    due = []
    for article in store.recheck_due(conn, younger_than=now - window):
        when = next_recheck(article, ages, now=now)
        if when is not None and now - when <= RECHECK_GRACE:
            due.append((when, article.id, article))
    due.sort(key=lambda d: (d[0], d[1]))
    return [article for _, _, article in due[:state.recheck_per_collect]]


async def _process(job: Job, fetcher: Fetcher, conn: sqlite3.Connection, config: Config,
                   run_id: int, now: datetime) -> JobResult:
    """Fetch, extract and store one article page; every failure is caught and recorded."""
    try:
        response = await fetcher.get(job.url, validators=job.validators)
    except BlockedError as exc:
        return _failed(conn, job, "blocked", exc, retry_at=now)
    except RefusedError as exc:
        return _failed(conn, job, "refused", exc, retry_at=now + REFUSED_RETRY)
    except FetchError as exc:
        # Gone or forbidden (404, 410, 403): asking every run would only repeat the answer.
        later = exc.status is not None and 400 <= exc.status < 500
        return _failed(conn, job, "failed", exc, retry_at=now + REFUSED_RETRY if later else now)
    if response.not_modified:
        store.record_not_modified(conn, job.ident, job.url, now=now)
        return JobResult(job, "not_modified")
    # A page that is empty or cut short says nothing about the article: asked for again on the
    # next run (not a day later, as a refusal is); cut short again, it is stored, with a warning.
    if empty := page.emptiness(response.body):
        return _failed(conn, job, "failed", NotAnArticle(f"{empty}; asked again next run"),
                       retry_at=now)
    warnings: tuple[str, ...] = ()
    if cut := page.truncation(response.body):
        if job.kind != "new" or CUT_SHORT not in (job.last_error or ""):
            return _failed(conn, job, "failed", ExtractError(
                f"{CUT_SHORT}: {cut}; asked again next run"), retry_at=now)
        warnings = (f"stored although {CUT_SHORT} again on the retry: {cut}",)
    try:
        article = extract_article(response.body, response.final_url,
                                  selectors=config.site.selectors or None,
                                  header_charset=response.charset)
    except NotAnArticle as exc:
        # Listed as an article, yet none found: the markup may have changed (a canary).
        failed = _failed(conn, job, "not_article", exc, retry_at=now + REFUSED_RETRY)
        return replace(failed, html=response.body)
    except Exception as exc:  # an extractor bug must not stop the run
        log.exception("extracting %s failed", job.url)
        return _failed(conn, job, "failed", exc, retry_at=now)
    if not article.title or not article.body:
        # Never stored: a digest item without a headline or text misleads more than a gap.
        missing = " and ".join(n for n, v in (("title", article.title), ("body", article.body))
                               if not v)
        failed = _failed(conn, job, "not_article", NotAnArticle(f"no {missing} found"),
                         retry_at=now + REFUSED_RETRY)
        return replace(failed, html=response.body)
    warnings += tuple(w for w in article.warnings if w.startswith("declared "))
    fetched = Fetched(url=response.final_url, etag=response.etag,
                      last_modified=response.last_modified, content_type=response.content_type,
                      body=response.body)
    recorded = store.record_article(
        conn, ident=job.ident, url=job.url, source=job.source, article=article, fetched=fetched,
        run_id=run_id, now=now, baseline=job.baseline, published_hint=job.published_hint)
    if recorded.kind != "unchanged":
        verdicts.record(conn, recorded.article_id, recorded.version, article.title, article.sapo,
                        article.body, config.topics)
    log.info("%s: %s (v%d) %s", recorded.kind, job.ident, recorded.version, job.url)
    whole = article.extractor == "profile"  # title and body are there: checked above
    for warning in warnings:
        log.warning("%s: %s", job.url, warning)
    return JobResult(job, recorded.kind, article=article, recorded=recorded,
                     html=None if whole else response.body, warnings=warnings)


def _failed(conn: sqlite3.Connection, job: Job, result: Result, exc: BaseException, *,
            retry_at: datetime) -> JobResult:
    reason = str(exc) if isinstance(exc, MonitorError) else f"{type(exc).__name__}: {exc}"
    log.info("%s %s: %s", result, job.url, reason)
    if job.kind == "new":
        store.pending_failed(conn, job.ident, error=f"{result}: {reason}", retry_at=retry_at)
    return JobResult(job, result, error=reason)


def _misses(results: Sequence[JobResult]) -> list[Miss]:
    found = []
    for r in results:
        if r.html is None:
            continue
        a = r.article
        if a is None:
            found.append(Miss(r.job.url, ("title", "body"), "none", 0.0, r.html))
            continue
        notes = " ".join(a.warnings)
        # A stored article has its title and body (_process refuses one without): the profile
        # can have missed only the sapo, or left the body to the generic extractor.
        fields = [name for name, missed in (
            ("sapo", "no sapo" in notes),
            ("body", a.extractor != "profile" or "profile's article body" in notes
             or "profile's selectors" in notes)) if missed]
        found.append(Miss(r.job.url, tuple(fields), a.extractor, a.confidence, r.html))
    return found


# --- counting -----------------------------------------------------------------------------


def _tally(discoveries: Sequence[Discovery], results: Sequence[JobResult], requests: int,
           size: int) -> tuple[RunCounts, list[RunError]]:
    by = Counter(r.result for r in results)
    errors = [RunError(p.url, p.status, p.error or "") for d in discoveries for p in d.pages
              if p.status in ("failed", "blocked", "refused")]
    errors += [RunError(r.job.url, "not-an-article" if r.result == "not_article" else r.result,
                        r.error or "")
               for r in results if r.result in ("failed", "blocked", "refused", "not_article")]
    errors += [RunError(r.job.url, "warning", w) for r in results for w in r.warnings]
    pages = [p for d in discoveries for p in d.pages]
    counts = RunCounts(
        pages_fetched=sum(p.status == "fetched" for p in pages)
        + sum(by[k] for k in ("new", "baseline", "changed", "unchanged")),
        not_modified=sum(p.status == "not_modified" for p in pages) + by["not_modified"],
        new=by["new"] + by["baseline"],
        changed=by["changed"],
        unchanged=by["unchanged"] + by["not_modified"],
        failed=sum(p.status == "failed" for p in pages) + by["failed"],
        blocked=sum(p.status == "blocked" for p in pages) + by["blocked"],
        refused=sum(p.status == "refused" for p in pages) + by["refused"] + by["not_article"],
        requests=requests, bytes=size,
    )
    return counts, errors


def _health(config: Config, discoveries: Sequence[Discovery],
            results: Sequence[JobResult]) -> list[SourceRun]:
    found = []
    for discovery in discoveries:
        mine = [r for r in results if r.job.source == discovery.source]
        extracted = [r.article for r in mine if r.article is not None]
        ok = sum(1 for a in extracted if a.extractor == "profile" and a.title and a.body)
        missed = sum(r.result == "not_article" for r in mine)
        failed = discovery.count("failed") + sum(r.result == "failed" for r in mine)
        blocked = discovery.count("blocked") + sum(r.result == "blocked" for r in mine)
        problems = []
        if discovery.links == 0:
            problems.append("no article links found")
        if ok < len(extracted):
            problems.append(f"{len(extracted) - ok} of {len(extracted)} articles not extracted "
                            "by the profile with title and body")
        if missed:
            problems.append(f"{missed} listed article pages where no article was found")
        if blocked:
            problems.append(f"{blocked} pages blocked")
        if failed:
            problems.append(f"{failed} pages failed")
        found.append(SourceRun(
            source=discovery.source, pages=discovery.count("fetched")
            + discovery.count("not_modified"), links=discovery.links, articles=len(extracted),
            profile_ok=ok, failed=failed, blocked=blocked, problems=tuple(problems)))
    return found


def _outcome(counts: RunCounts, discoveries: Sequence[Discovery]) -> str:
    if counts.blocked:
        return "blocked"
    if discoveries and all(not d.refs and d.count("fetched") + d.count("not_modified") == 0
                           for d in discoveries):
        return "failed"
    # A listing, sitemap or feed that was read yet lists nothing: the site changed or answered
    # with something else; the run says nothing about new articles there.
    empty = [d for d in discoveries if d.links == 0]
    if empty:
        return "failed" if len(empty) == len(discoveries) else "partial"
    if counts.failed or counts.refused:
        return "partial"
    return "ok"


# --- the whole step --------------------------------------------------------------------------


def run_collect(config: Config, *, dry_run: bool = False, baseline: bool = False,
                transport: httpx.AsyncBaseTransport | None = None,
                resolver: Resolver | None = None, now: datetime | None = None) -> CollectReport:
    """A whole collect as a caller outside asyncio sees it: open the state, run, close.

    A dry run works inside a transaction that is rolled back (``db.dry_state``).
    """
    with db.open_state(config, write=True, dry_run=dry_run) as conn:
        return asyncio.run(collect(config, conn, baseline=baseline, dry_run=dry_run, now=now,
                                   transport=transport, resolver=resolver))


__all__ = ["CollectReport", "Job", "Miss", "collect", "plan", "run_collect"]
