"""`monitor resubscribe EMAIL`: undo an unsubscription, for an operator asked by the reader.

Digests start again from the next delivery; what was published while the address was
unsubscribed is not sent (its items were never due to it, and a backlog is not what a returning
reader asked for), so the start point moves to now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TextIO

from monitor.config import Config
from monitor.errors import UsageError
from monitor.extract.text import format_local
from monitor.store import db, ledger, unsubscribes


def resubscribe_command(config: Config, email: str, *, out: TextIO,
                        now: datetime | None = None) -> int:
    address = email.strip().lower()
    if "@" not in address:
        raise UsageError(f"not an email address: {email!r}",
                         hint="give the subscriber's address, as `monitor status` lists it")
    now = now or datetime.now(UTC)
    with db.open_state(config, write=True) as conn:
        was = unsubscribes.remove(conn, address)
        if was is not None:
            ledger.restart(conn, address, now=now)
    if was is None:
        out.write(f"{address} is not unsubscribed: nothing to do\n")
        return 0
    out.write(f"{address} re-subscribed (had unsubscribed on {format_local(was.at)}, "
              f"{was.via}); digests start again from the next delivery\n")
    if address not in {s.email.lower() for s in config.subscribers}:
        out.write(f"note: {address} is not in the config's [[subscribers]]: add it there too\n")
    return 0
