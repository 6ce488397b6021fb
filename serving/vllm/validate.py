"""Validate ``vllm serve`` arguments: with vLLM's own parser when vllm is installed, else ``flags.toml``."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

FLAGS = Path(__file__).with_name("flags.toml")


def schema() -> dict[str, Any]:
    with open(FLAGS, "rb") as fh:
        return tomllib.load(fh)


def split(args: list[str]) -> dict[str, list[str]]:
    """``--flag v1 v2 --bool`` → {"flag": ["v1", "v2"], "bool": []}; a repeated flag is an error upstream."""
    out: dict[str, list[str]] = {}
    current = None
    for arg in args:
        if arg.startswith("--"):
            current = arg[2:]
            if current in out:
                raise ValueError(f"--{current} given twice")
            out[current] = []
        elif current is None:
            raise ValueError(f"value {arg!r} before any flag")
        else:
            out[current].append(arg)
    return out


def _number(kind: str, raw: str):
    return int(raw) if kind == "int" else float(raw)


def check_schema(args: list[str]) -> list[str]:
    """Problems with ``args`` (the flags after ``vllm serve MODEL``) by the schema; empty when valid."""
    spec, problems = schema(), []
    flags = spec["flags"]
    try:
        given = split(args)
    except ValueError as exc:
        return [str(exc)]
    for name, values in given.items():
        rule = flags.get(name)
        if rule is None:
            problems.append(f"--{name}: not a known vLLM flag")
            continue
        kind = rule["type"]
        if kind == "bool":
            if values:
                problems.append(f"--{name} takes no value")
            continue
        if kind != "list" and len(values) != 1:
            problems.append(f"--{name} takes exactly one value, got {values}")
            continue
        if kind in ("int", "float"):
            try:
                number = _number(kind, values[0])
            except ValueError:
                problems.append(f"--{name}: {values[0]!r} is not {kind}")
                continue
            if "min" in rule and number < rule["min"]:
                problems.append(f"--{name}: {number} < {rule['min']}")
            if "max" in rule and number > rule["max"]:
                problems.append(f"--{name}: {number} > {rule['max']}")
            if "choices" in rule and number not in rule["choices"]:
                problems.append(f"--{name}: {number} not in {rule['choices']}")
        elif kind == "str":
            if "choices" in rule and values[0] not in rule["choices"]:
                problems.append(f"--{name}: {values[0]!r} not in {rule['choices']}")
        elif kind == "list":
            if not values:
                problems.append(f"--{name} needs at least one value")
            pattern = rule.get("item_pattern")
            for value in values:
                if pattern and not re.match(pattern, value):
                    problems.append(f"--{name}: {value!r} does not match {pattern}")
        elif kind == "json":
            problems += _check_json(name, values[0], rule, spec)
    if "enable-lora" not in given and any(k in given for k in ("lora-modules", "max-loras", "max-lora-rank")):
        problems.append("LoRA flags without --enable-lora")
    if "tool-call-parser" in given and "enable-auto-tool-choice" not in given:
        problems.append("--tool-call-parser without --enable-auto-tool-choice")
    return problems


def _check_json(name: str, raw: str, rule: dict, spec: dict) -> list[str]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return [f"--{name}: not JSON: {exc}"]
    if not isinstance(value, dict):
        return [f"--{name}: must be a JSON object"]
    problems = [f"--{name}: missing {k!r}" for k in rule.get("required_keys", []) if k not in value]
    types = {"str": str, "int": int}
    for key, val in value.items():
        expected = rule.get("keys", {}).get(key)
        if expected is None:
            problems.append(f"--{name}: unknown key {key!r}")
        elif not isinstance(val, types[expected]) or isinstance(val, bool):
            problems.append(f"--{name}: {key!r} must be {expected}")
    if name == "speculative-config":
        if value.get("method") not in spec["speculative_methods"]["choices"]:
            problems.append(f"--{name}: method {value.get('method')!r} unknown")
        if value.get("method") == "draft_model" and not value.get("model"):
            problems.append(f"--{name}: a draft_model method needs a draft 'model'")
        if not 1 <= value.get("num_speculative_tokens", 0) <= 16:
            problems.append(f"--{name}: num_speculative_tokens should be 1..16")
    return problems


def vllm_parser():
    """vLLM's own `serve` argument parser, or None when vllm is not importable."""
    try:
        from vllm.entrypoints.openai.cli_args import make_arg_parser
    except ImportError:
        return None
    try:
        from vllm.utils.argparse_utils import FlexibleArgumentParser
    except ImportError:
        from vllm.utils import FlexibleArgumentParser
    return make_arg_parser(FlexibleArgumentParser())


def check(model: str, args: list[str]) -> tuple[str, list[str]]:
    """(how it was checked, problems): vLLM's parser when available, else the schema."""
    parser = vllm_parser()
    if parser is None:
        return "schema", check_schema(args)
    try:
        parser.parse_args(["--model", model, *args])
    except SystemExit as exc:
        return "vllm", [f"vLLM's parser rejected the arguments (exit {exc.code})"]
    return "vllm", []
