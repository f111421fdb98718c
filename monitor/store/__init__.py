"""The state of the monitor: one SQLite file in the state directory.

- ``db``: opening the file (WAL, foreign keys, busy timeout), the ``MIGRATIONS`` list, explicit
  transactions, and the lock that lets one run at a time use a state directory;
- ``articles``: the collect side: articles and their versions, refs waiting to be fetched, the
  HTTP cache, raw-HTML snapshots, runs and per-source health.

Each module takes a ``sqlite3.Connection`` from ``db.connect`` (or ``db.open_copy`` for a dry run)
and never opens one itself, so a caller decides what is one transaction.
"""

from monitor.store.db import (
    DB_NAME,
    MIGRATIONS,
    connect,
    db_path,
    migrate,
    open_copy,
    state_lock,
    transaction,
)

__all__ = [
    "DB_NAME",
    "MIGRATIONS",
    "connect",
    "db_path",
    "migrate",
    "open_copy",
    "state_lock",
    "transaction",
]
