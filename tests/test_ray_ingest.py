"""Ingestion on a real local Ray cluster (two CPUs) into a real PostgreSQL: the bundled reports and bad files,
a driver killed mid-batch and run again, a worker killed mid-report and its task retried, a hung file
cancelled — and the store then holds exactly what the process pool writes into SQLite.

Marked ``ray`` (not in the default run; ``scripts/ci_stage_ray.sh`` runs ``pytest -m ray``). Without the
ray extra these fail in CI and skip elsewhere (tests/optional.py). The progress and ``--json`` summary
tests need no Ray and run by default.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from sqlalchemy import select
from test_ingestion_batch import _variant, minis  # noqa: F401  (minis: a fixture, two cut-down real reports)
from typer.testing import CliRunner

from ingestion.batch import ingest_paths
from ingestion.pipeline import FAILED, OK, SKIPPED, IngestResult
from ingestion.progress import BatchProgress
from knowledge.configuration import Settings
from knowledge.store import Store

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
REPORTS = sorted([*(REPO / "ingestion" / "samples").glob("*.pdf"), *(TESTS / "data" / "reports").glob("*.pdf")],
                 key=lambda p: len(pdfium.PdfDocument(str(p))))  # the shortest first: the killed driver commits it
WHOLE_BATCH_S = 900  # the limit per file in the big test: only a hang would reach it
HANG_LIMIT_S = 8  # a mini takes 1-3 s on a loaded machine


# Fixtures --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hook_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ray-hooks")


@pytest.fixture(scope="module")
def ray_cluster(hook_dir):
    """A local Ray cluster of two CPUs, a small object store and no dashboard, its workers running
    tests/ray_hooks.py; this process is connected to it (its driver). Yields its GCS address."""
    from optional import require_module

    ray = require_module("ray", "ray")
    ray.init(num_cpus=2, object_store_memory=128 << 20, include_dashboard=False, log_to_driver=False,
             logging_level="WARNING",
             runtime_env={"worker_process_setup_hook": "ray_hooks.install",
                          "env_vars": {"PYTHONPATH": f"{TESTS}{os.pathsep}{REPO}",
                                       "NIANBAO_RAY_TEST_DIR": str(hook_dir)}})
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def pg_url(postgres_cluster) -> str:
    """A database of its own in the session's PostgreSQL cluster, as a SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(postgres_cluster, autocommit=True) as conn:
        conn.execute("CREATE DATABASE nianbao_ray")
    return postgres_cluster.replace("postgresql://", "postgresql+psycopg://").replace("/postgres?", "/nianbao_ray?")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, minis) -> list[Path]:  # noqa: F811  (minis is the imported fixture)
    """The bundled reports, then a truncated PDF, a text file named .pdf and a report named as another
    company's."""
    d = tmp_path_factory.mktemp("corpus")
    truncated, text = d / "truncated.pdf", d / "2020-01-01__假公司__000002__假__2019年__年度报告.pdf"
    misnamed = d / "2021-04-23__金宇生物技术股份有限公司__600201__生物股份__2019年__年度报告.pdf"
    data = REPORTS[0].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    text.write_text("这不是PDF，只是改了扩展名的文本。\n", encoding="utf-8")
    misnamed.write_bytes(minis[0].read_bytes())  # 四方科技's pages under 生物股份's name
    return [*REPORTS, truncated, text, misnamed]


BAD = {"truncated.pdf": "truncated", "假公司": "not a PDF", "生物股份__2019年": "文件名与内容不符"}


@pytest.fixture(scope="module")
def pool_run(tmp_path_factory, corpus):
    """The same corpus through the process pool into SQLite: what the Ray run must equal."""
    settings = Settings(home=tmp_path_factory.mktemp("pool-home"))
    results = ingest_paths(settings, corpus, workers=2, timeout_s=WHOLE_BATCH_S)
    store = Store(settings.db_url)
    yield results, dump(store)
    store.engine.dispose()


# The normalised dump ---------------------------------------------------------------------------------------


def _plain(value):
    """A number as its digits: SQLite gives back 67917000000.0 where PostgreSQL's NUMERIC gives 67917000000."""
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize(), "f")
    return value


