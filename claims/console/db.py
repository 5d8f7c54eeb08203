"""The console's database: SQLite (one file, WAL) by default, PostgreSQL when given a URL.

One thin layer for both. SQL is written once with ``?`` placeholders and plain types that mean the
same on both engines (TEXT, INTEGER, DOUBLE PRECISION; JSON kept as TEXT); the only dialect switch
is the auto-increment key in the schema and the placeholder style. Every write goes through
``Database.write()``: one lock per process, one transaction, so SQLite never sees two writers from
the server and a reviewer's change is either all there or not at all. Reads use one connection
per thread.

Migrations are numbered plain-SQL scripts (``MIGRATIONS``); ``schema_migrations`` records which
ran. Add a new one at the end; never edit one that has shipped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, TypeVar

import anyio.to_thread

T = TypeVar("T")

# {pk} is the auto-increment key of the dialect.
MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "initial schema", """
CREATE TABLE IF NOT EXISTS users (
    id {pk},
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    id {pk},
    key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at);
CREATE TABLE IF NOT EXISTS disputes (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    proposition TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    aliases TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL DEFAULT 1,
    position INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id {pk},
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    total INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS articles (
    id {pk},
    ext_id TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    publisher TEXT NOT NULL DEFAULT '',
    published TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    analysis TEXT NOT NULL,
    error TEXT,
    job_id INTEGER,
    model TEXT NOT NULL DEFAULT '{}',
    candidates TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    min_confidence DOUBLE PRECISION,
    n_claims INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_status ON articles (status, created_at);
CREATE INDEX IF NOT EXISTS articles_analysis ON articles (analysis);
CREATE TABLE IF NOT EXISTS claims (
    id {pk},
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    content TEXT NOT NULL,
    cue TEXT,
    source TEXT,
    speaker TEXT,
    speaker_name TEXT NOT NULL DEFAULT '',
    form TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    start_char INTEGER NOT NULL,
    status TEXT NOT NULL,
    origin TEXT NOT NULL,
    rating TEXT NOT NULL DEFAULT '',
    rating_note TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1,
    updated_by TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_article ON claims (article_id, start_char);
CREATE INDEX IF NOT EXISTS claims_speaker ON claims (speaker_name);
CREATE TABLE IF NOT EXISTS stances (
    claim_id INTEGER NOT NULL REFERENCES claims(id) ON DELETE CASCADE,
    dispute_id TEXT NOT NULL REFERENCES disputes(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    scores TEXT,
    reviewed_by TEXT,
    PRIMARY KEY (claim_id, dispute_id)
);
CREATE INDEX IF NOT EXISTS stances_dispute ON stances (dispute_id, label);
CREATE TABLE IF NOT EXISTS audit (
    id {pk},
    at TEXT NOT NULL,
    user_name TEXT,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    article_id INTEGER,
    before TEXT,
    after TEXT
);
CREATE INDEX IF NOT EXISTS audit_article ON audit (article_id, id);
CREATE INDEX IF NOT EXISTS audit_entity ON audit (entity, entity_id, id);
"""),
    (2, "session idle time, job leases, who has an article open", """
ALTER TABLE sessions ADD COLUMN last_seen TEXT NOT NULL DEFAULT '';
UPDATE sessions SET last_seen = created_at;
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until TEXT;
ALTER TABLE articles ADD COLUMN opened_by TEXT;
ALTER TABLE articles ADD COLUMN opened_at TEXT;
CREATE INDEX IF NOT EXISTS login_failures_at ON login_failures (at);
"""),
]


def now() -> str:
    """UTC time as ISO text: sortable, and the same on both engines."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Conn:
    """A connection with dict rows and ``?`` placeholders on both engines."""

    def __init__(self, raw, dialect: str):
        self.raw = raw
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        if self.dialect == "postgresql":
            # psycopg uses %s; our SQL never contains a literal % (patterns travel as parameters)
            assert "%" not in sql, "pass LIKE patterns as parameters"
            return sql.replace("?", "%s")
        return sql

    def all(self, sql: str, params: tuple | list = ()) -> list[dict]:
        cur = self.raw.execute(self._sql(sql), tuple(params))
        return [dict(r) for r in cur.fetchall()]

    def one(self, sql: str, params: tuple | list = ()) -> Optional[dict]:
        # fetchall, not fetchone: SQLite cannot commit while a RETURNING cursor is unfinished
        rows = self.raw.execute(self._sql(sql), tuple(params)).fetchall()
        return dict(rows[0]) if rows else None

    def value(self, sql: str, params: tuple | list = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else next(iter(row.values()))

    def run(self, sql: str, params: tuple | list = ()) -> int:
        """Execute a statement; returns the number of rows it changed."""
        return self.raw.execute(self._sql(sql), tuple(params)).rowcount

    def insert(self, sql: str, params: tuple | list = ()) -> Any:
        """Execute an INSERT ending in ``RETURNING <key>``; returns the key."""
        return self.value(sql, params)


class Database:
    """``Database("console.db")`` or ``Database("postgresql://user@host/db")``."""

    def __init__(self, url: str | Path):
        url = str(url)
        self.url = url
        self.dialect = "postgresql" if url.startswith(("postgresql://", "postgres://")) else "sqlite"
        if self.dialect == "sqlite":
            if url.startswith("sqlite:///"):
                url = url[len("sqlite:///"):]
            if url in ("", ":memory:"):
                raise ValueError("the console needs a database file (threads share it), not :memory:")
            self.path = Path(url)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._all: list = []
        self._all_lock = threading.Lock()

    # -- connections ---------------------------------------------------------------------------

    def _connect(self) -> Conn:
        if self.dialect == "sqlite":
            if not self.path.exists():
                # accounts and sessions live here: readable by the owner only (SQLite gives the
                # WAL and shared-memory files the same mode)
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            raw = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            raw.row_factory = sqlite3.Row
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=NORMAL")
            raw.execute("PRAGMA foreign_keys=ON")
            raw.execute("PRAGMA busy_timeout=30000")
        else:
            try:
                import psycopg
                from psycopg.rows import dict_row
            except ImportError:  # pragma: no cover - depends on the install
                raise RuntimeError("PostgreSQL needs the psycopg driver: pip install 'claims[postgres]'") from None
            raw = psycopg.connect(self.url, autocommit=True, row_factory=dict_row)
        conn = Conn(raw, self.dialect)
        with self._all_lock:
            self._all.append(conn)
        return conn

    def conn(self) -> Conn:
        """This thread's connection (reads outside a write transaction)."""
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = self._connect()
        return c

    def close(self) -> None:
        with self._all_lock:
            for c in self._all:
                with contextlib.suppress(Exception):
                    c.raw.close()
            self._all.clear()
        self._local = threading.local()

    @contextlib.contextmanager
    def write(self) -> Iterator[Conn]:
        """One write transaction; the only way anything changes. Serialised in this process."""
        conn = self.conn()
        with self._write_lock:
            if self.dialect == "sqlite":
                conn.raw.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.raw.execute("ROLLBACK")
                    raise
                conn.raw.execute("COMMIT")
            else:
                with conn.raw.transaction():
                    yield conn

    def read(self, fn: Callable[..., T], *args, **kw) -> T:
        return fn(self.conn(), *args, **kw)

    def apply(self, fn: Callable[..., T], *args, **kw) -> T:
        """Run ``fn(conn, ...)`` inside one write transaction."""
        with self.write() as conn:
            return fn(conn, *args, **kw)

    # Views are async: these run the blocking database work in a worker thread.
    async def aread(self, fn: Callable[..., T], *args, **kw) -> T:
        return await anyio.to_thread.run_sync(lambda: self.read(fn, *args, **kw))

    async def awrite(self, fn: Callable[..., T], *args, **kw) -> T:
        return await anyio.to_thread.run_sync(lambda: self.apply(fn, *args, **kw))

    # -- schema --------------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Bring the schema up to date; returns the versions applied now."""
        pk = "INTEGER PRIMARY KEY" if self.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
        applied = []
        with self.write() as c:
            c.run("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                  "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            done = {r["version"] for r in c.all("SELECT version FROM schema_migrations")}
            for version, name, script in MIGRATIONS:
                if version in done:
                    continue
                for stmt in script.replace("{pk}", pk).split(";"):
                    if stmt.strip():
                        c.run(stmt)
                c.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                      (version, name, now()))
                applied.append(version)
        return applied

    def schema_version(self) -> int:
        return int(self.conn().value("SELECT MAX(version) AS v FROM schema_migrations") or 0)
