"""Every prompt the graph sends, in one place.

Each prompt states the role, the task, the constraints and the output format. JSON outputs are primed
with the opening brace so small adapters stay on format.
"""

from __future__ import annotations

import json
from typing import Any

from knowledge.schema import render_schema

ANSWER_SYSTEM = (
    "你是上市公司年报问答助手。只根据给出的工具结果或年报段落回答，使用简体中文。"
    "不得编造数字：答案中的每个数字都必须原样来自工具结果或段落。"
    "若材料中没有答案，回答「未查询到相关信息」并说明缺少什么。"
)

AGENT_SYSTEM = (
    ANSWER_SYSTEM
    + "遇到包含多个部分的问题（如先比较数值再说明原因），把它拆成单一的子问题，逐个调用 answer_subquestion 工具，"
    "然后综合工具结果作答，并注明数值的出处页码。"
)

STRUCTURED_ANSWER = """任务：把工具查询结果写成一句或几句简洁的回答。
要求：写明公司名称、年份、字段名称（沿用提问中的说法）和数值及单位；计算题写出输入数值、公式和结果；
数值必须与工具结果完全一致，不要换算单位、不要四舍五入。
问题：{question}
工具结果（JSON）：{result}
参考答案（模板生成，可改写措辞，不可改动数字）：{draft}
回答："""

GROUNDED_ANSWER = """任务：根据下列年报段落回答问题，并在相关句子后用（第N页）标注出处。
要求：只使用段落中的信息；段落不包含答案时直接说明「年报段落中未查询到相关信息」；不超过300字。
问题：{question}
段落：
{passages}
回答："""

CONCEPT_ANSWER = """任务：用两三句话解释下列金融或会计概念，可参考术语表释义。
问题：{question}
术语表：
{entries}
回答："""

# HyDE: a hypothetical report passage to search with (tools/retrieval/hyde.py).
HYDE_SYSTEM = (
    "你是上市公司年度报告的撰写人。请用年度报告正文的口吻，写一段约150字、可能回答下列问题的原文段落。"
    "不要解释，不要编造具体数字，只输出段落本身。"
)

# The LoRA adapters are served with exactly the system prompt and user turn they were trained on
# (finetune/data/records.py builds the training records from these same constants).
ADAPTER_SYSTEM = {
    "intent": "你是上市公司年报问答系统的意图分类器。把用户问题归入以下类别之一：基本信息、员工信息、财务报表、计算题、统计题、开放性问题、金融概念、其他。只输出 JSON：{\"intent\": \"类别\"}。",
    "nl2sql": "你是上市公司年报问答系统的 NL2SQL 模块。根据给出的 SQLite 表结构、字段说明和已识别的公司，把问题写成一条只读的 SELECT 语句。中文列名用双引号括起来；只输出 SQL。",
    "keywords": "你是上市公司年报问答系统的关键词抽取器。从问题中抽取公司、年份、报表字段、计算指标和主题，输出 JSON：{\"company\": 公司名或null, \"years\": [年份], \"fields\": [字段], \"metrics\": [指标], \"topics\": [主题]}。字段用标准名称。",
}


def structured_answer(question: str, result: dict[str, Any], draft: str) -> list[tuple[str, str]]:
    payload = {k: result.get(k) for k in ("values", "formula", "missing") if result.get(k)}
    return [
        ("system", ANSWER_SYSTEM),
        ("human", STRUCTURED_ANSWER.format(question=question, result=json.dumps(payload, ensure_ascii=False, default=str), draft=draft)),
    ]


def grounded_answer(question: str, passages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    text = "\n".join(f"[第{p.get('page')}页] {p.get('text', '')}" for p in passages)
    return [("system", ANSWER_SYSTEM), ("human", GROUNDED_ANSWER.format(question=question, passages=text))]


def concept_answer(question: str, entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    text = "\n".join(f"- {e.get('term')}: {e.get('definition')}" for e in entries)
    return [("system", ANSWER_SYSTEM), ("human", CONCEPT_ANSWER.format(question=question, entries=text))]


def adapter_messages(task: str, user: str) -> list[tuple[str, str]]:
    """What an adapter (intent / nl2sql / keywords) is sent: its trained system prompt and the user turn."""
    return [("system", ADAPTER_SYSTEM[task]), ("human", user)]


def nl2sql_user(question: str, columns: list[str], entities: list[tuple[str, str]]) -> str:
    """The NL2SQL adapter's user turn: the relevant schema (look-alike columns explained), the linked
    companies (mention → code) and the question — the layout it was trained on."""
    return render_schema(columns, entities) + "\n问题：" + question
