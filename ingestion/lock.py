"""The ingest lock: one process at a time writes reports into a home's SQLite database.

Each report is one transaction, but what it checks first — is this file stored already, does its
company-year have a report — has to be read by the writer that then writes, or two ``nianbao ingest`` runs
on one home both find nothing and both write (a twin report, or a constraint error). So the check and
the write happen under an exclusive ``flock`` on a file beside the database. It is held for one report's
transaction, not a batch, so two batches interleave rather than one waiting out the other; the kernel
releases it when its holder dies, so a killed run leaves nothing stale.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from knowledge.store import Store

WAIT_MESSAGE = "另一个导入正在进行，等待…"
WAIT_S = 120.0  # far past one report's transaction (about a second); a holder this slow is stuck
_POLL_S = 0.1

OnWait = Callable[[str], None]


class IngestLockTimeout(Exception):
    """Another process held the ingest lock past the wait."""


def lock_path(store: Store) -> Path | None:
    """Beside a SQLite database file (so every home, or every URL, naming that file shares it); None for
    other databases, whose transactions serialise on the server."""
    url = store.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    db = Path(url.database)
    return db.with_name(db.name + ".ingest.lock")


@contextmanager
def ingest_lock(path: Path | None, *, on_wait: OnWait | None = None, timeout_s: float | None = None) -> Iterator[None]:
    """Hold the lock at ``path`` (nothing to hold for None). When another process has it, ``on_wait`` gets
    :data:`WAIT_MESSAGE` once and this waits up to ``timeout_s`` (default :data:`WAIT_S`)."""
    if path is None:
        yield
        return
    limit = WAIT_S if timeout_s is None else timeout_s
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            if on_wait:
                on_wait(WAIT_MESSAGE)
            deadline = time.monotonic() + limit
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    raise IngestLockTimeout(f"另一个导入占用 {path.name} 超过 {limit:g} 秒，本报告未写入（稍后重试）")
                time.sleep(_POLL_S)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
