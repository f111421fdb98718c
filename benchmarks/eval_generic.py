"""Quality and speed of the generic extractor on ../shared/eval/wcxb-dev-articles, side by side
with trafilatura (when installed: `pip install -e '.[bench]'`) on the same pages in the same run;
then the same on the holdout (tests/fixtures/generic/holdout: Vietnamese outlets, portals and
blogs in markups the extractor was never tuned on; see its build.py).

    .venv/bin/python benchmarks/eval_generic.py [--set dev|holdout|all] [--limit N] [--worst 10]
                                                [--no-trafilatura] [--no-resiliparse]

Resiliparse, when installed (`pip install -e '.[bench-reference]'`, which `make bench` does),
runs beside them as a reference: a main-content extractor written in C++ on the same Lexbor
parser, with its own encoding detection, as ours and trafilatura's have. It tells what a
compiled extractor's speed is on this machine, which is the yardstick for the throughput target;
it is never a runtime dependency.

Predictions go to benchmarks/out/<extractor>.jsonl and are scored with ../shared/eval/score.py
(word 4-gram precision/recall/F1, `with` and `without` snippets). Pages are read into memory
first, so pages/s counts extraction (decode + parse + extract) and nothing else; the extractors
take turns page by page, so both see the same machine load. Skips with a
message, exit 0, where ../shared/eval is absent.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.extract.generic import extract_generic_html  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
GOLD = EVAL / "wcxb-dev-articles"
HOLDOUT = ROOT / "tests" / "fixtures" / "generic" / "holdout"
OUT = ROOT / "benchmarks" / "out"

Page = tuple[str, str, bytes]  # id, url, html


def load(limit: int | None, gold: Path = GOLD) -> list[Page]:
    """The pages of a gold folder: html/<id>.html.gz (or .html) beside ground-truth/<id>.json."""
    pages: list[Page] = []
    for truth in sorted((gold / "ground-truth").glob("*.json"))[:limit]:
        url = json.loads(truth.read_text(encoding="utf-8")).get("url") or ""
        packed = gold / "html" / f"{truth.stem}.html.gz"
        plain = packed.with_suffix("")
        if packed.exists():
            pages.append((truth.stem, url, gzip.decompress(packed.read_bytes())))
        elif plain.exists():
            pages.append((truth.stem, url, plain.read_bytes()))
    return pages


def generic(html: bytes, url: str) -> str:
    return extract_generic_html(html, url).text


def trafilatura_extractor() -> Callable[[bytes, str], str] | None:
    try:
        import trafilatura
    except Exception as exc:  # not installed, or installed without its html-clean extra
        print(f"trafilatura unavailable ({type(exc).__name__}: {exc}); generic only")
        return None

    def run(html: bytes, url: str) -> str:
        return trafilatura.extract(html, url=url) or ""

    return run


def resiliparse_extractor() -> Callable[[bytes, str], str] | None:
    try:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    except Exception as exc:
        print(f"resiliparse unavailable ({type(exc).__name__}: {exc}); no compiled reference")
        return None

    def run(html: bytes, url: str) -> str:
        text: str = extract_plain_text(bytes_to_str(html, detect_encoding(html)),
                                       main_content=True)
        return text

    return run


def predict(
    runs: list[tuple[str, Callable[[bytes, str], str]]], pages: list[Page], tag: str = ""
) -> dict[str, tuple[Path, float]]:
    """Run every extractor on every page, page by page, and write each one's predictions.

    The extractors take turns on each page, so a machine that slows down during the run (other
    jobs, thermal limits) slows them alike and the ratio of their speeds stays fair. Which one
    goes first alternates from page to page, because order matters: measured twice over the 711
    pages, the speed ratio was 6.2 and 6.3 with the generic extractor always first, 6.7 and 6.8
    with trafilatura always first, 7.0 and 6.9 alternating (the first to read a page's bytes
    finds them outside the CPU's caches). With more than two, the order rotates by one.
    """
    rows: dict[str, list[tuple[str, str]]] = {name: [] for name, _ in runs}
    spent = dict.fromkeys(rows, 0.0)
    for turn, (page_id, url, html) in enumerate(pages):
        shift = turn % len(runs)
        for name, fn in runs[shift:] + runs[:shift]:
            started = time.perf_counter()
            text = fn(html, url)
            spent[name] += time.perf_counter() - started
            rows[name].append((page_id, text))
    OUT.mkdir(parents=True, exist_ok=True)
    result = {}
    for name, found in rows.items():
        path = OUT / f"{name}{tag}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for page_id, text in found:
                out.write(json.dumps({"id": page_id, "text": text}, ensure_ascii=False) + "\n")
        result[name] = (path, len(pages) / spent[name] if spent[name] else float("inf"))
    return result


def score(
    pred: Path, ids: set[str], gold: Path = GOLD
) -> tuple[dict[str, float], list[tuple[str, dict[str, float]]]]:
    """The scorer's summary and its per-page lines, restricted to the pages predicted."""
    done = subprocess.run(
        [sys.executable, str(EVAL / "score.py"), "--gold", str(gold), "--pred", str(pred),
         "--per-page", "--json"],
        capture_output=True, text=True, check=True,
    )
    lines = done.stdout.strip().split("\n")
    pages = []
    for line in lines[:-1]:
        page_id, *fields = line.split()
        if page_id in ids:
            pages.append((page_id, {k: float(v) for k, v in (f.split("=") for f in fields)}))
    summary: dict[str, float] = json.loads(lines[-1])
    if len(ids) < summary["pages"]:  # --limit: average over the pages actually run
        summary = _summary(pages)
    return summary, pages


def _summary(pages: list[tuple[str, dict[str, float]]]) -> dict[str, float]:
    def mean(key: str) -> float:
        values = [s[key] for _, s in pages if key in s]
        return sum(values) / len(values) if values else float("nan")

    p, r = mean("precision"), mean("recall")
    return {"pages": len(pages), "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
            "with": round(mean("with"), 4), "without": round(mean("without"), 4)}


def _empty(pred: Path, gold: Path) -> list[str]:
    """The pages whose prediction is empty while their gold text is not."""
    found = []
    for line in pred.read_text(encoding="utf-8").split("\n"):
        if line.strip() and not (row := json.loads(line))["text"].strip():
            truth = json.loads((gold / "ground-truth" / f"{row['id']}.json").read_text("utf-8"))
            if (truth.get("main_content") or "").strip():
                found.append(row["id"])
    return found


def f1(s: dict[str, float]) -> float:
    p, r = s["precision"], s["recall"]
    return 2 * p * r / (p + r) if p + r else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--set", choices=("dev", "holdout", "all"), default="all",
                    help="the 711-page development set, the holdout, or both (default)")
    ap.add_argument("--limit", type=int, default=None, help="first N pages only")
    ap.add_argument("--worst", type=int, default=10, help="list the N worst pages of generic")
    ap.add_argument("--no-trafilatura", action="store_true")
    ap.add_argument("--no-resiliparse", action="store_true",
                    help="leave out the compiled reference")
    args = ap.parse_args(argv or [])
    if not (EVAL / "score.py").exists():
        print(f"{EVAL / 'score.py'} absent: evaluation skipped")
        return 0
    runs: list[tuple[str, Callable[[bytes, str], str]]] = [("generic", generic)]
    if not args.no_trafilatura and (traf := trafilatura_extractor()) is not None:
        runs.append(("trafilatura", traf))
    if not args.no_resiliparse and (compiled := resiliparse_extractor()) is not None:
        runs.append(("resiliparse", compiled))
    sets = [("", GOLD)] if args.set == "dev" else [("-holdout", HOLDOUT)] \
        if args.set == "holdout" else [("", GOLD), ("-holdout", HOLDOUT)]
    for tag, gold in sets:
        if not (gold / "ground-truth").is_dir():
            print(f"{gold} absent: evaluation skipped")
            continue
        _evaluate(runs, gold, tag, args.limit, args.worst)
    return 0


