import json

import typer
from community_fixture import BENCH_SAMPLE, bench_sample, community  # noqa: F401
from typer.testing import CliRunner

from agent.evaluation import (
    bigram_f1,
    challenge_score,
    evaluate,
    format_report,
    key_value_hit,
    similarity,
    value_in_answer,
)
from agent.structured import ask_structured

LOOKUP = {"id": 12, "type": "1", "question": "金枫酒业在2020年的管理费用是多少元?",
          "prompt": {"ent_short_name": "金枫酒业", "year": "2020", "key_word": "管理费用",
                     "管理费用": "138734348.36元", "prom_answer": "138734348.36元"},
          "answer": ["金枫酒业在2020年的管理费用是138734348.36元。"]}
REFUSAL = {"id": 10, "type": "1", "question": "请问，光云科技2019年的财务费用是多少元?",
           "prompt": {"year": "2019", "key_word": "无|不|没有|未|否|非|莫|抱歉|毋"},
           "answer": ["未查询到2019年光云科技的相关信息，无法回答该问题。"]}


def test_similarity_stand_in():
    assert bigram_f1("abc", "abc") == 1.0
    assert bigram_f1("abc", "xyz") == 0.0
    assert 0 < similarity("四方科技的货币资金", ["四方科技2019年的货币资金"]) < 1


def test_challenge_score_rules():
    assert challenge_score(LOOKUP, "金枫酒业在2020年的管理费用是138,734,348.36元。") == 1.0
    assert challenge_score(LOOKUP, "金枫酒业2020年的管理费用是1.39亿元。") == 0.0  # key value absent
    partial = challenge_score(LOOKUP, "是138734348.36元")  # no field name nor year
    assert 0.25 <= partial < 0.75
    assert challenge_score(REFUSAL, "未查询到相关信息。") > 0.25
    assert challenge_score(REFUSAL, "光云科技2019年的财务费用是100元。") == 0.0


def test_value_matching():
    assert value_in_answer("379097507.0元", "是379097507.0元")
    assert value_in_answer("10.04%", "资产负债比率是10.04%")
    assert not value_in_answer("10.04%", "资产负债比率是10.05%")
    assert value_in_answer("不相同", "不相同，2019年…")
    assert not value_in_answer("相同", "不相同，2019年…")
    assert key_value_hit(LOOKUP, "管理费用是138734348.36元")


def test_evaluate_on_real_sample(community):
    store, settings, _ = community
    items = bench_sample()
    report = evaluate(items, lambda q: ask_structured(q, store=store, settings=settings), store=store)
    assert report.errors == 0
    assert report.refusal["refused"] == report.refusal["expected"] > 0
    for t in ("1", "1-2", "2-1", "2-2"):
        entry = report.per_type[t]
        assert entry["present"] > 0 and entry["key_value_hit_present"] >= 0.95, (t, entry)
    assert report.intent_accuracy >= 0.95
    text = format_report(report)
    assert "intent accuracy" in text and "p95" in text


def test_eval_cli_writes_predictions(community, tmp_path, monkeypatch):
    store, settings, _ = community
    from agent import eval_cli
    from knowledge import configuration

    monkeypatch.setenv("NIANBAO_HOME", str(settings.home))
    configuration.get_settings.cache_clear()
    app, bench = typer.Typer(), typer.Typer()
    eval_cli.register(app, bench)

    @app.command("noop")
    def _noop():  # a second command keeps typer from collapsing the app into its only command
        pass

    out = tmp_path / "pred.jsonl"
    result = CliRunner().invoke(app, ["eval", str(BENCH_SAMPLE), "--out", str(out), "--limit", "8", "--direct"])
    assert result.exit_code == 0, result.output
    assert "intent accuracy" in result.output
    preds = [json.loads(line) for line in out.open(encoding="utf-8")]
    assert len(preds) == 8 and all(p["answer"] for p in preds)
