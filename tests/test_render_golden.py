"""The rendered digest, compared with committed golden files (frozen clock, fixed items).

After a deliberate change to the templates or the rendering, regenerate and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render_golden.py
    git diff tests/fixtures/golden/
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from support.golden import at, check

from monitor.config import Config, loads
from monitor.digest import Candidate, Snapshot, choose, render
from monitor.extract.text import VN_TZ
from monitor.mail import inline_css

NOW = datetime(2025, 12, 8, 17, 0, tzinfo=VN_TZ)

CONFIG = """
[site]
name = "Kinh tế & Đô thị"
base_url = "https://kinhtedothi.vn"

[[topics]]
name = "sap-xep-bo-may"
label = "sắp xếp bộ máy"
threshold = 4.0
exclude = ["sáp nhập ngân hàng"]
[topics.phrases]
"sắp xếp tổ chức bộ máy" = 3.0
"tinh gọn tổ chức bộ máy" = 3.0
"chính quyền địa phương 2 cấp" = 3.0
"sắp xếp đơn vị hành chính" = 3.0
"sáp nhập" = 0.5
"126 xã, phường" = 2.0

[[schedules]]
name = "daily"
times = ["07:00", "17:00"]

[mail]
sender = "Kinhtedothi monitor <monitor@example.org>"
unsubscribe = "mailto:monitor@example.org?subject=unsubscribe"

[[subscribers]]
email = "reader@example.org"
name = "Bạn đọc"
topics = ["sap-xep-bo-may"]
schedule = "daily"
"""


def candidates() -> list[Candidate]:
    return [
        Candidate(
            704101, "https://kinhtedothi.vn/hoan-thien-the-che-bo-may-moi.704101.html",
            "Hoàn thiện thể chế để bảo đảm mô hình bộ máy mới hoạt động thông suốt",
            "Kinhtedothi - Sáng 8/12, Ban Tổ chức Trung ương tổng kết công tác tổ chức xây "
            "dựng Đảng năm 2025; năm qua cả nước đã hoàn thành sắp xếp tổ chức bộ máy.",
            ("Tinh gọn tổ chức bộ máy tổng thể, triệt để, đồng bộ",
             "Báo cáo tại hội nghị cho thấy, năm 2025, ngành Tổ chức xây dựng Đảng đã tham mưu "
             "triển khai quyết liệt việc sắp xếp, tinh gọn tổ chức bộ máy một cách tổng thể, "
             "triệt để, sâu rộng và đồng bộ trong cả nước."),
            at(8, 10, 5), at(8, 10, 30), 1),
        Candidate(
            704088, "https://kinhtedothi.vn/ha-noi-126-xa-phuong.704088.html",
            "Hà Nội: 126 xã, phường vận hành chính quyền địa phương 2 cấp ổn định",
            "Kinhtedothi - Sau 5 tháng, các xã, phường của Thủ đô đã cơ bản ổn định tổ chức.",
            ("Thành phố đã hoàn thiện sắp xếp 526 xã, phường, thị trấn còn 126 xã, phường "
             "với mô hình mới.",),
            at(7, 15, 40), at(7, 16, 0), 1),
        Candidate(
            704050, "https://kinhtedothi.vn/sap-nhap-ngan-hang.704050.html",
            "Sáp nhập ngân hàng: xu hướng tất yếu", "Kinhtedothi - Chuyên gia nhận định.", (),
            at(7, 9, 0), at(7, 9, 30), 1),
        Candidate(
            703990, "https://kinhtedothi.vn/sap-xep-don-vi-hanh-chinh.703990.html",
            "Sắp xếp đơn vị hành chính cấp xã: hoàn thành trước 30/6",
            "Kinhtedothi - Các địa phương khẩn trương hoàn thiện hồ sơ sắp xếp đơn vị hành chính.",
            ("Đoạn một của bài.", "Đoạn bổ sung: Bộ Nội vụ đề nghị các địa phương hoàn thành "
             "việc sắp xếp đơn vị hành chính cấp xã trước ngày 30/6, bảo đảm không gián đoạn."),
            at(5, 8, 0), at(5, 8, 10), 2, 1,
            Snapshot("Sắp xếp đơn vị hành chính cấp xã: hoàn thành trước 30/6",
                     "Kinhtedothi - Các địa phương khẩn trương hoàn thiện hồ sơ.",
                     ("Đoạn một của bài.",))),
    ]


def rendered(config: Config) -> tuple[str, str, str]:
    sub = config.subscribers[0]
    digest = choose(sub, config.topics, candidates(), now=NOW, settings=config.digest,
                    since=NOW - timedelta(days=30))
    r = render(digest, config)
    return r.subject, inline_css(r.html), r.text


@pytest.mark.parametrize("name", ["digest.html", "digest.txt", "subject.txt"])
def test_rendering_matches_the_golden_file(name: str) -> None:
    subject, html, text = rendered(loads(CONFIG))
    produced = {"digest.html": html, "digest.txt": text, "subject.txt": subject + "\n"}[name]
    check(name, produced)


def test_the_golden_digest_leaves_out_the_other_sense_of_sap_nhap() -> None:
    subject, html, text = rendered(loads(CONFIG))
    assert "ngân hàng" not in html and "ngân hàng" not in text
    assert subject == "[Kinh tế & Đô thị] 2 bài mới, 1 bài cập nhật về sắp xếp bộ máy – 08/12/2025"
