"""One delivery run, and a preview of the next digest (the commands: ``monitor.commands``).

A delivery, under the state lock:

1. digests left ``pending`` by an earlier run (a crash after sending, an SMTP outage) are sent
   again byte for byte, so a reader sees at worst the same message twice, with one Message-ID;
2. for each subscriber whose schedule is due, the relevant articles they have not received
   (``digest.choose``) are rendered, built into a message, reserved in the ledger, sent, and
   recorded as delivered once the server has accepted them (``store.ledger``).

A subscriber is due when their schedule has no times ("as soon as there is something"), or when
one of its times has passed since their last due delivery. A temporary failure stops nothing
but that digest; when the server cannot be reached at all, no further digest is built this run,
so the items wait, unreserved, for a digest that also holds whatever arrives meanwhile.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from monitor.config import Config, SubscriberConfig, TopicConfig
from monitor.digest import (
    Candidate,
    Digest,
    DueKind,
    RenderedDigest,
    Snapshot,
    choose,
    due_kind,
    fit,
    material_changes,
    render,
)
from monitor.errors import (
    MailError,
    PermanentMailError,
    StoreError,
    TemporaryMailError,
)
from monitor.extract.text import VN_TZ, format_local
from monitor.mail import (
    Transport,
    as_bytes,
    build_message,
    envelope_sender,
    message_id,
    transport_for,
)
from monitor.models import Status, Verdict
from monitor.store import articles, db, ledger, unsubscribes, verdicts
from monitor.unsubscribe import url_for

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class Outcome:
    subscriber: str
    status: Status
    message_id: str = ""
    subject: str = ""
    new: int = 0
    updates: int = 0
    where: str = ""
    error: str = ""
    next_due: str = ""


@dataclass(frozen=True, slots=True)
class DeliverReport:
    dry_run: bool
    via: str
    outcomes: tuple[Outcome, ...] = ()
    aborted: str = ""  # the transport could not be used at all

    @property
    def exit_code(self) -> int:
        failed = any(o.status in ("failed", "rejected") for o in self.outcomes)
        return 1 if failed or self.aborted else 0


class DryTransport:
    """Accepts everything and sends nothing: ``--dry-run``."""

    def __init__(self, via: str) -> None:
        self.name = f"dry run ({via})"

    def open(self) -> None:
        pass

    def send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        return "not sent (dry run)"

    def close(self) -> None:
        pass


# --- schedules ----------------------------------------------------------------------------------


def _slots(times: tuple[time, ...], day: datetime) -> list[datetime]:
    return [datetime.combine(day.date(), t, VN_TZ) for t in times]


def is_due(times: tuple[time, ...], last_due: datetime | None, now: datetime) -> bool:
    """Always, without times; else when a time has passed since the last due delivery."""
    if not times or last_due is None:
        return True
    local = now.astimezone(VN_TZ)
    passed = [s for d in (local - timedelta(days=1), local) for s in _slots(times, d)
              if s <= local]
    return bool(passed) and last_due < max(passed)


def due_since(times: tuple[time, ...], found: datetime) -> datetime:
    """When an item found at ``found`` became due: then, or at the schedule's next time."""
    local = found.astimezone(VN_TZ)
    later = [s for d in (local, local + timedelta(days=1)) for s in _slots(times, d)
             if s >= local]
    return min(later) if times and later else found


def next_due(times: tuple[time, ...], now: datetime) -> str:
    local = now.astimezone(VN_TZ)
    later = [s for d in (local, local + timedelta(days=1)) for s in _slots(times, d) if s > local]
    return format_local(min(later)) if later else ""


def _times(config: Config, sub: SubscriberConfig) -> tuple[time, ...]:
    return next((s.times for s in config.schedules if s.name == sub.schedule), ())


# --- one delivery -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    """A subscriber's next digest, and where their cursor may go once its items are settled."""

    digest: Digest
    selection: ledger.Selection
    found: tuple[Candidate, ...]
    upto: int

    @property
    def settled_upto(self) -> int:
        return self.settled_by(self.digest)

    def settled_by(self, digest: Digest) -> int:
        """Where the cursor may go once ``digest`` is settled: before the first item it leaves
        for a later digest (over max_items, or past the size budget)."""
        taken = {i.article_id for i in digest.items}
        waiting = [c.version_id for c in self.found
                   if c.article_id not in taken and _still_due(c)]
        return min(waiting) - 1 if waiting else self.upto


