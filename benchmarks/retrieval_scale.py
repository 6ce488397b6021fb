"""Retrieval at the scale of the challenge corpus: chunks for 11,588 reports, BM25 index build time,
memory, and scoped query latency.

    nice .venv/bin/python -m benchmarks.retrieval_scale                     # 11,588 reports, all indexed
    nice .venv/bin/python -m benchmarks.retrieval_scale --indexed 300       # full table, 300 indexes built

Text is synthesised from the two real reports' chunks (ingestion's chunker): report i copies one of
them with its company name, short name, code and year replaced, and its digits permuted by a per-report
mapping, so numbers differ across reports while the text keeps a real report's vocabulary and length.
Companies file three years each (FY2019–2021), as in the challenge set.

Phases: (1) write companies, reports and chunks into a SQLite store with the real schema; (2) build the
BM25 scope indexes in ``--workers`` processes, timed (when ``--indexed`` < ``--reports``, the full
build time is extrapolated from the measured per-report cost); (3) in a fresh process, run scoped
questions: each scope's first question loads its index from disk (cold), the repeats hit memory
(warm). Peak RSS is taken from the OS for the build workers and the query process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.retrieval_corpus import (
    SAMPLE_PDF,
    SECOND_PDF,
    cached_chunks,
    load_gold,
    report_meta,
)

YEARS = (2019, 2020, 2021)
_NAME_CHARS = "华金东海天中新恒宏兴瑞安泰康德信远鑫隆盛达通合润正嘉祥力诚明科"
_INDUSTRIES = ("科技", "生物", "电子", "医药", "新材", "智能", "装备", "化工", "食品", "环保")


def synthetic_companies(n_reports: int, seed: int = 7) -> list[tuple[str, str, str, int]]:
    """(code, full name, short name, year) for ``n_reports`` company-years, three years a company."""
    rng = random.Random(seed)
    out, i = [], 0
    while len(out) < n_reports:
        short = "".join(rng.sample(_NAME_CHARS, 2)) + _INDUSTRIES[i % len(_INDUSTRIES)]
        code = f"{(600000 if i % 2 else 300000) + i:06d}"
        for year in YEARS:
            if len(out) < n_reports:
                out.append((code, f"{short}股份有限公司", short, year))
        i += 1
    return out


def _templates() -> list[tuple[object, list[dict]]]:
    return [(report_meta(p), list(cached_chunks(p))) for p in (SAMPLE_PDF, SECOND_PDF)]


def synthesise(template, rows: list[dict], company: tuple, seed: int) -> list[dict]:
    meta = template
    code, full, short, year = company
    digits = list("0123456789")
    random.Random(seed).shuffle(digits)
    table = str.maketrans("0123456789", "".join(digits))
    out = []
    for r in rows:
        text = r["text"].replace(meta.full_name, full).replace(meta.short_name, short).replace(meta.code, code)
        # Years stay years (shifted to the report's); every other digit goes through the permutation.
        text = text.replace(str(meta.year), "\x00").replace(str(meta.year - 1), "\x01")
        text = text.translate(table).replace("\x00", str(year)).replace("\x01", str(year - 1))
        out.append({"page": r["page"], "section": r["section"], "text": text})
    return out


def write_store(db_path: Path, n_reports: int) -> dict:
    import sqlite3

    from knowledge.store import Store

    Store(f"sqlite:///{db_path}").engine.dispose()  # the real schema
    templates = _templates()
    companies = synthetic_companies(n_reports)
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    started = time.perf_counter()
    seen = set()
    n_chunks = 0
    for i, company in enumerate(companies):
        code, full, short, year = company
        if code not in seen:
            seen.add(code)
            con.execute("INSERT INTO companies (code, full_name, short_name, aliases) VALUES (?, ?, ?, '[]')", (code, full, short))
        meta, rows = templates[i % len(templates)]
        cur = con.execute(
            "INSERT INTO reports (company_code, year, file_name, sha256, pages, status) VALUES (?, ?, ?, ?, ?, 'ok')",
            (code, year, f"synthetic__{full}__{code}__{short}__{year}年__年度报告.pdf", f"{i:064x}", max(r["page"] for r in rows)),
        )
        rid = cur.lastrowid
        chunks = synthesise(meta, rows, company, seed=i)
        con.executemany(
            "INSERT INTO chunks (report_id, company_code, year, page, section, text) VALUES (?, ?, ?, ?, ?, ?)",
            [(rid, code, year, c["page"], c["section"], c["text"]) for c in chunks],
        )
        n_chunks += len(chunks)
        if i % 500 == 499:
            con.commit()
    con.commit()
    con.close()
    return {"reports": n_reports, "companies": len(seen), "chunks": n_chunks,
            "write_s": time.perf_counter() - started, "db_mb": db_path.stat().st_size / 2**20}


def _build_worker(args) -> tuple[list[float], int]:
    home, scopes = args
    from knowledge.configuration import Settings
    from knowledge.store import Store
    from tools.retrieval.bm25 import IndexCache
    from understanding.tokenize import tokenizer_for

    settings = Settings(home=home)
    store = Store(settings.db_url)
    tok = tokenizer_for(store)
    cache = IndexCache(Path(home) / "bm25", capacity=1)
    times = []
    for code, year in scopes:
        t = time.perf_counter()
        cache.get(store, tok, code, year)
        times.append(time.perf_counter() - t)
    return times, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def build_indexes(home: Path, scopes: list[tuple[str, int]], workers: int) -> dict:
    batches = [(str(home), scopes[w::workers]) for w in range(workers)]
    started = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        results = pool.map(_build_worker, batches)
    wall = time.perf_counter() - started
    per_report = [t for times, _ in results for t in times]
    index_bytes = sum(f.stat().st_size for f in (home / "bm25").rglob("*.pkl"))
    return {"indexed": len(scopes), "workers": workers, "build_s": wall,
            "per_report_ms_p50": 1000 * statistics.median(per_report),
            "worker_peak_rss_mb": max(rss for _, rss in results) / 1024,
            "index_mb": index_bytes / 2**20, "index_kb_per_report": index_bytes / 1024 / max(len(scopes), 1)}


def _query_worker(home: str, jobs: list[tuple[str, str, int]], queue) -> None:
    from knowledge.configuration import Settings
    from knowledge.store import Store
    from tools.retrieval import search

    settings = Settings(home=home)
    store = Store(settings.db_url)
    search(settings, store, "预热", company_code=jobs[0][1], year=jobs[0][2], k=5)  # tokenizer + dictionary load
    cold, warm, seen = [], [], set()
    for question, code, year in jobs:
        t = time.perf_counter()
        hits = search(settings, store, question, company_code=code, year=year, k=5)
        ms = 1000 * (time.perf_counter() - t)
        (warm if (code, year) in seen else cold).append(ms)
        seen.add((code, year))
        assert all(p.company_code == code for p in hits)
    queue.put({"cold": cold, "warm": warm, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def run_queries(home: Path, scopes: list[tuple[str, int]], companies: dict, n_queries: int, seed: int = 11) -> dict:
    rng = random.Random(seed)
    questions = [q["question"] for q in load_gold()]
    real = {report_meta(p).short_name: report_meta(p) for p in (SAMPLE_PDF, SECOND_PDF)}
    hot = rng.sample(scopes, min(len(scopes), max(1, n_queries // 4)))  # ~4 questions per scope
    jobs = []
    for _ in range(n_queries):
        code, year = rng.choice(hot)
        q = rng.choice(questions)
        for meta in real.values():  # name the synthetic company, not the template's
            q = q.replace(meta.full_name, companies[code]).replace(meta.short_name, companies[code])
        jobs.append((q, code, year))
    ctx = mp.get_context("spawn")  # a fresh interpreter: its peak RSS is the query path's alone
    queue = ctx.Queue()
    proc = ctx.Process(target=_query_worker, args=(str(home), jobs, queue))
    proc.start()
    out = queue.get()
    proc.join()
    allq = out["cold"] + out["warm"]
    return {"queries": len(allq), "scopes_queried": len(out["cold"]),
            "cold_p50_ms": _pct(out["cold"], 50), "cold_p95_ms": _pct(out["cold"], 95),
            "warm_p50_ms": _pct(out["warm"], 50), "warm_p95_ms": _pct(out["warm"], 95),
            "all_p50_ms": _pct(allq, 50), "all_p95_ms": _pct(allq, 95), "query_peak_rss_mb": out["peak_rss_mb"]}


def _pct(xs: list[float], p: int) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=11588, help="company-years in the chunks table")
    ap.add_argument("--indexed", type=int, default=None, help="how many of them get a BM25 index (default: all)")
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--home", type=Path, default=None, help="keep the store and indexes here (default: a temp dir)")
    args = ap.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="nianbao-scale-"))
    home.mkdir(parents=True, exist_ok=True)
    try:
        db = home / "nianbao.sqlite"
        written = json.loads((home / "written.json").read_text()) if (home / "written.json").exists() else None
        if not written or written["reports"] != args.reports:
            db.unlink(missing_ok=True)
            written = write_store(db, args.reports)
            (home / "written.json").write_text(json.dumps(written))
        print("store:", _fmt(written))
        companies = {c: s for c, _, s, _ in synthetic_companies(args.reports)}
        scopes = [(c, y) for c, _, _, y in synthetic_companies(args.reports)]
        indexed = scopes[: args.indexed or len(scopes)]
        built = build_indexes(home, indexed, max(1, min(args.workers, len(indexed))))
        built["full_build_s_estimate"] = built["build_s"] * len(scopes) / len(indexed)
        print("bm25 build:", _fmt(built))
        print("queries:", _fmt(run_queries(home, indexed, companies, args.queries)))
    finally:
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)


def _fmt(d: dict) -> str:
    return "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


if __name__ == "__main__":
    main()
