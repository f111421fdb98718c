"""The relevance figures of the repository's config on the bundled labelled sets.

    .venv/bin/python benchmarks/relevance_report.py [--config config.toml]

A thin caller of ``monitor topics test --no-state`` on tests/fixtures/relevance/tuning.jsonl
(the set the rules were tuned on) and holdout.jsonl (written before the rules, never tuned on):
precision, recall, recall with the possible section, the possible section's size and every
error with its explanation.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.cli import main as monitor  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "relevance"
SETS = (FIXTURES / "tuning.jsonl", FIXTURES / "holdout.jsonl")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", default=str(ROOT / "config.toml"))
    args = parser.parse_args(argv)
    return monitor(["--config", args.config, "topics", "test", "--no-state",
                    *map(str, SETS)])


if __name__ == "__main__":
    sys.exit(main())
