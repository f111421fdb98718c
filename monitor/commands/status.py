"""`monitor status [--json]`: the last runs, source health and what the state holds.

Built in two steps so each section can grow on its own: ``gather`` reads the database into one
JSON-ready dict, one ``_section`` function per key; ``render_text`` turns that dict into the
screen. A feature that adds a section (pending digest items per subscriber, next scheduled
times) adds a reader to ``SECTIONS`` and a few lines to ``render_text``.

The live database is read through a read-only connection, no copy: status never writes to the
state, and never waits for a running collect (WAL). Pending counts come from the stored verdicts
through the delivery's own due query, so they cost what is new, not the archive.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from monitor.config import Config
from monitor.extract.text import format_local
from monitor.store import articles as store
from monitor.store import db
from monitor.store import jobs as job_store
from monitor.store import runs as run_store

Section = Callable[[sqlite3.Connection, Config, datetime], Any]


def _runs(conn: sqlite3.Connection, config: Config, now: datetime) -> list[dict[str, Any]]:
    found = []
    for run in run_store.last_runs(conn, 5):
        c = run.counts
        found.append({
            "id": run.id, "started_at": run.started_at.isoformat(),
            "ended_at": run.ended_at.isoformat() if run.ended_at else None,
            "outcome": run.outcome, "baseline": run.baseline,
            "counts": {"pages_fetched": c.pages_fetched, "not_modified": c.not_modified,
                       "new": c.new, "changed": c.changed, "unchanged": c.unchanged,
                       "failed": c.failed, "blocked": c.blocked, "refused": c.refused,
                       "requests": c.requests, "bytes": c.bytes},
            "errors": [{"url": e.url, "kind": e.kind, "reason": e.reason} for e in run.errors],
        })
    return found


def _health(conn: sqlite3.Connection, config: Config, now: datetime) -> list[dict[str, Any]]:
    configured = {s.name for s in config.sources}
    found = []
    for h in run_store.source_health(conn):
        found.append({
            "source": h.source, "configured": h.source in configured,
            "last_checked_at": h.last_checked_at.isoformat(),
            "last_ok_at": h.last_ok_at.isoformat() if h.last_ok_at else None,
            "consecutive_failures": h.consecutive_failures,
            "alert": h.consecutive_failures >= config.serve.alert_after_failures,
            "problems": list(h.problems),
        })
    return found


def _counts(conn: sqlite3.Connection, config: Config, now: datetime) -> dict[str, Any]:
    return run_store.table_counts(conn)


def _pending(conn: sqlite3.Connection, config: Config, now: datetime) -> list[dict[str, Any]]:
    """Refs listed but not stored yet: what the next collect will fetch first."""
    return [{"url": p.url, "source": p.source, "attempts": p.attempts, "last_error": p.last_error}
            for p in store.list_pending(conn, limit=20)]


def _digests(conn: sqlite3.Connection, config: Config, now: datetime) -> dict[str, Any]:
    """Per subscriber what the next digest would carry, digests waiting to be resent, and the
    recipients the mail server refused (for the operator to fix)."""
    from monitor.deliver import pending_counts
    from monitor.store import ledger, unsubscribes, verdicts

    return {
        # Topics whose stored verdicts predate their current definition: the counts below use
        # the stored ones until the next collect, delivery or preview re-classifies.
        "stale_topics": sorted(verdicts.stale(conn, config.topics)),
        "unsubscribed": {email: {"at": u.at.isoformat(), "via": u.via}
                         for email, u in unsubscribes.all_unsubscribed(conn).items()},
        "pending_items": {email: {"new": new, "updated": updated}
                          for email, (new, updated) in pending_counts(conn, config,
                                                                      now=now).items()},
        "pending_digests": [{"subscriber": d.subscriber, "message_id": d.message_id,
                             "attempts": d.attempts, "last_error": d.last_error}
                            for d in ledger.pending_digests(conn)],
        "rejected": [{"subscriber": d.subscriber, "at": d.created_at.isoformat(),
                      "error": d.last_error}
                     for d in ledger.digests(conn, status="rejected", limit=10)],
    }


def _schedule(conn: sqlite3.Connection, config: Config, now: datetime) -> dict[str, str]:
    from monitor.scheduler import next_times

    return next_times(config, now)


# Missed slots are shown for this long: long enough to be seen after a weekend.
MISSED_SHOWN = timedelta(days=7)


def _jobs(conn: sqlite3.Connection, config: Config, now: datetime) -> dict[str, Any]:
    """What the service ran last for each job, and the slots it could not run (``serve``)."""
    def run(r: job_store.JobRun) -> dict[str, Any]:
        return {"job": r.job, "slot": r.slot.isoformat(), "outcome": r.outcome,
                "started_at": r.started_at.isoformat() if r.started_at else None,
                "ended_at": r.ended_at.isoformat() if r.ended_at else None,
                "attempts": r.attempts, "detail": r.detail,
                "missed_at": r.missed_at.isoformat() if r.missed_at else None}

    last = job_store.last_runs(conn)
    return {"last": {job: run(r) for job, r in last.items()},
            "next": _next_runs(config, last, now),
            "missed": [run(r) for r in job_store.missed_slots(conn, since=now - MISSED_SHOWN)]}


def _next_runs(config: Config, last: dict[str, job_store.JobRun],
               now: datetime) -> dict[str, str | None]:
    """When each job is next due while the service runs (ISO 8601; None: after each collect).

    A collect is due an interval after the service's last one (or now, when it never ran);
    a digest schedule at its next time."""
    from monitor.scheduler import next_fire

    every = timedelta(minutes=config.serve.collect_every_minutes)
    collect = last.get("collect")
    due = collect.slot + every if collect else now
    if due < now:
        due += every * -(-(now - due) // every)
    found: dict[str, str | None] = {"collect": due.isoformat()}
    for schedule in config.schedules:
        fire = next_fire(config, schedule.name, now)
        found[f"deliver {schedule.name}"] = fire.isoformat() if fire else None
    return found


def _alerts(conn: sqlite3.Connection, config: Config, now: datetime) -> list[dict[str, Any]]:
    """The operator alert conditions that hold now (the exit code is 1 while any does)."""
    from monitor.alerts import conditions
    from monitor.store import alerts as alert_store

    known = alert_store.open_alerts(conn)
    found = []
    for c in conditions(conn, config, now=now):
        row = known.get(c.key)
        found.append({"key": c.key, "title": c.title, "details": c.details, "action": c.action,
                      "since": row.started_at.isoformat() if row else None})
    return found


SECTIONS: dict[str, Section] = {
    "runs": _runs,
    "sources": _health,
    "counts": _counts,
    "pending_fetch": _pending,
    "digests": _digests,
    "next": _schedule,
    "jobs": _jobs,
    "alerts": _alerts,
}


def gather(config: Config, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    path = db.db_path(config.state_dir)
    data: dict[str, Any] = {"state_db": str(path), "exists": path.exists()}
    with db.open_state(config, write=False) as conn:
        # One read transaction: every section sees the same state while a run writes.
        conn.execute("BEGIN")
        for key, read in SECTIONS.items():
            data[key] = read(conn, config, now)
    return data


def _local(value: str | None) -> str:
    return format_local(datetime.fromisoformat(value)) if value else "-"


def render_text(data: dict[str, Any]) -> str:
    if not data["exists"]:
        return f"no state yet at {data['state_db']}: run `monitor collect --baseline` first\n"
    lines = ["Last collect runs (Vietnam time):"]
    for run in data["runs"]:
        c = run["counts"]
        lines.append(
            f"  #{run['id']:<4} {_local(run['started_at'])}  {run['outcome']:<8} "
            f"new {c['new']}, changed {c['changed']}, failed {c['failed']}, "
            f"blocked {c['blocked']}, 304s {c['not_modified']}, requests {c['requests']}"
            + ("  (baseline)" if run["baseline"] else ""))
        # Stored, but not as served: a page still cut short on its retry, a mislabelled charset.
        for e in [e for e in run["errors"] if e["kind"] == "warning"][:5]:
            lines.append(f"        WARNING {e['url']}: {e['reason']}")
    if not data["runs"]:
        lines.append("  none")
    lines.append("Sources:")
    for s in data["sources"]:
        state = "ok" if not s["problems"] else "; ".join(s["problems"])
        alert = "  ALERT" if s["alert"] else ""
        lines.append(f"  {s['source']}: {state}; last ok {_local(s['last_ok_at'])}, "
                     f"{s['consecutive_failures']} failing runs in a row{alert}")
    n = data["counts"]
    lines.append(f"State: {n['articles']} articles, {n['changes']} edits seen, "
                 f"{n['pending']} waiting to be fetched, {n['snapshots']} snapshots")
    for p in data["pending_fetch"][:5]:
        lines.append(f"  waiting: {p['url']} ({p['attempts']} attempts: {p['last_error'] or '-'})")
    digests = data["digests"]
    lines.append("Subscribers (relevant items not yet received):")
    for email, n in digests["pending_items"].items():
        gone = digests["unsubscribed"].get(email.lower())
        if gone:
            lines.append(f"  {email}: UNSUBSCRIBED on {_local(gone['at'])} ({gone['via']}); "
                         f"no digests until `monitor resubscribe {email}`")
        else:
            lines.append(f"  {email}: {n['new']} new, {n['updated']} updated")
    configured = {e.lower() for e in digests["pending_items"]}
    for email, gone in digests["unsubscribed"].items():
        if email not in configured:
            lines.append(f"  {email}: unsubscribed on {_local(gone['at'])} (not in the config)")
    if not digests["pending_items"]:
        lines.append("  none configured")
    if digests["stale_topics"]:
        lines.append("  topics changed since the archive was classified: "
                     + ", ".join(digests["stale_topics"])
                     + " (counts use the previous definition until the next collect, delivery"
                     " or preview re-classifies the stored articles, once)")
    for d in digests["pending_digests"]:
        lines.append(f"  digest to {d['subscriber']} waiting to be resent "
                     f"({d['attempts']} attempts: {d['last_error'] or '-'})")
    for d in digests["rejected"]:
        lines.append(f"  REJECTED for {d['subscriber']} at {_local(d['at'])}: {d['error']}")
    lines.append("Next: " + "; ".join(f"{k} {v}" for k, v in data["next"].items()))
    jobs = data["jobs"]
    lines.append("Service jobs (monitor serve): last run; next due while it runs")
    for job, when in jobs["next"].items():
        r = jobs["last"].get(job)
        late = f", ran late after {r['attempts']} attempts" if r and r["missed_at"] else ""
        ran = (f"due {_local(r['slot'])}, started {_local(r['started_at'])}, {r['outcome']}{late}"
               if r else "never run")
        lines.append(f"  {job}: {ran}; next {_local(when) if when else 'after each collect'}")
    for r in jobs["missed"]:
        label = "MISSED" if r["outcome"] == "missed" else "waiting to run"
        lines.append(f"  {label}: {r['job']} due {_local(r['slot'])}: {r['detail']}")
    for a in data["alerts"]:
        since = f" (since {_local(a['since'])})" if a["since"] else ""
        lines.append(f"ALERT: {a['title']}{since}: {a['action']}")
    if not data["alerts"]:
        lines.append("No alert conditions.")
    return "\n".join(lines) + "\n"


def status_command(config: Config, *, as_json: bool, out: TextIO,
                   now: datetime | None = None) -> int:
    """Exit 1 while any alert condition holds, else 0 (for Nagios-style checks and cron)."""
    data = gather(config, now=now)
    data["exit_code"] = 1 if data["alerts"] else 0
    if as_json:
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        out.write(render_text(data))
    return int(data["exit_code"])
