"""Two ingests on one home at once: the schema is created once whoever comes first, reports are written
one at a time under the ingest lock, and the run that waits or loses says so plainly and still ends well."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import typer
from sqlalchemy import MetaData
from typer.testing import CliRunner

import ingestion.lock
from ingestion.cli import register
from ingestion.lock import WAIT_MESSAGE, ingest_lock, lock_path
from ingestion.pipeline import ingest_file
from knowledge.configuration import Settings
from knowledge.store import Store

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mini(tmp_path_factory, sample_pdf) -> Path:
    """The sample's cover, 公司简介 and balance sheet: a real report that ingests in a second."""
    src, new = pdfium.PdfDocument(str(sample_pdf)), pdfium.PdfDocument.new()
    new.import_pages(src, [0, 1, 2, 3, 4, 58, 59, 60])
    path = tmp_path_factory.mktemp("concurrent") / sample_pdf.name
    new.save(str(path))
    return path


def test_two_ingest_runs_at_once_on_one_home_both_end_well(tmp_path, sample_pdf):
    home = tmp_path / "home"
    env = {**os.environ, "NIANBAO_HOME": str(home), "PYTHONPATH": str(REPO)}
    runs = [subprocess.Popen([sys.executable, "-m", "agent", "ingest", str(sample_pdf)], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, out + err
        assert "Traceback" not in err and "already exists" not in err and "UNIQUE constraint" not in err, err
    # The counts line (rates, audit share follow it): one run ingested the report, the other skipped it.
    summaries = sorted(next(ln for ln in out.splitlines() if ln.startswith("1 files:")).split(" · ")[0]
                       for out, _ in outputs)
    assert summaries == ["1 files: 0 ok, 1 skipped, 0 failed", "1 files: 1 ok, 0 skipped, 0 failed"]
    store = Store(Settings(home=home).db_url)
    assert [(r["company_code"], r["year"], r["status"]) for r in store.reports()] == [("603339", 2019, "ok")]


def test_schema_creation_that_loses_a_race_is_no_error(tmp_path, monkeypatch):
    """As when another process creates the tables between this one's look and its CREATE TABLE."""
    url = f"sqlite:///{tmp_path / 'nianbao.sqlite'}"
    real_create_all, raced = MetaData.create_all, []

    def create_all(self, bind, tables=None, checkfirst=True):
        if not raced:
            raced.append(1)
            monkeypatch.setattr(MetaData, "create_all", real_create_all)
            Store(url)  # the other process, first
            return real_create_all(self, bind, tables=tables, checkfirst=False)  # this one had looked already
        return real_create_all(self, bind, tables=tables, checkfirst=checkfirst)

    monkeypatch.setattr(MetaData, "create_all", create_all)
    store = Store(url)
    assert raced and not store.has_reports()


def test_a_writer_waits_for_the_lock_says_so_and_then_writes(tmp_path, mini):
    store = Store(f"sqlite:///{tmp_path / 'nianbao.sqlite'}")
    held = ExitStack()
    held.enter_context(ingest_lock(lock_path(store)))  # another ingest is writing
    heard = []

    def on_wait(message: str) -> None:
        heard.append(message)
        held.close()  # ... and finishes now

    result = ingest_file(store, mini, on_wait=on_wait)
    assert heard == [WAIT_MESSAGE]
    assert result.status == "ok", result.reason
    assert lock_path(store) == tmp_path / "nianbao.sqlite.ingest.lock"


def test_a_lock_held_past_the_wait_fails_the_report_cleanly(tmp_path, mini, monkeypatch):
    monkeypatch.setattr(ingestion.lock, "WAIT_S", 0.3)
    app, bench = typer.Typer(), typer.Typer()
    app.add_typer(bench, name="bench")
    register(app, bench)
    settings = Settings(home=tmp_path / "home")
    settings.ensure_home()
    store = Store(settings.db_url)
    with ingest_lock(lock_path(store)):
        result = CliRunner().invoke(app, ["ingest", str(mini)])
    assert result.exit_code == 1, result.output
    assert WAIT_MESSAGE in result.output and "另一个导入占用" in result.output and "超过 0.3 秒" in result.output
    assert "Traceback" not in result.output
    assert store.reports() == []
