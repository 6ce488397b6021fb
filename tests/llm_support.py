"""Helpers shared by the LLM client tests."""

from __future__ import annotations

import asyncio

from graph import llm


def run(coro):
    """``asyncio.run`` that closes the clients the coroutine opened on its loop."""

    async def closing():
        try:
            return await coro
        finally:
            await llm.aclose_clients()

    return asyncio.run(closing())
