"""Batch behaviour: every kind of bad file fails with a clear reason while the batch goes on and nothing
of it is written; a process killed inside a report's transaction leaves no partial report, and a re-run
finishes the rest; the CLI commands."""

from __future__ import annotations

import faulthandler
import hashlib
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from ingestion.batch import ingest_paths
from ingestion.pdf_text import PdfError, read_pdf_text
from knowledge.configuration import Settings
from knowledge.store import Store

REPO = Path(__file__).resolve().parent.parent

# The standard security handler, revision 2 (RC4, 40-bit): enough for a real password-protected PDF.
_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    s, j = list(range(256)), 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for b in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(b ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def encrypted_pdf(user: bytes = b"secret", owner: bytes = b"owner") -> bytes:
    doc_id = hashlib.md5(b"nianbao-test").digest()
    o = _rc4(hashlib.md5((owner + _PAD)[:32]).digest()[:5], (user + _PAD)[:32])
    key = hashlib.md5((user + _PAD)[:32] + o + struct.pack("<i", -4) + doc_id).digest()[:5]
    u = _rc4(key, _PAD)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
            b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -4 >>" % (o.hex().encode(), u.hex().encode())]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    idh = doc_id.hex().encode()
    out += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<%s><%s>] >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, idh, idh, xref)
    return bytes(out)


def image_only_pdf(source: Path, path: Path, pages: int = 2) -> None:
    """A "scan": pages of the sample rendered to images, no text layer."""
    src, new = pdfium.PdfDocument(str(source)), pdfium.PdfDocument.new()
    for i in range(pages):
        w, h = src[3 + i].get_size()
        page = new.new_page(w, h)
        img = pdfium.PdfImage.new(new)
        img.set_bitmap(src[3 + i].render(scale=0.4))
        img.set_matrix(pdfium.PdfMatrix().scale(w, h))
        page.insert_obj(img)
        page.gen_content()
    new.save(str(path))


@pytest.fixture(scope="module")
def minis(tmp_path_factory, sample_pdf, second_pdf) -> list[Path]:
    """Two small real reports cut from the bundled ones (profile pages and the consolidated balance sheet),
    so the batch mechanics run in seconds; the full reports are tested in test_ingestion_sample."""
    d = tmp_path_factory.mktemp("minis")
    out = []
    for src_path, pages in ((sample_pdf, [0, 1, 2, 3, 4, 58, 59, 60]), (second_pdf, [0, 1, 2, 3, 4, 65, 66, 67])):
        src, new = pdfium.PdfDocument(str(src_path)), pdfium.PdfDocument.new()
        new.import_pages(src, pages)
        path = d / src_path.name
        new.save(str(path))
        out.append(path)
    return out


@pytest.fixture
def bad_files(tmp_path, sample_pdf) -> dict[str, Path]:
    d = tmp_path / "bad"
    d.mkdir()
    files = {
        "text": d / "2020-01-01__假公司__000001__假__2019年__年度报告.pdf",
        "empty": d / "empty.pdf",
        "truncated": d / "truncated.pdf",
        "encrypted": d / "encrypted.pdf",
        "scan": d / "scan.pdf",
    }
    files["text"].write_text("这不是PDF，只是改了扩展名的文本。\n", encoding="utf-8")
    files["empty"].write_bytes(b"")
    data = sample_pdf.read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["encrypted"].write_bytes(encrypted_pdf())
    image_only_pdf(sample_pdf, files["scan"])
    return files


REASONS = {"text": "not a PDF", "empty": "0 bytes", "truncated": "truncated", "encrypted": "encrypted",
           "scan": "image-only"}


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_each_bad_file_has_a_clear_reason(bad_files, kind):
    with pytest.raises(PdfError, match=REASONS[kind]):
        read_pdf_text(bad_files[kind])


def count(store: Store, table: str) -> int:
    with store.engine.connect() as c:
        return c.execute(select(func.count()).select_from(store.t[table])).scalar_one()


