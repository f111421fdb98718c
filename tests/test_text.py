"""Vietnamese text: what matching and display rely on."""

from __future__ import annotations

import unicodedata
from datetime import datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monitor.extract.text import (
    VN_TZ,
    clean,
    fold,
    fold_ascii,
    format_local,
    parse_datetime,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=VN_TZ)


@pytest.mark.parametrize(
    ("old", "new"),
    [("Thành ủy", "Thành uỷ"), ("hòa", "hoà"), ("thủy", "thuỷ"), ("Thanh Hóa", "Thanh Hoá"),
     ("khỏe", "khoẻ"), ("quý", "qúy")],
)
def test_both_tone_mark_placements_fold_to_one_key(old: str, new: str) -> None:
    assert fold(old) == fold(new)


def test_fold_ignores_case_and_normal_form() -> None:
    nfd = unicodedata.normalize("NFD", "THÀNH UỶ Hà Nội")
    assert fold(nfd) == fold("thành ủy hà nội")


def test_fold_keeps_distinct_words_apart() -> None:
    assert fold("sáp nhập") != fold("sắp xếp")
    assert fold("bộ") != fold("bổ")


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_fold_keeps_the_length_of_nfc_text(text: str) -> None:
    text = unicodedata.normalize("NFC", text)
    assume(len(text.lower()) == len(text))  # "İ" lowers to two characters: not Vietnamese
    assert len(fold(text)) == len(text)


def test_accent_insensitive_key_is_opt_in_and_separate() -> None:
    assert fold_ascii("Sáp nhập ĐẢNG bộ") == "sap nhap dang bo"
    assert fold("sáp nhập") != "sap nhap"


def test_clean_normalises_invisible_characters_and_spaces() -> None:
    raw = "Thành\u00a0ủy\u200b  Hà\u00adNội\n\t mới\ufeff"
    assert clean(raw) == "Thành ủy HàNội mới"
    assert clean(unicodedata.normalize("NFD", "Hoà")) == "Hoà"


@pytest.mark.parametrize(
    "text",
    ["Thứ Hai, 10:05 08/12/2025", "10:05 08/12/2025", "08/12/2025 10:05", "08-12-2025 10:05",
     "2025-12-08T10:05:00+07:00", "2025-12-08T03:05:00Z", "Cập nhật: 08/12/2025 | 10:05"],
)
def test_every_date_format_of_the_site_gives_the_same_instant(text: str) -> None:
    assert parse_datetime(text, now=NOW) == datetime(2025, 12, 8, 10, 5, tzinfo=VN_TZ)


def test_listing_time_without_year_is_never_in_the_future() -> None:
    assert parse_datetime("08 Dec, 03:11 PM", now=NOW) == datetime(
        2025, 12, 8, 15, 11, tzinfo=VN_TZ
    )
    mid_december = datetime(2025, 12, 20, tzinfo=VN_TZ)
    assert parse_datetime("08 Dec, 03:11 AM", now=mid_december) == datetime(
        2025, 12, 8, 3, 11, tzinfo=VN_TZ
    )


def test_unreadable_or_impossible_dates_give_none() -> None:
    assert parse_datetime("không có ngày", now=NOW) is None
    assert parse_datetime("31/02/2025 10:05", now=NOW) is None
    assert parse_datetime("", now=NOW) is None


def test_times_are_shown_in_vietnam_time() -> None:
    utc = datetime.fromisoformat("2025-12-08T03:05:00+00:00")
    assert format_local(utc) == "08/12/2025 10:05"
