"""docs/DESIGN.md's claims about the code, checked: the shell example runs, and the packages the
layer map names are the ones pyproject installs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DESIGN = (REPO / "docs" / "DESIGN.md").read_text(encoding="utf-8")


def test_the_plain_argument_tool_example_runs_on_the_reports(reports_settings):
    block = re.search(r"## Every tool from a Python shell.*?```python\n(.*?)```", DESIGN, re.S).group(1)
    results = {}
    namespace: dict = {}
    for line in block.strip().splitlines():
        code = line.split("  #")[0].rstrip()
        value = eval(code, namespace) if code.startswith(("sql.", "formula.", "glossary.", "answer_", "search(")) \
            else exec(code, namespace)
        if value is not None:
            results[code.split("(")[0]] = value
    lookup = results["sql.lookup"]
    assert [(v["field"], v["value"], v["page"]) for v in lookup.values] == [
        ("货币资金", "905402299.44", 59), ("营业收入", "1175301034.32", 63)]
    assert results["formula.compute_formula"].values[0]["display"] == "23.15%"
    # Two reports, each with its own year, its prior-year column and the year before (主要会计数据 prints three).
    assert results["sql.run_generated"].values[0]["n"] == 6
    assert results["answer_open_question"].kind == "passages" and results["search"]
    assert results["glossary.answer_concept"].values[0]["term"] == "速动比率"


def test_every_top_level_package_is_installed():
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted(p.parent.name for p in REPO.glob("*/__init__.py") if p.parent.name != "tests")
    assert packages and all(f"{name}*" in include for name in packages), (packages, include)
    layers = config["tool"]["importlinter"]["root_packages"]
    assert sorted(layers) == packages
