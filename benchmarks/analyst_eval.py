"""The analyst question set (benchmarks/analyst/): hand-written questions and conversations over three reports,
asked in embedded mode (no LLM), each answer judged right / wrong number / refused / other.

    nice -n 10 .venv/bin/python benchmarks/analyst_eval.py                       # the three bundled reports
    nice -n 10 .venv/bin/python benchmarks/analyst_eval.py --only indicator       # one kind (or: conversation)
    nice -n 10 .venv/bin/python benchmarks/analyst_eval.py --file questions_603339_2019.jsonl --json /tmp/a.json
    .venv/bin/python benchmarks/analyst_eval.py a.pdf b.pdf --home /tmp/analyst  # other reports; a reusable home

Exit code 0 always: it is a benchmark. Every wrong number is printed loudly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.analyst.dataset import (
    CONVERSATION,
    FOLDER,
    KINDS,
    conversation_files,
    file_code,
    load_jsonl,
    question_files,
)
from benchmarks.analyst.judge import VERDICTS, WRONG_NUMBER, judge

DEFAULT_PDFS = [*sorted((REPO / "ingestion" / "samples").glob("*.pdf")),
                *sorted((REPO / "tests" / "data" / "reports").glob("*.pdf"))]


def embedded_settings(home: Path):
    """Settings for a private home with no LLM endpoint, whatever the user's config says."""
    os.environ["NIANBAO_CONFIG"] = str(home / "no-config.toml")  # the home's config.toml is not read either
    from knowledge.configuration import LLMSettings, Settings

    return Settings(home=home, llm=LLMSettings())


def ingest(settings, pdfs: list[Path]) -> None:
    from ingestion.batch import ingest_paths

    settings.ensure_home()
    started = time.perf_counter()
    for result in ingest_paths(settings, pdfs, workers=1):
        print(f"ingest {Path(str(result.path)).name}: {result.status} {result.reason or ''}".rstrip())
    print(f"ingested {len(pdfs)} reports in {time.perf_counter() - started:.1f}s")


def _record(answer: dict, item: dict, *, file: str, codes: tuple[str, ...], **extra) -> dict:
    text = answer.get("answer", "")
    v = judge(text, item["expect"], question=item["q"], codes=codes)
    return {"id": item.get("id"), "file": file, "kind": item.get("kind"), "tags": item.get("tags", []),
            "q": item["q"], "expect": item["expect"], "source": item.get("source"), "answer": text,
            "verdict": v.verdict, "reason": v.reason, "asserted": v.asserted, "intent": answer.get("intent"),
            "fields": answer.get("fields"), "latency_ms": answer.get("latency_ms"), **extra}


def run_questions(ask, settings, files: list[Path], only: str | None, codes: tuple[str, ...]) -> list[dict]:
    records = []
    for path in files:
        for item in load_jsonl(path):
            if only and item["kind"] != only:
                continue
            answer = ask(item["q"], thread_id=None, settings=settings)
            records.append(_record(answer, item, file=path.name, codes=codes))
    return records


def run_conversations(ask, settings, files: list[Path], codes: tuple[str, ...]) -> list[dict]:
    records = []
    for path in files:
        for conv in load_jsonl(path):
            thread = f"analyst-{conv['id']}-{uuid.uuid4().hex[:8]}"
            for n, turn in enumerate(conv["turns"], 1):
                answer = ask(turn["q"], thread_id=thread, settings=settings)
                records.append(_record(answer, {**turn, "id": f"{conv['id']}.{n}", "kind": turn.get("kind")},
                                       file=path.name, codes=codes, conversation=conv["id"], turn=n))
    return records


def _row(label: str, rs: list[dict]) -> str:
    counts = {v: sum(r["verdict"] == v for r in rs) for v in VERDICTS}
    share = counts["right"] / len(rs) if rs else 0.0
    return (f"{label:<14}{len(rs):>5}{counts['right']:>7}{counts['wrong_number']:>8}{counts['refused']:>9}"
            f"{counts['other']:>7}   {share:6.1%}")


