"""``nianbao eval GOLD.jsonl [--out PRED.jsonl] [--limit N] [--direct]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from knowledge.configuration import get_settings


def register(app: typer.Typer, bench: typer.Typer) -> None:
    @app.command("eval")
    def eval_command(
        gold: Path = typer.Argument(..., exists=True, dir_okay=False, help="gold JSONL (question, type, prompt, answer)"),
        out: Optional[Path] = typer.Option(None, "--out", help="write one prediction per line here"),
        limit: Optional[int] = typer.Option(None, "--limit", help="only the first N questions"),
        direct: bool = typer.Option(False, "--direct", help="the deterministic structured path, not the graph"),
        report_json: Optional[Path] = typer.Option(None, "--report-json", help="write the summary as JSON"),
    ) -> None:
        """Answer every question of a gold file and print the challenge-style scores."""
        # Deferred: the evaluator loads the whole agent; registering the command must not.
        from agent.evaluation import default_answerer, evaluate, format_report, load_jsonl
        from knowledge.store import Store

        settings = get_settings()
        items = load_jsonl(gold)[: limit or None]
        answer = default_answerer(settings, direct=direct)
        store = Store(settings.db_url)
        fh = out.open("w", encoding="utf-8") if out else None
        try:
            report = evaluate(items, answer, store=store,
                              on_prediction=(lambda r: fh.write(json.dumps(r, ensure_ascii=False) + "\n")) if fh else None)
        finally:
            if fh:
                fh.close()
        typer.echo(format_report(report))
        if report_json:
            report_json.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
