"""Loading and checking the analyst set's JSON Lines files (the format is in benchmarks/analyst/README.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.analyst.judge import EXPECT_UNITS

FOLDER = Path(__file__).resolve().parent

KINDS = ("statement", "indicator", "quarterly", "bank", "ratio", "growth", "prior_year", "unit", "naming",
         "no_year", "wrapper", "basic_info", "staff", "open", "refusal")
TAGS = ("code", "english", "no_year", "short_year", "relative_year", "colloquial", "unit", "wrapper", "formal",
        "prior_column")
CONVERSATION = "conversation"  # the --only value that selects the conversations

_QUESTION_KEYS = {"id", "kind", "q", "expect", "source", "tags", "note"}
_TURN_KEYS = {"q", "expect", "source", "kind", "tags", "note"}
_EXPECT_KEYS = {"number", "unit", "places", "year", "text_any", "text_all", "text_none", "refuse"}


def load_jsonl(path: Path) -> list[dict]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            raise ValueError(f"{path.name}:{n}: blank line")
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name}:{n}: {exc}") from exc
    return items


def question_files(folder: Path = FOLDER) -> list[Path]:
    return sorted(folder.glob("questions_*.jsonl"))


def conversation_files(folder: Path = FOLDER) -> list[Path]:
    return sorted(folder.glob("conversations_*.jsonl"))


def file_code(path: Path) -> str:
    """The stock code in a file's name: questions_603339_2019.jsonl → 603339."""
    m = re.match(r"(?:questions|conversations)_(\d{6})_(\d{4})\.jsonl$", path.name)
    if not m:
        raise ValueError(f"{path.name}: not questions_<code>_<year>.jsonl or conversations_<code>_<year>.jsonl")
    return m.group(1)


def expect_problems(expect: object) -> list[str]:
    """What is wrong with one ``expect`` object ([] when it is valid)."""
    if not isinstance(expect, dict):
        return ["expect is not an object"]
    problems = [f"unknown expect key {k!r}" for k in expect if k not in _EXPECT_KEYS]
    forms = [f for f in ("number", "refuse") if f in expect] + (
        ["text"] if "text_any" in expect or "text_all" in expect else [])
    if len(forms) != 1:
        return [*problems, f"expect needs exactly one of number / text_any|text_all / refuse, has {forms}"]
    if "number" in expect:
        if not isinstance(expect["number"], (int, float)) or isinstance(expect["number"], bool):
            problems.append("number is not a number")
        if expect.get("unit") not in EXPECT_UNITS:
            problems.append(f"unit {expect.get('unit')!r} is not one of {sorted(EXPECT_UNITS)}")
        if "places" in expect and (not isinstance(expect["places"], int) or not 0 <= expect["places"] <= 6):
            problems.append("places is not an integer 0..6")
    elif "unit" in expect or "places" in expect:
        problems.append("unit / places belong to a number expectation")
    if "refuse" in expect and (expect["refuse"] is not True or len(expect) != 1):
        problems.append("a refusal expectation is exactly {\"refuse\": true}")
    for key in ("text_any", "text_all", "text_none"):
        if key in expect and (not isinstance(expect[key], list) or not expect[key]
                              or not all(isinstance(p, str) and p.strip() for p in expect[key])):
            problems.append(f"{key} is not a list of phrases")
    if "text_none" in expect and "text" not in forms:
        problems.append("text_none goes with text_any / text_all")
    if "year" in expect and (not isinstance(expect["year"], int) or not 1990 <= expect["year"] <= 2100):
        problems.append("year is not a year")
    return problems


def _item_problems(item: dict, keys: set[str], where: str, *, kind_required: bool) -> list[str]:
    problems = [f"{where}: unknown key {k!r}" for k in item if k not in keys]
    for key in ("q", "source"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            problems.append(f"{where}: {key} missing or empty")
    if (kind_required or "kind" in item) and item.get("kind") not in KINDS:
        problems.append(f"{where}: kind {item.get('kind')!r} is not one of {KINDS}")
    tags = item.get("tags", [])
    if not isinstance(tags, list) or any(t not in TAGS for t in tags):
        problems.append(f"{where}: tags {tags!r} not a list of {TAGS}")
    problems += [f"{where}: {p}" for p in expect_problems(item.get("expect"))]
    return problems


def check_folder(folder: Path = FOLDER) -> list[str]:
    """Every format problem of the folder's files: ids unique over the folder, kinds and tags known, every
    expect valid, 3 to 5 turns per conversation."""
    problems: list[str] = []
    seen: set[str] = set()

    def new_id(value: object, pattern: str, where: str) -> None:
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            problems.append(f"{where}: id {value!r} does not match {pattern}")
        elif value in seen:
            problems.append(f"{where}: id {value!r} is used twice")
        seen.add(str(value))

    for path in question_files(folder):
        code = file_code(path)
        for n, item in enumerate(load_jsonl(path), 1):
            where = f"{path.name}:{n}"
            new_id(item.get("id"), rf"{code}-\d{{3}}", where)
            problems += _item_problems(item, _QUESTION_KEYS, where, kind_required=True)
    for path in conversation_files(folder):
        code = file_code(path)
        for n, conv in enumerate(load_jsonl(path), 1):
            where = f"{path.name}:{n}"
            new_id(conv.get("id"), rf"{code}-c\d{{2}}", where)
            problems += [f"{where}: unknown key {k!r}" for k in conv if k not in {"id", "turns", "note"}]
            turns = conv.get("turns")
            if not isinstance(turns, list) or not 3 <= len(turns) <= 5:
                problems.append(f"{where}: turns must be a list of 3 to 5")
                continue
            for t, turn in enumerate(turns, 1):
                problems += _item_problems(turn, _TURN_KEYS, f"{where} turn {t}", kind_required=False)
    return problems
