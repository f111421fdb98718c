"""`monitor status`: what an operator reads to know whether digests are flowing."""

from __future__ import annotations

import io
import json
from pathlib import Path

from monitor.collect import run_collect
from monitor.commands.demo import SampleSite, demo_config, serve
from monitor.commands.status import status_command
from monitor.deliver import run_deliver


def test_status_shows_items_waiting_per_subscriber_and_next_times(tmp_path: Path) -> None:
    with serve(SampleSite()) as base:
        config = demo_config(base, tmp_path, None)
        run_collect(config)
        out = io.StringIO()
        assert status_command(config, as_json=True, out=out) == 0
        before = json.loads(out.getvalue())
        sent = run_deliver(config).outcomes[0].new
        out = io.StringIO()
        status_command(config, as_json=False, out=out)
        text = out.getvalue()
    waiting = before["digests"]["pending_items"]
    assert sent >= 1 and waiting == {"ban-doc@example.org": {"new": sent, "updated": 0}}
    assert before["next"]["asap"] == "after each collect"
    assert "ban-doc@example.org: 0 new, 0 updated" in text
    assert "Next: collect every 30 min; asap after each collect" in text
