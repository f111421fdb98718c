"""The schema of the state file: a list of SQL scripts, ``MIGRATIONS``, applied in order by
``monitor.store.db.migrate``; ``PRAGMA user_version`` records how many have run.

Rules (several modules own tables in this file):

- append only: never edit, reorder or renumber a script once it has shipped;
- each feature appends its own script, naming the module that owns its tables.
"""

from __future__ import annotations

# --- migration 1: collect (articles, versions, pending refs, fetch cache, snapshots, runs,
# source health). Times are UTC ISO 8601 strings ("2025-12-08T03:05:00+00:00").
_M1_COLLECT = """
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL DEFAULT 'collect',
    started_at      TEXT NOT NULL,
    ended_at        TEXT,
    -- running | ok | partial | blocked | failed | aborted (left 'running' by a killed process)
    outcome         TEXT NOT NULL DEFAULT 'running',
    baseline        INTEGER NOT NULL DEFAULT 0,
    pages_fetched   INTEGER NOT NULL DEFAULT 0,
    not_modified    INTEGER NOT NULL DEFAULT 0,
    new_count       INTEGER NOT NULL DEFAULT 0,
    changed_count   INTEGER NOT NULL DEFAULT 0,
    unchanged_count INTEGER NOT NULL DEFAULT 0,
    failed_count    INTEGER NOT NULL DEFAULT 0,
    blocked_count   INTEGER NOT NULL DEFAULT 0,
    refused_count   INTEGER NOT NULL DEFAULT 0,
    requests        INTEGER NOT NULL DEFAULT 0,
    bytes           INTEGER NOT NULL DEFAULT 0,
    -- JSON list of {"url", "kind", "reason"}
    errors          TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE articles (
    id            INTEGER PRIMARY KEY,
    ident         TEXT NOT NULL UNIQUE,   -- numeric id from the URL, else the slug
    url           TEXT NOT NULL,          -- canonical URL
    source        TEXT NOT NULL,
    title         TEXT NOT NULL,
    sapo          TEXT NOT NULL,
    body          TEXT NOT NULL,          -- JSON list of paragraphs and subheadings
    captions      TEXT NOT NULL DEFAULT '[]',
    author        TEXT,
    tags          TEXT NOT NULL DEFAULT '[]',
    content_hash  TEXT NOT NULL,
    published_at  TEXT,
    extractor     TEXT NOT NULL,
    version       INTEGER NOT NULL,       -- number of the current version
    baseline      INTEGER NOT NULL DEFAULT 0,  -- first recorded by `collect --baseline`
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,          -- last listed or fetched
    last_checked  TEXT NOT NULL,          -- last fetched (200 or 304)
    last_changed  TEXT NOT NULL
);
CREATE INDEX articles_published ON articles(published_at);
CREATE INDEX articles_first_seen ON articles(first_seen);

CREATE TABLE versions (
    id             INTEGER PRIMARY KEY,
    article_id     INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('new', 'changed', 'baseline')),
    run_id         INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    seen_at        TEXT NOT NULL,
    title          TEXT NOT NULL,
    sapo           TEXT NOT NULL,
    body           TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    changed_fields TEXT NOT NULL DEFAULT '[]',  -- JSON list of title / sapo / body
    UNIQUE (article_id, version)
);
CREATE INDEX versions_seen ON versions(seen_at);

-- Refs discovered but not yet stored as articles: written as soon as a listing is read, so a
-- failed fetch or a killed run never loses an article; removed when the article is stored.
CREATE TABLE pending (
    ident           TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    source          TEXT NOT NULL,
    title           TEXT NOT NULL DEFAULT '',
    published_at    TEXT,
    first_seen      TEXT NOT NULL,
    baseline        INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at TEXT NOT NULL
);

CREATE TABLE fetch_cache (
    url           TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    status        INTEGER NOT NULL,
    fetched_at    TEXT NOT NULL,
    final_url     TEXT,
    -- JSON: what a listing / sitemap / feed page yielded, so a 304 can be followed without
    -- its body; the text of robots.txt for robots entries.
    summary       TEXT
);

CREATE TABLE snapshots (
    id           INTEGER PRIMARY KEY,
    article_id   INTEGER REFERENCES articles(id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    fetched_at   TEXT NOT NULL,
    run_id       INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    content_type TEXT,
    raw_hash     TEXT NOT NULL,
    html         BLOB NOT NULL            -- zlib-compressed bytes as served
);
CREATE INDEX snapshots_fetched ON snapshots(fetched_at);
CREATE INDEX snapshots_article ON snapshots(article_id);

CREATE TABLE source_runs (
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    source          TEXT NOT NULL,
    pages           INTEGER NOT NULL DEFAULT 0,
    links           INTEGER NOT NULL DEFAULT 0,
    articles        INTEGER NOT NULL DEFAULT 0,   -- fetched and extracted this run
    profile_ok      INTEGER NOT NULL DEFAULT 0,   -- of which by the profile, title and body set
    failed          INTEGER NOT NULL DEFAULT 0,
    blocked         INTEGER NOT NULL DEFAULT 0,
    healthy         INTEGER NOT NULL,
    problems        TEXT NOT NULL DEFAULT '[]',   -- JSON list of failed canaries
    PRIMARY KEY (run_id, source)
);

CREATE TABLE source_health (
    source               TEXT PRIMARY KEY,
    last_run_id          INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    last_checked_at      TEXT NOT NULL,
    last_ok_at           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    problems             TEXT NOT NULL DEFAULT '[]'
);
"""

