"""Articles per second of the default topic's classification on full articles (target: 2,000).

    .venv/bin/python benchmarks/bench_classify.py [--rounds 7] [--config config.toml]

The articles: every labelled headline and lead of tests/fixtures/relevance/, each given
the full body of one of the Vietnamese article pages of the fixtures (the kinhtedothi pages and
the Vietnamese generic ones, extracted by the profile or generic extractor): bodies of 160 to
1,500 words, most on the beat, so near rules and exclusions have work to do. Each round
classifies every article once, in this one process, timed by this process's CPU time (the
machine is shared: wall-clock time also counts the neighbours' work; it is printed too). The
best round is the figure, the median is printed beside it, with the load average.

The classifier remembers each word it has cut (Vietnamese is written in a few thousand
syllables), and the benchmark's bodies repeat, so its rounds read words the memo knows. A
running service also meets words it has never seen. How many is measured on the labelled
headlines and leads read in order (over the second half, after the first): the share of words
met for the first time (4.0 %), and the share of those holding a token never met either (36 %:
a new number or name, not a new spelling of a known syllable). The second figure is taken with
that many of each article's words forgotten by the classifier's memos before it is classified
(the words, and for that share of them their tokens, in the relevance model's memo too when
they are in the title or sapo). The third is the same on every core of the machine at once (one
process per core, wall clock), as ``verdicts.refresh`` classifies a large archive. The target
is judged on the machine's figure with new words, and said for one process too.

With ``--archive N`` it also measures the product's bulk path: a state database of N stored
versions (the same articles, in turn), re-classified by ``verdicts.refresh`` after a topic
change, once in this process alone and once on every core (what ``refresh`` does from
``verdicts.PARALLEL_FROM`` versions on), in wall-clock time, reads and writes included.

    .venv/bin/python benchmarks/bench_classify.py --archive 6000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import relevance_model  # noqa: E402
from monitor.classify import classify_fields  # noqa: E402
from monitor.config import Config, load  # noqa: E402
from monitor.errors import NotAnArticle  # noqa: E402
from monitor.extract import extract_article  # noqa: E402
from monitor.scoring import LabelledItem, read_labelled  # noqa: E402
from monitor.store import verdicts  # noqa: E402
from monitor.termindex import compile_topic, tokens_of  # noqa: E402

TARGET = 2000.0
FIXTURES = ROOT / "tests" / "fixtures"


def bodies() -> list[tuple[str, ...]]:
    pages = [*sorted((FIXTURES / "kinhtedothi").glob("article-*.html")),
             *sorted((FIXTURES / "generic").glob("vi-*.html"))]
    found = []
    for page in pages:
        try:
            article = extract_article(page.read_bytes(), "https://kinhtedothi.vn/bench.1.html")
        except NotAnArticle:
            continue
        if article.body:
            found.append(article.body)
    return found


def labelled() -> list[LabelledItem]:
    """The labelled headlines and leads, tuning part then holdout, in file order."""
    return [item for name in ("tuning.jsonl", "holdout.jsonl")
            for item in read_labelled(FIXTURES / "relevance" / name)]


def articles() -> list[tuple[str, str, tuple[str, ...]]]:
    texts = bodies()
    return [(item.title, item.sapo, texts[i % len(texts)]) for i, item in enumerate(labelled())]


@dataclass(frozen=True)
class Novelty:
    """How much of a text a long-running classifier has never met."""

    words: float  # share of the words (as written, between spaces) met for the first time
    tokens: float  # share of those holding a token (lower case) never met either


def novelty() -> Novelty:
    """Measured on the labelled headlines and leads read in order, over the second half (the
    first half read before): a word counts as new at its first occurrence only, as the memo
    learns it there."""
    texts = [f"{item.title} {item.sapo}" for item in labelled()]
    words_seen: set[str] = set()
    tokens_seen: set[str] = set()
    new = new_tokens = total = 0
    for i, text in enumerate(texts):
        for word in text.split(" "):
            tokens = tokens_of(word.lower())
            if i >= len(texts) // 2:
                total += 1
                if word not in words_seen:
                    new += 1
                    new_tokens += not tokens_seen.issuperset(tokens)
            words_seen.add(word)
            tokens_seen.update(tokens)
    return Novelty(new / total, new_tokens / max(new, 1))


@dataclass(frozen=True)
class Forget:
    """What one article's classification meets new."""

    words: list[str]  # the word memo's
    tokens: list[str]  # the token memo's: those of some of the words
    keys: list[str]  # the model's (it reads the title and sapo): the tokens of their words


