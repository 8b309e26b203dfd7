"""Micro-batching for the gate: many concurrent requests → one `Pipeline.gate_many` call.

One gate is mostly one MiniLM forward, and a forward over 32 short prompts costs little more
than over one. `GateBatcher.submit(item)` queues a request and awaits its decision; a single
collector task takes the first waiting request, gathers more for up to `window_s` (or until
`max_batch`), and runs `gate_many` on one dedicated worker thread (so torch keeps its 2 intra-op
threads to itself and the event loop stays free). While a batch runs, new requests queue up and
form the next batch, so under load batches fill without waiting out the window.

Failure isolation: if a scorer fails on a batch of several requests, each request is re-run on
its own, so one poisoned prompt cannot turn its neighbours' answers into `review`. A caller
whose deadline passed has cancelled its future; its result is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from modpipe.types import Decision

log = logging.getLogger("modpipe.serve")

GateMany = Callable[[Sequence[dict[str, Any]]], list[Decision]]


class GateBatcher:
    def __init__(self, gate_many: GateMany, *, max_batch: int = 32, window_s: float = 0.003,
                 known_down: frozenset[str] = frozenset()) -> None:
        self.gate_many = gate_many
        self.known_down = known_down  # scorers that failed at load: not this batch's fault
        self.max_batch = max_batch
        self.window_s = window_s
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future]] | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modpipe-gate")
        self.batches = 0  # counters for /readyz and the load benchmark
        self.requests = 0

    def start(self) -> None:
        """Start the collector on the running event loop (idempotent)."""
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._collect(), name="modpipe-batcher")

    async def submit(self, item: dict[str, Any]) -> Decision:
        self.start()
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((item, fut))
        return await fut

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        q = self._queue
        while True:
            batch = [await q.get()]
            until = loop.time() + self.window_s
            while len(batch) < self.max_batch:
                if not q.empty():
                    batch.append(q.get_nowait())
                    continue
                left = until - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(q.get(), left))
                except TimeoutError:
                    break
            live = [(item, fut) for item, fut in batch if not fut.done()]
            if not live:
                continue
            try:
                decisions = await loop.run_in_executor(self._executor, self._run, [i for i, _ in live])
            except Exception as exc:  # noqa: BLE001 - handed to each caller, who fails closed
                log.error("gate batch of %d failed: %s", len(live), type(exc).__name__)
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches += 1
            self.requests += len(live)
            for (_, fut), d in zip(live, decisions, strict=True):
                if not fut.done():
                    fut.set_result(d)

    def _run(self, items: list[dict[str, Any]]) -> list[Decision]:
        decisions = self.gate_many(items)
        if len(items) > 1 and any(
            s.status == "failed" and s.scorer not in self.known_down for d in decisions for s in d.scorers
        ):
            log.warning("scorer failed on a batch of %d; re-running each request alone", len(items))
            decisions = [self.gate_many([item])[0] for item in items]
        return decisions

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=False, cancel_futures=True)