# --- migration 2: the delivery ledger (``monitor/store/ledger.py``). A digest is written
# 'pending' with its items and exact bytes before it is handed to the server; only when the
# server has accepted it do 'sent' and the (subscriber, article) deliveries commit, together.
_M2_LEDGER = """
CREATE TABLE subscribers (
    email        TEXT PRIMARY KEY,
    added_at     TEXT NOT NULL,          -- first seen by a delivery: the default start point
    last_due_at  TEXT                    -- last delivery that was due for them (a slot used)
);

CREATE TABLE digests (
    id           INTEGER PRIMARY KEY,
    subscriber   TEXT NOT NULL,
    message_id   TEXT NOT NULL,          -- deterministic per (subscriber, items)
    subject      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    -- pending: built, not known to be accepted; resent as is by the next delivery
    -- sent: accepted by the server or written to the outbox
    -- rejected: refused for good (5xx); its items are free for a later digest
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'sent', 'rejected')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    sent_at      TEXT,
    sent_via     TEXT,                   -- "smtp host:port" or the outbox file
    message      BLOB NOT NULL           -- the exact bytes handed to the transport
);
CREATE INDEX digests_status ON digests(status, subscriber);
CREATE INDEX digests_message_id ON digests(message_id);

CREATE TABLE digest_items (
    digest_id    INTEGER NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
    article_id   INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('new', 'update')),
    version      INTEGER NOT NULL,
    PRIMARY KEY (digest_id, article_id)
);
CREATE INDEX digest_items_article ON digest_items(article_id);

CREATE TABLE deliveries (
    subscriber   TEXT NOT NULL,
    article_id   INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,       -- the version the subscriber last received
    digest_id    INTEGER NOT NULL REFERENCES digests(id),
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (subscriber, article_id)
);
"""

# --- migration 3: the service's jobs (``monitor/store/jobs.py``). One row per slot a job
# stood for (a collect tick, a digest time): a slot is written when its job starts, or when it
# could not run in time ('missed'), so no slot is ever taken as done without having run.
_M3_JOBS = """
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT NOT NULL,          -- 'collect' or 'deliver <schedule>'
    slot        TEXT NOT NULL,          -- the time the job was due (UTC)
    started_at  TEXT,                   -- the last attempt that ran; NULL while never run
    ended_at    TEXT,
    -- running | ok | failed (ran, with errors) | waiting (could not start yet: retried) |
    -- missed (could not start in time; still retried until the job's next slot)
    outcome     TEXT NOT NULL
                CHECK (outcome IN ('running', 'ok', 'failed', 'waiting', 'missed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    missed_at   TEXT,                   -- when the slot was declared missed, if it was
    detail      TEXT NOT NULL DEFAULT '',
    UNIQUE (job, slot)
);
CREATE INDEX job_runs_outcome ON job_runs(outcome, slot);
"""

