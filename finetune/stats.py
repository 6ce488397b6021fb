"""The data figures for the note: counts per class and per SQL pattern, duplicate rates, a sample."""

from __future__ import annotations

import json
from pathlib import Path


def load_stats(data_dir: Path) -> dict:
    return json.loads((Path(data_dir) / "stats.json").read_text(encoding="utf-8"))


def format_stats(stats: dict, samples: bool = True) -> str:
    lines = [
        f"registry: {stats['registry']} ({stats['companies']} companies); synthetic store: "
        f"{stats['store']['company_years']} company-years {stats['store']['years']}",
        f"challenge questions excluded: {stats['bench_questions']} from {stats['bench_dir'] or '(none found: exclusion skipped)'}",
    ]
    for task, s in stats["tasks"].items():
        lines.append(
            f"\n[{task}] generated {s['generated']}, duplicates {s['duplicates']} ({s['duplicate_rate']:.2%}), "
            f"equal to a challenge question {s['bench_overlap_removed']}, kept {s['unique']} → train {s['train']} / dev {s['dev']}"
        )
        if s.get("rejected_no_rows"):
            lines.append(f"  dropped because the target returned no rows: {s['rejected_no_rows']}")
        lines.append("  " + ("per pattern: " if task == "nl2sql" else "per class: ")
                     + ", ".join(f"{k} {v}" for k, v in s["per_class"].items()))
        lines.append("  paraphrase rules: " + ", ".join(f"{k} {v}" for k, v in s["rules"].items()))
        if samples:
            for turn in s["sample"][:2]:
                user = turn[0]["content"].split("\n问题：")[-1]
                lines.append(f"  e.g. {user}  ⇒  {turn[1]['content']}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(format_stats(load_stats(Path(sys.argv[1]))))
