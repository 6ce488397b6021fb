"""A command whose optional extra is missing names the extra to install and exits 2 — no traceback.

Each case hides one module of the extra (``sys.modules[name] = None`` makes ``import name`` fail, as on
a core-only install) and runs the command through the console script's ``main``.
"""

from __future__ import annotations

import sys

import pytest

from agent.cli import main
from knowledge.extras import EXIT_CODE, EXTRAS, MissingExtra, require


@pytest.fixture
def home(tmp_path, monkeypatch):
    from knowledge import configuration

    monkeypatch.setenv("NIANBAO_HOME", str(tmp_path))
    configuration.get_settings.cache_clear()
    yield tmp_path
    configuration.get_settings.cache_clear()


CASES = [
    (["serve"], "uvicorn", "serve"),
    (["bench", "load", "-n", "1"], "fastapi", "serve"),
    (["finetune", "train", "intent"], "peft", "finetune"),
    (["finetune", "eval", "adapter-dir", "--task", "intent"], "torch", "finetune"),
    (["finetune", "export", "adapter-dir", "--name", "intent", "--merge"], "transformers", "finetune"),
    (["finetune", "quantize", "model-dir", "--out", "q"], "gptqmodel", "gpu"),
    (["ask", "四方科技2019年的货币资金是多少元？"], "psycopg", "postgres"),
    (["ingest", "report.pdf", "--ray"], "ray", "ray"),
]


@pytest.mark.parametrize("argv,hidden,extra", CASES, ids=[f"{c[2]}:{' '.join(c[0][:2])}" for c in CASES])
def test_a_missing_extra_is_named_with_exit_code_2(argv, hidden, extra, home, monkeypatch, capsys):
    if extra == "postgres":
        monkeypatch.setenv("NIANBAO_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:9/none")
    monkeypatch.setitem(sys.modules, hidden, None)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == EXIT_CODE
    err = capsys.readouterr().err
    assert f'pip install -e ".[{extra}]"' in err.replace("\n", "") and hidden in err
    assert "Traceback" not in err


def test_dense_indexing_without_the_models_extra(home, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("NIANBAO_RETRIEVAL__EMBEDDING_MODEL_DIR", str(tmp_path / "bge"))
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(SystemExit) as exit_:
        main(["ingest", str(tmp_path)])
    assert exit_.value.code == EXIT_CODE and 'pip install -e ".[models]"' in capsys.readouterr().err.replace("\n", "")


def test_every_extra_of_the_table_is_declared_in_pyproject():
    import tomllib
    from pathlib import Path

    declared = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    assert set(EXTRAS) <= set(declared["optional-dependencies"])


def test_require_passes_when_installed_and_names_a_broken_install(monkeypatch):
    require("serve")  # the test environment installs every extra
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(MissingExtra) as exc:
        require("serve", "nianbao serve")
    assert exc.value.extra == "serve" and exc.value.module == "uvicorn"
