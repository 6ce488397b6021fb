"""With a PostgreSQL database URL, the store and the conversation threads live in PostgreSQL.

Runs against a throw-away cluster started by the test (initdb + pg_ctl on a private socket);
skipped where PostgreSQL's server binaries are not installed.
"""

from __future__ import annotations

import pytest

pytest.importorskip("psycopg")
pytest.importorskip("langgraph.checkpoint.postgres")

from knowledge.configuration import Settings  # noqa: E402


@pytest.fixture(scope="module")
def postgres(postgres_cluster):
    """A database of its own in the session's cluster, as a SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(postgres_cluster, autocommit=True) as conn:
        conn.execute("CREATE DATABASE nianbao")
    yield postgres_cluster.replace("postgresql://", "postgresql+psycopg://").replace("/postgres?", "/nianbao?")


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
