"""``nianbao finetune build-data | train | eval | export | quantize``.

Heavy libraries (torch, transformers, peft, gptqmodel) are imported inside the commands, so the rest of
the CLI starts fast and works without the ``finetune`` extra.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from knowledge.configuration import get_settings
from knowledge.extras import require

app = typer.Typer(help="Fine-tuning data, LoRA adapters (intent / nl2sql / keywords) and quantization.",
                  no_args_is_help=True)


def register(app_: typer.Typer, bench: typer.Typer) -> None:
    """Called by agent/cli.py. ``bench`` is unused: evaluation here needs a trained adapter, so it is
    ``finetune eval`` rather than a benchmark every checkout can run."""
    app_.add_typer(app, name="finetune")


def _home() -> Path:
    return get_settings().home / "finetune"


def _data_dir(path: Path | None) -> Path:
    return path or _home() / "data"


@app.command("build-data")
def build_data(
    out: Annotated[Path | None, typer.Option(help="output directory (default: $NIANBAO_HOME/finetune/data)")] = None,
    registry: Annotated[Path | None, typer.Option(help="company registry: .jsonl or the report-list .xlsx (default: bundled 300-company sample)")] = None,
    bench_dir: Annotated[Path | None, typer.Option(help="challenge question files to exclude (default: shared/bench beside the checkout)")] = None,
    no_bench: Annotated[bool, typer.Option("--no-bench", help="skip the exclusion of challenge questions")] = False,
    seed: Annotated[int, typer.Option()] = 0,
    dev_fraction: Annotated[float, typer.Option(help="share of companies (and company-less questions) held out for dev")] = 0.1,
    store_companies: Annotated[int | None, typer.Option(help="companies in the synthetic store (default: synthetic.toml)")] = None,
    scale: Annotated[float, typer.Option(help="multiply every draw count (smoke runs use less)")] = 1.0,
) -> None:
    """Generate the intent, NL2SQL and keyword data sets and print their figures."""
    # Deferred: loaded only when this command runs, so `nianbao` starts without it.
    from finetune.data.build import build_all
    from finetune.stats import format_stats

    out = _data_dir(out)
    stats = build_all(out, registry=registry, bench_dir=None if no_bench else (bench_dir or "auto"), seed=seed,
                      dev_fraction=dev_fraction, store_companies=store_companies, scale=scale)
    typer.echo(format_stats(stats))
    typer.echo(f"\nwritten to {out}")


@app.command()
def train(
    config: Annotated[str, typer.Argument(help="a table of finetune/configs.toml: intent, nl2sql, keywords, multitask")],
    data: Annotated[Path | None, typer.Option(help="data directory from build-data")] = None,
    out: Annotated[Path | None, typer.Option(help="adapter directory (default: $NIANBAO_HOME/finetune/adapters/CONFIG)")] = None,
    base_model: Annotated[str | None, typer.Option(help="local path of the base model (overrides the config)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a config key: --set lora_r=8 --set target_modules=q_proj,v_proj")] = None,
    limit: Annotated[int | None, typer.Option(help="train on the first N examples only")] = None,
) -> None:
    """Train one LoRA adapter (loss on answer tokens only) and save it with its tokenizer."""
    require("finetune", "nianbao finetune train")
    # Deferred: loaded only when this command runs, so `nianbao` starts without it.
    from finetune.config import load_config, parse_override
    from finetune.train import train as run_train

    overrides = dict(parse_override(item) for item in set_ or [])
    if base_model:
        overrides["base_model"] = base_model
    cfg = load_config(config, overrides)
    out = out or _home() / "adapters" / config
    summary = run_train(cfg, _data_dir(data), out, limit=limit)
    losses = summary["losses"]
    typer.echo(f"trained {summary['examples']} examples, {summary['steps']} steps in {summary['seconds']}s on {summary['device']}; "
               f"skipped over budget: {summary['skipped_over_budget']}")
    if losses:
        typer.echo(f"loss {losses[0]:.4f} → {losses[-1]:.4f}")
    typer.echo(f"adapter: {out}")


@app.command("eval")
def eval_(
    adapter: Annotated[Path, typer.Argument(help="adapter directory from train")],
    data: Annotated[Path | None, typer.Option(help="data directory from build-data")] = None,
    task: Annotated[list[str] | None, typer.Option(help="intent / nl2sql / keywords (default: the adapter's training tasks)")] = None,
    base_model: Annotated[str | None, typer.Option(help="base model path (default: the adapter's own)")] = None,
    limit: Annotated[int | None, typer.Option(help="evaluate the first N dev examples per task")] = None,
    batch_size: Annotated[int, typer.Option()] = 8,
    max_new_tokens: Annotated[int, typer.Option()] = 256,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Intent accuracy, NL2SQL execution accuracy and keyword exact match on the dev split."""
    require("finetune", "nianbao finetune eval")
    # Deferred: loaded only when this command runs, so `nianbao` starts without it.
    from finetune.evaluate import evaluate

    tasks = task or _trained_tasks(adapter)
    report = evaluate(adapter, _data_dir(data), tasks, base_model=base_model, limit=limit,
                      batch_size=batch_size, max_new_tokens=max_new_tokens)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for name, r in report.items():
        headline = {k: v for k, v in r.items() if isinstance(v, (int, float))}
        typer.echo(f"{name}: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in headline.items()))


def _trained_tasks(adapter: Path) -> list[str]:
    summary = adapter / "train_summary.json"
    if summary.exists():
        return json.loads(summary.read_text(encoding="utf-8"))["config"]["tasks"]
    raise typer.BadParameter("the adapter has no train_summary.json: name the tasks with --task")


@app.command()
def export(
    adapter: Annotated[Path, typer.Argument(help="adapter directory from train")],
    name: Annotated[str, typer.Option(help="served model name (settings.llm.intent_model etc.): intent, nl2sql, keywords")],
    out: Annotated[Path | None, typer.Option(help="adapters root for vLLM (default: $NIANBAO_HOME/finetune/export)")] = None,
    merge: Annotated[bool, typer.Option("--merge", help="also write a merged full model (merge_and_unload)")] = False,
    base_model: Annotated[str | None, typer.Option(help="base model path for --merge (default: the adapter's own)")] = None,
) -> None:
    """Copy an adapter under OUT/NAME and print the vLLM flags that serve every adapter there."""
    if merge:
        require("finetune", "nianbao finetune export --merge")
    # Deferred: loaded only when this command runs, so `nianbao` starts without it.
    from finetune.export import export_adapter

    result = export_adapter(adapter, out or _home() / "export", name, merge=merge, base_model=base_model)
    typer.echo(f"adapter: {result['adapter']}")
    if "merged" in result:
        typer.echo(f"merged model: {result['merged']}")
    typer.echo(f"vllm serve BASE_MODEL {result['vllm_args']}")


@app.command()
def quantize(
    model: Annotated[str, typer.Argument(help="local path of the answer model (e.g. Qwen2.5-32B-Instruct)")],
    out: Annotated[Path, typer.Option(help="where the quantized model goes")],
    bits: Annotated[int, typer.Option()] = 4,
    group_size: Annotated[int, typer.Option()] = 128,
    samples: Annotated[int, typer.Option(help="calibration prompts drawn from our question types")] = 256,
    batch_size: Annotated[int, typer.Option()] = 4,
    calibration_only: Annotated[bool, typer.Option("--calibration-only", help="write the calibration chats to OUT as JSONL and stop (no GPU needed)")] = False,
) -> None:
    """GPTQ-quantize the answer model with GPTQModel (needs CUDA and the gpu extra)."""
    # Deferred: loaded only when this command runs, so `nianbao` starts without it.
    from finetune import quantize as q

    if calibration_only:
        from finetune.data.build import write_jsonl

        write_jsonl(out, [{"messages": m} for m in q.calibration_messages(samples)])
        typer.echo(f"{samples} calibration chats written to {out}")
        return
    require("gpu", "nianbao finetune quantize")
    path = q.quantize(model, out, bits=bits, group_size=group_size, n_samples=samples, batch_size=batch_size)
    typer.echo(f"quantized model: {path}")
