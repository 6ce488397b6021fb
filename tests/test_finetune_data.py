"""The fine-tuning data builders: counts, deduplication, challenge-question exclusion, split, and every
NL2SQL target executing on the synthetic wide table. No torch needed."""

from __future__ import annotations

import json
import random
import unicodedata

import pytest
import typer
from typer.testing import CliRunner

from finetune.data.build import STORE_FILE, build_all, read_jsonl
from finetune.data.dedupe import dedupe, is_dev
from finetune.data.paraphrase import Paraphraser, normalize
from finetune.data.questions import INTENT_LABELS
from finetune.data.records import TASKS, user_text
from finetune.data.registry import load_registry
from finetune.data.resources import templates
from knowledge.schema import looks_alike, render_schema
from knowledge.store import Store

# A challenge "question" the 其他 templates are certain to produce: the build must drop it.
BANNED = "你好"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    bench = root / "bench"
    bench.mkdir()
    (bench / "questions.jsonl").write_text(
        "\n".join(json.dumps({"id": i, "question": q}, ensure_ascii=False) for i, q in enumerate([BANNED, "什么是商誉？"])),
        encoding="utf-8",
    )
    out = root / "data"
    stats = build_all(out, bench_dir=bench, store_companies=60, seed=1)
    data = {task: {split: read_jsonl(out / task / f"{split}.jsonl") for split in ("train", "dev")} for task in TASKS}
    return out, stats, data


def test_counts_cover_every_class_and_pattern(built):
    _, stats, data = built
    sizes = {task: len(d["train"]) + len(d["dev"]) for task, d in data.items()}
    assert sizes["intent"] >= 6000 and sizes["nl2sql"] >= 1000 and sizes["keywords"] >= 1000, sizes
    assert set(stats["tasks"]["intent"]["per_class"]) == set(INTENT_LABELS)
    patterns = {p["name"] for p in templates()["nl2sql"]["patterns"]}
    assert set(stats["tasks"]["nl2sql"]["per_class"]) == patterns
    for name in ("lookup", "multi_field", "sort", "top_n", "range", "count", "aggregate", "filter", "multi_year"):
        assert stats["tasks"]["nl2sql"]["per_class"][name] >= 50, name
    rules = stats["tasks"]["intent"]["rules"]
    for rule in ("formal", "colloquial", "typo", "fullwidth", "omit_company", "omit_year"):
        assert rules.get(rule, 0) > 50, rule


def test_records_are_chat_format_and_unique(built):
    _, _, data = built
    for task, splits in data.items():
        records = splits["train"] + splits["dev"]
        for r in records[:50]:
            assert [m["role"] for m in r["messages"]] == ["system", "user", "assistant"]
            assert r["messages"][2]["content"]
        keys = [normalize(user_text(r)) for r in records]
        assert len(keys) == len(set(keys)), task


def test_challenge_questions_are_excluded(built):
    _, stats, data = built
    assert stats["bench_questions"] == 2
    assert stats["tasks"]["intent"]["bench_overlap_removed"] >= 1
    questions = {normalize(user_text(r)) for d in data.values() for split in d.values() for r in split}
    assert normalize(BANNED) not in questions


def test_split_keeps_each_company_on_one_side(built):
    _, _, data = built
    for task, splits in data.items():
        train_groups = {r["meta"]["group"] for r in splits["train"]}
        dev_groups = {r["meta"]["group"] for r in splits["dev"]}
        assert not train_groups & dev_groups, task
        assert splits["dev"], task


def test_every_nl2sql_target_executes_and_returns_rows(built):
    out, _, data = built
    store = Store(f"sqlite:///{out / STORE_FILE}")
    for r in data["nl2sql"]["train"] + data["nl2sql"]["dev"]:
        _, rows = store.readonly_query(r["messages"][2]["content"])
        assert rows, r["messages"][2]["content"]
        assert rows[0][0] not in (None, 0) or len(rows) > 1, r["messages"][2]["content"]
        if r["meta"]["pattern"] in ("sort", "top_n", "argmax"):
            assert all(row[-1] is not None for row in rows), r["messages"][2]["content"]
    # The store has gaps, as a real one does, so the NULL check above is not vacuous.
    _, nulls = store.readonly_query('SELECT COUNT(*) FROM company_year WHERE "营业收入" IS NULL OR "净利润" IS NULL')
    assert nulls[0][0] > 0


