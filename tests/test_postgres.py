"""With a PostgreSQL database URL, the store and the conversation threads live in PostgreSQL.

Runs against a throw-away cluster started by the test (initdb + pg_ctl on a private socket);
skipped where PostgreSQL's server binaries are not installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("psycopg")
pytest.importorskip("langgraph.checkpoint.postgres")

from knowledge.configuration import Settings  # noqa: E402


def _pg_bin(name: str) -> str | None:
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root; the Debian package creates the `postgres` user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture(scope="module")
def postgres():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries not installed")
    # Not under pytest's tmp dir: that is private to root, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="nianbao-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    subprocess.run(_as_postgres_user([initdb, "-D", str(data), "-U", "postgres", "-A", "trust"]),
                   check=True, capture_output=True)
    port = "55433"
    subprocess.run(_as_postgres_user([pg_ctl, "-D", str(data), "-w", "-l", str(root / "log"),
                                      "-o", f"-p {port} -k {sock} -c listen_addresses=''", "start"]),
                   check=True, capture_output=True)
    try:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@/postgres?host={sock}&port={port}", autocommit=True) as conn:
            conn.execute("CREATE DATABASE nianbao")
        yield f"postgresql+psycopg://postgres@/nianbao?host={sock}&port={port}"
    finally:
        subprocess.run(_as_postgres_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_store_and_threads_in_postgres(postgres, tmp_path, sample_pdf):
    from agent.service import ask
    from ingestion.pipeline import ingest_file
    from knowledge.store import store_for

    settings = Settings(home=tmp_path / "home", database_url=postgres)
    assert settings.postgres_checkpoint_conninfo.startswith("postgresql://")
    store = store_for(settings)
    assert ingest_file(store, sample_pdf).status == "ok"
    assert str(store.row("603339", 2019)["货币资金"]) == "905402299.44"  # NUMERIC: exact

    first = ask("四方科技2019年的货币资金是多少元？", thread_id="pg-thread", settings=settings)
    assert "905402299.44" in first["answer"].replace(",", "")
    follow = ask("那2018年呢？", thread_id="pg-thread", settings=settings)
    assert "627041535.44" in follow["answer"].replace(",", "")
    # Threads are in PostgreSQL, not in a SQLite file in the home.
    assert not (tmp_path / "home" / "threads.sqlite").exists()
    import psycopg

    with psycopg.connect(settings.postgres_checkpoint_conninfo) as conn:
        n = conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = 'pg-thread'").fetchone()[0]
    assert n >= 2


def test_readonly_query_cannot_write_in_postgres(postgres, tmp_path):
    from knowledge.store import store_for

    store = store_for(Settings(home=tmp_path / "home", database_url=postgres))
    with pytest.raises(Exception, match="read-only"):
        store.readonly_query("CREATE TABLE evil (x int)")
