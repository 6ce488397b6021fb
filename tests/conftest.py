"""Shared fixtures: an isolated home per test and the bundled sample report."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.configuration import Settings

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE_PDF = next((REPO / "ingestion" / "samples").glob("*四方科技*2019*.pdf"))
SECOND_PDF = next((DATA / "reports").glob("*生物股份*2020*.pdf"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """No test reads or writes the developer's ~/.nianbao, and no LLM endpoint leaks in."""
    monkeypatch.setenv("NIANBAO_HOME", str(tmp_path / "home"))
    for var in ("NIANBAO_DATABASE_URL", "NIANBAO_LLM__BASE_URL", "NIANBAO_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    from knowledge import configuration

    configuration.get_settings.cache_clear()
    yield
    configuration.get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture(scope="session")
def sample_pdf() -> Path:
    return SAMPLE_PDF


@pytest.fixture(scope="session")
def second_pdf() -> Path:
    return SECOND_PDF


@pytest.fixture(scope="session")
def reports_home(tmp_path_factory) -> Path:
    """A home with both real reports ingested once per test session (copy it before writing)."""
    from ingestion.pipeline import ingest_file
    from knowledge.store import Store

    home = tmp_path_factory.mktemp("reports-home")
    store = Store(f"sqlite:///{home / 'nianbao.sqlite'}")
    for pdf in (SAMPLE_PDF, SECOND_PDF):
        result = ingest_file(store, pdf)
        assert result.status == "ok", result
    store.engine.dispose()
    return home


@pytest.fixture
def reports_settings(reports_home, tmp_path, monkeypatch) -> Settings:
    """Settings on a private copy of ``reports_home``."""
    import shutil

    from knowledge import configuration

    home = tmp_path / "reports-home"
    shutil.copytree(reports_home, home)
    monkeypatch.setenv("NIANBAO_HOME", str(home))
    configuration.get_settings.cache_clear()
    return Settings(home=home)


@pytest.fixture
def chunk_store(settings):
    """A store holding both reports' text chunks only (retrieval tests; no table extraction)."""
    from benchmarks.retrieval_corpus import load_report
    from knowledge.store import Store

    settings.ensure_home()
    store = Store(settings.db_url)
    for pdf in (SAMPLE_PDF, SECOND_PDF):
        load_report(store, pdf)
    return store


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throw-away PostgreSQL cluster (initdb + pg_ctl on a private socket, no TCP) for the session: its
    libpq URL of the ``postgres`` database. Skipped where the server binaries or psycopg are missing."""
    pytest.importorskip("psycopg")
    from benchmarks.postgres_server import have_postgres_server, throwaway_postgres

    if not have_postgres_server():
        pytest.skip("PostgreSQL server binaries not installed")
    with throwaway_postgres() as url:
        yield url


@pytest.fixture
def cli():
    """A Typer app holding the ingestion commands (``ingest``, ``import-table``) alone."""
    import typer

    from ingestion.cli import register

    app, bench = typer.Typer(), typer.Typer()
    app.add_typer(bench, name="bench")
    register(app, bench)
    return app
