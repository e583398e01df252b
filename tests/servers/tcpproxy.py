"""A TCP proxy that can cut or stall connections, to test how a client survives a bad network.

It runs its own event loop in a daemon thread, so sync and async tests drive it alike, and a test
whose loop is busy awaiting the client under test still gets its bytes forwarded.

    proxy = TcpProxy(dovecot.port).start()
    ... connect the client to proxy.port ...
    proxy.cut_all()            # every live connection dropped at once (the client sees EOF/reset)
    proxy.cut_after_bytes(n)   # the next connection is dropped after n bytes server -> client
    proxy.pause(); proxy.resume()   # a silent network: nothing forwarded, nothing closed
    proxy.stop()
"""

from __future__ import annotations

import asyncio
import threading

from tests.servers.net import free_port

_CHUNK = 65536


class _Link:
    """One client connection and its server connection."""

    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter, budget: int | None):
        self.client, self.server = client, server
        self.budget = budget  # server -> client bytes left before the cut, None for no limit
        self.to_client = 0

    def cut(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()


class TcpProxy:
    host = "127.0.0.1"

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.links: set[_Link] = set()
        self.accepted = 0
        self._next_budget: int | None = None
        self._loop = asyncio.new_event_loop()
        self._flowing: asyncio.Event | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"tcpproxy-{self.port}", daemon=True)

    # -- control, from any thread ---------------------------------------------------------------

    def _call(self, fn, *args):
        """Runs ``fn`` on the proxy's loop and answers its result."""

        async def run():
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def start(self) -> "TcpProxy":
        self._thread.start()

        async def listen():
            self._flowing = asyncio.Event()
            self._flowing.set()
            self._server = await asyncio.start_server(self._accept, self.host, self.port)

        asyncio.run_coroutine_threadsafe(listen(), self._loop).result(10)
        return self

    def cut_all(self) -> int:
        """Drops every live connection; answers how many."""

        def cut():
            links = list(self.links)
            for link in links:
                link.cut()
            self.links.clear()
            return len(links)

        return self._call(cut)

    def cut_after_bytes(self, n: int) -> None:
        """The next accepted connection is dropped after ``n`` bytes from the server reached the client."""

        def arm():
            self._next_budget = n

        self._call(arm)

    def pause(self) -> None:
        """Stops forwarding both ways; connections stay open (like a network that went silent)."""
        self._call(lambda: self._flowing.clear())

    def resume(self) -> None:
        self._call(lambda: self._flowing.set())

    @property
    def live(self) -> int:
        return self._call(lambda: len(self.links))

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close():
            self._server.close()
            for link in list(self.links):
                link.cut()
            self.links.clear()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    # -- the loop's side ------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        budget, self._next_budget = self._next_budget, None
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        link = _Link(writer, up_writer, budget)
        self.links.add(link)
        try:
            await self._forward(link, reader, up_reader)
        finally:
            self.links.discard(link)
            link.cut()

    async def _forward(self, link: _Link, from_client: asyncio.StreamReader, from_server: asyncio.StreamReader) -> None:
        """Both directions of one link, until either ends (a subclass may rewrite what passes)."""
        await asyncio.gather(
            self._pump(from_client, link.server, link, False), self._pump(from_server, link.client, link, True)
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link, to_client: bool
    ) -> None:
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                await self._flowing.wait()
                if to_client and link.budget is not None:
                    data = data[: link.budget]
                    link.budget -= len(data)
                    writer.write(data)
                    if link.budget == 0:
                        # abort() would discard what is still buffered: let the n bytes reach the client.
                        while writer.transport.get_write_buffer_size():
                            await asyncio.sleep(0.001)
                        break
                else:
                    writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # One side ended or the budget ran out: the whole link goes, as a network drop would.
            link.cut()