def selection(conn: sqlite3.Connection, config: Config, sub: SubscriberConfig, *,
              now: datetime) -> ledger.Selection:
    known = ledger.state(conn, sub.email)
    since = sub.since or (known.added_at if known else now)
    topics = [t.name for t in _topics(config, sub)]
    stored = verdicts.topic_fingerprints(conn)
    wanted: tuple[Verdict, ...] = ("relevant", "possible") if sub.possible else ("relevant",)
    return ledger.Selection(sub.email, tuple(topics), since, verdicts=wanted,
                            updates=config.digest.show_updates,
                            fingerprints=tuple(stored.get(t, "") for t in topics))


def _topics(config: Config, sub: SubscriberConfig) -> list[TopicConfig]:
    return [t for t in config.topics if t.name in sub.topics] or list(config.topics)


def _candidates(conn: sqlite3.Connection, config: Config, sub: SubscriberConfig, *,
                now: datetime, include_reserved: bool
                ) -> tuple[ledger.Selection, int, list[Candidate]]:
    chosen = selection(conn, config, sub, now=now)
    upto = articles.top_version(conn)
    found = ledger.candidates(conn, chosen, after=ledger.floor(conn, chosen), upto=upto,
                              include_reserved=include_reserved)
    return chosen, upto, found


def due(conn: sqlite3.Connection, config: Config, sub: SubscriberConfig, *, now: datetime,
        include_reserved: bool = False) -> Due:
    """What ``sub`` would receive now, read from the stored verdicts behind ``conn``."""
    chosen, upto, found = _candidates(conn, config, sub, now=now,
                                      include_reserved=include_reserved)
    digest = choose(sub, _topics(config, sub), found, now=now, settings=config.digest,
                    since=chosen.since)
    return Due(digest, chosen, tuple(found), upto)


def _still_due(c: Candidate) -> bool:
    if c.delivered_version is None:
        return c.due or c.relevance is None  # not classified yet: ``choose`` judged it
    if c.delivered is None:
        return False
    return bool(material_changes(c.delivered, Snapshot(c.title, c.sapo, c.body)))


def build_digest(conn: sqlite3.Connection, config: Config, sub: SubscriberConfig, *,
                 now: datetime, include_reserved: bool = False) -> Digest:
    """What ``sub`` would receive now, from the state behind ``conn``."""
    return due(conn, config, sub, now=now, include_reserved=include_reserved).digest


def _build(config: Config, digest: Digest, now: datetime) -> tuple[RenderedDigest, str, bytes]:
    one_click = url_for(config, digest.subscriber.email)
    rendered = render(digest, config, unsubscribe=one_click)
    msg_id = message_id(digest.key, config.mail.sender)
    msg = build_message(subject=rendered.subject, text=rendered.text, html=rendered.html,
                        mail=config.mail, site_name=config.site.name,
                        to_email=digest.subscriber.email, to_name=digest.subscriber.name,
                        msg_id=msg_id, date=now, one_click=one_click)
    return rendered, msg_id, as_bytes(msg)


def fitted(config: Config, digest: Digest, now: datetime) -> Digest:
    """``digest`` within [digest] max_message_kb, measured as the message that is sent."""
    return fit(digest, lambda d: len(_build(config, d, now)[2]),
               config.digest.max_message_kb * 1024)


def message_for(config: Config, digest: Digest, now: datetime) -> tuple[Digest, str, str, bytes]:
    """The digest as it fits in the budget, its Message-ID, subject and bytes."""
    digest = fitted(config, digest, now)
    rendered, msg_id, raw = _build(config, digest, now)
    return digest, msg_id, rendered.subject, raw


