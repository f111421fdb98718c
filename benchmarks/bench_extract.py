"""Pages per second of the profile extractor on the kinhtedothi fixtures, and of trafilatura on
the same pages in the same run when it is installed (`pip install -e '.[bench]'`).

    .venv/bin/python benchmarks/bench_extract.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.errors import NotAnArticle  # noqa: E402
from monitor.extract import extract_article  # noqa: E402
from monitor.extract.html import parse  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "kinhtedothi"
URL = "https://kinhtedothi.vn/bench.1.html"


def pages() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(FIXTURES.glob("article-*.html"))]


def rate(work: Callable[[bytes], object], docs: list[bytes], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for doc in docs:
            work(doc)
        done += len(docs)
    return done / (time.perf_counter() - started)


def _profile(doc: bytes) -> object:
    try:
        return extract_article(doc, URL)
    except NotAnArticle:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args(argv or [])
    found = pages()
    if not found:
        print(f"no fixtures under {FIXTURES}")
        return 1
    docs = [d for _, d in found]
    kb = sum(map(len, docs)) / len(docs) / 1024
    print(f"{len(docs)} article fixtures, {kb:.0f} KB on average; {args.seconds:.0f} s each")
    print(f"bare parse (selectolax.lexbor)  {rate(parse, docs, args.seconds):8.0f} pages/s")
    profile = rate(_profile, docs, args.seconds)
    print(f"profile extractor               {profile:8.0f} pages/s  (target >= 500)")
    try:
        import trafilatura
    except ImportError:
        print("trafilatura                     not installed (pip install -e '.[bench]')")
        return 0
    traf = rate(lambda d: trafilatura.extract(d.decode("utf-8", "replace")), docs, args.seconds)
    print(f"trafilatura {trafilatura.__version__:<19} {traf:8.0f} pages/s  "
          f"(profile is {profile / traf:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