def dump(store: Store) -> dict[str, list[tuple]]:
    """Everything ingestion wrote, without the database's own ids (reports are named by sha256), sorted."""
    t = store.t
    with store.engine.connect() as c:
        reports = [dict(r) for r in c.execute(select(t["reports"])).mappings()]
        sha = {r["id"]: r["sha256"] for r in reports}
        keys = list(c.execute(select(t["company_year"].c.company_code, t["company_year"].c.year)))
        prov = [dict(r) for r in c.execute(select(t["provenance"])).mappings()]
        chunks = [dict(r) for r in c.execute(select(t["chunks"])).mappings()]
    return {
        "companies": sorted((co.code, co.full_name, co.short_name, tuple(sorted(co.aliases)))
                            for co in store.companies()),
        "reports": sorted((r["company_code"], r["year"], r["file_name"], r["sha256"], r["pages"], r["status"])
                          for r in reports),
        "company_year": sorted((code, year, tuple(sorted((k, _plain(v)) for k, v in store.row(code, year).items())))
                               for code, year in keys),
        "provenance": sorted(tuple(str(_plain(v)) for k, v in sorted(p.items()) if k not in ("id", "report_id"))
                             + (sha.get(p["report_id"]),) for p in prov),
        "chunks": sorted((sha[ch["report_id"]], ch["company_code"], ch["year"], ch["page"], ch["section"] or "",
                          ch["text"]) for ch in chunks),
    }


def assert_same(ours: dict[str, list[tuple]], theirs: dict[str, list[tuple]]) -> None:
    """Equal dumps; else the first rows each side has that the other lacks, per table (a full diff is huge)."""
    for table in theirs:
        a, b = set(ours[table]), set(theirs[table])
        if table == "company_year":  # rows of many cells: name the cells that differ
            a = {(code, year, *cell) for code, year, cells in a for cell in cells}
            b = {(code, year, *cell) for code, year, cells in b for cell in cells}
        assert len(ours[table]) == len(theirs[table]) and a == b, (
            f"{table}: {len(ours[table])} rows against {len(theirs[table])}; only here: {sorted(a - b)[:4]}; "
            f"only in the process pool's: {sorted(b - a)[:4]}")


def assert_consistent(store: Store) -> None:
    """Each report whole: its pages counted, provenance and chunks present, nothing pointing at a report that is
    not stored, both of its years in the wide table."""
    t = store.t
    reports = store.reports()
    assert len({r["sha256"] for r in reports}) == len(reports) == len(REPORTS)
    assert {r["status"] for r in reports} == {OK}
    by_name = {p.name: len(pdfium.PdfDocument(str(p))) for p in REPORTS}
    assert {r["file_name"]: r["pages"] for r in reports} == by_name
    ids = {r["id"] for r in reports}
    with store.engine.connect() as c:
        for table in ("provenance", "chunks"):
            referenced = [r for (r,) in c.execute(select(t[table].c.report_id))]
            assert set(referenced) == ids, table  # every report has some, and none belongs to no report
    for r in reports:
        assert store.row(r["company_code"], r["year"]) and store.row(r["company_code"], r["year"] - 1)


def _statuses(results: list[IngestResult]) -> list[tuple[str, str, str | None]]:
    return [(Path(r.path).name, r.status, r.reason) for r in results]


def _pg_reports(url: str) -> int:
    import psycopg

    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(libpq) as conn:
            return conn.execute("SELECT count(*) FROM reports WHERE status = 'ok'").fetchone()[0]
    except psycopg.errors.UndefinedTable:
        return 0


