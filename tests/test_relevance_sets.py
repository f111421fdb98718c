"""The labelled sets of tests/fixtures/relevance/ and the default topic's figures on them.

tuning.jsonl is what the rules and the relevance model are tuned on (1,695 items): the team's
first 387, 196 by a second labeller, and six earlier fresh holdouts (by a third to an eighth
labeller) once their errors had been read. holdout.jsonl was written by a ninth labeller who
never saw the rules, the model or the other sets, and was committed, with the model retrained
on the tuning part, before it was first measured (see README, "Relevance"). Every error:
`python benchmarks/relevance_report.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.config import load
from monitor.extract.text import fold
from monitor.scoring import LabelledItem, evaluate, read_labelled

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "relevance"
TUNING = read_labelled(FIXTURES / "tuning.jsonl")
HOLDOUT = read_labelled(FIXTURES / "holdout.jsonl")
ALL = TUNING + HOLDOUT

# The stems every outlet uses for the reorganisation; a relevant title without any of them is
# what a fixed phrase list misses.
COMMON_STEMS = ("sắp xếp", "sáp nhập", "tinh gọn", "2 cấp", "hai cấp", "tinh giản")
# Words of the beat: a non-relevant item that uses one of them in another sense is a hard
# negative ("sắp xếp, bố trí tái định cư", "Sáp nhập ngân hàng", "bộ máy in").
BEAT_WORDS = (*COMMON_STEMS, "hợp nhất", "bộ máy", "giải thể", "đầu mối", "biên chế", "đặc khu",
              "cấp huyện", "chia tách", "tách", "cắt giảm", "ra mắt", "bổ nhiệm", "bầu",
              "điều chỉnh", "tạm dừng", "xóa bỏ", "thôn", "tổ dân phố", "sở", "cục", "quận",
              "phường", "bố trí", "nhập", "thành lập", "đảng bộ khối", "chính sách", "nghỉ hưu",
              "kỳ họp thứ nhất")


def _has(text: str, words: tuple[str, ...]) -> bool:
    key = fold(text)
    return any(re.search(rf"(?<!\w){re.escape(fold(w))}(?!\w)", key) for w in words)


def _hard_negative(item: LabelledItem) -> bool:
    return not item.relevant and _has(f"{item.title} {item.sapo}", BEAT_WORDS)


def test_the_labelled_sets_are_large_varied_and_kept_apart() -> None:
    assert len(ALL) >= 250
    assert len({i.id for i in ALL}) == len(ALL), "ids are unique across both parts"
    assert not {fold(i.title) for i in TUNING} & {fold(i.title) for i in HOLDOUT}
    assert sum(_hard_negative(i) for i in ALL) >= 60
    assert sum(i.relevant and not _has(i.title, COMMON_STEMS) for i in ALL) >= 50
    assert sum(not i.sapo and not i.body for i in ALL) >= 40
    assert len(HOLDOUT) >= 100 and sum(i.relevant for i in HOLDOUT) >= 50


@pytest.mark.parametrize(("name", "items", "precision", "recall", "seen"), [
    ("tuning", TUNING, 0.98, 0.96, 0.99),  # measured 0.992 / 0.974 / 0.995; the model learnt it
    # measured once, blind: 0.980 / 0.960 / 0.990, possible section 1.1 % of the non-relevant
    # items (the 0.95 / 0.93 / 0.98 / 10 %); the rules alone: 0.926 / 0.880 / 0.950
    ("holdout", HOLDOUT, 0.95, 0.93, 0.98),
])
def test_the_default_topic_on_the_labelled_sets(name: str, items: list[LabelledItem],
                                                precision: float, recall: float,
                                                seen: float) -> None:
    card = evaluate(items, load(ROOT / "config.toml").topics, name)
    wrong = [o.item.id for o in card.errors]
    assert card.precision >= precision, wrong
    assert card.recall >= recall, wrong
    assert card.recall_with_possible >= seen, wrong
    assert card.possible_noise <= 0.10
