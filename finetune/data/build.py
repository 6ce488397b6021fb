"""Build every data set: synthetic store → NL2SQL, intent and keyword examples → dedupe → split → JSONL.

Layout under ``out_dir``::

    synthetic.sqlite          the wide table the NL2SQL targets were executed on (eval reuses it)
    intent/{train,dev}.jsonl
    nl2sql/{train,dev}.jsonl
    keywords/{train,dev}.jsonl
    stats.json                counts, duplicate rates, bench exclusions, samples (see finetune.stats)
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

from finetune.data.dedupe import bench_questions, dedupe, default_bench_dir, is_dev
from finetune.data.nl2sql import SqlGenerator
from finetune.data.questions import INTENT_LABELS, STAT_LABEL, QuestionGenerator
from finetune.data.records import (
    TASKS,
    intent_record,
    keywords_record,
    nl2sql_record,
    user_text,
)
from finetune.data.registry import load_registry
from finetune.data.resources import synthetic, templates
from finetune.data.synth_store import build_synthetic_store

STORE_FILE = "synthetic.sqlite"


def build_all(
    out_dir: Path,
    *,
    registry: Path | None = None,
    bench_dir: Path | None | str = "auto",
    seed: int = 0,
    dev_fraction: float = 0.1,
    store_companies: int | None = None,
    scale: float = 1.0,
) -> dict:
    """Build and write the three data sets; returns the statistics (also written to stats.json).

    ``bench_dir="auto"`` finds the challenge question files beside the checkout when they are there;
    ``None`` skips the exclusion (recorded in the stats). ``scale`` multiplies every draw count
    (tests use less)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    t = templates()
    companies = load_registry(registry)
    bench_dir = default_bench_dir() if bench_dir == "auto" else (Path(bench_dir) if bench_dir else None)
    banned = bench_questions(bench_dir)
    years = synthetic()["years"]
    store = build_synthetic_store(out_dir / STORE_FILE, companies, seed=seed, n_companies=store_companies, years=years)

    # NL2SQL: round-robin over the patterns so every pattern is well represented.
    sqlgen = SqlGenerator(store, rng, years)
    patterns = t["nl2sql"]["patterns"]
    n_sql = int(t["nl2sql"]["count"] * scale)
    sql_examples = [ex for i in range(n_sql) if (ex := sqlgen.generate(patterns[i % len(patterns)]))]
    stat_patterns = [p for p in patterns if p.get("stat")]
    n_stat = int(t["intent"][STAT_LABEL]["count"] * scale)
    stat_questions = [ex.question for i in range(n_stat) if (ex := sqlgen.generate(stat_patterns[i % len(stat_patterns)]))]

    qgen = QuestionGenerator(companies, rng)
    questions = [qgen.generate(label) for label in INTENT_LABELS if label != STAT_LABEL
                 for _ in range(int(t["intent"][label]["count"] * scale))]
    questions += stat_questions
    rng.shuffle(questions)

    records: dict[str, list[dict]] = {}
    stats: dict = {"seed": seed, "registry": str(registry or "bundled sample"), "companies": len(companies),
                   "bench_dir": str(bench_dir) if bench_dir else None, "bench_questions": len(banned),
                   "store": {"path": str(out_dir / STORE_FILE), "company_years": _count_rows(store),
                             "years": years}, "tasks": {}}

    intent_raw = [intent_record(q, q.group) for q in questions]
    records["intent"], *counts = dedupe(intent_raw, user_text, banned)
    stats["tasks"]["intent"] = _dedupe_stats(len(intent_raw), *counts)

    kept_questions = {user_text(r) for r in records["intent"]}
    pool = [q for q in questions if q.text in kept_questions]
    keywords_raw = [keywords_record(q, q.group) for q in rng.sample(pool, min(len(pool), int(t["keywords"]["count"] * scale)))]
    records["keywords"], *counts = dedupe(keywords_raw, user_text, banned)
    stats["tasks"]["keywords"] = _dedupe_stats(len(keywords_raw), *counts)

    sql_raw = [nl2sql_record(ex, ex.question.group) for ex in sql_examples]
    records["nl2sql"], *counts = dedupe(sql_raw, user_text, banned)
    stats["tasks"]["nl2sql"] = _dedupe_stats(len(sql_raw), *counts)
    stats["tasks"]["nl2sql"]["rejected_no_rows"] = dict(sqlgen.rejected)

    for task in TASKS:
        train = [r for r in records[task] if not is_dev(r["meta"]["group"], dev_fraction, seed)]
        dev = [r for r in records[task] if is_dev(r["meta"]["group"], dev_fraction, seed)]
        write_jsonl(out_dir / task / "train.jsonl", train)
        write_jsonl(out_dir / task / "dev.jsonl", dev)
        key = "pattern" if task == "nl2sql" else "label"
        stats["tasks"][task].update(
            train=len(train), dev=len(dev),
            per_class=dict(Counter(r["meta"][key] for r in records[task]).most_common()),
            rules=dict(Counter(rule for r in records[task] for rule in r["meta"]["rules"]).most_common()),
            sample=[r["messages"][1:] for r in rng.sample(records[task], min(3, len(records[task])))],
        )
    (out_dir / "stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=2), encoding="utf-8")
    return stats


def _dedupe_stats(generated: int, duplicates: int, banned: int) -> dict:
    unique = generated - duplicates - banned
    return {"generated": generated, "duplicates": duplicates, "duplicate_rate": round(duplicates / max(generated, 1), 4),
            "bench_overlap_removed": banned, "unique": unique}


def _count_rows(store) -> int:
    return store.readonly_query("SELECT COUNT(*) FROM company_year")[1][0][0]


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
