"""Operator alerts: conditions read from the state (and the run just finished), and the mails.

Conditions (``conditions``), each with a stable key:

- ``source:NAME``: a source failed ``[serve] alert_after_failures`` collect runs in a row;
- ``markup``: the site profile missed on ``[alerts] markup_share`` of the last run's article
  pages (the site changed its markup); the mail names the fields, the URLs, the generic
  extractor's confidence and the ``monitor inspect`` command, with the page attached;
- ``blocked``: the last run met a block or challenge page, or a storm of 403/429 answers;
- ``stuck:EMAIL``: a digest, or an item due to a subscriber, waiting longer than
  ``[alerts] stuck_after_hours``;
- ``rejected:EMAIL``: the mail server refused a subscriber's last digest for good;
- ``missed:JOB``: ``monitor serve`` could not run a job's slot in time (the state was held),
  and the job has not run since.

``process`` compares them with the alert rows of the state (``store.alerts``): a new condition
gets one mail when it starts, a reminder at most every ``[alerts] reminder_hours`` while it
lasts, and a "resolved" mail when it clears. Mails go to ``[alerts] recipients`` only, through
the SMTP server of ``[mail]`` or, without one, as files in ``[alerts] outbox_dir``. The state
is written after each mail is accepted, so a restart repeats and forgets nothing. Each alert
also gets one log line, so an operator without recipients still sees it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import socket
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from monitor import jinja
from monitor.config import Config
from monitor.errors import MailError
from monitor.extract.text import format_local
from monitor.logs import event
from monitor.mail import (
    Transport,
    as_bytes,
    bare_address,
    build_alert_message,
    message_id,
    transport_for,
)
from monitor.store import alerts as alert_store
from monitor.store import db, ledger, unsubscribes
from monitor.store import jobs as job_store
from monitor.store import runs as run_store

if TYPE_CHECKING:
    from monitor.collect import CollectReport

log = logging.getLogger(__name__)

MailKind = Literal["start", "reminder", "resolved", "test"]

_STORM = re.compile(r"\bHTTP (403|429)\b")
STORM_MIN = 3  # 403/429 answers in one run that make a storm
MAX_LISTED = 10
MISSED_WINDOW = timedelta(days=1)  # a missed slot older than this no longer alerts


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    title: str  # one line: the subject
    details: str  # what is wrong, plain text
    action: str  # what to do
    attachments: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Sent:
    key: str
    kind: MailKind
    ok: bool
    where: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class AlertReport:
    active: tuple[Condition, ...]
    mails: tuple[Sent, ...] = ()


# --- conditions -------------------------------------------------------------------------------


def conditions(conn: sqlite3.Connection, config: Config, *, now: datetime,
               report: CollectReport | None = None) -> list[Condition]:
    """The alert conditions that hold now, read from the state behind ``conn``."""
    found = _sources(conn, config)
    last = next((r for r in run_store.last_runs(conn, 5)
                 if r.outcome not in ("running", "aborted")), None)
    if last is not None:
        found += _blocked(last)
        found += _markup(conn, config, last, report)
    found += _stuck(conn, config, now)
    found += _rejected(conn, config)
    found += _missed(conn, now)
    return found


def _missed(conn: sqlite3.Connection, now: datetime) -> list[Condition]:
    ran = job_store.last_runs(conn)
    latest: dict[str, job_store.JobRun] = {}
    for r in job_store.missed_slots(conn, since=now - MISSED_WINDOW):
        last = ran.get(r.job)
        if r.outcome == "missed" and (last is None or last.slot < r.slot):
            latest[r.job] = r
    return [Condition(
        f"missed:{job}", f"{job} missed its slot of {format_local(r.slot)}",
        f"monitor serve could not run {job} due at {format_local(r.slot)}: {r.detail}",
        "Look for another monitor process holding the state directory (a long manual "
        "`monitor run`, a second service); `monitor status` lists the missed slots.")
        for job, r in sorted(latest.items())]


def _sources(conn: sqlite3.Connection, config: Config) -> list[Condition]:
    configured = {s.name: s for s in config.sources}
    found = []
    for h in run_store.source_health(conn):
        n = h.consecutive_failures
        if h.source in configured and n >= config.serve.alert_after_failures:
            last_ok = format_local(h.last_ok_at) if h.last_ok_at else "never"
            found.append(Condition(
                f"source:{h.source}", f"source {h.source} failed {n} runs in a row",
                f"Source {h.source} ({configured[h.source].url}) failed its checks in the last "
                f"{n} collect runs; last healthy: {last_ok}.\nProblems of the last run:\n"
                + "\n".join(f"- {p}" for p in h.problems),
                f"Open {configured[h.source].url} in a browser; run `monitor check --network` "
                "and `monitor status` for the details."))
    return found


def _blocked(last: run_store.RunRow) -> list[Condition]:
    storm = [e for e in last.errors if _STORM.search(e.reason)]
    if not last.counts.blocked and len(storm) < STORM_MIN:
        return []
    shown = [e for e in last.errors if e.kind == "blocked"] + storm
    return [Condition(
        "blocked", "the site is blocking the monitor",
        f"Collect run {last.id} ({format_local(last.started_at)}) met "
        f"{last.counts.blocked} block or challenge pages and {len(storm)} 403/429 answers:\n"
        + "\n".join(f"- {e.url}: {e.reason[:200]}" for e in shown[:MAX_LISTED]),
        "Raise [fetch] min_delay_seconds, check the User-Agent and contact address in "
        "[fetch] user_agent, and ask the site's operators if it lasts.")]


def _markup(conn: sqlite3.Connection, config: Config, last: run_store.RunRow,
            report: CollectReport | None) -> list[Condition]:
    runs = run_store.source_runs(conn, last.id)
    extracted = sum(s.articles for s in runs)
    whole = sum(s.profile_ok for s in runs)
    not_article = [e for e in last.errors if e.kind == "not-an-article"]
    total = extracted + len(not_article)
    missed = total - whole
    if not total or missed / total < config.alerts.markup_share:
        return []
    lines = [f"In collect run {last.id} ({format_local(last.started_at)}) the site profile "
             f"missed on {missed} of {total} article pages: the site may have changed its "
             "markup."]
    attachments: tuple[tuple[str, bytes], ...] = ()
    urls: list[str] = [e.url for e in not_article]
    if report is not None and report.run_id == last.id and report.misses:
        urls = []
        for m in report.misses[:MAX_LISTED]:
            kept = ("nothing kept" if m.extractor == "none" else
                    f"kept by the {m.extractor} extractor, confidence {m.confidence:.2f}")
            lines.append(f"- {m.url}\n  missed: {', '.join(m.fields) or '-'}; {kept}")
            urls.append(m.url)
        first = report.misses[0]
        if first.html and config.alerts.attach_max_bytes:
            attachments = (("page.html", first.html[:config.alerts.attach_max_bytes]),)
    else:
        lines += [f"- {url}" for url in urls[:MAX_LISTED]]
    command = f"monitor inspect {urls[0]}" if urls else "monitor inspect URL"
    return [Condition(
        "markup", f"the site profile missed on {missed} of {total} articles",
        "\n".join(lines),
        f"Run `{command}` to see what the profile finds, then fix the selectors under "
        "[site.selectors] in the config (the attached page is the one served).", attachments)]


def _stuck(conn: sqlite3.Connection, config: Config, now: datetime) -> list[Condition]:
    from monitor.deliver import due_items, due_since

    limit = timedelta(hours=config.alerts.stuck_after_hours)
    # An address that unsubscribed is meant to receive nothing: its items are not stuck.
    gone = set(unsubscribes.all_unsubscribed(conn))
    oldest: dict[str, tuple[datetime, str]] = {}
    for d in ledger.pending_digests(conn):
        if now - d.created_at > limit and d.subscriber not in oldest.keys() | gone:
            oldest[d.subscriber] = (d.created_at, f"a digest built {format_local(d.created_at)} "
                                    f"is not accepted after {d.attempts} attempts: "
                                    f"{d.last_error or '-'}")
    times = {s.name: s.times for s in config.schedules}
    for sub in config.subscribers:
        email = sub.email.lower()
        if email in oldest or email in gone:
            continue
        due = due_items(conn, config, sub, now=now)
        waiting = alert_store.waiting_since(
            conn, [(c.article_id, "update" if kind == "update" else "new") for c, kind in due])
        if not waiting:
            continue
        since = due_since(times.get(sub.schedule, ()), min(waiting.values()))
        if now - since > limit:
            oldest[email] = (since, f"{len(due)} items due since "
                             f"{format_local(since)} have not been sent")
    return [Condition(
        f"stuck:{email}", f"digests to {email} stuck for "
        f"{int((now - since).total_seconds() // 3600)} h",
        f"{why}.", "Check the mail server settings with `monitor check --network` and the "
        "last deliveries in `monitor status`.") for email, (since, why) in sorted(oldest.items())]


def _rejected(conn: sqlite3.Connection, config: Config) -> list[Condition]:
    # A digest refused because its subscriber unsubscribed is no server's doing.
    configured = {s.email.lower() for s in config.subscribers} - set(
        unsubscribes.all_unsubscribed(conn))
    latest: dict[str, ledger.StoredDigest] = {}
    for d in ledger.digests(conn, limit=200):
        if d.status != "pending":
            latest.setdefault(d.subscriber, d)
    return [Condition(
        f"rejected:{email}", f"the mail server rejected the digest to {email}",
        f"The digest of {format_local(d.created_at)} to {email} was refused for good: "
        f"{d.last_error or '-'}",
        f"Fix or remove {email} in [[subscribers]]; its items go out with the next digest.")
        for email, d in sorted(latest.items())
        if d.status == "rejected" and email in configured]


# --- mails ------------------------------------------------------------------------------------


def render_alert(config: Config, kind: MailKind, condition: Condition, *, started: datetime,
                 now: datetime) -> tuple[str, str]:
    """Subject and body of an alert mail (template ``alert.txt.j2``)."""
    label = {"start": "ALERT", "reminder": "still failing", "resolved": "resolved",
             "test": "test"}[kind]
    subject = f"[monitor {label}] {condition.title}"
    text = jinja.render(config.templates_dir, "alert.txt.j2", {
        "kind": kind, "subject": subject, "title": condition.title,
        "details": condition.details, "action": condition.action,
        "started": format_local(started), "now": format_local(now),
        "hours": int((now - started).total_seconds() // 3600), "key": condition.key,
        "site_name": config.site.name, "host": socket.gethostname(),
    })
    return subject, text


class _Mailer:
    def __init__(self, config: Config, transport: Transport | None) -> None:
        self.config = config
        self.transport = transport or transport_for(config, alerts=True)
        self.sender = config.alerts.sender or config.mail.sender
        self.envelope = bare_address(self.sender, what="[alerts] sender") if self.sender else ""
        self.opened = False

    def send(self, kind: MailKind, condition: Condition, *, started: datetime,
             now: datetime) -> Sent:
        if not self.config.alerts.recipients:
            return Sent(condition.key, kind, False, error="no [alerts] recipients")
        subject, text = render_alert(self.config, kind, condition, started=started, now=now)
        seed = f"{condition.key}\n{started.isoformat()}\n{kind}\n{now.isoformat()}"
        msg_id = message_id(hashlib.sha256(seed.encode()).hexdigest(), self.sender, kind="alert")
        attachments = condition.attachments if kind in ("start", "test") else ()
        where, errors = [], []
        try:
            if not self.opened:
                self.transport.open()
                self.opened = True
            for recipient in self.config.alerts.recipients:
                raw = as_bytes(build_alert_message(
                    subject=subject, text=text, sender=self.sender, to_email=recipient,
                    msg_id=msg_id, date=now, attachments=attachments))
                try:
                    where.append(self.transport.send(raw, sender=self.envelope,
                                                     recipient=recipient))
                except MailError as exc:
                    errors.append(f"{recipient}: {exc}")
        except MailError as exc:
            errors.append(str(exc))
        ok = bool(where)  # one operator reached is enough: a retry would repeat it to them
        return Sent(condition.key, kind, ok, "; ".join(where), "; ".join(errors))

    def close(self) -> None:
        if self.opened:
            self.transport.close()


def _log(sent: Sent, condition: Condition) -> None:
    level = logging.INFO if sent.kind == "resolved" else logging.WARNING
    how = (f"mailed to {sent.where}" if sent.ok else f"not mailed ({sent.error})")
    event("alert %s: %s; %s", sent.kind, condition.title, how, level=level, event="alert",
          alert=sent.kind, key=condition.key, title=condition.title, mailed=sent.ok,
          error=sent.error)


def process(conn: sqlite3.Connection, config: Config, *, now: datetime | None = None,
            report: CollectReport | None = None, transport: Transport | None = None
            ) -> AlertReport:
    """Evaluate, mail what started, is due a reminder or cleared, and record it."""
    now = now or datetime.now(UTC)
    active = conditions(conn, config, now=now, report=report)
    holding = {c.key: c for c in active}
    known = alert_store.open_alerts(conn)
    mailer = _Mailer(config, transport)
    sent: list[Sent] = []
    remind = timedelta(hours=config.alerts.reminder_hours)
    try:
        for key, condition in holding.items():
            row = known.get(key)
            if row is None:
                row = alert_store.start(conn, key, title=condition.title,
                                        details=condition.details, now=now)
                kind: MailKind = "start"
            elif row.last_sent_at is None:
                kind = "start"  # its first mail never went out
            elif now - row.last_sent_at >= remind:
                kind = "reminder"
            else:
                continue
            result = mailer.send(kind, condition, started=row.started_at, now=now)
            if result.ok or not config.alerts.recipients:
                alert_store.mark_sent(conn, row.id, now=now, reminder=kind == "reminder")
            alert_store.update_details(conn, row.id, title=condition.title,
                                       details=condition.details)
            _log(result, condition)
            sent.append(result)
        for key, row in known.items():
            if key not in holding:
                alert_store.resolve(conn, row.id, now=now)
        for row in alert_store.unsent_resolutions(conn):
            condition = Condition(row.key, row.title,
                                  f"Cleared at {format_local(now)}; it started "
                                  f"{format_local(row.started_at)}.\n\nWhat it was:\n"
                                  f"{row.details}", "Nothing to do.")
            result = mailer.send("resolved", condition, started=row.started_at, now=now)
            if result.ok or not config.alerts.recipients:
                alert_store.mark_resolution_sent(conn, row.id)
            _log(result, condition)
            sent.append(result)
    finally:
        mailer.close()
    return AlertReport(tuple(active), tuple(sent))


def run_alerts(config: Config, *, report: CollectReport | None = None,
               now: datetime | None = None, transport: Transport | None = None
               ) -> AlertReport:
    """``process`` on a connection of its own (for the service's jobs).

    Without the state directory's lock: alerts are evaluated by the one service, also while
    another run holds the state (a missed slot is the case to report), and each change of an
    alert row is one SQLite transaction.
    """
    conn = db.connect(db.db_path(config.state_dir))
    try:
        return process(conn, config, now=now, report=report, transport=transport)
    finally:
        conn.close()


def send_test(config: Config, *, transport: Transport | None = None) -> Sent:
    """A test alert to every recipient (``monitor check --network --test-alert``)."""
    now = datetime.now(UTC)
    condition = Condition("test", "test alert from monitor check",
                          "This is a test: operator alerts reach you.",
                          "Nothing to do.")
    mailer = _Mailer(config, transport)
    try:
        return mailer.send("test", condition, started=now, now=now)
    finally:
        mailer.close()


__all__ = ["AlertReport", "Condition", "Sent", "conditions", "process", "render_alert",
           "run_alerts", "send_test"]
