"""Precision, recall and F1 of the relevance rules on the labelled sets, and what they get wrong.

    .venv/bin/python benchmarks/relevance_report.py [--config config.toml] [--set FILE ...]

By default it scores the topics of the repository's config.toml on
tests/fixtures/relevance/tuning.jsonl (the set the phrases were tuned on) and holdout.jsonl
(written at the same time, never used for tuning). Each line of a set is a JSON object with
"id", "title", "sapo", optionally "body" (a list of paragraphs), "relevant" and "note".
An item counts as predicted relevant when it reaches the threshold of any configured topic.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.classify import classify_fields  # noqa: E402
from monitor.config import TopicConfig, load  # noqa: E402
from monitor.models import Relevance  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "relevance"
DEFAULT_SETS = (FIXTURES / "tuning.jsonl", FIXTURES / "holdout.jsonl")


@dataclass
class Report:
    name: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    wrong: list[tuple[dict[str, Any], Relevance]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def read_set(path: Path) -> list[dict[str, Any]]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            item = json.loads(line)
            if not isinstance(item.get("relevant"), bool):
                raise ValueError(f"{path}:{n}: 'relevant' must be true or false")
            items.append(item)
    return items


def evaluate(items: Sequence[dict[str, Any]], topics: Sequence[TopicConfig],
             name: str = "") -> Report:
    report = Report(name)
    for item in items:
        result = classify_fields(item["title"], item.get("sapo", ""), item.get("body", []), topics)
        truth = item["relevant"]
        if result.relevant and truth:
            report.tp += 1
        elif result.relevant:
            report.fp += 1
            report.wrong.append((item, result))
        elif truth:
            report.fn += 1
            report.wrong.append((item, result))
        else:
            report.tn += 1
    return report


def _explain(result: Relevance) -> str:
    found = [f"{m.phrase!r}@{m.where}={m.points:g}" for m in result.matched if m.points]
    return ", ".join(found) or "no phrase"


def print_report(report: Report, out: Any = None) -> None:
    w = (out or sys.stdout).write
    w(f"== {report.name}: {report.total} items "
      f"({report.tp + report.fn} relevant, {report.fp + report.tn} not)\n")
    w(f"precision {report.precision:.3f}  recall {report.recall:.3f}  F1 {report.f1:.3f}  "
      f"(tp {report.tp}, fp {report.fp}, fn {report.fn}, tn {report.tn})\n")
    for item, result in report.wrong:
        kind = "false positive" if result.relevant else "false negative"
        w(f"  {kind:<14} {item['id']:<6} score {result.score:g}: {item['title']}\n")
        w(f"  {'':<14} {item.get('note', '')}; matched: {_explain(result)}\n")
    w("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", default=str(ROOT / "config.toml"))
    parser.add_argument("--set", dest="sets", action="append", metavar="FILE",
                        help="a labelled JSONL file (repeatable); default: the bundled sets")
    args = parser.parse_args(argv)
    config = load(args.config)
    if not config.topics:
        print(f"{args.config}: no [[topics]] to evaluate", file=sys.stderr)
        return 2
    for path in [Path(p) for p in args.sets] if args.sets else DEFAULT_SETS:
        print_report(evaluate(read_set(path), config.topics, path.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
