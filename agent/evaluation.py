"""Scoring answers against the challenge's gold files (finglm-*-answers.jsonl).

Per question, as the challenge scored it: 0 when the key value (for refusal questions: a refusal
word) is absent from the answer; otherwise 0.25 + 0.5 × similarity to the closest reference answer,
+ 0.25 when the field names and the year also appear. Types 3-1 and 3-2: similarity alone. Commas
and spaces are removed before matching.

Similarity stand-in: the challenge used a sentence-embedding model; offline we use the F1 of
character bigrams between the answer and each reference (max over references). It rewards the same
wording and figures and is stable, but it is not the challenge's number — compare runs with each other,
not with leaderboard scores.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

from agent.service import ask
from agent.structured import ask_structured
from knowledge.fields import field_dictionary
from knowledge.store import Store

REFUSAL_KEY = "无|不|没有|未|否|非|莫|抱歉|毋"
REFUSAL_WORDS = tuple(REFUSAL_KEY.split("|"))
META_KEYS = {"ent_short_name", "ent_name", "year", "key_word", "prom_answer", "公式"}
STRUCTURED_TYPES = ("1", "1-2", "2-1", "2-2")
# Which intents count as right for each type label.
TYPE_INTENTS = {
    "1": ("基本信息", "员工信息", "财务报表"),
    "1-2": ("基本信息", "员工信息", "财务报表"),
    "2-1": ("计算题",),
    "2-2": ("统计题",),
    "3-1": ("开放性问题",),
    "3-2": ("金融概念",),
}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def load_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def clean(text: str) -> str:
    return re.sub(r"[\s,，]", "", unicodedata.normalize("NFKC", text or ""))


def bigram_f1(a: str, b: str) -> float:
    ga, gb = Counter(a[i:i + 2] for i in range(len(a) - 1)), Counter(b[i:i + 2] for i in range(len(b) - 1))
    overlap = sum((ga & gb).values())
    if not overlap:
        return 0.0
    p, r = overlap / sum(ga.values()), overlap / sum(gb.values())
    return 2 * p * r / (p + r)


def similarity(answer: str, references: list[str]) -> float:
    a = clean(answer)
    return max((bigram_f1(a, clean(r)) for r in references), default=0.0)


def is_refusal_question(item: dict) -> bool:
    return (item.get("prompt") or {}).get("key_word") == REFUSAL_KEY


def has_refusal_word(answer: str) -> bool:
    """The challenge's test for refusal questions: any refusal word anywhere (不相同 and 非流动 count)."""
    return any(w in (answer or "") for w in REFUSAL_WORDS)


# Our own, stricter test of whether an answer declines: the refusal templates' openings.
REFUSAL_MARKERS = ("未查询到", "无法回答", "抱歉", "未能回答", "未识别到")


def is_refusal(answer: str) -> bool:
    return any(m in (answer or "") for m in REFUSAL_MARKERS)


def needed_values(item: dict) -> dict[str, str]:
    """The labelled values a structured question needs, from its prompt (label -> value text)."""
    prompt = item.get("prompt") or {}
    return {k: str(v) for k, v in prompt.items() if k not in META_KEYS}


def key_values(item: dict) -> list[str]:
    """What must appear in the answer: the looked-up values (types 1, 1-2) or the result (2-1, 2-2)."""
    prompt = item.get("prompt") or {}
    if item.get("type") in ("2-1", "2-2"):
        return [str(prompt.get("prom_answer", ""))]
    words = [w for w in str(prompt.get("key_word", "")).split("、") if w]
    return [str(prompt[w]) for w in words if w in prompt] or [str(prompt.get("prom_answer", ""))]


def _as_number(text: str) -> Decimal | None:
    text = text.strip().removesuffix("元").removesuffix("%").removesuffix("人")
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def value_in_answer(value: str, answer: str) -> bool:
    """Text containment after cleaning, or — for numbers — an equal number in the answer."""
    a, v = clean(answer), clean(value)
    if v in ("相同", "不相同"):
        differs = "不相同" in a or "不同" in a
        return differs if v == "不相同" else ("相同" in a and not differs)
    if v.removesuffix("元") and v.removesuffix("元") in a:
        return True
    number = _as_number(v)
    if number is None:
        return False
    return any(Decimal(m) == number for m in _NUMBER.findall(a))


def key_value_hit(item: dict, answer: str) -> bool:
    if is_refusal_question(item):
        return has_refusal_word(answer)
    values = key_values(item)
    return bool(values) and all(value_in_answer(v, answer) for v in values)


