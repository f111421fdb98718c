"""What a collect run costs the site, measured against the fixture site on 127.0.0.1.

1. Steady state: after a cold run over 3 listing pages and 40 articles, a second run with
   nothing changed. Goal: one conditional request per listing page read, and nothing else
   outside the re-check window. Measured twice: every article older than ``recheck_hours``,
   then with the fixture's 16 of 40 articles inside the window (re-checked at set ages after
   publication, not at every run: none is due right after the cold run; over days, see
   bench_inbox.py).
2. Cold run: 60 articles, 100 ms of simulated latency per request, under the politeness
   settings; the wall time is shown next to the bound those settings impose on one host:
   requests / allowed rate, the rate being one request per (min_delay + jitter / 2) seconds.

    .venv/bin/python benchmarks/bench_collect.py                 # bench politeness (fast)
    .venv/bin/python benchmarks/bench_collect.py --min-delay 2 --jitter 1 --concurrency 2
                                                                 # the shipped defaults (~3 min)

Results also go to benchmarks/out/bench_collect.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support import make_config  # noqa: E402
from support.sitesrv import FixtureSite, SiteServer  # noqa: E402

from monitor.collect import run_collect  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "bench_collect.json"
FAST = {"min_delay_seconds": 0.0, "jitter_seconds": 0.0, "concurrency": 4}


def steady_state(*, in_window: bool) -> dict[str, Any]:
    # Articles 3 h apart; the newest 30 min old puts 16 inside 48 h, 72 h old puts none.
    site = FixtureSite(articles_count=40, per_page=14,
                       newest_age=timedelta(minutes=30) if in_window else timedelta(hours=72))
    with SiteServer(site) as server, tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp), server.base, fetch=FAST)
        cold = run_collect(config)
        site.reset_log()
        steady = run_collect(config)
        hits = site.hits
    listing = [h for h in hits if not h.path.endswith(".html")]
    return {
        "articles": 40, "listing_pages": site.pages,
        "articles_in_recheck_window": sum(1 for h in hits if h.path.endswith(".html")),
        "cold_requests": cold.counts.requests, "cold_new": cold.counts.new,
        "steady_requests": len(hits),
        "steady_conditional": sum(h.conditional for h in hits),
        "steady_304": sum(h.status == 304 for h in hits),
        "steady_listing_requests": len(listing),
        "steady_body_bytes_sent": sum(h.sent for h in hits),
        "steady_bytes_received": steady.counts.bytes,
        "steady_new": steady.counts.new, "steady_changed": steady.counts.changed,
    }


def cold_run(*, articles: int, latency: float, min_delay: float, jitter: float,
             concurrency: int) -> dict[str, Any]:
    site = FixtureSite(articles_count=articles, per_page=20)
    site.latency = latency
    fetch = {"min_delay_seconds": min_delay, "jitter_seconds": jitter,
             "concurrency": concurrency, "timeout_seconds": 10.0}
    with SiteServer(site) as server, tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp), server.base, fetch=fetch)
        started = time.perf_counter()
        report = run_collect(config)
        wall = time.perf_counter() - started
    gap = min_delay + jitter / 2
    requests = report.counts.requests
    return {
        "articles": articles, "latency_s": latency, "min_delay_s": min_delay, "jitter_s": jitter,
        "concurrency": concurrency, "requests": requests, "new": report.counts.new,
        "bytes_received": report.counts.bytes, "wall_s": round(wall, 2),
        "politeness_bound_s": round(requests * gap, 2),
        "allowed_rate_per_s": round(1 / gap, 2) if gap else None,
        "outcome": report.outcome,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--min-delay", type=float, default=0.1)
    parser.add_argument("--jitter", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:]
                             if __name__ == "__main__" else [])
    logging.basicConfig(level=logging.ERROR)

    print("command: .venv/bin/python benchmarks/bench_collect.py "
          f"--articles {args.articles} --latency {args.latency} --min-delay {args.min_delay} "
          f"--jitter {args.jitter} --concurrency {args.concurrency}")
    results: dict[str, Any] = {}
    for key, in_window in (("steady_outside_window", False), ("steady_16_in_window", True)):
        r = results[key] = steady_state(in_window=in_window)
        print(f"\n{key}: {r['listing_pages']} listing pages, {r['articles']} articles, "
              f"{r['articles_in_recheck_window']} inside the re-check window")
        print(f"  cold run:      {r['cold_requests']} requests, {r['cold_new']} new")
        print(f"  steady run:    {r['steady_requests']} requests "
              f"({r['steady_listing_requests']} listing, {r['steady_conditional']} conditional, "
              f"{r['steady_304']} answered 304), {r['steady_body_bytes_sent']} body bytes sent, "
              f"{r['steady_bytes_received']} bytes received; new {r['steady_new']}, "
              f"changed {r['steady_changed']}")
    r = results["cold_run"] = cold_run(articles=args.articles, latency=args.latency,
                                       min_delay=args.min_delay, jitter=args.jitter,
                                       concurrency=args.concurrency)
    print(f"\ncold run: {r['articles']} articles, {r['latency_s'] * 1000:.0f} ms latency, "
          f"min_delay {r['min_delay_s']} s + jitter 0..{r['jitter_s']} s, "
          f"concurrency {r['concurrency']}")
    print(f"  {r['requests']} requests, {r['bytes_received']} bytes, {r['new']} new")
    print(f"  wall time {r['wall_s']:.2f} s; politeness bound {r['politeness_bound_s']:.2f} s "
          f"({r['requests']} requests / {r['allowed_rate_per_s']} per s)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {OUT.relative_to(ROOT)}")
    ok = (results["steady_outside_window"]["steady_requests"]
          == results["steady_outside_window"]["steady_listing_requests"] == 1
          and r["new"] == args.articles)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