def _forget_plan(docs: list[tuple[str, str, tuple[str, ...]]], novelty: Novelty,
                 rng: random.Random) -> list[Forget]:
    """Per article, the words to forget (that share of its words, distinct) and the tokens
    (those of that share of the words forgotten)."""
    plan = []
    for title, sapo, body in docs:
        head = set(f"{title} {sapo}".split(" "))
        words = " ".join((title, sapo, *body)).split(" ")
        distinct = sorted(set(words))
        forget = rng.sample(distinct, min(len(distinct), round(novelty.words * len(words))))
        fresh = [w for w in forget if rng.random() < novelty.tokens]
        plan.append(Forget(forget, [t for w in fresh for t in tokens_of(w.lower())],
                           [t for w in fresh if w in head for t in tokens_of(w.lower())]))
    return plan


def _forgetting(config: Config, docs: list[tuple[str, str, tuple[str, ...]]],
                plan: list[Forget]) -> float:
    """Classifies every article, each right after its memos forget what it meets new; the CPU
    time of the classifying (a service does not forget: making words new is not its work)."""
    word_memos = [compile_topic(t).word_memo for t in config.topics]
    token_memos = [compile_topic(t).token_memo for t in config.topics]
    spent = 0.0
    for (title, sapo, body), forget in zip(docs, plan, strict=True):
        for memo in word_memos:
            for word in forget.words:
                memo.pop(word, None)
        for memo in token_memos:
            for token in forget.tokens:
                memo.pop(token, None)
        for token in forget.keys:
            relevance_model.KEYS.pop(token, None)
        cpu = time.process_time()
        classify_fields(title, sapo, body, config.topics)
        spent += time.process_time() - cpu
    return spent


def with_new_words(config: Config, docs: list[tuple[str, str, tuple[str, ...]]],
                   novelty: Novelty, rounds: int) -> list[float]:
    """Articles/s (CPU time) of each round when ``novelty`` of each article's words and tokens
    are new: that many of its distinct words, drawn before the round, are forgotten by the
    classifier's memos (words, tokens, and the model's keys) right before it is classified (the
    clock reads cost about 1 us an article, against the figure)."""
    rng = random.Random(12)
    rates = []
    for _ in range(rounds):
        plan = _forget_plan(docs, novelty, rng)
        rates.append(len(docs) / max(_forgetting(config, docs, plan), 1e-9))
    return rates


def _one_of_many(config: Config, docs: list[tuple[str, str, tuple[str, ...]]],
                 novelty: Novelty, rounds: int, seed: int, ready: Any, results: Any) -> None:
    """One process of ``on_every_core``: its rounds, timed from when every process is ready
    (a failure is reported, and releases the others, instead of leaving them waiting)."""
    try:
        rng = random.Random(seed)
        plans = [_forget_plan(docs, novelty, rng) for _ in range(rounds)]
        ready.wait()
        start = time.perf_counter()
        for plan in plans:
            _forgetting(config, docs, plan)
        results.put((start, time.perf_counter(), len(docs) * rounds))
    except BaseException as exc:
        ready.abort()
        results.put(repr(exc))


def on_every_core(config: Config, docs: list[tuple[str, str, tuple[str, ...]]],
                  novelty: Novelty, rounds: int) -> tuple[int, float]:
    """Articles/s of one process per core classifying at once, with new words (wall clock,
    from the common start to the last end, the forgetting counted in, a little against the
    figure): what the machine does, as ``verdicts.refresh`` uses it for a large archive."""
    processes = verdicts._workers(verdicts.PARALLEL_FROM) or 1  # as many as refresh starts
    context = multiprocessing.get_context("fork")  # each starts with this one's warm memos
    ready, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_one_of_many,
                               args=(config, docs, novelty, rounds, 12 + i, ready, results))
               for i in range(processes)]
    for worker in workers:
        worker.start()
    runs = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    failed = [run for run in runs if isinstance(run, str)]
    if failed:
        raise SystemExit(f"bench_classify: a process failed: {failed[0]}")
    return processes, sum(n for _, _, n in runs) / (max(e for _, e, _ in runs)
                                                    - min(s for s, _, _ in runs))


