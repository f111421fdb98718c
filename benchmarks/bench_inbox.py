"""Time to inbox, and what it costs the site: simulated days against the fixture site on 127.0.0.1.

The clock is simulated: each collect and delivery runs for real (real HTTP, real SQLite, the
real politeness delays when asked for), with ``now`` set to the simulated time; the simulated
clock then moves on by the real time the step took. Steps run one at a time in the order they
fall due, as ``monitor serve``'s queue runs them (a digest time during a collect runs when the
collect ends). Collect ticks start 2 min 17 s after midnight, as a service started at any
minute would run them.

1. Quiet: nothing published, nothing young enough to re-check (the archive is 3 days old):
   requests per hour at a 5-minute and a 30-minute interval. Goal at 5 minutes: <= 13.
2. A day of publishing: 8 articles published over one day (Vietnam time), then 48 h more (at
   30 min) so that every re-check is made; two subscribers, one "after each collect" (``asap``)
   and one at 07:00 and 17:00 (``daily``). Reported: the day's requests per new article above
   the quiet rate, the requests to each new article's page over the 72 h (its fetch and its
   re-checks), and the time from publication to the outbox for each subscriber. Goal at
   5 minutes with the default politeness (2 s + 0..1 s between requests): "after each
   collect" <= 6 minutes.
3. Steady state, the issue's case: 16 articles younger than 48 h, collects every 30 min for 48 h:
   requests per collect on average. Goal: <= 2 (it was 17).

    .venv/bin/python benchmarks/bench_inbox.py            # default politeness on day 1 at 5 min
    .venv/bin/python benchmarks/bench_inbox.py --fast     # no politeness delays anywhere

Results also go to benchmarks/out/bench_inbox.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support import config_toml  # noqa: E402
from support.sitesrv import FixtureSite, SiteServer  # noqa: E402
from support.smtpsrv import delivery_toml  # noqa: E402

from monitor.collect import run_collect  # noqa: E402
from monitor.config import Config, loads  # noqa: E402
from monitor.deliver import run_deliver  # noqa: E402
from monitor.extract.text import VN_TZ  # noqa: E402
from monitor.store import db  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "bench_inbox.json"
FAST = {"min_delay_seconds": 0.0, "jitter_seconds": 0.0, "concurrency": 4}
POLITE = {"min_delay_seconds": 2.0, "jitter_seconds": 1.0, "concurrency": 2,
          "timeout_seconds": 20.0}
TICK_OFFSET = timedelta(minutes=2, seconds=17)
# Vietnam times of the day's 8 articles: spread over the working day, none on a collect tick.
PUBLISHED = ("06:12", "08:47", "10:05", "11:38", "14:21", "16:55", "19:09", "21:33")
PARTY = '\n[[topics]]\nname = "xdd"\n[topics.phrases]\n"xây dựng đảng" = 3.0\n'
SUBSCRIBERS = [
    {"email": "asap@example.org", "schedule": "asap", "topics": ["xdd"], "since": "2020-01-01"},
    {"email": "daily@example.org", "schedule": "daily", "topics": ["xdd"],
     "since": "2020-01-01"},
]


def midnight() -> datetime:
    """Today's midnight, Vietnam time (the simulated day)."""
    return datetime.now(VN_TZ).replace(hour=0, minute=0, second=0, microsecond=0)


def make_site(*, newest_before: datetime, articles: int = 40) -> FixtureSite:
    site = FixtureSite(articles_count=articles, per_page=14)
    for i, article in enumerate(site.articles):
        article.published = newest_before - timedelta(minutes=30) - i * timedelta(hours=3)
    return site


def make_config(root: Path, base: str, fetch: dict[str, Any], minutes: int) -> Config:
    text = delivery_toml(base=config_toml(base, fetch=fetch, state={"lock_timeout_seconds": 5.0})
                         + PARTY + f"\n[serve]\ncollect_every_minutes = {minutes}\n",
                         subscribers=SUBSCRIBERS)
    return loads(text, root=root)