def test_bad_files_never_stop_the_batch(bad_files, minis, tmp_path):
    settings = Settings(home=tmp_path / "home")
    results = ingest_paths(settings, [*bad_files.values(), minis[0]], workers=2)
    by_path = {Path(r.path): r for r in results}
    assert by_path[minis[0]].status == "ok"
    for kind, path in bad_files.items():
        assert by_path[path].status == "failed" and REASONS[kind] in by_path[path].reason
    store = Store(settings.db_url)
    assert [r["company_code"] for r in store.reports()] == ["603339"]
    assert {c.code for c in store.companies()} == {"603339"}


def test_only_bad_files_write_nothing(bad_files, tmp_path):
    settings = Settings(home=tmp_path / "home")
    results = ingest_paths(settings, list(bad_files.values()))
    assert {r.status for r in results} == {"failed"}
    assert not (tmp_path / "home" / "nianbao.sqlite").exists()


_KILLER = """
import os, signal, sys
from knowledge.configuration import Settings
from knowledge.store import Store
from ingestion.batch import ingest_paths

original, calls = Store.add_chunks, []

def add_chunks(self, conn, rows):
    calls.append(1)
    if len(calls) == 2:  # inside the second report's transaction, after its values were written
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, conn, rows)

Store.add_chunks = add_chunks
ingest_paths(Settings(home=sys.argv[1]), sys.argv[2:], workers=1)
"""


def test_kill_mid_batch_leaves_no_partial_report_and_rerun_finishes(tmp_path, minis):
    sample_pdf, second_pdf = minis
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(home), str(sample_pdf), str(second_pdf)],
                          cwd=REPO, env=env, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]

    settings = Settings(home=home)
    store = Store(settings.db_url)
    # The first report committed whole; of the second nothing at all.
    reports = store.reports()
    assert [(r["company_code"], r["status"]) for r in reports] == [("603339", "ok")]
    rid = reports[0]["id"]
    with store.engine.connect() as c:
        prov_reports = {r for (r,) in c.execute(select(store.t["provenance"].c.report_id).distinct())}
        chunk_reports = {r for (r,) in c.execute(select(store.t["chunks"].c.report_id).distinct())}
    assert prov_reports == {rid} and chunk_reports == {rid}
    assert store.row("600201", 2020) is None and store.row("600201", 2019) is None
    assert store.company("600201") is None

    results = ingest_paths(settings, [sample_pdf, second_pdf])
    assert [r.status for r in results] == ["skipped", "ok"]
    assert {r["company_code"] for r in store.reports()} == {"603339", "600201"}
    assert str(store.row("600201", 2020)["货币资金"]) == "1516034246.28"


def test_exception_mid_report_rolls_back(tmp_path, minis, monkeypatch):
    settings = Settings(home=tmp_path / "home")

    def boom(self, conn, rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, "add_chunks", boom)
    [result] = ingest_paths(settings, [minis[0]])
    assert result.status == "failed" and "disk full" in result.reason
    store = Store(settings.db_url)
    assert store.reports() == [] and count(store, "provenance") == 0 and store.row("603339", 2019) is None


# CLI -------------------------------------------------------------------------------------------


def test_cli_non_pdf_names_the_file_and_fails(cli, tmp_path, bad_files):
    result = CliRunner().invoke(cli, ["ingest", str(bad_files["text"])])
    assert result.exit_code == 1
    assert bad_files["text"].name in result.output and "not a PDF" in result.output
    assert not (tmp_path / "home" / "nianbao.sqlite").exists()


def test_cli_ingest_then_skip(cli, tmp_path, minis, bad_files):
    runner = CliRunner()
    first = runner.invoke(cli, ["ingest", str(minis[0]), str(bad_files["empty"]), "--workers", "2"])
    assert first.exit_code == 1, first.output
    assert "1 ok, 0 skipped, 1 failed" in first.output
    second = runner.invoke(cli, ["ingest", str(minis[0])])
    assert second.exit_code == 0, second.output
    assert "0 ok, 1 skipped, 0 failed" in second.output


