"""Retrieval over report chunks: BM25 scoped by company and year, optional BGE dense vectors in
Chroma, reciprocal rank fusion, optional cross-encoder rerank and HyDE.

    search(settings, store, query, *, company_code, year, k, expansion) -> list[Passage]
    index_report(settings, store, report_id) -> dict
    answer_open_question(settings, store, question, *, company_code, year) -> ToolResult

Nothing here imports torch, transformers or chromadb until a model directory is configured.
"""

from tools.retrieval.answers import answer_open_question
from tools.retrieval.hybrid import index_report, search
from tools.retrieval.passage import Passage

__all__ = ["Passage", "answer_open_question", "index_report", "search"]
