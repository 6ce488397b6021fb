"""Rebuild the small test samples from ../shared (run by hand; tests never read ../shared).

    .venv/bin/python benchmarks/make_test_samples.py PRED.jsonl

PRED.jsonl is a prediction file from ``benchmarks/eval_finglm.py --out`` (its ``present`` flags pick
questions whose data the community table has). Writes tests/data/bench-sample.jsonl (real questions
with their reference values) and tests/data/community-sample/*.xlsx (every row of the companies those
questions name, plus a handful more so rankings have competition).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from openpyxl import Workbook
from python_calamine import CalamineWorkbook

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PER_TYPE = {"1": 14, "1-2": 6, "2-1": 40, "2-2": 8, "3-1": 3, "3-2": 3}


def main(pred_path: str) -> None:
    gold = {r["id"]: r for r in map(json.loads, (SHARED / "bench/finglm-A-answers.jsonl").open(encoding="utf-8"))}
    preds = [json.loads(line) for line in open(pred_path, encoding="utf-8")]
    chosen, counts, refusals, seen_formula = [], {}, 0, set()
    for p in preds:
        item, t = gold[p["id"]], p["type"]
        prompt = item["prompt"]
        if p["refusal_expected"]:
            if refusals < 6:
                chosen.append(item)
                refusals += 1
            continue
        if t in ("3-1", "3-2") or p["present"]:
            formula = prompt.get("公式", "").split("=")[0]
            if formula:  # one question per challenge formula, then more
                if formula in seen_formula and counts.get(t, 0) >= len(seen_formula):
                    continue
                seen_formula.add(formula)
            if counts.get(t, 0) < PER_TYPE[t]:
                chosen.append(item)
                counts[t] = counts.get(t, 0) + 1
    names = {r["prompt"].get("ent_name") for r in chosen} | {r["prompt"].get("ent_short_name") for r in chosen}
    out = ROOT / "tests/data/community-sample"
    out.mkdir(parents=True, exist_ok=True)
    reports = CalamineWorkbook.from_path(str(SHARED / "community-table/company_annual_reports.xlsx"))
    rows = reports.get_sheet_by_name(reports.sheet_names[0]).to_python()
    codes = {str(r[2]) for r in rows[1:] if r[1] in names or r[3] in names}
    codes |= {str(r[2]) for r in rows[1:41]}  # competition for rankings
    for src in sorted((SHARED / "community-table").glob("*.xlsx")):
        wb = CalamineWorkbook.from_path(str(src))
        data = wb.get_sheet_by_name(wb.sheet_names[0]).to_python()
        key = 2  # 股票代码 / stock_code is the third column of every workbook
        dst = Workbook()
        ws = dst.active
        ws.title = "Sheet1"
        ws.append(data[0])
        for r in data[1:]:
            if str(r[key]) in codes:
                ws.append(r)
        dst.save(out / src.name)
    with (ROOT / "tests/data/bench-sample.jsonl").open("w", encoding="utf-8") as fh:
        for item in chosen:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"{len(chosen)} questions, {len(codes)} companies")


if __name__ == "__main__":
    main(sys.argv[1])
