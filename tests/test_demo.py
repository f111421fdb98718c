"""`monitor demo`: the whole pipeline offline, as a new user first sees it."""

from __future__ import annotations

import io
from email import message_from_bytes, policy
from pathlib import Path

from monitor.commands.demo import demo_command


def test_demo_collects_delivers_and_tells_changed_from_new(tmp_path: Path) -> None:
    out = io.StringIO()
    assert demo_command(out=out, workdir=tmp_path) == 0
    report = out.getvalue()
    assert "new: Chi trả chế độ cho cán bộ nghỉ việc do sắp xếp bộ máy" in report
    assert "changed body: Tinh gọn tổ chức bộ máy: giảm 29 đảng bộ tỉnh, thành phố" in report
    mails = sorted((tmp_path / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime)
    assert len(mails) == 2 and all(str(m) in report for m in mails)
    first, second = (message_from_bytes(m.read_bytes(), policy=policy.default) for m in mails)
    first_text, second_text = (
        # Matched phrases are *highlighted* in the text part.
        " ".join(m.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
                 .replace("*", "").split())
        for m in (first, second)
    )
    assert "Hà Nội hoàn thành sắp xếp 126 xã" in first_text
    assert "Kết nạp 120 đảng viên mới" not in first_text  # not about the reorganisation
    assert "Chi trả chế độ cho cán bộ nghỉ việc" in second_text
    assert "Hà Nội hoàn thành sắp xếp 126 xã" not in second_text  # never sent twice
