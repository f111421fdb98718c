"""Relevance: weighted phrases on word boundaries over the folding key, explained."""

from __future__ import annotations

import importlib.util
import sys
import unicodedata
from pathlib import Path
from types import ModuleType

import pytest

from monitor.classify import classify, classify_fields, highlight_spans
from monitor.config import TopicConfig, load
from monitor.models import Article

ROOT = Path(__file__).resolve().parent.parent


def topic(**kw: object) -> TopicConfig:
    base: dict[str, object] = {
        "name": "t", "phrases": {"sáp nhập tỉnh": 3.0, "tinh gọn bộ máy": 3.0,
                                 "sáp nhập": 0.5, "thành ủy": 1.0},
        "exclude": ("sáp nhập ngân hàng",), "threshold": 4.0,
    }
    base.update(kw)
    return TopicConfig(**base)  # type: ignore[arg-type]


def test_a_title_phrase_weighs_more_than_the_same_phrase_in_the_body() -> None:
    in_title = classify_fields("Sáp nhập tỉnh", "", [], [topic()])
    in_body = classify_fields("", "", ["Sáp nhập tỉnh"], [topic()])
    assert in_title.score == 9.0 and in_title.relevant
    assert in_body.score == 3.0 and not in_body.relevant


def test_matching_ignores_case_and_tone_mark_placement_and_unicode_form() -> None:
    nfd = unicodedata.normalize("NFD", "Thành uỷ")
    result = classify_fields(nfd, "THÀNH ỦY", [], [topic()])
    assert [(m.phrase, m.where) for m in result.matched] == [("thành ủy", "title"),
                                                             ("thành ủy", "sapo")]


def test_phrases_match_only_on_word_boundaries() -> None:
    result = classify_fields("Thành ủyviên; xsáp nhập tỉnh", "", [], [topic()])
    assert result.matched == ()


def test_the_longest_phrase_wins_where_phrases_overlap() -> None:
    result = classify_fields("Sáp nhập tỉnh", "", [], [topic()])
    assert [m.phrase for m in result.matched] == ["sáp nhập tỉnh"]


def test_an_excluded_phrase_masks_the_phrases_it_overlaps_and_is_reported() -> None:
    result = classify_fields("Sáp nhập ngân hàng và sáp nhập tỉnh", "", [], [topic()])
    assert [m.phrase for m in result.matched] == ["sáp nhập tỉnh"]
    assert [m.phrase for m in result.excluded] == ["sáp nhập ngân hàng"]


def test_repeats_are_damped_and_negative_weights_count_against() -> None:
    t = topic(phrases={"sáp nhập tỉnh": 3.0, "cổ phiếu": -2.0})
    once = classify_fields("", "", ["sáp nhập tỉnh"], [t]).score
    thrice = classify_fields("", "", ["sáp nhập tỉnh. sáp nhập tỉnh; sáp nhập tỉnh"] * 2, [t])
    assert once == 3.0 and thrice.score == 6.0 and thrice.matched[0].count == 6
    assert classify_fields("", "", ["sáp nhập tỉnh, cổ phiếu"], [t]).score == 1.0


def test_each_match_says_where_it_is_in_the_field_text() -> None:
    body = ["Mở đầu.", "Việc tinh gọn bộ máy tiếp tục."]
    result = classify_fields("", "", body, [topic()])
    (match,) = result.matched
    text = "\n\n".join(body)
    assert match.where == "body"
    assert [text[a:b] for a, b in match.spans] == ["tinh gọn bộ máy"]
    assert match.points == 3.0 and match.weight == 3.0


def test_accent_insensitive_mode_is_opt_in() -> None:
    assert not classify_fields("Sap nhap tinh", "", [], [topic()]).matched
    loose = classify_fields("Sap nhap tinh", "", [], [topic(accent_insensitive=True)])
    assert [m.phrase for m in loose.matched] == ["sáp nhập tỉnh"] and loose.relevant


def test_relevant_to_any_topic_and_names_which() -> None:
    other = topic(name="other", phrases={"đặc khu": 5.0}, exclude=())
    result = classify_fields("Đặc khu mới", "", [], [topic(), other])
    assert result.relevant and result.topics == ("other",) and result.score == 15.0


def test_classify_reads_an_article() -> None:
    article = Article(url="https://kinhtedothi.vn/a.1.html", title="Tinh gọn bộ máy",
                      sapo="Kinhtedothi - Sáp nhập tỉnh", body=("x",))
    assert classify(article, [topic()]).relevant


def test_highlight_spans_merge_and_skip_counter_evidence() -> None:
    t = topic(phrases={"sáp nhập tỉnh": 3.0, "tỉnh ủy": 1.0, "cổ phiếu": -1.0})
    text = "Sáp nhập tỉnh ủy và cổ phiếu"
    assert [text[a:b] for a, b in highlight_spans(text, [t])] == ["Sáp nhập tỉnh"]
    assert highlight_spans("Sáp nhập tỉnh ủy", [topic(phrases={"sáp nhập tỉnh": 1.0}),
                                                topic(phrases={"tỉnh ủy": 1.0})]) == [(0, 16)]


def test_offsets_stay_exact_with_characters_that_lower_case_to_two() -> None:
    text = "İİ sáp nhập tỉnh"
    (start, end), = highlight_spans(text, [topic()])
    assert text[start:end] == "sáp nhập tỉnh"


# --- the labelled set ---------------------------------------------------------------------------


def _report_module() -> ModuleType:
    if "relevance_report" in sys.modules:
        return sys.modules["relevance_report"]
    spec = importlib.util.spec_from_file_location(
        "relevance_report", ROOT / "benchmarks" / "relevance_report.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["relevance_report"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_labelled_set_is_large_and_has_hard_negatives() -> None:
    report = _report_module()
    items = report.read_set(report.FIXTURES / "tuning.jsonl")
    assert len(items) >= 100
    assert len({i["id"] for i in items}) == len(items)
    negatives = [i for i in items if not i["relevant"]]
    text = " ".join(i["title"] + " " + i["sapo"] for i in negatives).lower()
    for word in ("sáp nhập ngân hàng", "kỷ luật", "kết nạp", "sắp xếp lại", "bộ máy"):
        assert word in text
    assert sum(1 for i in items if i.get("body")) >= 8


@pytest.mark.parametrize("name", ["tuning.jsonl"])
def test_default_topic_reaches_precision_and_recall_of_09(name: str) -> None:
    report = _report_module()
    config = load(ROOT / "config.toml")
    result = report.evaluate(report.read_set(report.FIXTURES / name), config.topics, name)
    assert result.precision >= 0.9, [i["id"] for i, _ in result.wrong]
    assert result.recall >= 0.9, [i["id"] for i, _ in result.wrong]


def test_the_report_runs_alone(capsys: pytest.CaptureFixture[str]) -> None:
    assert _report_module().main([]) == 0
    out = capsys.readouterr().out
    assert "tuning.jsonl" in out and "precision" in out and "holdout.jsonl" in out
