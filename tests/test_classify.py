"""Relevance: weighted phrases on word boundaries over the folding key, explained."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from monitor.classify import classify, classify_fields, highlight_spans
from monitor.config import ContextRule, NearRule, TopicConfig, load
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


def test_a_tone_mark_on_any_vowel_of_a_syllable_matches() -> None:
    # three places for the tone of "ngoại": the config's (a), the folding key's (i), and a
    # writer's third (o), which text tokens reach only through every placement known up front
    t = topic(phrases={"ngoại giao": 3.0})
    for title in ("Ngoại giao", "Ngoaị giao", "Ngọai giao"):
        assert [m.phrase for m in classify_fields(title, "", [], [t]).matched] == ["ngoại giao"]


def test_any_dash_matches_the_hyphen_of_a_phrase() -> None:
    for dash in ("-", "\u2013", "\u2014", "\u2212"):
        for insensitive in (False, True):
            title = f"Tỉnh Bà Rịa {dash} Vũng Tàu"
            t = topic(phrases={"bà rịa - vũng tàu": 3.0}, accent_insensitive=insensitive)
            (match,) = classify_fields(title, "", [], [t]).matched
            assert match.terms == (f"Bà Rịa {dash} Vũng Tàu",)


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


# --- near rules, context exclusions, verdicts ------------------------------------------------

CLASSES = {"merge": ("sáp nhập", "hợp nhất", "giải thể"), "unit": ("huyện", "xã", "sở", "tổng cục"),
           "cut": ("giảm",)}


def near_topic(**kw: object) -> TopicConfig:
    base: dict[str, object] = {
        "name": "n", "threshold": 4.0, "classes": CLASSES,
        "near": (NearRule("merge-unit", "merge", "unit", 1.5, within=2),
                 NearRule("cut-unit", "cut", "unit", 1.5, within=0, order="action_first")),
    }
    base.update(kw)
    return TopicConfig(**base)  # type: ignore[arg-type]


def test_an_action_finds_its_unit_across_numbers_lists_and_function_words() -> None:
    for title in ("Sáp nhập 3 huyện và 12 xã", "Hợp nhất nhiều sở", "Giảm 4 sở, 2 ban",
                  "Giải thể các tổng cục"):
        result = classify_fields(title, "", [], [near_topic()])
        assert result.verdict == "relevant", title
        assert result.matched[0].kind == "near" and result.matched[0].where == "title"


def test_a_near_match_names_its_rule_and_the_words_it_found_where_they_are() -> None:
    title = "Quảng Ninh sáp nhập 2 huyện"
    (match,) = classify_fields(title, "", [], [near_topic()]).matched
    assert match.phrase == "merge-unit" and match.terms == ("sáp nhập … huyện",)
    assert [title[a:b] for a, b in match.spans] == ["sáp nhập 2 huyện"]
    assert match.points == 4.5  # weight 1.5 x title weight 3


def test_too_many_words_or_a_sentence_end_between_them_break_the_pair() -> None:
    t = near_topic()
    assert not classify_fields("Sáp nhập trường mầm non thôn cũ vào xã", "", [], [t]).matched
    assert not classify_fields("Bàn việc sáp nhập. Xã đón khách", "", [], [t]).matched
    assert classify_fields("Sáp nhập trường vào xã", "", [], [t]).matched


def test_order_unit_first_takes_only_a_unit_before_its_action() -> None:
    t = near_topic(near=(NearRule("end", "merge", "unit", 1.5, within=1, order="unit_first"),))
    assert classify_fields("Tổng cục Dân số giải thể", "", [], [t]).matched
    assert not classify_fields("Giải thể tổng cục", "", [], [t]).matched


def test_a_full_stop_inside_an_abbreviation_or_a_number_does_not_end_the_sentence() -> None:
    t = near_topic()
    assert classify_fields("Sáp nhập TP.HCM với xã", "", [], [t]).matched
    assert classify_fields("Giảm 1.000 xã", "", [], [t]).matched
    assert not classify_fields("Bàn chuyện sáp nhập TP. Xã đón khách", "", [], [t]).matched


def test_order_action_first_and_within_zero_keep_generic_actions_tight() -> None:
    t = near_topic()
    assert classify_fields("Giảm 5 sở", "", [], [t]).verdict == "relevant"
    assert not classify_fields("Xã giảm nghèo", "", [], [t]).matched
    assert not classify_fields("Giảm nghèo ở xã", "", [], [t]).matched


def test_proper_names_between_unit_and_action_are_free() -> None:
    t = near_topic(near=(NearRule("end", "merge", "unit", 1.5, within=1),))
    assert classify_fields("Tổng cục Dân số giải thể", "", [], [t]).matched
    assert not classify_fields("Tổng cục thuộc bộ giải thể", "", [], [t]).matched
    # a title written in capitals has no proper names to tell apart
    assert not classify_fields("TỔNG CỤC DÂN SỐ VÀ KẾ HOẠCH GIẢI THỂ", "", [], [t]).matched


def test_the_lower_case_syllable_of_a_name_is_free_as_well() -> None:
    # Vietnamese names capitalise a word's first syllable only: "Sở Xây dựng", "Bộ Tài chính".
    t = near_topic(near=(NearRule("end", "merge", "unit", 1.5, within=0),))
    assert classify_fields("Sở Xây dựng hợp nhất với Sở Giao thông", "", [], [t]).matched
    assert classify_fields("Sở Nông nghiệp và Môi trường hợp nhất", "", [], [t]).matched
    # ...but only the one syllable right after a capital: ordinary words still count
    assert not classify_fields("Sở Xây dựng thay biển hiệu hợp nhất", "", [], [t]).matched


def test_a_numbered_rule_needs_a_number_between_action_and_unit() -> None:
    rule = NearRule("count", "count", "unit", 1.5, within=0, order="action_first", numbered=True)
    t = near_topic(classes={**CLASSES, "count": ("còn",)}, near=(rule,))
    assert classify_fields("TP Huế còn 40 xã từ 1/7", "", [], [t]).verdict == "relevant"
    assert classify_fields("Còn 3 huyện và 12 xã", "", [], [t]).verdict == "relevant"
    assert not classify_fields("Còn xã chưa nộp báo cáo", "", [], [t]).matched
    unnumbered = near_topic(classes={**CLASSES, "count": ("còn",)},
                            near=(NearRule("count", "count", "unit", 1.5, within=0),))
    assert classify_fields("Còn xã chưa nộp báo cáo", "", [], [unnumbered]).matched


def test_a_class_word_inside_a_longer_one_is_not_a_word_of_its_own() -> None:
    t = near_topic(classes={**CLASSES, "cut": ("nhập",)},
                   near=(NearRule("join", "cut", "unit", 1.5, within=0),
                         NearRule("merge-unit", "merge", "unit", 1.5)))
    assert [m.phrase for m in classify_fields("Sáp nhập xã", "", [], [t]).matched] == [
        "merge-unit"]
    assert [m.phrase for m in classify_fields("Nhập xã", "", [], [t]).matched] == ["join"]


def test_a_phrase_and_a_near_rule_do_not_count_the_same_words_twice() -> None:
    t = near_topic(phrases={"sáp nhập xã": 3.0})
    result = classify_fields("Sáp nhập xã", "", [], [t])
    assert [m.phrase for m in result.matched] == ["sáp nhập xã"] and result.score == 9.0


def test_a_context_word_near_a_hit_cancels_it_and_says_so() -> None:
    t = near_topic(phrases={"sắp xếp, bố trí": 2.0},
                   exclude_near=(ContextRule(("tái định cư",), within=3),))
    result = classify_fields("Sắp xếp, bố trí tái định cư cho 300 hộ", "", [], [t])
    assert result.matched == () and result.verdict == "not"
    (cancelled,) = result.excluded
    assert cancelled.kind == "context" and cancelled.phrase == "tái định cư"
    far = "Sắp xếp, bố trí cán bộ các phòng ban mới, còn tái định cư làm sau"
    assert classify_fields(far, "", [], [t]).matched


def test_a_context_rule_cancels_only_the_hits_it_names() -> None:
    t = near_topic(phrases={"tinh gọn bộ máy": 3.0, "chính quyền 2 cấp": 3.0},
                   exclude_near=(ContextRule(("kỳ vọng",), within=10,
                                             cancels=("tinh gọn bộ máy",)),))
    result = classify_fields("Kỳ vọng tinh gọn bộ máy, chính quyền 2 cấp", "", [], [t])
    assert [m.phrase for m in result.matched] == ["chính quyền 2 cấp"]


def test_an_exclusion_inside_a_longer_phrase_does_not_cancel_it() -> None:
    t = topic(phrases={"tổ chức chính trị - xã hội": 3.0}, exclude=("xã hội",))
    assert classify_fields("Tổ chức chính trị - xã hội", "", [], [t]).matched


def test_three_verdicts_from_the_threshold_and_the_review_threshold() -> None:
    t = topic()  # threshold 4: possible from 2 by default
    assert classify_fields("Sáp nhập tỉnh", "", [], [t]).verdict == "relevant"
    assert classify_fields("", "", ["Sáp nhập tỉnh"], [t]).verdict == "possible"
    assert classify_fields("", "", ["Thành ủy họp"], [t]).verdict == "not"
    strict = topic(review_threshold=4.0)
    assert classify_fields("", "", ["Sáp nhập tỉnh"], [strict]).verdict == "not"
    result = classify_fields("", "", ["Sáp nhập tỉnh"], [t])
    assert not result.relevant and result.possible_topics == ("t",)


def test_class_words_match_either_tone_mark_placement() -> None:
    t = near_topic(classes={**CLASSES, "unit": ("khánh hòa",)})
    assert classify_fields("Sáp nhập Khánh Hoà", "", [], [t]).matched


def test_highlighting_marks_the_action_and_the_unit_of_a_near_match() -> None:
    text = "Hà Nội sáp nhập 3 xã"
    assert [text[a:b] for a, b in highlight_spans(text, [near_topic()])] == ["sáp nhập", "xã"]


def test_a_full_word_memo_empties_itself_and_the_verdicts_stay_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A long-running service cuts words from a memo bounded in size: filling and emptying it
    # must change neither the score nor the words found, offsets included.
    from monitor.extract.text import WordMemo
    from monitor.termindex import compile_topic

    config = load(ROOT / "config.toml")
    title = "Hà Nội sáp nhập 3 huyện và 12 xã, TP.HCM giải thể 4 sở."
    body = ["Sau khi sắp xếp, tinh gọn bộ máy: các xã mới (ở Hà Nội) chính thức hoạt động."] * 3
    expected = classify_fields(title, "", body, config.topics)
    memo = compile_topic(config.topics[0]).word_memo
    memo.clear()
    monkeypatch.setattr(WordMemo, "LIMIT", 5)
    assert classify_fields(title, "", body, config.topics) == expected
    assert 0 < len(memo) <= 5


def test_points_are_rounded_to_four_places_and_damped_for_repeats() -> None:
    t = TopicConfig(name="t", phrases={"tinh gọn": 1 / 7, "bộ máy": -2 / 7},  # type: ignore[arg-type]
                    threshold=4.0)
    matched = classify_fields("tinh gọn bộ máy", "", ["tinh gọn", "tinh gọn"], [t]).matched
    assert [(m.phrase, m.where, m.count, m.points) for m in matched] == [
        ("tinh gọn", "title", 1, round(t.title_weight / 7, 4)),
        ("bộ máy", "title", 1, round(-2 / 7 * t.title_weight, 4)),
        ("tinh gọn", "body", 2, round(1 / 7 * t.body_weight * 1.5, 4))]
