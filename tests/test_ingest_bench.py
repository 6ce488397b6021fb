"""The ingestion benchmark's arithmetic: ratios against the floor, and their medians over repeated runs."""

from __future__ import annotations

from ingestion.bench import BenchReport, median_lines
from ingestion.pipeline import IngestResult


def _run(cpu_a: float, cpu_b: float, floor: float = 1.0) -> BenchReport:
    results = [IngestResult(p, "ok", pages=100, seconds=cpu, timings={"cpu_s": cpu, "write_cpu_s": 0.0})
               for p, cpu in (("a.pdf", cpu_a), ("b.pdf", cpu_b))]
    return BenchReport(2, 200, 1, 2 * floor, 0.0, results, {"a.pdf": floor, "b.pdf": floor},
                       {"a.pdf": floor, "b.pdf": floor})


def test_one_runs_ratios():
    run = _run(2.0, 4.0)
    assert run.ratio == 3.0 and [run.cpu_ratio(r) for r in run.ok] == [2.0, 4.0]


def test_medians_over_runs_judge_each_report():
    line, = median_lines([_run(2.0, 2.5), _run(3.5, 2.9), _run(2.8, 2.0)])
    assert "ratio ingestion/floor 2.4x" in line and "a.pdf 2.8x" in line and "b.pdf 2.5x" in line
    assert line.endswith("all OK")
    line, = median_lines([_run(2.0, 3.4), _run(2.0, 3.2), _run(2.0, 2.0)])
    assert "b.pdf 3.2x" in line and line.endswith("OVER TARGET")
