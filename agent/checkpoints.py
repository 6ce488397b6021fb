"""The checkpointers that keep threads (one per event loop and home; see ``agent.service``).

SQLite (the default): :class:`LoopSqliteSaver` runs LangGraph's ``SqliteSaver`` statements on the event
loop itself. Reading a thread's latest checkpoint or writing one is a sub-millisecond statement on a
local file (WAL, ``synchronous=NORMAL``: no fsync per commit). Under load that is far cheaper than
aiosqlite's hop to its own thread and back: with the loop busy, every hop waited for the interpreter
lock, all conversations' checkpoints queued behind one thread, and the 128-conversation load test showed
checkpoint waits of seconds. PostgreSQL: LangGraph's ``AsyncPostgresSaver`` on an async pool.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.sqlite import SqliteSaver

from knowledge.configuration import Settings
from knowledge.extras import require


class LoopSqliteSaver(SqliteSaver):
    """``SqliteSaver`` whose async methods run its blocking statements inline (see the module's doc)."""

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
                    before: RunnableConfig | None = None, limit: int | None = None) -> AsyncIterator[CheckpointTuple]:
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)


def sqlite_saver(settings: Settings) -> LoopSqliteSaver:
    settings.ensure_home()
    conn = sqlite3.connect(settings.checkpoint_path, check_same_thread=False)
    # WAL with synchronous=NORMAL: a commit does not wait for an fsync. A crash of the process loses
    # nothing; a power cut may lose the last turns, which are simply asked again.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")  # several API workers share the file
    saver = LoopSqliteSaver(conn)
    saver.setup()
    return saver


async def postgres_saver(conninfo: str):
    require("postgres", "PostgreSQL threads", modules=("langgraph.checkpoint.postgres", "psycopg_pool"))
    # Deferred: only a PostgreSQL deployment has (or needs) these.
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    # A pool: the API answers several threads at once. The settings are the ones the saver needs.
    pool = AsyncConnectionPool(conninfo, max_size=8, open=False,
                               kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
    await pool.open()
    saver = AsyncPostgresSaver(pool)
    await saver.setup()
    return saver