def names_and_year_present(item: dict, answer: str) -> bool:
    prompt = item.get("prompt") or {}
    a = clean(answer)
    words = [re.sub(r"^\d{4}年", "", w) for w in str(prompt.get("key_word", "")).split("、") if w]
    year = str(prompt.get("year", ""))
    return all(w in a for w in words) and (not year or year in a)


def challenge_score(item: dict, answer: str) -> float:
    refs = item.get("answer") or []
    if item.get("type") in ("3-1", "3-2"):
        return similarity(answer, refs)
    if not key_value_hit(item, answer):
        return 0.0
    score = 0.25 + 0.5 * similarity(answer, refs)
    if is_refusal_question(item) or names_and_year_present(item, answer):
        score += 0.25
    return score


# Is the data present in the store? ---------------------------------------------------------------
class Presence:
    """Whether every value a question needs exists in the store for its company-year and equals the
    value in the question's prompt (上年X is X of the prior year; 2019年X is X of 2019)."""

    def __init__(self, store):
        self.store = store
        self.fields = field_dictionary()
        by_full, by_short = {}, {}
        for c in store.companies():
            by_full[c.full_name] = c.code
            if c.short_name:
                by_short.setdefault(c.short_name, c.code)
            for alias in c.aliases:
                by_full.setdefault(alias, c.code)
        self.by_full, self.by_short = by_full, by_short
        self._rows: dict[tuple[str, int], dict] = {}

    def code(self, item: dict) -> str | None:
        prompt = item.get("prompt") or {}
        return self.by_full.get(prompt.get("ent_name", "")) or self.by_short.get(prompt.get("ent_short_name", ""))

    def row(self, code: str, year: int) -> dict:
        key = (code, year)
        if key not in self._rows:
            self._rows[key] = self.store.row(code, year) or {}
        return self._rows[key]

    def present(self, item: dict) -> bool:
        if item.get("type") not in STRUCTURED_TYPES or is_refusal_question(item):
            return False
        prompt = item.get("prompt") or {}
        code = self.code(item)
        year = int(prompt.get("year") or 0)
        needed = needed_values(item)
        if not code or not year or not needed:
            return False
        for label, expected in needed.items():
            y = year
            if m := re.match(r"^(\d{4})年", label):
                y, label = int(m.group(1)), label[m.end():]
            if label.startswith("上年"):
                y, label = y - 1, label[2:]
            fdef = self.fields.resolve(label)
            if fdef is None:
                return False
            have = self.row(code, y).get(fdef.name)
            if have is None or not _same(have, expected):
                return False
        return True


def _same(have: Any, expected: str) -> bool:
    if isinstance(have, str):
        return clean(have) == clean(expected)
    want = _as_number(expected)
    return want is not None and Decimal(str(have)) == want


# The run -------------------------------------------------------------------------------------------
@dataclass
class EvalReport:
    n: int = 0
    per_type: dict[str, dict[str, Any]] = field(default_factory=dict)
    refusal: dict[str, int] = field(default_factory=dict)
    intent_accuracy: float = 0.0
    intent_confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return values[k]


def evaluate(items: list[dict], answer_fn: Callable[[str], dict], *, store=None,
             on_prediction: Callable[[dict], None] | None = None) -> EvalReport:
    """Answer every question and score it. ``answer_fn(question) -> ask dict`` (answer, intent, …)."""
    presence = Presence(store) if store is not None else None
    rows = []
    for item in items:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            out = answer_fn(item["question"])
            error = None
        except Exception as exc:  # a crash is scored as an empty answer and counted
            out, error = {"answer": "", "intent": None}, f"{type(exc).__name__}: {exc}"
        ms = (time.perf_counter() - start) * 1000
        cpu_ms = (time.process_time() - cpu) * 1000  # wall time on a shared machine includes waiting for a core
        answer = out.get("answer") or ""
        t = str(item.get("type", ""))
        row = {
            "id": item.get("id"), "type": t, "question": item["question"], "answer": answer,
            "intent": out.get("intent"), "latency_ms": round(ms, 2), "cpu_ms": round(cpu_ms, 2), "error": error,
            "refusal_expected": is_refusal_question(item), "refused": is_refusal(answer),
            "key_value_hit": key_value_hit(item, answer) if t in STRUCTURED_TYPES else None,
            "score": round(challenge_score(item, answer), 4) if item.get("answer") else None,
            "present": presence.present(item) if presence else None,
        }
        rows.append(row)
        if on_prediction:
            on_prediction(row)
    return summarize(rows)


