"""`monitor label` and `monitor topics test`: the operator measures the topics on their feed."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import loads
from monitor.extract.text import VN_TZ
from monitor.models import Article
from monitor.store import db
from monitor.store.articles import Fetched, record_article

T0 = datetime(2025, 12, 8, 7, 5, tzinfo=VN_TZ)
CONFIG = """
[state]
dir = "state"
[[topics]]
name = "bo-may"
threshold = 3.0
[topics.phrases]
"sắp xếp bộ máy" = 3.0
"tinh gọn" = 1.0
"""
URL = "https://kinhtedothi.vn/sap-xep-bo-may-cap-xa.704101.html"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    conn = db.connect(db.db_path(loads(CONFIG, root=tmp_path).state_dir))
    for ident, url, title in (("704101", URL, "Sắp xếp bộ máy cấp xã"),
                              ("704102", "https://kinhtedothi.vn/gia-vang.704102.html",
                               "Giá vàng tăng"),
                              ("704103", "https://kinhtedothi.vn/hoi-nghi.704103.html",
                               "Hội nghị cán bộ")):
        sapo = "Kinhtedothi - Bàn việc tinh gọn." if ident == "704103" else "Kinhtedothi - Tin."
        article = Article(url=url, title=title, sapo=sapo, body=("Đoạn.",))
        record_article(conn, ident=ident, url=url, source="t", article=article,
                       fetched=Fetched(url, None, None, "text/html", b"x"), run_id=None,
                       now=T0, baseline=False)
    conn.close()
    return tmp_path


def run(root: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--config", str(root / "config.toml"), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_label_is_stored_replaced_and_scored(root: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run(root, "label", URL, "relevant", capsys=capsys)[0] == 0
    code, out, _ = run(root, "label", "https://kinhtedothi.vn/gia-vang.704102.html", "relevant",
                       "--note", "oops", capsys=capsys)
    assert code == 0 and "labelled relevant: Giá vàng tăng" in out
    code, out, _ = run(root, "label", "https://kinhtedothi.vn/gia-vang.704102.html", "not",
                       capsys=capsys)
    assert code == 0 and out.startswith("relabelled not")
    run(root, "label", "https://kinhtedothi.vn/hoi-nghi.704103.html", "relevant", capsys=capsys)
    code, out, _ = run(root, "topics", "test", capsys=capsys)
    assert code == 0
    assert "labels in the state: 3 items (2 relevant, 1 not)" in out
    assert "precision 1.000  recall 0.500  recall with possible 1.000" in out
    # the error is listed with its explanation
    assert "false negative: 704103 (possible, score 2) Hội nghị cán bộ" in out
    assert "'tinh gọn' in sapo x1 = 2" in out


def test_min_precision_and_min_recall_fail_the_command(root: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    labelled = tmp_path / "mine.jsonl"
    labelled.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"id": "a", "title": "Sắp xếp bộ máy các sở", "relevant": True},
        {"id": "b", "title": "Sáp nhập hai xã", "sapo": "", "relevant": True},
        {"id": "c", "title": "Giá vàng", "relevant": False, "note": "market"},
    ]) + "\n", encoding="utf-8")
    code, out, _ = run(root, "topics", "test", "--no-state", str(labelled),
                       "--min-precision", "0.9", capsys=capsys)
    assert code == 0 and "mine.jsonl: 3 items" in out
    code, out, _ = run(root, "topics", "test", "--no-state", str(labelled),
                       "--min-recall", "0.9", capsys=capsys)
    assert code == 1 and "FAILED: recall 0.500 < 0.9" in out
    assert "false negative: b (not, score 0) Sáp nhập hai xã" in out


def test_labels_survive_reopening_and_a_deleted_article(root: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run(root, "label", URL, "relevant", capsys=capsys)
    path = db.db_path(root / "state")
    db.connect(path).close()  # migrations run again on open: nothing to do, nothing lost
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT ident, label FROM labels").fetchall() == [("704101", "relevant")]
    conn.close()


@pytest.mark.parametrize(("args", "message"), [
    (["label", "https://kinhtedothi.vn/khong-co.999999.html", "not"], "not a stored article"),
    (["label", "https://kinhtedothi.vn/", "not"], "not an article URL"),
    (["topics", "test", "--min-recall", "1.5"], "--min-recall: expected a number from 0 to 1"),
    (["topics", "test", "missing.jsonl"], "missing.jsonl: no such file"),
])
def test_bad_arguments_get_one_line_and_exit_2(root: Path, args: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(root, *args, capsys=capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_malformed_labelled_line_is_named(root: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "x", "relevant": true}\n{"title": "y", "relevant": "yes"}\n',
                   encoding="utf-8")
    code, _, err = run(root, "topics", "test", str(bad), capsys=capsys)
    assert code == 2 and "bad.jsonl:2: 'relevant' must be true or false" in err


def test_the_bundled_report_is_a_thin_caller(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util
    import sys

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "relevance_report.py"
    spec = importlib.util.spec_from_file_location("relevance_report", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["relevance_report"] = module
    spec.loader.exec_module(module)
    assert module.main([]) == 0
    out = capsys.readouterr().out
    assert "== tuning.jsonl" in out and "== holdout.jsonl" in out and "== all" in out


def test_nothing_labelled_says_how_to_label(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    code, out, _ = run(tmp_path, "topics", "test", capsys=capsys)
    assert code == 0 and out.startswith("nothing to score: label stored articles")
    assert not (tmp_path / "state").exists(), "testing the topics creates no state"
