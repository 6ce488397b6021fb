"""The thread-to-event-loop bridge: batches under load, errors and early exits handled."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from serving.streaming import coalesce, iterate_in_thread


def collect(make, executor):
    async def run():
        return [batch async for batch in iterate_in_thread(make, executor)]

    return asyncio.run(run())


@pytest.fixture
def executor():
    with ThreadPoolExecutor(4) as ex:
        yield ex


def test_every_item_arrives_in_order(executor):
    batches = collect(lambda: iter(range(1000)), executor)
    assert [i for b in batches for i in b] == list(range(1000))
    assert len(batches) < 1000  # a fast producer is batched


def test_a_slow_producer_gets_one_item_per_batch(executor):
    def slow():
        for i in range(3):
            time.sleep(0.02)
            yield i

    assert collect(slow, executor) == [[0], [1], [2]]


def test_producer_error_reaches_the_consumer_after_earlier_items(executor):
    def broken():
        yield 1
        raise KeyError("boom")

    async def run():
        seen = []
        with pytest.raises(KeyError):
            async for batch in iterate_in_thread(broken, executor):
                seen += batch
        return seen

    assert asyncio.run(run()) == [1]


def test_consumer_leaving_early_stops_and_closes_the_generator(executor):
    closed = threading.Event()

    def endless():
        try:
            while True:
                time.sleep(0.005)
                yield "x"
        finally:
            closed.set()

    async def run():
        async for _ in iterate_in_thread(endless, executor):
            break

    asyncio.run(run())
    assert closed.wait(2)


def test_the_event_loop_is_free_while_the_producer_blocks(executor):
    def blocking():
        time.sleep(0.3)
        yield "done"

    async def run():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        out = [b async for b in iterate_in_thread(blocking, executor)]
        task.cancel()
        return out, ticks

    out, ticks = asyncio.run(run())
    assert out == [["done"]] and ticks >= 15


def test_coalesce_joins_token_runs_only():
    events = [{"type": "step", "node": "a"}, {"type": "token", "text": "四"}, {"type": "token", "text": "方"},
              {"type": "step", "node": "b"}, {"type": "token", "text": "科"}, {"type": "final", "result": {}}]
    assert coalesce(events) == [{"type": "step", "node": "a"}, {"type": "token", "text": "四方"},
                                {"type": "step", "node": "b"}, {"type": "token", "text": "科"},
                                {"type": "final", "result": {}}]
