"""The state of the monitor: one SQLite file in the state directory.

- ``db``: opening the file (WAL, foreign keys, busy timeout), migrations (``schema``), explicit
  transactions, and the lock that lets one run at a time use a state directory;
- ``articles``: the collect side: articles and their versions, refs waiting to be fetched, the
  HTTP cache, raw-HTML snapshots, runs and per-source health;
- ``verdicts``: each article version's stored verdict per topic, and the one pass that
  re-classifies the archive when a topic's definition changes;
- ``ledger``: deliveries, and the due items of a subscriber, chosen through indexes.

Commands open the state with ``db.open_state(config, write=...)`` and nothing else; each module
takes the ``sqlite3.Connection`` it yields and never opens one itself, so a caller decides what is
one transaction.
"""

from monitor.store.db import (
    DB_NAME,
    MIGRATIONS,
    connect,
    connect_readonly,
    db_path,
    migrate,
    open_state,
    rolled_back,
    state_lock,
    store_error,
    transaction,
)

__all__ = [
    "DB_NAME",
    "MIGRATIONS",
    "connect",
    "connect_readonly",
    "db_path",
    "migrate",
    "open_state",
    "rolled_back",
    "state_lock",
    "store_error",
    "transaction",
]