# --- migration 4: stored verdicts (``monitor/store/verdicts.py``). An article version is
# classified once, when it is stored; a topic's verdicts are recomputed only when its definition
# (its fingerprint) changes. Deliveries, status and previews read them through indexes, so their
# cost follows what is new, not the size of the archive.
_M4_VERDICTS = """
CREATE TABLE verdicts (
    version_id  INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    topic       TEXT NOT NULL,
    score       REAL NOT NULL,
    verdict     TEXT NOT NULL CHECK (verdict IN ('relevant', 'possible', 'not')),
    -- JSON list of [phrase, where, count, weight, points]
    matched     TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (version_id, topic)
) WITHOUT ROWID;

-- Per configured topic: the fingerprint its verdicts were computed with, and the versions id up
-- to which every version has one (newer versions are classified by the next refresh).
CREATE TABLE topic_state (
    topic            TEXT PRIMARY KEY,
    fingerprint      TEXT NOT NULL,
    classified_upto  INTEGER NOT NULL DEFAULT 0,
    classified_at    TEXT NOT NULL
);

-- Per subscriber: every version with an id up to ``floor`` is settled for them (delivered, not
-- due, or superseded), for the selection (topics, their fingerprints, start point) named by
-- ``selection``; a different selection starts again from the beginning.
CREATE TABLE due_cursors (
    subscriber  TEXT PRIMARY KEY,
    selection   TEXT NOT NULL,
    floor       INTEGER NOT NULL DEFAULT 0
);

-- Reads whose cost must not follow the archive: the re-check window of a collect (the same
-- expression as its query), the count of edits in `monitor status`, deliveries per article.
CREATE INDEX articles_recheck ON articles(coalesce(published_at, first_seen));
CREATE INDEX versions_kind ON versions(kind);
CREATE INDEX deliveries_article ON deliveries(article_id);
"""

# --- migration 5: operator alerts (``monitor/store/alerts.py``). One row per spell of a
# condition: open while it holds (resolved_at NULL), closed once its "resolved" mail went out.
_M5_ALERTS = """
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    key           TEXT NOT NULL,          -- the condition: 'source:NAME', 'markup', ...
    title         TEXT NOT NULL,
    details       TEXT NOT NULL DEFAULT '',
    started_at    TEXT NOT NULL,
    last_sent_at  TEXT,                   -- the start mail or the last reminder, once accepted
    reminders     INTEGER NOT NULL DEFAULT 0,
    resolved_at   TEXT,                   -- the condition cleared
    resolved_sent INTEGER NOT NULL DEFAULT 0  -- the "resolved" mail went out
);
CREATE UNIQUE INDEX alerts_open ON alerts(key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_unsent ON alerts(resolved_sent) WHERE resolved_at IS NOT NULL;
"""

# --- migration 6: unsubscriptions (``monitor/store/unsubscribes.py``). A subscriber listed here
# gets no digest, whatever the config says, until the operator re-subscribes them.
_M6_UNSUBSCRIBES = """
CREATE TABLE unsubscribes (
    email            TEXT PRIMARY KEY,   -- lower case
    unsubscribed_at  TEXT NOT NULL,
    via              TEXT NOT NULL       -- one-click (the mail client) | page (the button)
);
"""

# --- migration 7: operators' relevance labels (``monitor/store/labels.py``). Keyed by the
# article's identity (its numeric id or slug), not by a row id, so a label outlives the article
# row, a re-fetch and any later migration; ``monitor topics test`` scores the topics on them.
_M7_LABELS = """
CREATE TABLE labels (
    ident       TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    label       TEXT NOT NULL CHECK (label IN ('relevant', 'not')),
    note        TEXT NOT NULL DEFAULT '',
    labelled_at TEXT NOT NULL
);
"""

MIGRATIONS: list[str] = [
    _M1_COLLECT,
    _M2_LEDGER,
    _M3_JOBS,
    _M4_VERDICTS,
    _M5_ALERTS,
    _M6_UNSUBSCRIBES,
    _M7_LABELS,
]
