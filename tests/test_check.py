"""`monitor check`: an operator learns of a wrong URL before the first scheduled run does."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from monitor.commands.check import check_command
from monitor.commands.demo import SampleSite, demo_config, serve
from monitor.config import SourceConfig


def test_check_validates_offline_and_tries_each_source_with_network(tmp_path: Path) -> None:
    with serve(SampleSite()) as base:
        config = demo_config(base, tmp_path, None)
        broken = SourceConfig(name="typo", kind="listing", url=f"{base}/xay-dung-dan")
        config = replace(config, sources=(*config.sources, broken))
        out = io.StringIO()
        assert check_command(config, network=False, out=out) == 0
        assert "config ok: 2 source(s)" in out.getvalue()
        out = io.StringIO()
        assert check_command(config, network=True, out=out) == 1
    lines = out.getvalue().splitlines()
    assert any(line.startswith("source xay-dung-dang: ok") for line in lines)
    assert any(line.startswith("source typo: FAILED: HTTP 404") for line in lines)