class _Run:
    """The state of one delivery: the transport, whether it is reachable, what happened."""

    def __init__(self, conn: sqlite3.Connection, config: Config, transport: Transport,
                 now: datetime) -> None:
        self.conn, self.config, self.transport, self.now = conn, config, transport, now
        self.sender = envelope_sender(config.mail)
        self.opened = False
        self.unreachable = ""
        self.outcomes: list[Outcome] = []
        self.unsubscribed = unsubscribes.all_unsubscribed(conn)

    def reachable(self) -> bool:
        if not self.opened and not self.unreachable:
            try:
                self.transport.open()
                self.opened = True
            except TemporaryMailError as exc:
                log.warning("mail transport unreachable: %s", exc)
                self.unreachable = str(exc)
        return self.opened

    def send(self, digest_id: int, raw: bytes, recipient: str) -> tuple[Status, str, str]:
        """Hand one reserved digest to the transport and record what became of it."""
        try:
            where = self.transport.send(raw, sender=self.sender, recipient=recipient)
        except PermanentMailError as exc:
            log.info("digest %d to %s rejected: %s", digest_id, recipient, exc)
            ledger.mark_rejected(self.conn, digest_id, error=str(exc))
            return "rejected", "", str(exc)
        except TemporaryMailError as exc:
            log.info("digest %d to %s not accepted, kept pending: %s", digest_id,
                        recipient, exc)
            ledger.mark_failed(self.conn, digest_id, error=str(exc))
            return "failed", "", str(exc)
        ledger.mark_sent(self.conn, digest_id, now=self.now, via=where)
        return "sent", where, ""

    def resend_pending(self) -> None:
        subscribed = {s.email.lower() for s in self.config.subscribers}
        for pending in ledger.pending_digests(self.conn):
            gone = "unsubscribed" if pending.subscriber in self.unsubscribed else \
                "no longer a subscriber" if pending.subscriber not in subscribed else ""
            if gone:
                # Removed from the config, or unsubscribed: nothing more goes to them.
                ledger.mark_rejected(self.conn, pending.id, error=gone)
                self.outcomes.append(Outcome(pending.subscriber, "skipped", pending.message_id,
                                             pending.subject, error=gone))
                continue
            if not self.reachable():
                self.outcomes.append(Outcome(pending.subscriber, "failed", pending.message_id,
                                             pending.subject, error=self.unreachable))
                continue
            status, where, error = self.send(pending.id, pending.message, pending.subscriber)
            self.outcomes.append(Outcome(
                pending.subscriber, "resent" if status == "sent" else status,
                pending.message_id, pending.subject, pending.item_count, where=where,
                error=error))

    def deliver(self, sub: SubscriberConfig) -> None:
        gone = self.unsubscribed.get(sub.email.lower())
        if gone is not None:
            self.outcomes.append(Outcome(sub.email, "skipped", error=(
                f"unsubscribed on {format_local(gone.at)} ({gone.via}); "
                f"`monitor resubscribe {sub.email}` undoes it")))
            return
        times = _times(self.config, sub)
        known = ledger.state(self.conn, sub.email)
        if not is_due(times, known.last_due_at if known else None, self.now):
            self.outcomes.append(Outcome(sub.email, "not-due",
                                         next_due=next_due(times, self.now)))
            return
        found = due(self.conn, self.config, sub, now=self.now)
        digest = found.digest
        if digest.empty and not self.config.digest.send_empty:
            ledger.mark_due(self.conn, sub.email, now=self.now)
            ledger.advance(self.conn, found.selection, found.settled_upto)
            self.outcomes.append(Outcome(sub.email, "empty"))
            return
        try:
            digest, msg_id, subject, raw = message_for(self.config, digest, self.now)
        except MailError as exc:  # this subscriber's address: the others still get theirs
            self.outcomes.append(Outcome(sub.email, "failed", error=str(exc)))
            return
        # Reserve only once the server answers: while it is down the items stay free, to go
        # out in one digest with whatever arrives meanwhile.
        if not self.reachable():
            self.outcomes.append(Outcome(sub.email, "failed", msg_id, subject,
                                         digest.count("new"), digest.count("update"),
                                         error=self.unreachable))
            return
        items: list[ledger.ItemKey] = [(i.article_id, i.kind, i.version) for i in digest.items]
        digest_id = ledger.reserve(self.conn, email=sub.email, message_id=msg_id,
                                   subject=subject, created_at=self.now, message=raw,
                                   items=items)
        # Reserved items are settled for the cursor: sent, they are delivered; rejected, the
        # rejection starts the cursor again.
        ledger.advance(self.conn, found.selection, found.settled_by(digest))
        status, where, error = self.send(digest_id, raw, sub.email)
        self.outcomes.append(Outcome(sub.email, status, msg_id, subject, digest.count("new"),
                                     digest.count("update"), where, error))


