"""``monitor collect [--dry-run] [--baseline]``: one collect run, and its summary on screen."""

from __future__ import annotations

from typing import TextIO

from monitor.collect import CollectReport, run_collect
from monitor.config import Config
from monitor.errors import ConfigError


def collect_command(config: Config, *, dry_run: bool, baseline: bool, out: TextIO) -> int:
    if not config.sources:
        raise ConfigError("no [[sources]] in the config: nothing to collect",
                          hint="add a [[sources]] table with name, kind and url")
    report = run_collect(config, dry_run=dry_run, baseline=baseline)
    out.write(render_summary(report))
    return report.exit_code


def render_summary(report: CollectReport) -> str:
    """One screen: what the run fetched, found and failed on."""
    c = report.counts
    head = "dry run, nothing written" if report.dry_run else f"run {report.run_id}"
    lines = [f"collect {report.outcome.upper()} in {report.seconds:.1f} s ({head}"
             + (", baseline" if report.baseline else "") + ")"]
    new_label = "recorded as seen (baseline)" if report.baseline else "new"
    rows = [("pages fetched", c.pages_fetched), ("not modified (304)", c.not_modified),
            (new_label, c.new), ("changed", c.changed), ("unchanged", c.unchanged),
            ("failed", c.failed), ("blocked", c.blocked), ("refused", c.refused)]
    lines += [f"  {label:<30}{value:>6}" for label, value in rows]
    lines.append(f"  {'requests / bytes':<30}{c.requests:>6} / {_size(c.bytes)}")
    if c.blocked:
        lines.append("  BLOCKED: the site answered with a block or challenge page; this run says "
                     "nothing about new articles")
    for s in report.sources:
        state = "healthy" if s.healthy else "UNHEALTHY: " + "; ".join(s.problems)
        lines.append(f"  source {s.source}: {s.pages} pages, {s.links} links, "
                     f"{s.profile_ok}/{s.articles} by the profile; {state}")
    shown = [r for r in report.changes if r.kind in ("new", "changed")]
    for rec in shown[:8]:
        what = "new" if rec.kind == "new" else "changed " + "+".join(rec.changed_fields)
        lines.append(f"  {what}: {report.titles.get(rec.ident, rec.ident)[:70]}")
    if len(shown) > 8:
        lines.append(f"  ... and {len(shown) - 8} more")
    for err in report.errors[:6]:
        lines.append(f"  {err.kind}: {err.url}: {err.reason[:120]}")
    if len(report.errors) > 6:
        lines.append(f"  ... and {len(report.errors) - 6} more errors (monitor status --json)")
    return "\n".join(lines) + "\n"


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"
