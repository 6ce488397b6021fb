"""The capacity model, measured: what ingesting a full corpus (11,588 reports, ~2 million pages) costs, and where
it stops scaling.

    .venv/bin/python benchmarks/capacity.py [-n 6] [--workers 1,2] [--writes 12] [--postgres URL] [PDF or dir ...]

In one run, on the given reports (default: the bundled ones):
1. Each distinct report is extracted twice in a fresh Ray worker: CPU and wall seconds of the second (a
   long-lived worker's steady state; the first, start-up included, is shown beside), the worker's resident
   memory before and its peak, the extraction's size in the object store.
2. A synthetic corpus of N distinct reports — the given ones cycled, each copy with bytes appended (its own
   sha256) and, before it is written, its own company (code 9xxxxx): same content, distinct identity — goes
   through ``ingest_paths_ray`` at 1 and at 2 tasks in flight: reports/s, pages/s, and the parallel
   efficiency against the CPU measured in step 1.
3. The writer: clones of the extractions committed one transaction each, as the driver does, into SQLite and
   into PostgreSQL (``--postgres URL``, else a throw-away server when Debian's binaries are installed): seconds
   per report (wall and this process's CPU), values/s and chunks/s; then PostgreSQL with two writer
   processes at once, the database's write rate beyond one writer.
4. The model: per-report costs fitted linear in pages (a + b·pages), scaled to the target corpus, for 16, 64
   and 256 cores: the wall time each stage alone would need — extraction (CPU / cores / efficiency), the one
   writer, the database — and the largest of them, which is the bottleneck.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import multiprocessing
import os
import pickle
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingestion.batch import collect_pdfs, extract_job, peak_rss_mb
from ingestion.extract import ReportExtraction, file_sha256
from ingestion.pipeline import commit_extraction
from knowledge.configuration import Settings
from knowledge.store import Store

DEFAULT = [REPO / "ingestion" / "samples", REPO / "tests" / "data" / "reports"]
TARGET_REPORTS, TARGET_PAGES = 11_588, 2_000_000
CORES = (16, 64, 256)
STARTUP_S = 20.0  # ample for a spawned writer to import and connect on a busy machine


# 1. Extraction, per report, in a fresh worker ------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def _extract_measured(path: str, sha: str) -> tuple[object, str | None, float, float]:
    """(extraction, reason, wall seconds, this process's CPU seconds) of one extraction."""
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    ex, reason, _, _ = extract_job(path, sha, False)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return ex, reason, time.perf_counter() - t0, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def profile_job(path: str, sha: str) -> dict:
    """A Ray task in a worker of its own (max_calls=1): one report extracted twice. The first pays the worker's
    start-up (pdfium's and camelot's first pages, lazy tables); the second is what every later report of a
    long-lived worker costs, the figure the model scales. The start-up is shown beside: once per worker."""
    import ingestion.extract  # noqa: F401  loaded before the baseline: the imports are the worker's, not the report's

    base_mb = _rss_mb()
    _, _, first_wall, first_cpu = _extract_measured(path, sha)
    ex, reason, wall, cpu = _extract_measured(path, sha)
    return {"ex": ex, "reason": reason, "wall_s": wall, "cpu_s": cpu, "first_cpu_s": first_cpu,
            "first_wall_s": first_wall, "base_rss_mb": base_mb, "peak_rss_mb": peak_rss_mb(),
            "result_mb": len(pickle.dumps(ex)) / (1 << 20) if ex else 0.0}


def profile(ray, files: list[Path]) -> list[dict]:
    task = ray.remote(num_cpus=1, max_calls=1)(profile_job)
    rows = ray.get([task.remote(str(f.resolve()), file_sha256(f)) for f in files])
    for f, row in zip(files, rows):
        if row["ex"] is None:
            raise SystemExit(f"{f.name}: {row['reason']}")
        row["file"], row["pages"] = f.name, len(row["ex"].pages)
    return rows


# 2. The synthetic corpus through Ray ------------------------------------------------------------------


def synthetic_corpus(files: list[Path], n: int, folder: Path) -> dict[Path, tuple[int, Path]]:
    """N copies, the files cycled, each in a folder of its own under its own name, with a comment after
    %%EOF so its sha256 is its own. → copy: (its number, the original)."""
    out = {}
    for k in range(n):
        src = files[k % len(files)]
        dest = folder / f"{k:05d}" / src.name
        dest.parent.mkdir(parents=True)
        dest.write_bytes(src.read_bytes() + f"\n%nianbao synthetic copy {k}\n".encode())
        out[dest] = (k, src)
    return out


def as_copy(ex: ReportExtraction, k: int, sha256: str | None = None) -> ReportExtraction:
    """The same report as company 9xxxxx (and, unless given, a sha256 of its own): what ingestion would
    store for a distinct company's report."""
    ident = dataclasses.replace(ex.identity, code=f"9{k:05d}", full_name=f"合成{k:05d}{ex.identity.full_name or ''}",
                                short_name=f"合成{k:05d}")
    sha = sha256 or hashlib.sha256(f"{ex.sha256}:{k}".encode()).hexdigest()
    # Its registry entry too (the worker built the original's): the synthetic names, no pinyin to compute here.
    company = dataclasses.replace(ex.company, code=ident.code, full_name=ident.full_name, short_name=ident.short_name,
                                  aliases=(ident.short_name,))
    return dataclasses.replace(ex, identity=ident, sha256=sha, company=company)


def throughput(ray_batch, corpus: dict[Path, tuple[int, Path]], in_flight: int, url: str, home: Path) -> dict:
    def before_write(ex: ReportExtraction) -> ReportExtraction:
        k, _ = corpus[Path(ex.path)]
        return as_copy(ex, k, ex.sha256)  # the copy file's own sha256: skipped on a re-run as usual

    settings = Settings(home=home, database_url=url)
    t0 = time.perf_counter()
    results = ray_batch.ingest_paths_ray(settings, list(corpus), max_in_flight=in_flight, before_write=before_write)
    wall = time.perf_counter() - t0
    bad = [f"{Path(r.path).name}: {r.reason}" for r in results if not r.ok]
    if bad:
        raise SystemExit("synthetic corpus failed: " + "; ".join(bad))
    pages = sum(r.pages for r in results)
    return {"in_flight": in_flight, "reports": len(results), "pages": pages, "wall_s": wall,
            "reports_per_s": len(results) / wall, "pages_per_s": pages / wall}


# 3. The writer ---------------------------------------------------------------------------------------


def write_clones(url: str, extractions: list[ReportExtraction], ks: range, home: str,
                 start_at: float | None = None) -> list[dict]:
    """Commit one clone per k, as the driver commits a report: seconds (wall, this process's CPU) each and
    when it ended. ``start_at`` (epoch seconds): begin then, so that writers in several processes overlap."""
    store, settings = Store(url), Settings(home=Path(home))
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.time()))
    rows = []
    for k in ks:
        ex = as_copy(extractions[k % len(extractions)], k)
        c0, t0 = time.process_time(), time.perf_counter()
        r = commit_extraction(store, ex, settings=settings)
        if not r.ok:
            raise RuntimeError(f"writing clone {k}: {r.reason}")
        rows.append({"pages": r.pages, "values": r.values, "chunks": r.chunks,
                     "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "end": time.time()})
    store.engine.dispose()
    return rows


def concurrent_writes(url: str, extractions: list[ReportExtraction], n: int, writers: int, home: str) -> dict:
    """``writers`` processes committing ``n`` clones between them: the database's aggregate write rate."""
    ctx = multiprocessing.get_context("spawn")  # this process has held a Ray connection: no fork
    per = -(-n // writers)
    # Each writer starts, imports and connects, then all begin at once: the rate is of the writes alone.
    start_at = time.time() + STARTUP_S
    with ctx.Pool(writers) as pool:
        parts = pool.starmap(write_clones, [(url, extractions, range(100_000 + w * per, 100_000 + (w + 1) * per), home,
                                             start_at) for w in range(writers)])
    rows = [r for part in parts for r in part]
    wall = max(r["end"] for r in rows) - start_at
    return {"writers": writers, "reports": len(rows), "wall_s": wall, "reports_per_s": len(rows) / wall,
            "values_per_s": sum(r["values"] for r in rows) / wall, "chunks_per_s": sum(r["chunks"] for r in rows) / wall}


def writer_summary(rows: list[dict]) -> dict:
    wall = sum(r["wall_s"] for r in rows)
    return {"reports": len(rows), "s_per_report": wall / len(rows),
            "cpu_share": sum(r["cpu_s"] for r in rows) / wall, "reports_per_s": len(rows) / wall,
            "values_per_s": sum(r["values"] for r in rows) / wall, "chunks_per_s": sum(r["chunks"] for r in rows) / wall,
            "fit": fit([r["pages"] for r in rows], [r["wall_s"] for r in rows])}


def new_database(libpq_url: str, name: str) -> str:
    import psycopg  # the postgres extra: only when PostgreSQL is measured

    with psycopg.connect(libpq_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    base, _, query = libpq_url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return base.replace("postgresql://", "postgresql+psycopg://") + (f"?{query}" if query else "")


# 4. The model -------------------------------------------------------------------------------------------


def fit(pages: list[int], ys: list[float]) -> tuple[float, float]:
    """(a, b) of y = a + b·pages by least squares; with one page count, b = mean y / pages and a = 0."""
    if len(set(pages)) < 2:
        return 0.0, statistics.fmean(ys) / statistics.fmean(pages)
    b, a = statistics.linear_regression(pages, ys)
    if a < 0:  # a negative fixed cost is noise on few points: keep it proportional
        return 0.0, sum(ys) / sum(pages)
    if b < 0:  # nor does a report cost less for more pages: a constant then
        return statistics.fmean(ys), 0.0
    return a, b


def total(ab: tuple[float, float], reports: int, pages: int) -> float:
    return ab[0] * reports + ab[1] * pages


def model(profiles, runs, writers, db_rate, reports: int, pages: int, cores: tuple[int, ...]) -> list[dict]:
    """Per core count: each stage's wall time alone, and per store the wall time of the whole (the stages
    overlap — Ray extracts while the driver writes — so the slowest sets the pace) and its bottleneck. The
    database's rate with several writers is shown beside: what more writers than the one driver would meet."""
    cpu_total = total(fit([p["pages"] for p in profiles], [p["cpu_s"] for p in profiles]), reports, pages)
    efficiency = min(1.0, max(r["efficiency"] for r in runs))  # the best measured here; a busy box measures less
    out = []
    for n in cores:
        stages = {"extraction CPU": cpu_total / (n * efficiency)}
        stages |= {f"one writer, {name}": total(w["fit"], reports, pages) for name, w in writers.items()}
        if db_rate:
            stages[f"postgresql at {db_rate['writers']} writers"] = reports / db_rate["reports_per_s"]
        row = {"cores": n, "stages_s": stages, "wall_s": {}, "bottleneck": {}}
        for name in writers:
            mine = {k: stages[k] for k in ("extraction CPU", f"one writer, {name}")}
            row["bottleneck"][name] = max(mine, key=mine.get)
            row["wall_s"][name] = mine[row["bottleneck"][name]]
        out.append(row)
    return out


def hms(s: float) -> str:
    return f"{s / 3600:.2f} h" if s >= 3600 else f"{s / 60:.1f} min"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("-n", type=int, default=6, help="distinct reports in the synthetic corpus")
    ap.add_argument("--workers", default="1,2", help="Ray tasks in flight to measure, comma-separated")
    ap.add_argument("--writes", type=int, default=12, help="clones committed per database by the writer benchmark")
    ap.add_argument("--postgres", help="libpq URL of a server to create databases on (default: a throw-away one)")
    ap.add_argument("--reports", type=int, default=TARGET_REPORTS)
    ap.add_argument("--pages", type=int, default=TARGET_PAGES)
    ap.add_argument("--json", type=Path, help="also write every figure here")
    args = ap.parse_args()
    in_flight = [int(w) for w in args.workers.split(",")]
    files = collect_pdfs(args.paths)

    from contextlib import ExitStack

    from benchmarks.postgres_server import have_postgres_server, throwaway_postgres

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="nianbao-capacity-") as tmp:
        tmp = Path(tmp)
        pg = args.postgres
        if pg is None and have_postgres_server():
            pg = stack.enter_context(throwaway_postgres(port="55439"))

        import ray  # the ray extra

        from ingestion import ray_batch

        ray.init(num_cpus=max(in_flight), include_dashboard=False, log_to_driver=False, logging_level="WARNING")
        try:
            profiles = profile(ray, files)
            for p in profiles:
                print(f"extract  {p['file'][:56]:56} {p['pages']:4d} pages  CPU {p['cpu_s']:6.2f} s  wall "
                      f"{p['wall_s']:6.2f} s (the worker's first report: CPU {p['first_cpu_s']:.2f} s)  RSS "
                      f"{p['base_rss_mb']:4.0f} → peak {p['peak_rss_mb']:4.0f} MiB  result {p['result_mb']:.2f} MiB",
                      flush=True)
            cpu_by_name = {p["file"]: p["cpu_s"] for p in profiles}
            corpus = synthetic_corpus(files, args.n, tmp / "corpus")
            corpus_cpu = sum(cpu_by_name[src.name] for _, src in corpus.values())
            runs = []
            for w in in_flight:
                url = new_database(pg, f"capacity_ray_{w}") if pg else f"sqlite:///{tmp / f'ray-{w}.sqlite'}"
                run = throughput(ray_batch, corpus, w, url, tmp / f"home-{w}")
                run["store"] = "postgresql" if pg else "sqlite"
                run["efficiency"] = corpus_cpu / (w * run["wall_s"])  # CPU measured alone / CPU-seconds offered
                runs.append(run)
                print(f"ray      {w} in flight: {run['reports']} reports, {run['pages']} pages in {run['wall_s']:.1f} s"
                      f" = {run['reports_per_s']:.3f} reports/s, {run['pages_per_s']:.1f} pages/s, efficiency "
                      f"{run['efficiency']:.2f} (into {run['store']})", flush=True)
        finally:
            ray.shutdown()

        extractions = [p["ex"] for p in profiles]
        writers, db_rate = {}, None
        targets = [("sqlite", f"sqlite:///{tmp / 'writer.sqlite'}")]
        if pg:
            targets.append(("postgresql", new_database(pg, "capacity_writer")))
        for name, url in targets:
            writers[name] = writer_summary(write_clones(url, extractions, range(args.writes), str(tmp)))
            w = writers[name]
            print(f"writer   {name:10}: {w['s_per_report'] * 1000:6.1f} ms/report ({w['cpu_share']:.0%} of it this "
                  f"process's CPU), {w['reports_per_s']:.2f} reports/s, {w['values_per_s']:.0f} values/s, "
                  f"{w['chunks_per_s']:.0f} chunks/s over {w['reports']} reports", flush=True)
        if pg:
            db_rate = concurrent_writes(new_database(pg, "capacity_writers2"), extractions, args.writes, 2, str(tmp))
            print(f"database postgresql, 2 writer processes: {db_rate['reports_per_s']:.2f} reports/s, "
                  f"{db_rate['values_per_s']:.0f} values/s, {db_rate['chunks_per_s']:.0f} chunks/s "
                  f"({db_rate['reports']} reports in {db_rate['wall_s']:.1f} s)", flush=True)

    cpu = fit([p["pages"] for p in profiles], [p["cpu_s"] for p in profiles])
    rss = fit([p["pages"] for p in profiles], [p["peak_rss_mb"] for p in profiles])
    mean_pages = args.pages / args.reports
    print(f"\nper report: CPU {cpu[0]:.2f} + {cpu[1] * 1000:.1f} ms/page → {cpu[0] + cpu[1] * mean_pages:.1f} s at "
          f"{mean_pages:.0f} pages; worker peak RSS {rss[0]:.0f} + {rss[1]:.2f} MiB/page → "
          f"{rss[0] + rss[1] * mean_pages:.0f} MiB; object store "
          f"{statistics.fmean(p['result_mb'] / p['pages'] for p in profiles) * mean_pages:.2f} MiB per report in flight")
    table = model(profiles, runs, writers, db_rate, args.reports, args.pages, CORES)
    print(f"predicted wall time, {args.reports:,} reports / {args.pages:,} pages (stages overlap; the slowest sets "
          f"the pace; efficiency {min(1.0, max(r['efficiency'] for r in runs)):.2f} as measured here):")
    names = list(table[0]["stages_s"])
    print(f"{'cores':>5}  " + "  ".join(f"{n:>26}" for n in names)
          + "".join(f"  {'wall, ' + store:>18}" for store in writers) + "  bottleneck")
    for row in table:
        print(f"{row['cores']:>5}  " + "  ".join(f"{hms(row['stages_s'][n]):>26}" for n in names)
              + "".join(f"  {hms(row['wall_s'][store]):>18}" for store in writers)
              + "  " + "; ".join(f"{store}: {b}" for store, b in row["bottleneck"].items()))
    if args.json:
        figures = {"profiles": [{k: v for k, v in p.items() if k != "ex"} for p in profiles], "ray": runs,
                   "writers": writers, "database": db_rate, "model": table}
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
