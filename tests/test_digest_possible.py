"""The "Có thể liên quan" section: borderline articles listed compactly after the main items.

Golden files (regenerate after a deliberate change, then review the diff):

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_digest_possible.py
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from support.golden import at as _at
from support.golden import check

from monitor.config import Config, loads
from monitor.digest import Candidate, choose, render
from monitor.extract.text import VN_TZ
from monitor.mail import inline_css

NOW = datetime(2025, 12, 8, 17, 0, tzinfo=VN_TZ)

CONFIG = """
[site]
name = "Kinh tế & Đô thị"
base_url = "https://kinhtedothi.vn"

[classes]
merge = ["sáp nhập", "hợp nhất"]
unit = ["xã", "phường", "sở"]
launch = ["ra mắt"]

[[topics]]
name = "sap-xep-bo-may"
label = "sắp xếp bộ máy"
threshold = 4.0
[topics.phrases]
"tinh gọn tổ chức bộ máy" = 3.0
"chính quyền địa phương 2 cấp" = 3.0
[[topics.near]]
name = "sáp nhập … đơn vị"
action = "merge"
unit = "unit"
weight = 1.5
[[topics.near]]
name = "ra mắt … đơn vị"
action = "launch"
unit = "unit"
weight = 0.8

[[schedules]]
name = "daily"
times = ["07:00", "17:00"]

[mail]
sender = "Kinhtedothi monitor <monitor@example.org>"
unsubscribe = "mailto:monitor@example.org?subject=unsubscribe"

[[subscribers]]
email = "reader@example.org"
name = "Bạn đọc"
schedule = "daily"
"""


def candidates() -> list[Candidate]:
    return [
        Candidate(
            705001, "https://kinhtedothi.vn/quang-ninh-sap-nhap-2-huyen-37-xa.705001.html",
            "Quảng Ninh sáp nhập 2 huyện và 37 xã từ tháng 8",
            "Kinhtedothi - Tỉnh công bố nghị quyết về sắp xếp, giảm 37 đơn vị cấp xã.",
            ("Chính quyền địa phương 2 cấp vận hành từ ngày 1/7.",),
            _at(8, 9, 0), _at(8, 9, 20), 1),
        Candidate(
            705002, "https://kinhtedothi.vn/ra-mat-so-dan-toc-ton-giao.705002.html",
            "Ra mắt Sở Dân tộc và Tôn giáo thành phố",
            "Kinhtedothi - Lễ công bố diễn ra sáng 1/3.", (),
            _at(8, 8, 0), _at(8, 8, 30), 1),
        Candidate(
            705003, "javascript:alert(1)",
            "Phường Hoàn Kiếm ra mắt <bộ phận> một cửa", "", (),
            _at(7, 15, 0), _at(7, 15, 10), 1),
        Candidate(
            705004, "https://kinhtedothi.vn/gia-vang.705004.html",
            "Giá vàng hôm nay tăng mạnh", "Kinhtedothi - Thị trường.", (),
            _at(8, 7, 0), _at(8, 7, 5), 1),
    ]


def digest_for(config: Config):  # type: ignore[no-untyped-def]
    return choose(config.subscribers[0], config.topics, candidates(), now=NOW,
                  settings=config.digest, since=NOW - timedelta(days=30))


def rendered(config: Config) -> tuple[str, str, str]:
    r = render(digest_for(config), config)
    return r.subject, inline_css(r.html), r.text


@pytest.mark.parametrize("name", ["digest-possible.html", "digest-possible.txt"])
def test_a_digest_with_a_possible_section_matches_the_golden_file(name: str) -> None:
    _, html, text = rendered(loads(CONFIG))
    check(name, html if name.endswith(".html") else text)


def test_possible_items_come_after_the_main_items_compact_and_linked() -> None:
    _, html, text = rendered(loads(CONFIG))
    digest = digest_for(loads(CONFIG))
    assert [i.article_id for i in digest.new] == [705001]
    assert [i.article_id for i in digest.possible] == [705002, 705003]
    main, _, possible = text.partition("== Có thể liên quan ==")
    assert "Quảng Ninh" in main and "Dân tộc và Tôn giáo" in possible
    assert "Dân tộc" not in main
    # compact: the matched words, but neither the sapo nor an excerpt
    assert "Từ khóa: ra mắt … sở" in possible and "Lễ công bố" not in possible
    body = html[html.index("</div>", html.index("preheader")):]
    assert body.index("Quảng Ninh") < body.index("Có thể liên quan") < body.index("Tôn giáo thành")
    assert 'href="https://kinhtedothi.vn/ra-mat-so-dan-toc-ton-giao.705002.html"' in html
    # a title is escaped and a non-http link dropped there as in the main list
    assert "&lt;bộ phận&gt;" in html and "javascript:" not in html
    assert "Giá vàng" not in html


def test_a_subscriber_can_switch_the_possible_section_off() -> None:
    config = loads(CONFIG.replace('schedule = "daily"\n', 'schedule = "daily"\npossible = false\n'))
    digest = digest_for(config)
    assert digest.possible == () and [i.article_id for i in digest.new] == [705001]
    assert "Có thể liên quan" not in render(digest, config).text


def test_a_digest_of_possible_items_only_says_so_in_its_subject() -> None:
    config = loads(CONFIG)
    only = [c for c in candidates() if c.article_id == 705002]
    digest = choose(config.subscribers[0], config.topics, only, now=NOW,
                    settings=config.digest, since=NOW - timedelta(days=30))
    assert not digest.empty
    assert render(digest, config).subject.startswith(
        "[Kinh tế & Đô thị] 1 bài có thể liên quan về sắp xếp bộ máy")
