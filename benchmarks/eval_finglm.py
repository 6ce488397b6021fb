"""Benchmark the structured path on the FinGLM round-A questions with the community table imported.

    nice .venv/bin/python benchmarks/eval_finglm.py \
        --table-dir ../shared/community-table --gold ../shared/bench/finglm-A-answers.jsonl \
        --pre ../shared/bench/finglm-pre-questions.jsonl [--out preds.jsonl] [--service]

Imports the tables into a temporary home (timed), answers every gold question (the deterministic path
by default; ``--service`` goes through agent.service.ask), prints the per-type scores, key-value hit
rates on the questions whose data is present, refusals, intent accuracy, coverage and latency; then
runs every pre-round question and prints the intent distribution and the answered/refused share.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.evaluation import (  # noqa: E402
    default_answerer,
    evaluate,
    format_report,
    is_refusal,
    load_jsonl,
    percentile,
)
from ingestion.import_table import import_tables  # noqa: E402
from knowledge.configuration import Settings  # noqa: E402
from knowledge.store import Store  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table-dir", type=Path, required=True)
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--pre", type=Path)
    ap.add_argument("--home", type=Path, help="reuse this home (skips the import when it has a database)")
    ap.add_argument("--out", type=Path, help="predictions JSONL")
    ap.add_argument("--report-json", type=Path)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--service", action="store_true", help="answer through agent.service.ask")
    args = ap.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="nianbao-bench-"))
    settings = Settings(home=home)
    settings.ensure_home()
    store = Store(settings.db_url)
    summary: dict = {"home": str(home)}
    if not store.companies():
        start, cpu = time.perf_counter(), time.process_time()
        rep = import_tables(store, sorted(args.table_dir.glob("*.xlsx")))
        summary["import"] = {"seconds": round(time.perf_counter() - start, 1),
                             "cpu_seconds": round(time.process_time() - cpu, 1), "company_years": rep.company_years,
                             "companies": rep.companies, "values": rep.values,
                             "unmapped": rep.unmapped_columns}
        print(f"import: {rep.summary()} (CPU {summary['import']['cpu_seconds']}s)", flush=True)

    answer = default_answerer(settings, direct=not args.service)
    answer("2020年四方科技的营业收入是多少元？")  # warm the caches: the first question builds the automata
    items = load_jsonl(args.gold)[: args.limit or None]
    fh = args.out.open("w", encoding="utf-8") if args.out else None
    report = evaluate(items, answer, store=store,
                      on_prediction=(lambda r: fh.write(json.dumps(r, ensure_ascii=False) + "\n")) if fh else None)
    if fh:
        fh.close()
    print(format_report(report), flush=True)
    summary["gold"] = report.to_dict()

    if args.pre:
        pre = load_jsonl(args.pre)[: args.limit or None]
        intents, refused, crashes, lat = Counter(), 0, [], []
        for item in pre:
            t = time.perf_counter()
            try:
                out = answer(item["question"])
            except Exception as exc:
                crashes.append((item.get("id"), f"{type(exc).__name__}: {exc}"))
                continue
            lat.append((time.perf_counter() - t) * 1000)
            intents[out.get("intent")] += 1
            refused += is_refusal(out.get("answer", ""))
        n = len(pre)
        summary["pre"] = {"n": n, "crashes": len(crashes), "intents": dict(intents.most_common()),
                          "refused": refused, "answered": n - len(crashes) - refused,
                          "latency_p50": round(percentile(lat, 50), 2), "latency_p95": round(percentile(lat, 95), 2)}
        print(f"pre-questions: {n}, crashes {len(crashes)} {crashes[:5]}")
        print("  intents: " + ", ".join(f"{k} {v} ({v / n:.1%})" for k, v in intents.most_common()))
        print(f"  answered {n - len(crashes) - refused} ({(n - len(crashes) - refused) / n:.1%}), "
              f"refused {refused} ({refused / n:.1%}); latency p50 {summary['pre']['latency_p50']} ms, "
              f"p95 {summary['pre']['latency_p95']} ms")
    if args.report_json:
        args.report_json.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
