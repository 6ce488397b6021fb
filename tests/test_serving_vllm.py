"""The vLLM launch configurations, validated offline (vLLM's own parser when installed, else the schema)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.configuration import LLMSettings
from serving.vllm import launch, validate

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def servers():
    return launch.load(env={})  # the defaults, whatever the developer's environment holds


@pytest.mark.parametrize("name", ["base", "answer"])
def test_generated_arguments_are_valid(servers, name):
    cmd = launch.command(name, servers=servers)
    assert cmd[:3] == ["vllm", "serve", servers[name]["model"]]
    how, problems = validate.check(cmd[2], cmd[3:])
    assert problems == [], (how, problems)


def test_base_serves_the_three_adapters_under_the_configured_names(servers):
    args = validate.split(launch.command("base", servers=servers)[3:])
    assert "enable-lora" in args
    modules = dict(item.split("=", 1) for item in args["lora-modules"])
    llm = LLMSettings()
    assert set(modules) == {llm.intent_model, llm.nl2sql_model, llm.keywords_model}
    assert int(args["max-loras"][0]) >= len(modules)  # all adapters resident at once
    assert "Qwen2.5-7B-Instruct" in servers["base"]["model"]


def test_answer_model_is_gptq_int8_with_prefix_caching_and_a_draft_model(servers):
    args = validate.split(launch.command("answer", servers=servers)[3:])
    assert "GPTQ-Int8" in servers["answer"]["model"] and args["quantization"][0].startswith("gptq")
    assert "enable-prefix-caching" in args
    spec = json.loads(args["speculative-config"][0])
    assert spec["method"] == "draft_model" and "0.5B" in spec["model"] and spec["num_speculative_tokens"] >= 1
    assert args["served-model-name"] == [LLMSettings().answer_model]
    assert int(args["max-num-seqs"][0]) >= 128  # the load target
    assert 0.5 <= float(args["gpu-memory-utilization"][0]) <= 0.95


def test_environment_points_at_local_weights():
    servers = launch.load(env={"NIANBAO_VLLM_MODELS": "/srv/m", "NIANBAO_VLLM_ADAPTERS": "/srv/a"})
    cmd = launch.command("base", servers=servers)
    assert cmd[2] == "/srv/m/Qwen2.5-7B-Instruct" and "intent=/srv/a/intent" in cmd
    assert "/srv/m/Qwen2.5-0.5B-Instruct" in launch.command("answer", servers=servers)[-1]


@pytest.mark.parametrize("args,fragment", [
    (["--max-lora-rank", "48"], "not in"),
    (["--gpu-memory-utilization", "1.5"], "> 1.0"),
    (["--max-num-seqs", "many"], "is not int"),
    (["--enable-prefix-caching", "yes"], "takes no value"),
    (["--speculative-model", "x"], "not a known vLLM flag"),  # the pre-0.8 flag, gone from vLLM
    (["--speculative-config", "{model: x}"], "not JSON"),
    (["--speculative-config", '{"model": "x", "method": "draft_model"}'], "missing 'num_speculative_tokens'"),
    (["--lora-modules", "intent"], "does not match"),
    (["--max-loras", "3"], "without --enable-lora"),
    (["--quantization", "int8"], "not in"),
])
def test_schema_rejects_bad_arguments(args, fragment):
    problems = validate.check_schema(args)
    assert any(fragment in p for p in problems), problems


def test_print_and_scripts(servers):
    out = subprocess.run([sys.executable, "-m", "serving.vllm.launch", "answer", "--port", "9100"], cwd=REPO,
                         capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    cmd = shlex.split(out)
    assert cmd[:2] == ["vllm", "serve"] and cmd[cmd.index("--port") + 1] == "9100"
    assert json.loads(cmd[cmd.index("--speculative-config") + 1])["num_speculative_tokens"] >= 1
    for script in ("launch_base.sh", "launch_answer.sh"):
        path = REPO / "serving" / "vllm" / script
        assert path.stat().st_mode & 0o111
        subprocess.run(["sh", "-n", str(path)], check=True)


def test_compose_file_carries_the_generated_commands(servers):
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"vllm-base", "vllm-answer", "api", "postgres"}
    for service, name in (("vllm-base", "base"), ("vllm-answer", "answer")):
        assert services[service]["entrypoint"] == ["vllm", "serve"]
        assert services[service]["command"] == launch.command(name, servers=servers)[2:], service
        assert services[service]["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    api = services["api"]
    env = api["environment"]
    assert env["NIANBAO_LLM__BASE_URL"] == f"http://vllm-answer:{servers['answer']['port']}/v1"
    assert env["NIANBAO_LLM__ADAPTERS_BASE_URL"] == f"http://vllm-base:{servers['base']['port']}/v1"
    assert env["NIANBAO_CHECKPOINT_URL"].startswith("postgresql://") and "@postgres:5432/" in env["NIANBAO_CHECKPOINT_URL"]
    assert {k: v["condition"] for k, v in api["depends_on"].items()} == {
        "postgres": "service_healthy", "vllm-base": "service_healthy", "vllm-answer": "service_healthy"}
    assert (REPO / "deploy" / api["build"]["dockerfile"].split("/", 1)[1]).exists()
    assert "postgres" in services["postgres"]["image"]
