"""The tools a tool-calling answer model may call (bind_tools / ToolNode).

They are thin: each runs our own deterministic path and returns its result as JSON, so the model
plans and phrases while every figure still comes from the wide table, the formula chain or the report.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.prebuilt import InjectedState

from graph.single import run_single


def _summary(state: dict[str, Any]) -> str:
    result = state.get("result") or {}
    return json.dumps(
        {
            "answer": state.get("answer"),
            "values": result.get("values"),
            "formula": result.get("formula"),
            "citations": [{"page": c.get("page"), "text": (c.get("text") or "")[:200]} for c in result.get("citations") or []],
            "missing": result.get("missing"),
        },
        ensure_ascii=False,
        default=str,
    )


@tool
async def answer_subquestion(
    question: str,
    state: Annotated[dict, InjectedState],
    config: RunnableConfig,
) -> str:
    """回答一个单一的子问题（查询某公司某年的字段、计算财务比率、年份比较、排名统计或检索年报段落），
    返回JSON：answer、values（数值及出处页码）、formula、citations、missing。子问题可省略上文已提到的公司和年份。"""
    return _summary(await run_single(question, state.get("context"), config))


AGENT_TOOLS = [answer_subquestion]
