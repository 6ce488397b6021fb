"""Issue 2 acceptance: the CLI answers from the real sample report, with its source page."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from agent.cli import app
from knowledge import configuration

runner = CliRunner()


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory):
    """A home where the bundled sample was ingested once by the first `ask` (as on a fresh machine)."""
    home = tmp_path_factory.mktemp("sample-home")
    env = {**os.environ, "NIANBAO_HOME": str(home)}
    env.pop("NIANBAO_LLM__BASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "ask", "四方科技2019年的货币资金是多少元？", "--json"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "示例年报" in proc.stderr  # the first ask says it is ingesting the sample
    return home, json.loads(proc.stdout)


@pytest.fixture
def home(sample_home, tmp_path, monkeypatch):
    """A private copy of the ingested home, so tests don't share threads or writes."""
    src, _ = sample_home
    dst = tmp_path / "home-copy"
    shutil.copytree(src, dst)
    monkeypatch.setenv("NIANBAO_HOME", str(dst))
    configuration.get_settings.cache_clear()
    return dst


def ask_json(*args: str) -> dict:
    result = runner.invoke(app, ["ask", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_first_ask_ingests_sample_and_answers_with_page(sample_home):
    _, answer = sample_home
    assert "905402299.44" in answer["answer"].replace(",", "")
    assert answer["company"]["code"] == "603339"
    assert answer["years"] == [2019]
    assert "货币资金" in answer["fields"]
    assert answer["mode"] == "embedded"
    pages = {c["page"] for c in answer["citations"]}
    assert 59 in pages  # 合并资产负债表 starts on page 59 of the PDF
    assert answer["latency_ms"] > 0


def test_prior_year_comes_from_the_prior_year_column(home):
    answer = ask_json("四方科技2018年的货币资金是多少元？")
    assert "627041535.44" in answer["answer"].replace(",", "")
    value = next(v for v in answer["values"] if v["field"] == "货币资金")
    assert value["source"] == "report_prior_year"
    # The answer says where the figure came from: the prior-year column of the 2019 report.
    assert "2019年年报" in answer["answer"]


@pytest.mark.parametrize(
    "question, missing",
    [
        ("不存在科技2019年的货币资金是多少元？", "未查询到"),
        ("四方科技2015年的货币资金是多少元？", "未查询到"),
        ("", "未查询到"),
    ],
)
def test_refusals_are_clear_and_exit_zero(home, question, missing):
    answer = ask_json(question) if question else ask_json("")
    assert missing in answer["answer"]
    assert not any(ch.isdigit() for ch in answer["answer"].replace("2015", "").replace("2019", ""))


def test_thread_survives_between_cli_processes(home):
    env = {**os.environ, "NIANBAO_HOME": str(home)}
    first = subprocess.run(
        [sys.executable, "-m", "agent", "ask", "四方科技2019年的货币资金是多少元？", "--thread", "t1", "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert first.returncode == 0, first.stderr
    second = subprocess.run(
        [sys.executable, "-m", "agent", "ask", "那2018年呢？", "--thread", "t1", "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert second.returncode == 0, second.stderr
    follow_up = json.loads(second.stdout)
    assert follow_up["company"]["code"] == "603339"
    assert follow_up["years"] == [2018]
    assert "627041535.44" in follow_up["answer"].replace(",", "")


def test_show_prints_row_with_provenance(home):
    result = runner.invoke(app, ["show", "四方科技", "2019", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    cash = row["values"]["货币资金"]
    assert cash["value"] == "905402299.44"
    assert cash["page"] == 59 and cash["source"] == "report"
    by_code = json.loads(runner.invoke(app, ["show", "603339", "2018", "--json"]).stdout)
    assert by_code["values"]["货币资金"]["source"] == "report_prior_year"


def test_show_unknown_company_fails_clearly(home):
    result = runner.invoke(app, ["show", "不存在公司", "2019"])
    assert result.exit_code == 1
    assert "未查询到" in result.output