def _evaluate(runs: list[tuple[str, Callable[[bytes, str], str]]], gold: Path, tag: str,
              limit: int | None, worst: int) -> None:
    pages = load(limit, gold)
    ids = {p[0] for p in pages}
    results = []
    predicted = predict(runs, pages, tag)
    for name, (path, rate) in predicted.items():
        summary, per_page = score(path, ids, gold)
        results.append((name, summary, rate, per_page))
    print(f"{len(pages)} pages of {gold}")
    print(f"{'extractor':<12} {'F1':>6} {'prec':>6} {'rec':>6} {'with':>6} {'without':>8} "
          f"{'pages/s':>8}")
    for name, s, rate, _ in results:
        print(f"{name:<12} {s['f1']:>6.3f} {s['precision']:>6.3f} {s['recall']:>6.3f} "
              f"{s['with']:>6.3f} {s['without']:>8.3f} {rate:>8.1f}")
    rates = {name: rate for name, _, rate, _ in results}
    if "trafilatura" in rates:
        for name, rate in rates.items():
            if name != "trafilatura":
                print(f"speed: {name} is {rate / rates['trafilatura']:.1f}x trafilatura")
    print(f"'no article found' (empty text, gold text not empty): "
          f"{' '.join(_empty(predicted['generic'][0], gold)) or 'none'}")
    if worst:
        print(f"\n{worst} worst pages of generic (by 4-gram F1):")
        for page_id, s in sorted(results[0][3], key=lambda x: f1(x[1]))[:worst]:
            print(f"  {page_id} f1={f1(s):.3f} p={s['precision']:.3f} r={s['recall']:.3f}")
    print()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
