"""`monitor inspect`: the developer's view of what extraction keeps and drops."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.config import load as load_config
from monitor.extract import extract_listing

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
    assert set(record["relevance"]) >= {"score", "relevant", "matched", "verdict"}
    assert all(set(r) == {"what", "reason"} for r in record["removed"])


def test_json_gives_the_verdict_and_explains_each_near_rule_match(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    page = tmp_path / "a.html"
    page.write_text("<html><head><title>x</title></head><body><article><h1>Quảng Ninh sáp nhập "
                    "2 huyện và 37 xã</h1><p>Tỉnh công bố nghị quyết.</p></article></body></html>",
                    encoding="utf-8")
    code, out, _ = run(["inspect", "--json", str(page)], capsys)
    relevance = json.loads(out)["relevance"]
    assert code == 0 and relevance["verdict"] == "relevant" and relevance["relevant"]
    near = [m for m in relevance["matched"] if m["kind"] == "near"]
    assert near and near[0]["where"] == "title" and near[0]["terms"] == ["sáp nhập … huyện"]


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


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """``folder`` served over real HTTP on 127.0.0.1; its base URL."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The fixture folder served over real HTTP on 127.0.0.1."""
    with serving(FIXTURES) as base:
        yield base


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


# --- a saved page is read as the live one: links resolved against its declared URL ------------

LISTINGS = sorted(FIXTURES.glob("listing-page*.html"))


def _listing_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out, err = run(["inspect", "--json", "--listing", *args], capsys)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize("path", LISTINGS, ids=lambda p: p.name)
def test_a_saved_listing_gives_the_links_of_the_page_at_its_canonical_url(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [record] = _listing_json([str(path)], capsys)
    canonical = record["url"]
    assert canonical.startswith("https://kinhtedothi.vn/xay-dung-dang")
    assert record["base"] == "<link rel=canonical>"
    hosts = load_config(Path(CONFIG)).site.allowed_hosts
    live = extract_listing(path.read_bytes(), canonical, hosts=hosts)
    assert [link["url"] for link in record["links"]] == [link.url for link in live.links]
    assert record["next_page"] == live.next_page
    assert record["next_page"] is None or record["next_page"].startswith("https://kinhtedothi.vn/")
    # The page's relative article links ("/slug.id.html") are among them, not lost to file://.
    relative = {h for h in re.findall(r'href="(/[^"]+\.\d{4,}\.html)"', path.read_text("utf-8"))}
    found = {link["url"].removeprefix("https://kinhtedothi.vn") for link in record["links"]}
    assert relative and relative <= found


def test_a_saved_page_without_canonical_url_uses_og_url_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = LISTINGS[-1].read_text("utf-8")
    saved = tmp_path / "saved.html"
    saved.write_text(re.sub(r'<link rel="canonical"[^>]*>', "", html), "utf-8")
    [record] = _listing_json([str(saved)], capsys)
    assert record["base"] == "<meta property=og:url>"
    assert record["url"] == "https://kinhtedothi.vn/xay-dung-dang?page=2"
    assert record["next_page"] == "https://kinhtedothi.vn/xay-dung-dang?page=3"
    code, out, _ = run(["inspect", "--listing", str(saved)], capsys)
    assert code == 0
    assert "base       https://kinhtedothi.vn/xay-dung-dang?page=2 (from <meta property=og:url>)" \
        in out


def test_a_saved_page_that_declares_no_url_is_read_against_its_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = LISTINGS[-1].read_text("utf-8")
    html = re.sub(r'<link rel="canonical"[^>]*>|<meta property="og:url"[^>]*>', "", html)
    saved = tmp_path / "saved.html"
    saved.write_text(html, "utf-8")
    [record] = _listing_json([str(saved)], capsys)
    assert record["url"] == saved.resolve().as_uri()
    assert "declares no canonical URL" in record["base"]


def test_a_saved_listing_and_the_same_page_served_list_the_same_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end: the page saved to disk and the page fetched from its URL, one listing."""
    folder = tmp_path / "site"
    folder.mkdir()
    with serving(folder) as base:
        url = f"{base}/xay-dung-dang.html?page=2"
        # The saved page names the address it is served from (as a page saved from it would).
        html = LISTINGS[-1].read_text("utf-8").replace(
            "https://kinhtedothi.vn/xay-dung-dang?page=2", url)
        (folder / "xay-dung-dang.html").write_text(html, "utf-8")
        config = _config_for(tmp_path, ["127.0.0.1", "kinhtedothi.vn"])
        code = main(["--config", config, "inspect", "--json", "--listing", url,
                     str(folder / "xay-dung-dang.html")])
    live, saved = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert live["links"] and saved["links"] == live["links"]
    assert saved["next_page"] == live["next_page"] and live["next_page"].startswith(
        f"{base}/xay-dung-dang.html?page=3")
    assert saved["base"] == "<link rel=canonical>" and live["base"] == "fetched URL"