def _dead(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


# Progress (no Ray) -----------------------------------------------------------------------------------------


def test_progress_rates_failures_and_eta():
    progress = BatchProgress(files=4, engine="processes", workers=2)
    assert progress.eta_s is None and "ETA –" in progress.status()
    progress.started -= 10.0  # as if the batch began ten seconds ago
    progress.add(IngestResult("a.pdf", OK, pages=150))
    progress.add(IngestResult("b.pdf", FAILED, "not a PDF"))
    assert progress.reports_per_s == pytest.approx(0.1, rel=0.05)
    assert progress.pages_per_s == pytest.approx(15.0, rel=0.05)
    assert progress.eta_s == pytest.approx(10.0, rel=0.05)  # two files left at two per ten seconds
    assert "1 failed" in progress.status() and "ETA 0:00:1" in progress.status()
    summary = progress.summary()
    assert (summary["ok"], summary["failed"], summary["pages"]) == (1, 1, 150)
    assert summary["failures"] == [{"file": "b.pdf", "reason": "not a PDF"}]


def test_cli_json_summary_on_the_process_pool(cli, minis):  # noqa: F811
    result = CliRunner().invoke(cli, ["ingest", str(minis[1]), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["engine"] == "processes" and summary["workers"] == 1 and summary["ok"] == 1
    assert [r["file"] for r in summary["results"]] == [minis[1].name] and summary["results"][0]["values"] > 0


# On Ray ----------------------------------------------------------------------------------------------------


@pytest.mark.ray
def test_ray_into_postgres_survives_kills_and_equals_the_process_pool(pool_run, ray_cluster, pg_url, corpus, hook_dir,
                                                                      tmp_path):
    # pool_run first: the process pool forks, and a process connected to Ray (gRPC threads) should not.
    from ingestion.ray_batch import ingest_paths_ray

    pool_results, pool_dump = pool_run
    assert [s for _, s, _ in _statuses(pool_results)] == [OK] * len(REPORTS) + [FAILED] * len(BAD)

    # 1. The CLI as a second driver on the cluster (--ray-address), killed once it has committed a report.
    env = {**os.environ, "NIANBAO_HOME": str(tmp_path / "home"), "NIANBAO_DATABASE_URL": pg_url,
           "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "agent", "ingest", *map(str, corpus), "--ray-address", ray_cluster,
           "--timeout-s", str(WHOLE_BATCH_S)]
    with open(tmp_path / "driver.log", "wb") as log:
        driver = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WHOLE_BATCH_S
        while _pg_reports(pg_url) < 1 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        driver.kill()
        driver.wait()
    assert driver.returncode == -signal.SIGKILL, (tmp_path / "driver.log").read_text(errors="replace")[-3000:]
    committed = _pg_reports(pg_url)
    assert 1 <= committed < len(REPORTS), "the killed driver was to leave reports to resume"

    # 2. This process resumes the batch; a worker is killed in the middle of a report still to do.
    store = Store(pg_url)
    done = {r["file_name"] for r in store.reports()}
    stalled = next(p for p in REPORTS if p.name not in done)
    (hook_dir / "stall").write_text(stalled.name, encoding="utf-8")

    def kill_the_stalled_worker() -> None:
        marker = hook_dir / "stalled"
        while not marker.exists() or not marker.read_text().strip():
            time.sleep(0.1)
        os.kill(int(marker.read_text().split()[0]), signal.SIGKILL)

    killer = threading.Thread(target=kill_the_stalled_worker, daemon=True)
    killer.start()
    settings = Settings(home=tmp_path / "home", database_url=pg_url)
    seen: list[IngestResult] = []
    results = ingest_paths_ray(settings, corpus, timeout_s=WHOLE_BATCH_S, on_result=seen.append)
    killer.join(timeout=1)
    assert not killer.is_alive(), "the stalled report was never extracted"

    # The killed worker's task ran again on another worker, and only that file was retried.
    [killed_pid] = map(int, (hook_dir / "stalled").read_text().split())
    [retry_pid] = map(int, (hook_dir / "resumed").read_text().split())
    assert killed_pid != retry_pid and _dead(killed_pid)

    # Results: what the first driver committed is skipped, the rest as the process pool has them.
    assert sorted(map(id, seen)) == sorted(map(id, results))
    expected = [(n, SKIPPED if n in done else s, "already ingested (same sha256)" if n in done else why)
                for n, s, why in _statuses(pool_results)]
    assert _statuses(results) == expected
    for name, _, reason in _statuses(results)[len(REPORTS):]:
        assert any(k in name and v in reason for k, v in BAD.items()), (name, reason)

    # The store: complete, consistent, and row for row, candidate for candidate, the process pool's.
    assert_consistent(store)
    assert_same(dump(store), pool_dump)

    # 3. Run again: nothing left to do, nothing changes.
    again = ingest_paths_ray(settings, corpus, timeout_s=WHOLE_BATCH_S)
    assert [r.status for r in again] == [SKIPPED] * len(REPORTS) + [FAILED] * len(BAD)
    assert_same(dump(store), pool_dump)
    store.engine.dispose()


@pytest.mark.ray
def test_a_hung_file_is_cancelled_and_costs_only_itself(ray_cluster, minis, hook_dir, tmp_path):  # noqa: F811
    from ingestion.ray_batch import ingest_paths_ray

    hang = _variant(minis[0], tmp_path / "hang.pdf")
    settings = Settings(home=tmp_path / "home")
    t0 = time.monotonic()
    results = ingest_paths_ray(settings, [hang, minis[1]], timeout_s=HANG_LIMIT_S)
    assert time.monotonic() - t0 < 60  # the hang itself sleeps 120 s
    assert _statuses(results) == [("hang.pdf", FAILED, f"timed out after {HANG_LIMIT_S} s"),
                                  (minis[1].name, OK, None)]
    # Its worker killed, and the cancelled task not retried.
    [pid] = map(int, (hook_dir / "hang.pids").read_text().split())
    assert _dead(pid)
    assert [r["company_code"] for r in Store(settings.db_url).reports()] == ["600201"]


@pytest.mark.ray
def test_cli_ray_prints_rates_and_a_json_summary(ray_cluster, cli, minis, tmp_path):  # noqa: F811
    result = CliRunner().invoke(cli, ["ingest", str(minis[0]), str(tmp_path / "missing.pdf"), "--ray", "--json"])
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["engine"] == "ray" and (summary["ok"], summary["failed"]) == (1, 1)
    assert summary["pages"] == len(pdfium.PdfDocument(str(minis[0])))
    assert summary["reports_per_s"] > 0 and summary["pages_per_s"] > 0
    assert summary["failures"] == [{"file": "missing.pdf", "reason": "file not found"}]
    assert "reports/s" in result.stderr and "ETA" in result.stderr and "2 files: 1 ok, 0 skipped, 1 failed" in (
        result.stderr)