def report(questions: list[dict], turns: list[dict]) -> str:
    header = f"{'':<14}{'n':>5}{'right':>7}{'wrong#':>8}{'refused':>9}{'other':>7}   right%"
    lines = []
    if questions:
        lines += ["per kind", header]
        by_kind: dict[str, list[dict]] = defaultdict(list)
        by_tag: dict[str, list[dict]] = defaultdict(list)
        by_file: dict[str, list[dict]] = defaultdict(list)
        for r in questions:
            by_kind[r["kind"]].append(r)
            by_file[r["file"]].append(r)
            for tag in r["tags"]:
                by_tag[tag].append(r)
        lines += [_row(k, by_kind[k]) for k in KINDS if k in by_kind]
        lines += ["", "per tag", header, *(_row(t, rs) for t, rs in sorted(by_tag.items()))]
        lines += ["", "per file", header, *(_row(f.removeprefix("questions_").removesuffix(".jsonl"), rs)
                                            for f, rs in sorted(by_file.items()))]
        lines += ["", header, _row("overall", questions)]
    if turns:
        lines += ["", "conversations, per turn", header]
        by_turn: dict[int, list[dict]] = defaultdict(list)
        by_conv: dict[str, list[dict]] = defaultdict(list)
        for r in turns:
            by_turn[r["turn"]].append(r)
            by_conv[r["conversation"]].append(r)
        lines += [_row(f"turn {n}", by_turn[n]) for n in sorted(by_turn)]
        lines.append(_row("all turns", turns))
        full = sum(all(r["verdict"] == "right" for r in rs) for rs in by_conv.values())
        lines.append(f"conversations fully right: {full}/{len(by_conv)}")
    wrong = [r for r in (*questions, *turns) if r["verdict"] == WRONG_NUMBER]
    lines += ["", f"!!! {len(wrong)} WRONG NUMBERS" if wrong else "no wrong numbers"]
    for r in wrong:
        lines.append(f"!!! WRONG NUMBER {r['id']} [{r['kind']}] {r['q']}\n    expected {r['expect']}; asserted "
                     f"{r['asserted']}\n    answer: {r['answer'][:300]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pdfs", nargs="*", type=Path, default=DEFAULT_PDFS, help="the reports to ingest")
    ap.add_argument("--only", choices=[*KINDS, CONVERSATION], help="one kind of question, or the conversations")
    ap.add_argument("--file", action="append", default=[], help="a file name in benchmarks/analyst (repeatable)")
    ap.add_argument("--folder", type=Path, default=FOLDER, help="where the question files are")
    ap.add_argument("--json", type=Path, help="write the per-question records here")
    ap.add_argument("--home", type=Path, help="a NIANBAO_HOME to use and keep (default: a temporary one)")
    args = ap.parse_args(argv)

    qfiles, cfiles = question_files(args.folder), conversation_files(args.folder)
    if args.file:
        qfiles = [p for p in qfiles if p.name in args.file]
        cfiles = [p for p in cfiles if p.name in args.file]
    if args.only == CONVERSATION:
        qfiles = []
    elif args.only:
        cfiles = []
    codes = tuple(sorted({file_code(p) for p in (*question_files(args.folder), *conversation_files(args.folder))}))

    with tempfile.TemporaryDirectory(prefix="analyst-") as tmp:
        settings = embedded_settings(args.home or Path(tmp) / "home")
        ingest(settings, args.pdfs)
        from agent.service import ask  # deferred on purpose: it imports the graph (LangGraph) and the models

        started = time.perf_counter()
        questions = run_questions(ask, settings, qfiles, args.only, codes)
        turns = run_conversations(ask, settings, cfiles, codes)
        elapsed = time.perf_counter() - started
    print(report(questions, turns))
    print(f"\n{len(questions)} questions and {len(turns)} conversation turns in {elapsed:.0f}s")
    if args.json:
        args.json.write_text(json.dumps([*questions, *turns], ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"records: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
