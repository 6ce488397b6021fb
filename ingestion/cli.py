"""``nianbao ingest``, ``nianbao import-table`` and ``nianbao bench ingest``; ``agent.cli`` calls
:func:`register`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from knowledge.configuration import get_settings
from knowledge.extras import require

out = Console()
err = Console(stderr=True)

_STYLE = {"ok": "green", "skipped": "yellow", "failed": "red"}


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="PDF files or directories of them")],
    workers: Annotated[int | None, typer.Option(
        "--workers", "-w", min=1, help="worker processes (default 1); with --ray, files in flight at once "
        "(default: the cluster's CPUs)")] = None,
    force: Annotated[bool, typer.Option("--force", help="re-ingest files already in the manifest, and replace the "
                                        "stored report of a company-year by a file of it with other bytes")] = False,
    trust_content: Annotated[bool, typer.Option("--trust-content", help="when a file's name declares another company "
                                                "or year than its pages, store it under its pages' identity "
                                                "(without this, such a file fails)")] = False,
    timeout_s: Annotated[float, typer.Option(
        "--timeout-s", min=0.001, help="per-file time limit in seconds: a file past it is reported failed and its "
        "worker killed and replaced")] = 300.0,
    use_ray: Annotated[bool, typer.Option(
        "--ray", help="extract as tasks on a Ray cluster (the ray extra): the one at --ray-address, else "
        "$RAY_ADDRESS, else a local Ray started for this run; this process writes the database")] = False,
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", metavar="ADDRESS", help="the cluster for --ray (implies it): auto, ray://HOST:PORT or "
        "HOST:PORT")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the batch summary as JSON on stdout "
                                          "(the per-file lines then go to stderr)")] = False,
) -> None:
    """Ingest annual-report PDFs: wide-table rows, provenance and text chunks. Company and year are read from each
    report's pages; the file name is a hint checked against them."""
    # Deferred: loaded only when this command runs, so `nianbao` starts without it.
    from ingestion.batch import collect_pdfs, ingest_paths
    from ingestion.progress import BatchProgress

    use_ray = use_ray or ray_address is not None
    if use_ray:
        require("ray", "nianbao ingest --ray")
    if get_settings().retrieval.embedding_model_dir:  # the chunks go into the dense index too
        require("models", "dense indexing (retrieval.embedding_model_dir)")
    files = collect_pdfs(paths)
    if not files:
        err.print("no PDF files found in: " + ", ".join(map(str, paths)))
        raise typer.Exit(1)
    lines = err if as_json else out
    progress = BatchProgress(len(files), "ray" if use_ray else "processes", workers if use_ray else workers or 1)
    with Progress(TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=lines, transient=True) as bar:
        task = bar.add_task("", total=len(files))

        def on_result(r) -> None:
            progress.add(r)
            # The rates on every line too: a log (CI, nohup) never shows the live bar.
            bar.console.print(f"[{_STYLE[r.status]}]{r.line()}[/]  [dim]{progress.status()}[/]", highlight=False,
                              soft_wrap=True)
            bar.update(task, advance=1, description=progress.status())

        waited: list[str] = []

        def on_wait(message: str) -> None:
            if not waited:  # once a run: another batch on the home may hold the lock before every report
                err.print(f"[yellow]{message}[/]", highlight=False)
            waited.append(message)

        common = {"force": force, "trust_content": trust_content, "on_result": on_result, "timeout_s": timeout_s,
                  "on_wait": on_wait}
        if use_ray:
            # Deferred: the ray extra, only for a run on Ray.
            from ingestion.ray_batch import ingest_paths_ray

            ingest_paths_ray(get_settings(), files, address=ray_address, max_in_flight=workers, **common)
        else:
            ingest_paths(get_settings(), files, workers=workers or 1, **common)
    lines.print(progress.closing_line(), highlight=False)
    if as_json:
        typer.echo(json.dumps(progress.summary(), ensure_ascii=False, default=str))
    if progress.counts["failed"]:
        raise typer.Exit(1)


def import_table(
    files: Annotated[list[Path], typer.Argument(help="xlsx or csv wide tables")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="let imported values replace extracted ones")] = False,
    column_map: Annotated[Path | None, typer.Option("--column-map", help="JSON file: raw column → field or role")] = None,
) -> None:
    """Import pre-extracted wide tables (the community workbooks, or CSV with a column map)."""
    # Deferred: loaded only when this command runs, so `nianbao` starts without it.
    from ingestion.import_table import import_tables
    from knowledge.store import Store

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        err.print("not found: " + ", ".join(missing))
        raise typer.Exit(1)
    mapping = json.loads(column_map.read_text(encoding="utf-8")) if column_map else None
    settings = get_settings()
    settings.ensure_home()
    report = import_tables(Store(settings.db_url), files, overwrite=overwrite, column_map=mapping)
    out.print(report.summary() if hasattr(report, "summary") else str(report))


def bench_ingest(
    paths: Annotated[list[Path], typer.Argument(help="PDF files or directories")],
    workers: Annotated[int, typer.Option("--workers", "-w", min=1)] = 1,
    repeat: Annotated[int, typer.Option("--repeat", "-r", min=1, help="runs, each with its own floor; "
                                        "the medians of their ratios are printed last")] = 1,
) -> None:
    """Seconds per report, pages/s and peak memory per worker, against the page-text floor."""
    # Deferred: loaded only when this command runs, so `nianbao` starts without it.
    from ingestion.bench import median_lines, run_bench

    runs = []
    for _ in range(repeat):
        report = run_bench(paths, workers=workers)
        for line in report.lines():
            out.print(line, highlight=False, soft_wrap=True)
        if not report.ok:
            raise typer.Exit(1)
        runs.append(report)
    if repeat > 1:
        for line in median_lines(runs):
            out.print(line, highlight=False, soft_wrap=True)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("import-table")(import_table)
    bench.command("ingest")(bench_ingest)