@dataclass
class Sim:
    """The simulated service: collects every ``minutes`` and the 07:00 / 17:00 digests, run one
    at a time; the clock moves by what each step really took."""

    config: Config
    site: FixtureSite
    minutes: int
    clock: datetime = field(default_factory=lambda: datetime.now(UTC))
    collects: int = 0
    collect_requests: list[int] = field(default_factory=list)
    delivered: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (email, ident)

    def _step(self, due: datetime, work: Callable[[datetime], None]) -> None:
        self.clock = max(self.clock, due)
        started = time.perf_counter()
        work(self.clock)
        self.clock += timedelta(seconds=time.perf_counter() - started)

    def _collect(self, now: datetime) -> None:
        report = run_collect(self.config, now=now)
        self.collects += 1
        self.collect_requests.append(report.counts.requests)

    def _deliver(self, schedule: str) -> Callable[[datetime], None]:
        def work(now: datetime) -> None:
            run_deliver(self.config, schedule=schedule, now=now)
            self._note_deliveries(now)
        return work

    def _note_deliveries(self, now: datetime) -> None:
        conn = sqlite3.connect(db.db_path(self.config.state_dir))
        try:
            rows = conn.execute("SELECT d.subscriber, a.ident FROM deliveries d"
                                " JOIN articles a ON a.id = d.article_id").fetchall()
        finally:
            conn.close()
        # The outbox file is written at the end of the step: "now" plus the step's length.
        for email, ident in rows:
            self.delivered.setdefault((email, ident), now)

    def run(self, start: datetime, end: datetime,
            publish: list[tuple[datetime, Callable[[], None]]] | None = None) -> None:
        """Every step due in [start, end), in order; ``publish`` puts articles on the site."""
        events: list[tuple[datetime, int, str]] = []
        tick = start + TICK_OFFSET
        while tick < end:
            events.append((tick, 1, "collect"))
            tick += timedelta(minutes=self.minutes)
        day = start.astimezone(VN_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            for hh in (7, 17):
                slot = day.replace(hour=hh)
                if start <= slot < end:
                    events.append((slot, 2, "daily"))
            day += timedelta(days=1)
        pending = sorted(publish or [], key=lambda p: p[0])
        for due, _, what in sorted(events):
            while pending and pending[0][0] <= max(self.clock, due):
                pending.pop(0)[1]()
            if what == "collect":
                self._step(due, self._collect)
                # "After each collect" subscribers: right after it, before anything else.
                self._step(self.clock, self._deliver("asap"))
            else:
                self._step(due, self._deliver("daily"))


def quiet(minutes: int, hours: int = 24) -> dict[str, Any]:
    start = midnight().astimezone(UTC)
    site = make_site(newest_before=start - timedelta(hours=72))
    with SiteServer(site) as server, tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp), server.base, FAST, minutes)
        run_collect(config, now=start - timedelta(hours=1))  # the archive, known
        site.reset_log()
        sim = Sim(config, site, minutes, clock=start)
        sim.run(start, start + timedelta(hours=hours))
        hits = site.hits
    listing = [h for h in hits if not h.path.endswith(".html")]
    return {"interval_min": minutes, "hours": hours, "collects": sim.collects,
            "requests": len(hits), "requests_per_hour": round(len(hits) / hours, 2),
            "listing_requests": len(listing),
            "deeper_reads": sum(1 for h in listing if "trang-" in h.path),
            "robots": sum(1 for h in hits if h.path == "/robots.txt")}