def test_cli_commands_registered(cli):
    out = CliRunner().invoke(cli, ["--help"]).output
    assert "ingest" in out and "import-table" in out
    assert "ingest" in CliRunner().invoke(cli, ["bench", "--help"]).output


def test_cli_bench_reports_floor_ratio(cli, minis):
    result = CliRunner().invoke(cli, ["bench", "ingest", str(minis[1])])
    assert result.exit_code == 0, result.output
    assert "pages/s per worker" in result.output and "ratio ingestion/floor" in result.output
    assert "peak RSS per worker" in result.output


def test_a_reports_seconds_count_its_extraction_once(tmp_path, minis):
    # In this process and in a worker alike: hashing + extraction + write, never more than the batch's wall.
    for workers, timeout_s in ((1, None), (1, 60.0)):
        t0 = time.perf_counter()
        result, = ingest_paths(Settings(home=tmp_path / f"home-{timeout_s}"), minis[:1], workers=workers,
                               timeout_s=timeout_s)
        wall = time.perf_counter() - t0
        assert result.ok and result.timings["total_s"] <= result.seconds <= wall


def test_the_writer_stores_the_workers_chunks_under_the_identity_it_writes(tmp_path, minis):
    # The worker cuts the chunks; the one writer only adds the report's id and the company-year it stores.
    import dataclasses

    from ingestion.extract import extract_report
    from ingestion.pipeline import commit_extraction

    ex = extract_report(minis[0])
    assert ex.chunks and all(c["company_code"] == ex.identity.code for c in ex.chunks)
    moved = dataclasses.replace(ex, identity=dataclasses.replace(ex.identity, code="900001"),
                                company=dataclasses.replace(ex.company, code="900001"))
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    result = commit_extraction(store, moved, settings=Settings(home=tmp_path))
    assert result.ok and result.chunks == len(ex.chunks)
    stored = store.chunks("900001", ex.identity.year)
    assert [c["text"] for c in stored] == [c["text"] for c in ex.chunks]
    assert {c["report_id"] for c in stored} == {result.report_id} and not store.chunks(ex.identity.code)


# Per-file time limit, crashes, hashing in the workers ---------------------------------------------------
LIMIT_S = 5  # the per-file limit in these tests: a good mini takes about 1-2 s in a worker on a loaded machine
HANG_S = 60  # far past it: were the limit not enforced, a test would take this long and then fail


def _variant(src: Path, dest: Path) -> Path:
    """The same PDF with one byte more after %%EOF: readable, and a sha256 of its own."""
    dest.write_bytes(src.read_bytes() + b"\n")
    return dest


@pytest.fixture
def misbehave(monkeypatch, tmp_path):
    """camelot hangs on any file named hang*.pdf (signals blocked, like a process stuck in a C call, so
    only SIGKILL ends it) and crashes the process on crash*.pdf. Workers are forked, so they inherit this.
    Returns the file where a hung worker writes its pid."""
    import camelot  # noqa: F401  loaded before the workers fork, so the limit times extraction, not a 2 s import

    import ingestion.extract

    real, pid_file = ingestion.extract.extract_tables, tmp_path / "hung.pid"

    def extract_tables(path, pages):
        name = Path(path).name
        if name.startswith("hang"):
            pid_file.write_text(str(os.getpid()))
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM})
            time.sleep(HANG_S)
        if name.startswith("crash"):
            faulthandler.disable()  # the crash is intended: no traceback dump in the test log
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(path, pages)

    monkeypatch.setattr(ingestion.extract, "extract_tables", extract_tables)
    return pid_file


def _assert_killed(pid_file: Path) -> None:
    pid = int(pid_file.read_text())
    assert pid != os.getpid()
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left sleeping
        os.kill(pid, 0)


