"""The bundled relevance model: explained points that a topic asks for, and weights that the
training script gives again from the tuning part."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from monitor import relevance_model
from monitor.classify import classify_fields, explain
from monitor.config import TopicConfig
from monitor.store import verdicts

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import train_relevance_model  # noqa: E402


def topic(model_weight: float) -> TopicConfig:
    return TopicConfig(name="t", phrases={"tinh gọn bộ máy": 3.0}, threshold=4.0,  # type: ignore[arg-type]
                       model_weight=model_weight)


def test_a_topic_with_a_model_weight_gets_the_models_points_and_the_words_behind_them() -> None:
    title = "Sáp nhập 3 huyện và 12 xã thành một đơn vị hành chính mới"
    p = relevance_model.bundled().judge(title, "").probability
    assert p > 0.5
    (match,) = classify_fields(title, "", [], [topic(6.0)]).matched
    assert match.kind == "model" and match.terms
    assert match.points == round(6.0 * (2 * p - 1), 4) > 0
    assert explain(match).startswith("relevance model [") and "on title and sapo" in explain(match)
    assert classify_fields(title, "", [], [topic(0.0)]).matched == ()


@pytest.mark.parametrize(("title", "sapo"), [
    ("Ngày cuối cùng của tỉnh Hà Tây", ""),
    # the model's no, named by a word and a pair whose keys are written "giaỉ"
    ("Giải thể Ban quản lý thủy lợi", "Ban quản lý được giải thể từ ngày 1/7"),
], ids=["yes", "no"])
def test_the_words_named_are_written_as_the_text_writes_them(title: str, sapo: str) -> None:
    # folding keys move tone marks ("điêù", "cuả"): a reader must see the words of the text
    terms = relevance_model.bundled().judge(title, sapo).terms
    assert terms and all(t in f"{title} {sapo}".lower() for t in terms)


def test_the_models_no_takes_points_from_a_passing_phrase() -> None:
    title = "Tinh gọn bộ máy doanh nghiệp: bài toán của startup sau gọi vốn"
    without = classify_fields(title, "", [], [topic(0.0)])
    with_model = classify_fields(title, "", [], [topic(6.0)])
    model = [m for m in with_model.matched if m.kind == "model"]
    assert model and model[0].points < 0
    assert with_model.score < without.score


def test_the_bundled_weights_are_what_training_on_the_tuning_part_gives(tmp_path: Path) -> None:
    out = tmp_path / "model.json"
    assert train_relevance_model.main(["--out", str(out)]) == 0
    bundled = ROOT / "monitor" / "data" / relevance_model.MODEL_FILE
    assert out.read_bytes() == bundled.read_bytes()


def test_stored_verdicts_follow_a_retrained_model(monkeypatch: pytest.MonkeyPatch) -> None:
    uses, ignores = topic(6.0), topic(0.0)
    before = verdicts.fingerprint(uses), verdicts.fingerprint(ignores)
    real = relevance_model.bundled()
    monkeypatch.setattr(relevance_model, "bundled",
                        lambda: dataclasses.replace(real, version="retrained"))
    assert verdicts.fingerprint(uses) != before[0]
    assert verdicts.fingerprint(ignores) == before[1]