def day_of_publishing(minutes: int, *, polite: bool, quiet_rate: float) -> dict[str, Any]:
    start = midnight().astimezone(UTC)
    site = make_site(newest_before=start - timedelta(hours=72))
    published: dict[str, datetime] = {}

    def publisher(at: datetime) -> Callable[[], None]:
        def put() -> None:
            published[str(site.add(at=at).id)] = at
        return put

    day = midnight()
    publish = []
    for hhmm in PUBLISHED:
        hh, mm = (int(x) for x in hhmm.split(":"))
        at = day.replace(hour=hh, minute=mm).astimezone(UTC)
        publish.append((at, publisher(at)))
    with SiteServer(site) as server, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fast = make_config(root, server.base, FAST, minutes)
        run_collect(fast, now=start - timedelta(hours=1))  # the archive, known
        site.reset_log()
        wall = time.perf_counter()
        sim = Sim(make_config(root, server.base, POLITE if polite else FAST, minutes), site,
                  minutes, clock=start)
        sim.run(start, start + timedelta(hours=24), publish)
        day_requests = len(site.hits)
        # Two more days, nothing published, so that every article's re-checks are made (by
        # age: the interval does not change them; 30 min keeps the benchmark short).
        sim.config, sim.minutes = make_config(root, server.base, FAST, 30), 30
        sim.run(start + timedelta(hours=24), start + timedelta(hours=72))
        wall = time.perf_counter() - wall
        hits = site.hits
    paths = {str(a.id): a.path for a in site.articles}
    per_article = {ident: len([h for h in hits if h.path == paths[ident]]) for ident in published}
    lags: dict[str, list[float]] = {"asap": [], "daily": []}
    for ident, at in published.items():
        for sub in SUBSCRIBERS:
            when = sim.delivered.get((str(sub["email"]), ident))
            if when is not None:
                lags[str(sub["schedule"])].append((when - at).total_seconds() / 60)
    extra = day_requests - quiet_rate * 24
    return {
        "interval_min": minutes, "politeness": POLITE if polite else FAST,
        "articles_published": len(published),
        "requests_day_1": day_requests, "requests_72h": len(hits),
        "day_1_requests_per_new_article": round(extra / len(published), 2),
        "article_page_requests_per_new_article_72h": round(
            statistics.mean(per_article.values()), 2),
        "delivered": {k: len(v) for k, v in lags.items()},
        "asap_minutes": _spread(lags["asap"]), "daily_minutes": _spread(lags["daily"]),
        "wall_s": round(wall, 1),
    }


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "max": None}
    return {"median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def steady_state() -> dict[str, Any]:
    """The issue's case: 16 articles younger than 48 h, a collect every 30 min for 48 h."""
    start = datetime.now(UTC)
    site = make_site(newest_before=start)
    with SiteServer(site) as server, tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp), server.base, FAST, 30)
        run_collect(config, now=start)
        young = sum(1 for a in site.articles if start - a.published < timedelta(hours=48))
        site.reset_log()
        counts = []
        for k in range(1, 97):
            before = len(site.hits)
            run_collect(config, now=start + k * timedelta(minutes=30))
            counts.append(len(site.hits) - before)
    return {"young_articles": young, "collects": len(counts),
            "requests_per_collect": round(sum(counts) / len(counts), 3),
            "max_requests_in_one_collect": max(counts)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true",
                        help="no politeness delays on the day of publishing (times then "
                        "understate a polite collect's length)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:]
                             if __name__ == "__main__" else [])
    logging.basicConfig(level=logging.ERROR)
    print("command: .venv/bin/python benchmarks/bench_inbox.py" + (" --fast" if args.fast else ""))
    results: dict[str, Any] = {}
    for minutes in (5, 30):
        r = results[f"quiet_{minutes}min"] = quiet(minutes)
        print(f"\nquiet, collect every {minutes} min, {r['hours']} h: {r['requests']} requests "
              f"= {r['requests_per_hour']} per hour ({r['listing_requests']} listing, of which "
              f"{r['deeper_reads']} deeper reads; {r['robots']} robots.txt)")
    for minutes in (5, 30):
        quiet_rate = results[f"quiet_{minutes}min"]["requests_per_hour"]
        r = results[f"day_{minutes}min"] = day_of_publishing(
            minutes, polite=not args.fast and minutes == 5, quiet_rate=quiet_rate)
        print(f"\nday of publishing, collect every {minutes} min "
              f"(min_delay {r['politeness']['min_delay_seconds']} s + jitter "
              f"0..{r['politeness']['jitter_seconds']} s): {r['articles_published']} articles")
        print(f"  requests on the day: {r['requests_day_1']}, "
              f"{r['day_1_requests_per_new_article']} per new article above the quiet rate; "
              f"each new article's page over 72 h (fetch and re-checks): "
              f"{r['article_page_requests_per_new_article_72h']}")
        print(f"  publication -> outbox, after each collect: median "
              f"{r['asap_minutes']['median']} min, max {r['asap_minutes']['max']} min "
              f"({r['delivered']['asap']} delivered)")
        print(f"  publication -> outbox, 07:00 and 17:00:    median "
              f"{r['daily_minutes']['median']} min, max {r['daily_minutes']['max']} min "
              f"({r['delivered']['daily']} delivered); wall {r['wall_s']} s")
    r = results["steady_16_young_30min"] = steady_state()
    print(f"\nsteady state, {r['young_articles']} articles younger than 48 h, "
          f"{r['collects']} collects at 30 min: {r['requests_per_collect']} requests per "
          f"collect on average (max {r['max_requests_in_one_collect']})")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwritten: {OUT.relative_to(ROOT)}")
    day5 = results["day_5min"]
    ok = (results["quiet_5min"]["requests_per_hour"] <= 13
          and day5["asap_minutes"]["max"] is not None and day5["asap_minutes"]["max"] <= 6
          and day5["delivered"]["asap"] == len(PUBLISHED)
          and results["steady_16_young_30min"]["requests_per_collect"] <= 2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
