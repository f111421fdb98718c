"""`monitor inspect`: the developer's view of what extraction keeps and drops."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kinhtedothi"
ARTICLE = str(FIXTURES / "article-current.html")
LISTING = str(FIXTURES / "listing-page1.html")
CONFIG = str(ROOT / "config.toml")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--config", CONFIG, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_has_the_documented_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["inspect", "--json", ARTICLE], capsys)
    assert code == 0
    record = json.loads(out)
    for key in ("target", "url", "title", "sapo", "body", "captions", "author", "published_at",
                "tags", "canonical_url", "extractor", "text", "removed", "relevance"):
        assert key in record, key
    assert record["extractor"] == "profile"
    assert record["text"].startswith(record["sapo"])
    assert record["published_at"] == "2025-12-08T10:05:00+07:00"
    assert set(record["relevance"]) >= {"score", "relevant", "matched"}
    assert all(set(r) == {"what", "reason"} for r in record["removed"])


def test_many_targets_one_line_each_and_a_bad_one_gets_its_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.html")
    code, out, _ = run(["inspect", "--json", ARTICLE, missing, ARTICLE], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(rows) == 3
    assert rows[1] == {"target": missing, "error": f"{missing}: no such file"}
    assert rows[0]["title"] == rows[2]["title"]


def test_human_output_shows_kept_and_removed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["inspect", ARTICLE], capsys)
    assert code == 0
    assert "profile extractor" in out and "removed" in out and "08/12/2025 10:05" in out


def test_generic_flag_forces_the_generic_extractor(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["inspect", "--json", "--generic", ARTICLE], capsys)
    assert code == 0 and json.loads(out)["extractor"] == "generic"


def test_listing_flag_lists_links_and_next_page(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["inspect", "--json", "--listing", LISTING], capsys)
    record = json.loads(out)
    assert code == 0 and record["links"] and "next_page" in record
    assert {"url", "title", "published_at"} <= set(record["links"][0])


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["inspect", "/no/such/page.html"], 1, "no such file"),
        (["inspect", str(ROOT / "pyproject.toml")], 1, "not an HTML page"),
        (["inspect", "--bogus", ARTICLE], 2, "unrecognized arguments: --bogus"),
        (["inspect", "https://example.com/a-b-c-d.1.html"], 1, "allowed_hosts"),
        (["inspect", "ftp://kinhtedothi.vn/x.html"], 1, "only http(s) URLs"),
        (["frobnicate"], 2, "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_a_documented_exit_code(
    args: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    got, _out, err = run(args, capsys)
    assert got == code
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_local_file_needs_no_config(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "inspect", "--json", ARTICLE],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["title"]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The fixture folder served over real HTTP on 127.0.0.1."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(FIXTURES))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _config_for(tmp_path: Path, hosts: list[str]) -> str:
    path = tmp_path / "config.toml"
    path.write_text(
        f"[site]\nallowed_hosts = {hosts!r}\n"
        "[fetch]\nmin_delay_seconds = 0.0\njitter_seconds = 0.0\nretries = 0\n",
        encoding="utf-8",
    )
    return str(path)


def test_a_url_on_an_allowed_host_is_fetched_and_extracted(
    site: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_for(tmp_path, ["127.0.0.1"])
    code = main(["--config", config, "inspect", "--json", f"{site}/article-2022.html",
                 f"{site}/no-such-page.html"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert rows[0]["extractor"] == "profile" and rows[0]["body"]
    assert "404" in rows[1]["error"]


def test_loopback_is_refused_unless_explicitly_allowed(
    site: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_for(tmp_path, ["kinhtedothi.vn"])
    code = main(["--config", config, "inspect", "--json", f"{site}/article-2022.html"])
    row = json.loads(capsys.readouterr().out)
    assert code == 1 and "127.0.0.1" in row["error"]