def test_nl2sql_prompt_explains_lookalike_columns(built):
    _, _, data = built
    explained = 0
    for r in data["nl2sql"]["train"]:
        prompt = r["messages"][1]["content"]
        if '- "营业收入"' in prompt and '- "营业总收入"' in prompt:
            line = next(l for l in prompt.splitlines() if l.startswith('- "营业总收入"'))
            assert "营业收入" in line.split("：", 1)[1]
            explained += 1
    assert explained > 0
    # Companies named in a question are handed over already linked to their codes.
    lookup = next(r for r in data["nl2sql"]["train"] if r["meta"]["pattern"] == "lookup")
    code = lookup["messages"][2]["content"].split("company_code = '")[1][:6]
    assert f"company_code '{code}'" in lookup["messages"][1]["content"]


def test_render_schema_describes_only_lookalikes():
    text = render_schema(["营业收入", "营业总收入", "应收票据", "应付票据", "商誉"], [])
    lines = {l.split('"')[1]: l for l in text.splitlines() if l.startswith('- "')}
    assert "应付票据" in lines["应收票据"] and "应收票据" in lines["应付票据"]
    assert "：" not in lines["商誉"]  # no look-alike listed, no desc: nothing to explain
    assert looks_alike("经营活动现金流入小计", "经营活动现金流出小计")
    assert not looks_alike("商誉", "存货")


def test_keyword_targets_name_the_company_as_written(built):
    _, _, data = built
    checked = 0
    for r in data["keywords"]["train"]:
        target = json.loads(r["messages"][2]["content"])
        assert set(target) == {"company", "years", "fields", "metrics", "topics"}
        if target["company"]:
            # Typos never land in a company name; full-width letters fold back under NFKC.
            nfkc = unicodedata.normalize
            assert nfkc("NFKC", target["company"]) in nfkc("NFKC", r["messages"][1]["content"])
            checked += 1
    assert checked > 100


def test_paraphrase_rules():
    rng = random.Random(0)
    para = Paraphraser(rng, {**templates()["paraphrase"], "p_fullwidth": 1.0, "p_typo": 1.0,
                             "p_omit_company": 0.0, "p_omit_year": 1.0})
    out = para.render("{company}在{year}的{field}是多少？", {"company": "四方科技", "year": "2020年", "field": "营业收入"})
    assert "2020" not in unicodedata.normalize("NFKC", out.text)  # the year was omitted
    assert "四方科技" in out.text  # typos never touch a slot value
    assert "omit_year" in out.rules and "typo" in out.rules
    assert normalize("２０２０年营业收入？") == normalize("2020年营业收入?")


def test_dedupe_and_split_helpers():
    kept, dup, ban = dedupe(["A？", "a?", "b", "c"], str, {normalize("c")})
    assert kept == ["A？", "b"] and dup == 1 and ban == 1
    groups = [f"company:{i:06d}" for i in range(2000)]
    share = sum(is_dev(g, 0.1, 0) for g in groups) / len(groups)
    assert 0.07 < share < 0.13
    assert is_dev("company:000001", 0.1, 0) == is_dev("company:000001", 0.1, 0)


def test_registry_sample_and_xlsx(tmp_path):
    sample = load_registry()
    assert len(sample) == 300 and all(c.code.isdigit() and len(c.code) == 6 for c in sample)
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["report_date", "company_full_name", "stock_code", "company_short_name", "report_year"])
    ws.append(["2020-04-16", "旧名股份有限公司", "603339", "旧名", "2019年"])
    ws.append(["2021-04-16", "四方科技集团股份有限公司", "603339", "四方科技", "2020年"])
    ws.append(["2021-04-20", "平安银行股份有限公司", "1", "平安银行", "2020年"])
    wb.save(tmp_path / "reports.xlsx")
    companies = {c.code: c for c in load_registry(tmp_path / "reports.xlsx")}
    assert set(companies) == {"603339", "000001"}
    assert companies["603339"].short_name == "四方科技" and "旧名" in companies["603339"].aliases


def test_cli_build_data_and_calibration(tmp_path):
    from finetune.cli import register

    app, bench = typer.Typer(), typer.Typer()
    app.add_typer(bench, name="bench")
    register(app, bench)
    runner = CliRunner()
    result = runner.invoke(app, ["finetune", "build-data", "--out", str(tmp_path / "d"), "--scale", "0.03",
                                 "--store-companies", "20", "--no-bench"])
    assert result.exit_code == 0, result.output
    assert "[intent]" in result.output and "per pattern:" in result.output
    assert (tmp_path / "d" / "nl2sql" / "train.jsonl").exists()
    result = runner.invoke(app, ["finetune", "quantize", "unused-model", "--out", str(tmp_path / "calib.jsonl"),
                                 "--samples", "14", "--calibration-only"])
    assert result.exit_code == 0, result.output
    chats = read_jsonl(tmp_path / "calib.jsonl")
    assert len(chats) == 14 and chats[0]["messages"][0]["role"] == "system"
    assert "问题：" in chats[0]["messages"][1]["content"]
