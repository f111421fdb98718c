"""What each optional step of the generic extractor costs and earns, one step left out at a time.

    .venv/bin/python benchmarks/ablate_generic.py [--limit N]

For every step: the score on ../shared/eval/wcxb-dev-articles without it (../shared/eval/score.py),
and the time it takes, measured warm: each page is extracted once unmeasured, then with every
variant in turn, so no variant pays for being first to read the page. Not part of `make bench`
(it runs the extractor eleven times over the pages); for deciding what the extractor could drop.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import eval_generic as ev  # first: it puts the repository on sys.path

import monitor.extract.generic as generic
import monitor.extract.generic_clean as generic_clean
import monitor.extract.generic_dom as generic_dom
from monitor.extract.generic import extract_generic_html

_prune = generic.prune


def _prune_invisible_only(body: Any, work: Any, parts: Any) -> None:
    parts.boilerplate = []  # keep nav/aside/footer/hidden parts; invisible tags still go
    _prune(body, work, parts)


# Each step: where it is looked up, and what stands in for it.
STEPS: dict[str, list[tuple[Any, str, Callable[..., Any]]]] = {
    "semantic/hidden prune": [(generic, "prune", _prune_invisible_only)],
    "lead parts": [(generic, "find_leads", lambda scope: [])],
    "class boxes": [(generic, "prune_boxes", lambda container, work: None)],
    "stray-line filter": [(generic, "_filter", lambda blocks, *rest: blocks)],
    "link lists": [(generic_clean, "_drop_link_lists", lambda root, work: None)],
    "box headings": [(generic_clean, "is_box_heading", lambda text: False)],
    "all container cleaning": [(generic, "clean_container", lambda root, work: None)],
    "main region": [(generic_dom, "_main_region", lambda chosen, work: chosen)],
    "copy filter": [(generic, "_copies", lambda texts: set())],
    "legal text": [(generic_dom, "is_legal", lambda text: False),
                   (generic, "is_legal", lambda text: False)],
}


@contextmanager
def without(step: str) -> Iterator[None]:
    saved = [(module, name, getattr(module, name)) for module, name, _ in STEPS[step]]
    for module, name, stand_in in STEPS[step]:
        setattr(module, name, stand_in)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--limit", type=int, default=None, help="first N pages only")
    args = ap.parse_args(argv)
    if not (ev.GOLD / "ground-truth").is_dir():
        print(f"{ev.GOLD} absent: ablation skipped")
        return 0
    pages = ev.load(args.limit)
    ids = {p[0] for p in pages}
    variants = ["(none)", *STEPS]
    spent = dict.fromkeys(variants, 0.0)
    rows: dict[str, list[tuple[str, str]]] = {v: [] for v in variants}
    for page_id, url, html in pages:
        extract_generic_html(html, url)  # warm: caches and the page's bytes
        for variant in variants:
            with without(variant) if variant in STEPS else _nothing():
                started = time.perf_counter()
                text = extract_generic_html(html, url).text
                spent[variant] += time.perf_counter() - started
            rows[variant].append((page_id, text))
    print(f"{len(pages)} pages; left out, score without it, and warm ms a page saved")
    print(f"{'left out':<24} {'F1':>6} {'with':>6} {'without':>8} {'ms/page':>8} {'saved':>6}")
    ev.OUT.mkdir(parents=True, exist_ok=True)
    for variant in variants:
        path = ev.OUT / "ablation.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for page_id, text in rows[variant]:
                out.write(json.dumps({"id": page_id, "text": text}, ensure_ascii=False) + "\n")
        s, _ = ev.score(path, ids)
        ms = spent[variant] / len(pages) * 1000
        saved = (spent["(none)"] - spent[variant]) / len(pages) * 1000
        print(f"{variant:<24} {s['f1']:>6.3f} {s['with']:>6.3f} {s['without']:>8.3f} "
              f"{ms:>8.2f} {saved:>6.2f}")
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