def test_a_hung_and_a_crashing_file_cost_only_themselves(tmp_path, minis, misbehave):
    hang = _variant(minis[0], tmp_path / "hang.pdf")
    crash = _variant(minis[1], tmp_path / "crash.pdf")
    settings = Settings(home=tmp_path / "home")
    seen = []
    t0 = time.monotonic()
    results = ingest_paths(settings, [hang, crash, *minis], workers=2, timeout_s=LIMIT_S + 0.5, on_result=seen.append)
    elapsed = time.monotonic() - t0
    assert elapsed < HANG_S / 2
    assert [Path(r.path).name for r in results] == ["hang.pdf", "crash.pdf", *(m.name for m in minis)]
    assert [r.status for r in results] == ["failed", "failed", "ok", "ok"], [r.reason for r in results]
    assert results[0].reason == f"timed out after {LIMIT_S + 0.5:g} s"
    assert results[1].reason.startswith("worker process crashed while reading this file")
    assert sorted(map(id, seen)) == sorted(map(id, results))
    _assert_killed(misbehave)
    store = Store(settings.db_url)
    assert {r["company_code"] for r in store.reports()} == {"603339", "600201"}


def test_cli_timeout_kills_and_replaces_the_only_worker(cli, tmp_path, minis, misbehave):
    hang = _variant(minis[1], tmp_path / "hang.pdf")
    t0 = time.monotonic()
    result = CliRunner().invoke(cli, ["ingest", str(hang), str(minis[0]), "--timeout-s", str(LIMIT_S)])
    assert time.monotonic() - t0 < HANG_S / 2
    assert result.exit_code == 1, result.output
    assert f"hang.pdf: timed out after {LIMIT_S} s" in result.output
    assert "2 files: 1 ok, 0 skipped, 1 failed" in result.output
    _assert_killed(misbehave)


def test_workers_hash_and_the_manifest_still_skips(tmp_path, minis, monkeypatch):
    """The parent reads no file: each worker hashes its own, just before extracting it, so the first
    result comes before the last file is read; done files are still skipped, and --force re-ingests."""
    import ingestion.batch

    log = tmp_path / "events.log"

    def note(event: str) -> None:
        with open(log, "a", encoding="utf-8") as fh:  # appends from several processes, one line each
            fh.write(event + "\n")

    real = ingestion.batch.file_sha256

    def file_sha256(path):
        note(f"hash {os.getpid()} {Path(path).name}")
        return real(path)

    monkeypatch.setattr(ingestion.batch, "file_sha256", file_sha256)
    settings = Settings(home=tmp_path / "home")
    first = ingest_paths(settings, minis, on_result=lambda r: note(f"result {Path(r.path).name}"))
    assert [r.status for r in first] == ["ok", "ok"]
    events = log.read_text(encoding="utf-8").splitlines()
    names = [m.name for m in minis]
    hashers = {e.split()[1] for e in events if e.startswith("hash")}
    assert str(os.getpid()) not in hashers
    assert [e.split()[0] + " " + e.split()[-1] for e in events] == [
        f"hash {names[0]}", f"result {names[0]}", f"hash {names[1]}", f"result {names[1]}"]

    copy = tmp_path / "copy" / names[0]
    copy.parent.mkdir()
    copy.write_bytes(minis[0].read_bytes())
    again = ingest_paths(settings, [*minis, copy], workers=2)
    assert [r.status for r in again] == ["skipped"] * 3
    assert again[1].reason == "already ingested (same sha256)" and again[1].company_code == "600201"
    assert sorted(r.reason for r in (again[0], again[2])) == [
        "already ingested (same sha256)", "same file as another in this batch"]

    store = Store(settings.db_url)
    before = (count(store, "reports"), count(store, "provenance"), count(store, "chunks"))
    [forced] = ingest_paths(settings, [minis[0]], force=True)
    assert forced.status == "ok"
    assert (count(store, "reports"), count(store, "provenance"), count(store, "chunks")) == before


def test_unreadable_paths_fail_in_the_worker(tmp_path):
    settings = Settings(home=tmp_path / "home")
    missing = tmp_path / "gone.pdf"
    results = ingest_paths(settings, [missing], workers=1)
    assert [(r.status, r.reason) for r in results] == [("failed", "file not found")]
    assert not (tmp_path / "home" / "nianbao.sqlite").exists()
