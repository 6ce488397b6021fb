"""Every prompt the graph sends, in one place.

Each prompt states the role, the task, the constraints and the output format. JSON outputs are primed
with the opening brace so small adapters stay on format.
"""

from __future__ import annotations

import json
from typing import Any

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

INTENT_PROMPT = """任务：判断问题的意图类别。
类别：基本信息、员工信息、财务报表、计算题、统计题、开放性问题、金融概念、其他。
只输出JSON，格式：{{"intent": "类别"}}
问题：{question}
{{"""


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