def deliver(conn: sqlite3.Connection, config: Config, transport: Transport, *,
            now: datetime | None = None, schedule: str | None = None,
            dry_run: bool = False) -> DeliverReport:
    """One delivery against ``conn`` (the caller holds the state lock and owns ``conn``)."""
    now = now or datetime.now(UTC)
    run = _Run(conn, config, transport, now)
    verdicts.refresh(conn, config.topics, now=now, progress=verdicts.terminal_progress())
    ledger.register(conn, [s.email for s in config.subscribers], now=now)
    aborted = ""
    try:
        run.resend_pending()
        for sub in config.subscribers:
            if schedule is None or sub.schedule == schedule:
                run.deliver(sub)
    except MailError as exc:
        # Not temporary, not one recipient: the transport is unusable (login, certificate).
        log.error("delivery stopped: %s", exc)
        aborted = str(exc)
    finally:
        transport.close()
    return DeliverReport(dry_run, transport.name, tuple(run.outcomes), aborted)


def run_deliver(config: Config, *, dry_run: bool = False, schedule: str | None = None,
                now: datetime | None = None, transport: Transport | None = None) -> DeliverReport:
    """A whole delivery as a command runs it: lock (unless dry), open, deliver, close."""
    real = transport or transport_for(config)
    with db.open_state(config, write=True, dry_run=dry_run) as conn:
        if dry_run:
            return deliver(conn, config, DryTransport(real.name), now=now, schedule=schedule,
                           dry_run=True)
        return deliver(conn, config, real, now=now, schedule=schedule)


def due_items(conn: sqlite3.Connection, config: Config, sub: SubscriberConfig, *,
              now: datetime) -> list[tuple[Candidate, DueKind]]:
    """Everything ``sub`` has not received and is due, reserved or not, as what (new, update,
    or possible when they keep that section): the delivery's own query and rule, without
    building a digest (no excerpts)."""
    chosen, _, found = _candidates(conn, config, sub, now=now, include_reserved=True)
    topics = _topics(config, sub)
    kinds = [(c, due_kind(c, topics, config.digest, chosen.since, possible=sub.possible))
             for c in found]
    return [(c, k[0]) for c, k in kinds if k is not None]


def pending_counts(conn: sqlite3.Connection, config: Config, *,
                   now: datetime | None = None) -> dict[str, tuple[int, int]]:
    """Per subscriber, the (new, updated) relevant items not yet received (for `status`)."""
    now = now or datetime.now(UTC)
    counts = {}
    for sub in config.subscribers:
        kinds = [kind for _, kind in due_items(conn, config, sub, now=now)]
        counts[sub.email] = (kinds.count("new"), kinds.count("update"))
    return counts


# --- previews -----------------------------------------------------------------------------------


def refresh_if_stale(config: Config, *, now: datetime) -> None:
    """Re-classify the archive now if a topic changed since it was classified (under the state
    lock, committed: the one pass the next collect or delivery would make), so a preview shows
    the digest of the current topics."""
    path = db.db_path(config.state_dir)
    if not path.exists():
        return
    with db.open_state(config, write=False) as conn:
        if not verdicts.stale(conn, config.topics):
            return
    try:
        with db.open_state(config, write=True) as conn:
            verdicts.refresh(conn, config.topics, now=now, progress=verdicts.terminal_progress())
    except StoreError as exc:
        if exc.reason not in ("read-only", "locked"):
            raise
        # A preview still shows something useful: the digest of the verdicts as stored.
        log.warning("preview uses the stored verdicts, not re-classified: %s", exc)


def preview(config: Config, sub: SubscriberConfig, *,
            now: datetime) -> tuple[Digest, RenderedDigest]:
    """The next digest of ``sub``, everything not yet received, as it would be sent (nothing is
    recorded)."""
    refresh_if_stale(config, now=now)
    with db.open_state(config, write=False) as conn:
        digest = build_digest(conn, config, sub, now=now, include_reserved=True)
    digest = fitted(config, digest, now)
    return digest, _build(config, digest, now)[0]