def summarize(rows: list[dict]) -> EvalReport:
    report = EvalReport(n=len(rows))
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_type[r["type"]].append(r)
    for t, rs in sorted(by_type.items()):
        scored = [r["score"] for r in rs if r["score"] is not None]
        entry: dict[str, Any] = {"n": len(rs), "score": round(statistics.mean(scored), 4) if scored else None}
        if t in STRUCTURED_TYPES:
            answerable = [r for r in rs if not r["refusal_expected"]]
            present = [r for r in answerable if r["present"]]
            entry["key_value_hit"] = _rate([r["key_value_hit"] for r in answerable])
            entry["present"] = len(present)
            entry["key_value_hit_present"] = _rate([r["key_value_hit"] for r in present])
            entry["misses_present"] = [r["id"] for r in present if not r["key_value_hit"]][:20]
        report.per_type[t] = entry
    expected = [r for r in rows if r["refusal_expected"]]
    present = [r for r in rows if r["present"]]
    report.refusal = {
        "expected": len(expected),
        "refused": sum(r["refused"] for r in expected),
        "false_refusals_on_present": sum(r["refused"] for r in present),
    }
    typed = [r for r in rows if r["type"] in TYPE_INTENTS]
    ok = [r["intent"] in TYPE_INTENTS[r["type"]] for r in typed]
    report.intent_accuracy = round(sum(ok) / len(ok), 4) if ok else 0.0
    confusion: dict[str, Counter] = defaultdict(Counter)
    for r in typed:
        confusion[r["type"]][str(r["intent"])] += 1
    report.intent_confusion = {t: dict(c) for t, c in sorted(confusion.items())}
    structured = [r for r in rows if r["type"] in STRUCTURED_TYPES]
    report.coverage = {
        "structured": len(structured),
        "present": sum(1 for r in structured if r["present"]),
        "share": round(sum(1 for r in structured if r["present"]) / len(structured), 4) if structured else 0.0,
    }
    lat = [r["latency_ms"] for r in rows]
    lat_s = [r["latency_ms"] for r in structured]
    cpu_s = [r.get("cpu_ms", 0.0) for r in structured]
    report.latency_ms = {"p50": round(percentile(lat, 50), 2), "p95": round(percentile(lat, 95), 2),
                         "structured_p50": round(percentile(lat_s, 50), 2),
                         "structured_p95": round(percentile(lat_s, 95), 2),
                         "structured_cpu_p50": round(percentile(cpu_s, 50), 2),
                         "structured_cpu_p95": round(percentile(cpu_s, 95), 2)}
    report.errors = sum(1 for r in rows if r["error"])
    return report


def _rate(flags: list) -> float | None:
    flags = [bool(f) for f in flags if f is not None]
    return round(sum(flags) / len(flags), 4) if flags else None


def format_report(report: EvalReport) -> str:
    lines = [f"questions: {report.n}   errors: {report.errors}"]
    lines.append(f"{'type':<6}{'n':>6}{'score':>8}{'kv-hit':>8}{'present':>9}{'kv-hit|present':>16}")
    for t, e in report.per_type.items():
        def f(x):
            return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)
        lines.append(f"{t:<6}{e['n']:>6}{f(e['score']):>8}{f(e.get('key_value_hit')):>8}"
                     f"{f(e.get('present')):>9}{f(e.get('key_value_hit_present')):>16}")
    r = report.refusal
    lines.append(f"refusals: {r['refused']}/{r['expected']} refusal questions refused; "
                 f"{r['false_refusals_on_present']} refusals where the data is present")
    lines.append(f"intent accuracy: {report.intent_accuracy:.4f}")
    c = report.coverage
    lines.append(f"coverage (data present, types 1/1-2/2-1/2-2): {c['present']}/{c['structured']} = {c['share']:.2%}")
    lat = report.latency_ms
    lines.append(f"latency ms: p50 {lat['p50']}  p95 {lat['p95']}  (structured p50 {lat['structured_p50']}  "
                 f"p95 {lat['structured_p95']}; CPU p50 {lat.get('structured_cpu_p50')}  "
                 f"p95 {lat.get('structured_cpu_p95')})")
    return "\n".join(lines)


def default_answerer(settings, *, direct: bool = False) -> Callable[[str], dict]:
    """``agent.service.ask`` (the full graph, threads and all); with ``direct``, the deterministic
    structured path alone. The one place to swap what the evaluation measures."""
    if not direct:
        return lambda q: ask(q, settings=settings)
    settings.ensure_home()
    store = Store(settings.db_url)
    return lambda q: ask_structured(q, store=store, settings=settings)
