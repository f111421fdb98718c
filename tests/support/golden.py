"""Golden files: compare produced text with a committed file, or rewrite it with UPDATE_GOLDEN=1
(then review `git diff tests/fixtures/golden/`)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from monitor.extract.text import VN_TZ

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"


def at(day: int, hour: int, minute: int) -> datetime:
    """A Vietnam time in December 2025, the month of the golden digests."""
    return datetime(2025, 12, day, hour, minute, tzinfo=VN_TZ)


def check(name: str, produced: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(produced, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with UPDATE_GOLDEN=1 to create it"
    assert produced == path.read_text(encoding="utf-8"), (
        f"{name} differs from {path}; if the change is intended, regenerate with "
        "UPDATE_GOLDEN=1 and review the diff")
