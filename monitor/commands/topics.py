"""`monitor topics test [FILE.jsonl ...]`: score the configured topics on labelled items."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from monitor import scoring
from monitor.config import Config
from monitor.errors import UsageError
from monitor.store import db, labels


def state_items(config: Config) -> list[scoring.LabelledItem]:
    """The operator's labels on articles still stored (a label whose article is gone is
    skipped: there is no text to judge)."""
    path = db.db_path(config.state_dir)
    if not path.exists():
        return []
    conn = db.connect_readonly(path)
    try:
        found = labels.all_labels(conn)
    finally:
        conn.close()
    return [scoring.LabelledItem(id=f"{a.ident}", title=a.title, relevant=a.label == "relevant",
                                 sapo=a.sapo, body=a.body, note=a.note or a.url)
            for a in found if a.title is not None]


def test_command(config: Config, files: Sequence[str], *, min_precision: float | None,
                 min_recall: float | None, use_state: bool, out: TextIO) -> int:
    for name, value in (("--min-precision", min_precision), ("--min-recall", min_recall)):
        if value is not None and not 0 <= value <= 1:
            raise UsageError(f"{name}: expected a number from 0 to 1, got {value:g}")
    if not config.topics:
        raise UsageError("the config has no [[topics]] to test")
    cards = []
    if use_state:
        items = state_items(config)
        if items or not files:
            cards.append(scoring.evaluate(items, config.topics, "labels in the state"))
    for name in files:
        path = Path(name)
        cards.append(scoring.evaluate(scoring.read_labelled(path), config.topics, path.name))
    total = scoring.combined(cards) if len(cards) > 1 else cards[0]
    if not total.outcomes:
        out.write("nothing to score: label stored articles with `monitor label URL "
                  "relevant|not`, or pass labelled JSONL files\n")
        return 0
    for card in cards:
        out.write(scoring.render(card) + "\n")
    if len(cards) > 1:
        out.write(scoring.figures(total) + "\n")
    failed = []
    if min_precision is not None and total.precision < min_precision:
        failed.append(f"precision {total.precision:.3f} < {min_precision:g}")
    if min_recall is not None and total.recall < min_recall:
        failed.append(f"recall {total.recall:.3f} < {min_recall:g}")
    if failed:
        out.write("FAILED: " + "; ".join(failed) + "\n")
        return 1
    return 0
