"""Train the relevance model (``monitor/relevance_model.py``) on labelled sets and write its
weights to monitor/data/relevance_model.json.

    .venv/bin/python benchmarks/train_relevance_model.py [FILE.jsonl ...] [--out PATH]

Default: the tuning part of tests/fixtures/relevance/ (the format ``monitor topics test``
reads), never the holdout, which measures the model as it measures the rules. A logistic
regression over ``relevance_model.features`` of each title and sapo (their weights summed and
divided by the square root of their number), fitted by stochastic gradient descent in a fixed
order, so the same files give the same weights byte for byte. Weights under 0.005 are dropped;
the rest are rounded to four decimals.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.relevance_model import MODEL_FILE, features, norm, probability  # noqa: E402
from monitor.scoring import read_labelled  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "relevance"
EPOCHS, RATE, DECAY = 30, 0.1, 1e-4


def train(examples: list[tuple[list[str], int]]) -> tuple[dict[str, float], float]:
    weights: dict[str, float] = {}
    bias = 0.0
    order = list(range(len(examples)))
    for epoch in range(EPOCHS):
        random.Random(epoch).shuffle(order)
        for i in order:
            found, label = examples[i]
            scale = norm(len(found))
            error = probability(bias + sum(weights.get(f, 0.0) for f in found) / scale) - label
            bias -= RATE * error
            for f in found:
                w = weights.get(f, 0.0)
                weights[f] = w - RATE * (error / scale + DECAY * w)
    return weights, bias


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "monitor" / "data" / MODEL_FILE)
    args = parser.parse_args(argv)
    files = args.files or [FIXTURES / "tuning.jsonl"]
    items = [item for path in files for item in read_labelled(path)]
    weights, bias = train([(features(i.title, i.sapo), int(i.relevant)) for i in items])
    kept = {f: round(w, 4) for f, w in sorted(weights.items()) if abs(w) >= 0.005}
    args.out.write_text(json.dumps({"bias": round(bias, 4), "weights": kept},
                                   ensure_ascii=False, separators=(",", ":")) + "\n",
                        encoding="utf-8")
    print(f"{len(items)} items from {len(files)} file(s): {len(kept)} weights -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
