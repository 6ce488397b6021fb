"""Generated questions → chat-format records ({"messages": [system, user, assistant], "meta": {...}})."""

from __future__ import annotations

import json

from finetune.data.nl2sql import SqlExample
from finetune.data.questions import Question
from graph.prompts import ADAPTER_SYSTEM

TASKS = ("intent", "nl2sql", "keywords")


def _record(task: str, user: str, answer: str, meta: dict) -> dict:
    return {
        "messages": [
            {"role": "system", "content": ADAPTER_SYSTEM[task]},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ],
        "meta": {"task": task, **meta},
    }


def keywords_target(q: Question) -> str:
    """The keyword JSON: the company as the registry spells the mention, canonical field names."""
    return json.dumps(
        {"company": q.mention, "years": q.years, "fields": q.fields, "metrics": q.metrics, "topics": q.topics},
        ensure_ascii=False,
    )


def intent_target(label: str) -> str:
    """JSON, as the graph's intent node parses it (graph/prompts.py INTENT_PROMPT)."""
    return json.dumps({"intent": label}, ensure_ascii=False)


def intent_record(q: Question, group: str) -> dict:
    return _record("intent", q.text, intent_target(q.label), {"label": q.label, "rules": q.rules, "group": group})


def keywords_record(q: Question, group: str) -> dict:
    return _record("keywords", q.text, keywords_target(q), {"label": q.label, "rules": q.rules, "group": group})


def nl2sql_record(ex: SqlExample, group: str) -> dict:
    meta = {"pattern": ex.pattern, "question": ex.question.text, "rows": ex.n_rows, "rules": ex.question.rules, "group": group}
    return _record("nl2sql", ex.prompt, ex.sql, meta)


def prompt_messages(task: str, user: str) -> list[dict]:
    """The messages an adapter is served with: exactly the system prompt and user turn it was trained on.
    For NL2SQL, ``user`` is ``schema.render_schema(columns, entities) + "\\n问题：" + question``."""
    return _record(task, user, "", {})["messages"][:2]


def user_text(record: dict) -> str:
    """The question a record asks (for NL2SQL the prompt also carries the schema)."""
    return record["meta"].get("question") or record["messages"][1]["content"]
