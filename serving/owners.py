"""Which tenant (API key) owns each thread: a small table in the database that holds the checkpoints.

With API keys configured, a thread belongs to the key that first used it, and is 404 for every other key,
to read and to continue. The table lives next to the checkpoints (the home's SQLite file, or PostgreSQL),
not in the process: every worker sharing the checkpoints shares the owners, so a thread started on one
worker cannot be read or claimed through another. A claim is one ``INSERT ... ON CONFLICT DO NOTHING``
followed by reading the row back: two keys racing for a new id get one owner, whichever inserted first.

A thread that has checkpoints but no owner (started before keys were configured) belongs to nobody:
any key would otherwise claim another client's conversation; it is 404 for all keys.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from knowledge.configuration import Settings

TABLE = "serving_thread_owners"
_CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} "
           "(thread_id TEXT PRIMARY KEY, owner TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL)")
_OWNER = f"SELECT owner FROM {TABLE} WHERE thread_id = ?"
_INSERT = f"INSERT INTO {TABLE} (thread_id, owner, created_at) VALUES (?, ?, ?) ON CONFLICT (thread_id) DO NOTHING"
# LangGraph's savers (SQLite and PostgreSQL) keep a thread's checkpoints in this table.
_HAS_CHECKPOINTS = "SELECT 1 FROM checkpoints WHERE thread_id = ? LIMIT 1"


class _OwnerTable:
    """The claim logic, over one blocking ``_fetch(sql, params)`` per backend."""

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> tuple | None:
        raise NotImplementedError

    def _has_checkpoints(self, thread_id: str) -> bool:
        raise NotImplementedError

    def _owner(self, thread_id: str) -> str | None:
        row = self._fetch(_OWNER, (thread_id,))
        return row[0] if row else None

    def claim_now(self, thread_id: str, tenant: str) -> bool:
        """Whether ``tenant`` owns ``thread_id``, making it the owner of a new one."""
        owner = self._owner(thread_id)
        if owner is None:
            if self._has_checkpoints(thread_id):
                return False
            self._fetch(_INSERT, (thread_id, tenant, time.time()))
            owner = self._owner(thread_id)  # ours, or the tenant's whose insert won the race
        return owner == tenant

    def owns_now(self, thread_id: str, tenant: str) -> bool:
        return self._owner(thread_id) == tenant


class SqliteOwners(_OwnerTable):
    """In the home's checkpoint file. Its statements run on the event loop, like the checkpointer's
    (:mod:`agent.checkpoints`): sub-millisecond reads and writes on a local WAL file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection; a blocking agent's pool threads never use it, tests may

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: each statement is its own short transaction, so workers sharing the file
            # hold its write lock only for one insert.
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=5000")  # several API workers share the file
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_CREATE)
            self._conn = conn
        return self._conn

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> tuple | None:
        with self._lock:
            return self._connection().execute(sql, params).fetchone()

    def _has_checkpoints(self, thread_id: str) -> bool:
        try:
            return self._fetch(_HAS_CHECKPOINTS, (thread_id,)) is not None
        except sqlite3.OperationalError:  # no checkpoints table yet: no thread has any
            return False

    async def claim(self, thread_id: str, tenant: str) -> bool:
        return self.claim_now(thread_id, tenant)

    async def owns(self, thread_id: str, tenant: str) -> bool:
        return self.owns_now(thread_id, tenant)

    async def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class PostgresOwners(_OwnerTable):
    """In the PostgreSQL database of the checkpoints. A blocking pool used from worker threads: a
    network round trip is not run on the event loop, and the pool belongs to no loop."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._pool = None
        self._lock = threading.Lock()

    def _connection_pool(self):
        with self._lock:
            if self._pool is None:
                import psycopg
                from psycopg_pool import ConnectionPool

                pool = ConnectionPool(self.conninfo, min_size=1, max_size=4, kwargs={"autocommit": True}, open=True)
                try:
                    with pool.connection() as conn:
                        conn.execute(_CREATE)
                except psycopg.errors.UniqueViolation:  # another worker created it at the same moment
                    pass
                self._pool = pool
            return self._pool

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> tuple | None:
        with self._connection_pool().connection() as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return cursor.fetchone() if cursor.description else None

    def _has_checkpoints(self, thread_id: str) -> bool:
        import psycopg

        try:
            return self._fetch(_HAS_CHECKPOINTS, (thread_id,)) is not None
        except psycopg.errors.UndefinedTable:
            return False

    async def claim(self, thread_id: str, tenant: str) -> bool:
        return await asyncio.to_thread(self.claim_now, thread_id, tenant)

    async def owns(self, thread_id: str, tenant: str) -> bool:
        return await asyncio.to_thread(self.owns_now, thread_id, tenant)

    async def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def owners_for(settings: Settings) -> SqliteOwners | PostgresOwners:
    """The owner table where ``settings`` keep the threads (nothing is opened until the first use)."""
    if settings.postgres_checkpoint_conninfo:
        return PostgresOwners(settings.postgres_checkpoint_conninfo)
    return SqliteOwners(settings.checkpoint_path)
