"""Stage 2 off the event loop, on every core.

``ParsePool.parse_many`` sends messages to a ``ProcessPoolExecutor`` in chunks (one pickling
round trip per chunk, not per message; chunks are bounded in bytes so one huge mailbox page does
not pin a worker's memory). Workers are started with ``forkserver`` (``spawn`` where that is
missing): forking a server that holds sockets, an asyncpg pool and threads is unsafe.

Someone waiting for a message (opened before the pass reached it) does not queue behind those
chunks: ``parse_now`` decodes on a thread of this process, at its own priority.

Where processes cannot be had (no ``/dev/shm`` semaphores, a sandbox forbidding fork) or a worker
dies (``BrokenProcessPool``), the work runs in one background thread instead: slower and sharing
the GIL with the loop, but never blocking it outright. A broken process pool is replaced on the
next call.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .body import ParsedMessage, parse_message

log = logging.getLogger(__name__)


def _parse_chunk(raws: list[bytes]) -> list[ParsedMessage]:
    return [parse_message(raw) for raw in raws]


NICE = 10  # workers yield the cores to the sync (fetching, storing) and take what is left


def _lower_priority() -> None:
    """Parsing is background work: a message becomes listable before it is parsed, so the
    fetch-and-store path (this server and PostgreSQL) comes first and workers use idle time."""
    try:
        os.nice(NICE)
    except OSError:
        pass


def _ready() -> int:
    return os.getpid()


class ParsePool:
    """Runs ``parse_message`` over many messages in worker processes; use ``async with`` or
    ``await pool.aclose()``. Processes start on first use (or ``warm``), not in the constructor."""

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        processes: bool = True,
        chunk_messages: int = 50,
        chunk_bytes: int = 8 << 20,
    ) -> None:
        self.max_workers = max_workers or os.cpu_count() or 1
        self.chunk_messages = chunk_messages
        self.chunk_bytes = chunk_bytes
        self._use_processes = processes
        self._processes: ProcessPoolExecutor | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._now: ThreadPoolExecutor | None = None
        self._closed = False

    @property
    def uses_processes(self) -> bool:
        """False once processes turned out to be unavailable (or were not asked for)."""
        return self._use_processes

    async def __aenter__(self) -> ParsePool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def parse(self, raw: bytes) -> ParsedMessage:
        return (await self.parse_many([raw]))[0]

    async def parse_many(self, raws: list[bytes]) -> list[ParsedMessage]:
        """``parse_message`` of each message, in the order given."""
        if self._closed:
            raise RuntimeError("ParsePool is closed")
        if not raws:
            return []
        results = await asyncio.gather(*(self._run(chunk) for chunk in self._chunks(raws)))
        return [parsed for chunk in results for parsed in chunk]

    async def parse_now(self, raws: list[bytes]) -> list[ParsedMessage]:
        """``parse_message`` of each message for someone waiting: on a thread of this process,
        not queued behind the workers' chunks (a first sync's second pass keeps them busy for
        minutes, at a lower priority). A message or a conversation: small work, the GIL shared
        with the loop only that long."""
        if self._closed:
            raise RuntimeError("ParsePool is closed")
        if self._now is None:
            self._now = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mailparse-now")
        return await asyncio.get_running_loop().run_in_executor(self._now, _parse_chunk, raws)

    async def warm(self) -> None:
        """Start the worker processes now (each imports the parser once), so the first messages
        do not wait for them. Harmless when processes are unavailable or already running."""
        if self._closed:
            return
        executor = self._process_executor()
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        try:
            # each submit finding no idle worker starts one, up to max_workers
            await asyncio.gather(*(loop.run_in_executor(executor, _ready) for _ in range(self.max_workers)))
        except (BrokenProcessPool, OSError, RuntimeError) as exc:
            if not self._closed:
                log.warning("mail parse workers failed to start (%s)", exc)
                self._discard(executor)

    def _chunks(self, raws: list[bytes]) -> list[list[bytes]]:
        # Two chunks per worker keeps every core busy while the other chunk is pickled.
        per_chunk = max(1, min(self.chunk_messages, math.ceil(len(raws) / (self.max_workers * 2))))
        chunks: list[list[bytes]] = []
        current: list[bytes] = []
        size = 0
        for raw in raws:
            if current and (len(current) >= per_chunk or size + len(raw) > self.chunk_bytes):
                chunks.append(current)
                current, size = [], 0
            current.append(raw)
            size += len(raw)
        chunks.append(current)
        return chunks

    async def _run(self, chunk: list[bytes]) -> list[ParsedMessage]:
        loop = asyncio.get_running_loop()
        executor = self._process_executor()
        if executor is not None:
            try:
                return await loop.run_in_executor(executor, _parse_chunk, chunk)
            except (BrokenProcessPool, OSError, RuntimeError) as exc:
                if self._closed:
                    raise
                log.warning("mail parse worker failed (%s); parsing this chunk in a thread", exc)
                self._discard(executor)
        return await loop.run_in_executor(self._thread_executor(), _parse_chunk, chunk)

    def _process_executor(self) -> Executor | None:
        if not self._use_processes:
            return None
        if self._processes is None:
            try:
                methods = multiprocessing.get_all_start_methods()
                context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
                if context.get_start_method() == "forkserver":
                    # preload the parser, not ``__main__`` (the default): a script that starts the
                    # server without a ``__main__`` guard would otherwise run again in the forkserver
                    context.set_forkserver_preload(["plugin_email_manager.mailparse"])
                self._processes = ProcessPoolExecutor(
                    max_workers=self.max_workers, mp_context=context, initializer=_lower_priority
                )
            except (OSError, ImportError, NotImplementedError, ValueError) as exc:
                log.warning("no worker processes for mail parsing (%s); using a thread", exc)
                self._use_processes = False
                return None
        return self._processes

    def _thread_executor(self) -> Executor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailparse")
        return self._thread

    def _discard(self, executor: Executor) -> None:
        if self._processes is executor:
            self._processes = None
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop taking work, drop queued chunks, let running ones finish and end the workers.
        Blocks until they have ended: from async code, ``await aclose()``."""
        self._closed = True
        executors = [e for e in (self._processes, self._thread, self._now) if e is not None]
        self._processes = self._thread = self._now = None
        for executor in executors:
            executor.shutdown(wait=True, cancel_futures=True)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)
