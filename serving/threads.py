"""Which threads this process has served, for ``GET /v1/threads/{id}`` (a bounded LRU, process-local).

The conversation state itself lives in the agent's checkpointer; this is only what the API answered, so
a client can tell an unknown thread id (404) from a known one and redraw a conversation.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any


class ThreadLog:
    def __init__(self, size: int) -> None:
        self.size = size
        self._turns: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, thread_id: str, question: str, result: dict[str, Any]) -> None:
        if self.size <= 0:
            return
        turn = {"question": question, "answer": result.get("answer"), "intent": result.get("intent"), "at": time.time()}
        with self._lock:
            self._turns.setdefault(thread_id, []).append(turn)
            self._turns.move_to_end(thread_id)
            while len(self._turns) > self.size:
                self._turns.popitem(last=False)

    def get(self, thread_id: str) -> list[dict[str, Any]] | None:
        with self._lock:
            turns = self._turns.get(thread_id)
            return list(turns) if turns is not None else None
