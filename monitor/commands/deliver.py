"""``monitor deliver [--dry-run]``: one delivery run, and what became of each digest."""

from __future__ import annotations

from typing import TextIO

from monitor.config import Config
from monitor.deliver import DeliverReport, run_deliver
from monitor.errors import UsageError
from monitor.models import Status

_LABELS: dict[Status, str] = {
    "sent": "sent", "resent": "SENT AGAIN (after an interrupted delivery)", "failed":
    "NOT SENT, kept for the next delivery", "rejected": "REJECTED by the server",
    "empty": "nothing new", "not-due": "not due", "skipped": "skipped",
}


def render_report(report: DeliverReport) -> str:
    state = "FAILED" if report.exit_code else "OK"
    head = "dry run, nothing sent or recorded" if report.dry_run else f"via {report.via}"
    lines = [f"deliver {state} ({head})"]
    if report.aborted:
        lines.append(f"  stopped: {report.aborted}")
    for o in report.outcomes:
        label = _LABELS[o.status]
        if report.dry_run and o.status == "sent":
            label = "would send"
        counts = ", ".join(part for part in (f"{o.new} new" if o.new else "",
                                             f"{o.updates} updated" if o.updates else "") if part)
        if o.status == "resent":
            counts = f"{o.new} items" if o.new else ""
        counts = f": {counts}" if counts else ""
        line = f"  {o.subscriber}: {label}{counts}"
        if o.status == "not-due" and o.next_due:
            line += f" (next {o.next_due})"
        lines.append(line)
        if o.subject and o.status in ("sent", "resent", "failed", "rejected"):
            lines.append(f"    subject: {o.subject}")
        if o.where and not report.dry_run:
            lines.append(f"    -> {o.where}")
        if o.error:
            lines.append(f"    error: {o.error}")
    if not report.outcomes and not report.aborted:
        lines.append("  no subscribers")
    return "\n".join(lines) + "\n"


def deliver_command(config: Config, *, dry_run: bool, out: TextIO,
                    schedule: str | None = None) -> int:
    if schedule is not None and schedule not in {s.name for s in config.schedules}:
        raise UsageError(f"no schedule named {schedule!r}",
                         hint="see [[schedules]] in the config")
    report = run_deliver(config, dry_run=dry_run, schedule=schedule)
    out.write(render_report(report))
    return report.exit_code
