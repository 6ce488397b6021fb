"""A scripted stand-in for ``agent.service`` (same ``ask`` / ``ask_stream`` signatures and result shape).

For the API, web-chat and load tests, which test the service, not the agent's answers. It remembers the
last company per thread (enough to show that a follow-up reaches the same thread), answers a series for
growth questions and a ranking for 排名 questions, and refuses SQL-looking input as the real agent does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

COMPANY = {"code": "603339", "name": "四方科技集团股份有限公司", "short_name": "四方科技"}
SQL_WORDS = ("drop table", "delete from", "insert into", "union select", "; --", "' or '1'='1")


class FakeAgent:
    def __init__(self, *, step_delay_s: float = 0.0, token_delay_s: float = 0.0) -> None:
        self.step_delay_s, self.token_delay_s = step_delay_s, token_delay_s
        self.calls: list[tuple[str, str | None]] = []
        self._threads: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def ask(self, question: str, *, thread_id: str | None = None, settings=None) -> dict[str, Any]:
        final = None
        for event in self.ask_stream(question, thread_id=thread_id, settings=settings):
            if event["type"] == "final":
                final = event["result"]
        return final

    def ask_stream(self, question: str, *, thread_id: str | None = None, settings=None) -> Iterator[dict[str, Any]]:
        start = time.perf_counter()
        with self._lock:
            self.calls.append((question, thread_id))
            memory = self._threads.setdefault(thread_id or "", {})
        for node in ("intent", "sql", "answer"):
            if self.step_delay_s:
                time.sleep(self.step_delay_s)
            yield {"type": "step", "node": node}
        result = self._answer(question, memory)
        for piece in _pieces(result["answer"]):
            if self.token_delay_s:
                time.sleep(self.token_delay_s)
            yield {"type": "token", "text": piece}
        result["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
        yield {"type": "final", "result": result}

    def _answer(self, question: str, memory: dict[str, Any]) -> dict[str, Any]:
        base = {"company": None, "years": [], "fields": [], "sql": None, "values": [], "formula": None,
                "citations": [], "mode": "embedded", "latency_ms": 0.0}
        lowered = question.lower()
        if any(word in lowered for word in SQL_WORDS):
            return dict(base, intent="refusal", answer="抱歉，我只能回答关于年报内容的问题。")
        if "排名" in question:
            values = [
                {"company": name, "code": code, "year": 2019, "field": "营业收入", "value": v, "unit": "元"}
                for name, code, v in (("生物股份", "600201", 1_340_000_000), ("四方科技", "603339", 1_120_000_000),
                                      ("华东医药", "000963", 354_000_000))
            ]
            return dict(base, intent="ranking", years=[2019], fields=["营业收入"], values=values,
                        sql="SELECT short_name, 营业收入 FROM wide WHERE year = 2019 ORDER BY 营业收入 DESC LIMIT 3",
                        answer="2019年营业收入前三：生物股份、四方科技、华东医药。")
        year = 2018 if "2018" in question else memory.get("year", 2019)
        memory["year"] = year
        if "增长" in question or "趋势" in question:
            values = [{"company": "四方科技", "code": "603339", "year": y, "field": "营业收入", "value": v, "unit": "元"}
                      for y, v in ((2017, 980_000_000), (2018, 1_050_000_000), (2019, 1_120_000_000))]
            return dict(base, intent="statistic", company=COMPANY, years=[2017, 2018, 2019], fields=["营业收入"],
                        values=values, sql="SELECT year, 营业收入 FROM wide WHERE code = '603339' ORDER BY year",
                        answer="四方科技营业收入2017–2019年逐年增长。",
                        citations=[{"page": 9, "text": "营业收入 1,120,000,000.00"}])
        gross = {2019: "27.31", 2018: "25.90"}[year]
        formula = {"name": "毛利率", "expression": "(营业收入-营业成本)/营业收入*100",
                   "inputs": {"营业收入": "1120000000", "营业成本": "814128000"}, "result": gross, "decimals": 2}
        return dict(base, intent="formula", company=COMPANY, years=[year], fields=["毛利率"],
                    values=[{"company": "四方科技", "code": "603339", "year": year, "field": "毛利率", "value": gross, "unit": "%"}],
                    sql=f"SELECT 营业收入, 营业成本 FROM wide WHERE code = '603339' AND year = {year}",
                    formula=formula, answer=f"四方科技{year}年毛利率为{gross}%。",
                    citations=[{"page": 9, "text": f"{year}年 营业收入 1,120,000,000.00 营业成本 814,128,000.00"}])


def _pieces(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


# Module-level functions so ``NIANBAO_SERVE_AGENT=serving.testing.fake_agent`` serves it (demos, browser checks).
_default = FakeAgent()
ask, ask_stream = _default.ask, _default.ask_stream