def archive(config: Config, docs: list[tuple[str, str, tuple[str, ...]]], size: int) -> int:
    """Articles/s of re-classifying ``size`` stored versions, alone and on every core."""
    import dataclasses
    import tempfile
    from datetime import UTC, datetime

    from monitor.models import Article
    from monitor.store import db
    from monitor.store.articles import Fetched, record_article

    now = datetime(2026, 1, 1, tzinfo=UTC)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        conn = db.connect(Path(tmp) / "state.db")
        for i in range(size):
            title, sapo, body = docs[i % len(docs)]
            url = f"https://kinhtedothi.vn/bai-{i}.{i}.html"
            record_article(conn, ident=str(i), url=url, source="bench", run_id=None, now=now,
                           article=Article(url=url, title=title, sapo=sapo, body=body),
                           fetched=Fetched(url, None, None, "text/html", b""), baseline=False)
        topics = config.topics
        for workers in (0, verdicts._workers(size)):
            # a changed topic: the whole archive is re-classified
            topics = tuple(dataclasses.replace(t, threshold=t.threshold + 0.001) for t in topics)
            start = time.perf_counter()
            done = verdicts.refresh(conn, topics, now=now, workers=workers).versions
            rate = done / (time.perf_counter() - start)
            print(f"re-classifying {done:,} stored versions, "
                  f"{'this process alone' if not workers else f'{workers} worker processes'}: "
                  f"{rate:,.0f} articles/s (wall clock)")
            ok = rate >= TARGET
        conn.close()
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--config", default=str(ROOT / "config.toml"))
    parser.add_argument("--new-share", type=float, default=None, metavar="SHARE",
                        help="share of each article's words new to the memo (default: the "
                             "share measured on the labelled headlines and leads)")
    parser.add_argument("--archive", type=int, default=0, metavar="N",
                        help="also re-classify a state database of N stored versions")
    args = parser.parse_args(argv)
    config = load(args.config)
    topics = config.topics
    docs = articles()
    words = statistics.mean(len(" ".join(body).split()) for _, _, body in docs)
    for doc in docs[:20]:  # compile the topic, warm the caches
        classify_fields(*doc, topics)
    rates, walls = [], []
    for _ in range(max(args.rounds, 1)):
        cpu, wall = time.process_time(), time.perf_counter()
        for doc in docs:
            classify_fields(*doc, topics)
        rates.append(len(docs) / max(time.process_time() - cpu, 1e-9))
        walls.append(len(docs) / (time.perf_counter() - wall))
    best, median = max(rates), statistics.median(rates)
    load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"classify: {len(docs)} full articles ({words:.0f} words on average), "
          f"{len(topics)} topic(s), {len(rates)} rounds in one process")
    print(f"  CPU time: best {best:,.0f} articles/s ({1e6 / best:.0f} us each), median "
          f"{median:,.0f} articles/s")
    print(f"  wall clock: best {max(walls):,.0f} articles/s; load average {load_avg}")
    measured = novelty()
    share = measured if args.new_share is None else Novelty(args.new_share, measured.tokens)
    fresh = max(with_new_words(config, docs, share, max(args.rounds, 1)))
    print(f"  with {share.words:.1%} of each article's words new"
          f"{' (the share in real headlines and leads)' if args.new_share is None else ''}, "
          f"{share.tokens:.0%} of them with a new token: best {fresh:,.0f} articles/s "
          f"({1e6 / fresh:.0f} us each)")
    processes, machine = on_every_core(config, docs, share, max(args.rounds // 2, 2))
    print(f"  the same on this machine, {processes} processes at once: {machine:,.0f} articles/s "
          f"(wall clock)")
    ok = machine >= TARGET
    verdicts = ["met" if rate >= TARGET else "NOT met" for rate in (machine, fresh)]
    print(f"  target {TARGET:,.0f} articles/s with new words on this machine: {verdicts[0]}; "
          f"in one process: {verdicts[1]}")
    if args.archive:
        return archive(config, docs, args.archive)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
