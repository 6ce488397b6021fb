"""The ``nianbao`` command line.

This module owns the Typer app and the question commands (ask, chat, show). Packages with commands
of their own expose ``register(app, bench)`` in their ``cli.py`` and are listed in COMMAND_MODULES.
:func:`main` is the console script: a command whose optional extra is missing prints the install
command and exits 2.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent import eval_cli
from finetune import cli as finetune_cli
from ingestion import cli as ingestion_cli
from knowledge.configuration import get_settings
from knowledge.extras import EXIT_CODE, MissingExtra
from knowledge.local_server import running_server
from serving import cli as serving_cli

app = typer.Typer(help="nianbao 年报问答: questions over Chinese A-share annual reports.", no_args_is_help=True)
bench = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
app.add_typer(bench, name="bench")

out = Console()
err = Console(stderr=True)

COMMAND_MODULES = (ingestion_cli, eval_cli, serving_cli, finetune_cli)


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str)


# A local server answers in milliseconds; one that takes longer than a turn's deadline is stuck.
SERVER_TIMEOUT_S = 60.0


def _ask_server(url: str, question: str, thread: str | None) -> dict[str, Any] | None:
    """The local API's ``/v1/ask`` answer, or None (then the question is answered in-process): the
    server is unreachable, refuses the request, or fails."""
    import urllib.error
    import urllib.request

    body = json.dumps({"question": question, **({"thread_id": thread} if thread else {})}).encode()
    headers = {"Content-Type": "application/json"}
    if key := os.environ.get("NIANBAO_API_KEY"):
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(f"{url}/v1/ask", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=SERVER_TIMEOUT_S) as response:
            return json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        err.print(f"本地服务 {url} 未能回答（{exc}），改为在本进程中回答。")
        return None


def _print_answer(result: dict[str, Any]) -> None:
    out.print(result.get("answer") or "", soft_wrap=True)
    for citation in result.get("citations") or []:
        text = (citation.get("text") or "").replace("\n", " ")
        if citation.get("page") is None:  # a glossary definition, not a report page
            out.print(f"[dim]出处：术语表「{citation.get('term') or ''}」[/dim]", soft_wrap=True)
            continue
        source = citation.get("file") or ""
        out.print(f"[dim]出处：第{citation.get('page')}页 {text[:80]}  {source}[/dim]", soft_wrap=True)
    if result.get("formula"):
        f = result["formula"]
        out.print(f"[dim]公式：{f.get('expression')}[/dim]")
    if result.get("fallback_reason"):
        out.print(f"[dim]（确定性路径作答：{result['fallback_reason']}）[/dim]")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="问题，如 四方科技2019年的货币资金是多少元？")],
    thread: Annotated[str | None, typer.Option("--thread", help="会话 ID：同一 ID 的提问共享上下文")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出一个 JSON 对象")] = False,
    local: Annotated[bool, typer.Option("--local", help="在本进程中回答，不使用正在运行的 nianbao serve")] = False,
) -> None:
    """Answer one question (on the bundled sample report when nothing has been ingested). When a local
    `nianbao serve` runs on the same home, it answers (no agent to load here: a fraction of a second)."""
    settings = get_settings()
    url = None if local else running_server(settings.home)
    result = _ask_server(url, question, thread) if url else None
    if result is None:
        # Deferred: LangGraph and SQLAlchemy cost a second or more of imports; `nianbao --help` needs neither.
        from agent.service import ask as run_ask

        result = run_ask(question, thread_id=thread, settings=settings, notify=lambda m: err.print(m))
    if as_json:
        print(_dump(result))
    else:
        _print_answer(result)


@app.command()
def chat(
    thread: Annotated[str | None, typer.Option("--thread", help="继续已有会话")] = None,
) -> None:
    """Interactive chat on one thread, streaming the answers. Empty line or Ctrl-D ends it."""
    # Deferred: LangGraph and SQLAlchemy cost a second or more of imports; `nianbao --help` needs neither.
    from agent.service import ask_stream

    settings = get_settings()
    thread = thread or uuid.uuid4().hex[:12]
    err.print(f"会话 {thread}（空行或 Ctrl-D 结束）")
    while True:
        try:
            question = input("问> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        final: dict[str, Any] = {}
        for event in ask_stream(question, thread_id=thread, settings=settings, notify=lambda m: err.print(m)):
            if event["type"] == "token":
                sys.stdout.write(event["text"])
                sys.stdout.flush()
            elif event["type"] == "reset":  # the model's partial answer is withdrawn
                sys.stdout.write("\n（以下为确定性答案）\n")
            elif event["type"] == "final":
                final = event["result"]
        sys.stdout.write("\n")
        for citation in final.get("citations") or []:
            out.print(f"[dim]出处：第{citation.get('page')}页[/dim]")


@app.command()
def show(
    company: Annotated[str, typer.Argument(help="股票代码、公司全称或简称")],
    year: Annotated[int, typer.Argument(help="年份，如 2019")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print one wide-table row with the provenance of each value."""
    # Deferred: LangGraph and SQLAlchemy cost a second or more of imports; `nianbao --help` needs neither.
    from ingestion.audit import stored_summary
    from knowledge.store import store_for

    store = store_for(get_settings())
    match = _find_company(store, company)
    if match is None:
        err.print(f"未查询到公司：{company}")
        raise typer.Exit(1)
    row = store.row(match.code, year)
    if row is None:
        err.print(f"未查询到 {match.short_name or match.full_name} {year} 年的数据")
        raise typer.Exit(1)
    provenance: dict[str, dict] = {}
    for p in store.provenance(match.code, year):
        provenance.setdefault(p["field"], p)  # best source first
    fields = store.fields
    audit = store.audit(match.code, year)  # the report's self-audit: its accounting identities
    if as_json:
        print(_dump({
            "company": {"code": match.code, "name": match.full_name, "short_name": match.short_name},
            "year": year,
            "values": {
                name: {
                    "value": value,
                    "unit": fields[name].unit,
                    "source": provenance.get(name, {}).get("source"),
                    "page": provenance.get(name, {}).get("page"),
                    "file": provenance.get(name, {}).get("file_name"),
                    "raw_label": provenance.get(name, {}).get("raw_label"),
                    "raw_text": provenance.get(name, {}).get("raw_text"),
                    "audit": provenance.get(name, {}).get("audit"),
                }
                for name, value in row.items()
            },
            "audit": [{k: r[k] for k in ("identity", "column_name", "statement", "status", "fields", "total",
                                         "computed", "difference", "tolerance", "file_name")} for r in audit],
        }))
        return
    table = Table(title=f"{match.short_name or match.full_name}（{match.code}）{year} 年")
    for col in ("字段", "值", "来源", "页", "恒等式"):
        table.add_column(col)
    for name, value in row.items():
        p = provenance.get(name, {})
        table.add_row(name, str(value), p.get("source") or "", str(p.get("page") or ""), "✗" if p.get("audit") else "")
    out.print(table)
    for line in stored_summary(audit):
        out.print(line, highlight=False, soft_wrap=True, style="red" if line.startswith("✗") else None)


def _find_company(store, text: str):
    text = text.strip()
    for c in store.companies():
        if text in (c.code, c.full_name, c.short_name) or text in c.aliases:
            return c
    return None


for _module in COMMAND_MODULES:
    _module.register(app, bench)


def main(argv: list[str] | None = None) -> None:
    """``nianbao``: the app, with a missing optional extra reported as one line (exit 2)."""
    try:
        app(args=argv, prog_name="nianbao")
    except MissingExtra as exc:
        err.print(str(exc), style="red", markup=False, highlight=False)
        sys.exit(EXIT_CODE)
