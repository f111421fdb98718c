"""``monitor run [--dry-run]``: one collect, then one delivery (``pipeline.run_once``), and both
summaries."""

from __future__ import annotations

from typing import TextIO

from monitor.commands.collect import render_summary
from monitor.commands.deliver import render_report
from monitor.config import Config
from monitor.pipeline import run_once


def run_command(config: Config, *, dry_run: bool, out: TextIO) -> int:
    report = run_once(config, dry_run=dry_run)
    if report.collect is not None:
        out.write(render_summary(report.collect))
    else:
        out.write(f"collect FAILED: {report.collect_error}\n")
    out.write(render_report(report.deliver))
    for condition in report.alerts.active if report.alerts else ():
        out.write(f"ALERT: {condition.title}\n")
    return report.exit_code
