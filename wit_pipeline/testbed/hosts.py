"""A test web of several hosts on distinct loopback addresses, each recording the load it sees.

A downloader's politeness budget is per host (at most so many requests in flight and so many started per
second), so testing it needs more than one host and a record, kept by the server, of what each host got:
the client cannot be trusted to report its own behaviour. ``HostsWeb`` serves ``n`` hosts on 127.0.0.2,
127.0.0.3, ... from one aiohttp loop in a background thread, like ``server.TestWeb``.
"""
from __future__ import annotations

import asyncio
import functools
import io
import socket
import threading
import time

from aiohttp import web

from wit_pipeline.testbed.server import BackgroundServer

FIRST_HOST = 2  # 127.0.0.1 is TestWeb's; the hosts start at 127.0.0.2
WINDOW = 1.0  # seconds: max_in_any_second counts request starts in any [t, t + WINDOW)


@functools.cache
def small_jpeg() -> bytes:
    """One small valid JPEG, made once: the load is what is measured here, not the images."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 80, 40)).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def max_in_window(starts: list[float], window: float = WINDOW) -> int:
    """The most of ``starts`` in any half-open window [t, t + window) (two pointers over the sorted times)."""
    times = sorted(starts)
    best = lo = 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class _Load:
    """What one host has seen. Touched on the server's loop and, under the lock, by stats() and reset()."""

    def __init__(self):
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.starts: list[float] = []


class HostsWeb(BackgroundServer):
    """n hosts on 127.0.0.2, 127.0.0.3, ... (one port each, all served by one aiohttp loop in a background thread)."""

    __test__ = False  # not a pytest test class
    NAME = "hosts web"

    def __init__(self, n_hosts: int, delay: float = 0.05, robots_txt: str = "User-agent: *\nAllow: /\n"):
        if not 1 <= n_hosts <= 250:
            raise ValueError(f"n_hosts must be 1..250, not {n_hosts}")
        super().__init__()
        self.n_hosts = n_hosts
        self.delay = delay
        self.robots_txt = robots_txt
        self.hosts: list[str] = []
        self._socks: list[socket.socket] = []
        self._loads: dict[str, _Load] = {}
        self._lock = threading.Lock()  # recording happens on the loop; stats() and reset() come from other threads

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> "HostsWeb":
        self._check_not_started()
        small_jpeg()  # encode before serving, so no request pays for Pillow
        try:
            for i in range(self.n_hosts):
                self._socks.append(socket.create_server((f"127.0.0.{FIRST_HOST + i}", 0)))
        except BaseException:
            self._close_socks()
            raise
        self.hosts = [f"{s.getsockname()[0]}:{s.getsockname()[1]}" for s in self._socks]
        self._launch(self._app, self._socks)
        return self

    def stop(self) -> None:
        self._halt()
        self._close_socks()

    def _close_socks(self) -> None:
        for sock in self._socks:
            sock.close()
        self._socks = []

    # --- what tests use ----------------------------------------------------------------------------------

    def url(self, i: int, path: str) -> str:
        return f"http://{self.hosts[i]}{path}"

    def reset(self) -> None:
        """Forget what was recorded. Requests still in flight stay counted as in flight (they will end)."""
        with self._lock:
            for load in self._loads.values():
                load.requests = 0
                load.max_in_flight = load.in_flight
                load.starts = []

    def stats(self) -> dict[str, dict]:
        """Per host that has seen a request since start or reset: requests, max_in_flight, max_in_any_second,
        first and last (request start times, time.monotonic in this process). Hosts never asked are absent."""
        with self._lock:
            snap = {host: (load.requests, load.max_in_flight, list(load.starts))
                    for host, load in self._loads.items() if load.requests}
        return {
            host: {"requests": requests, "max_in_flight": peak, "max_in_any_second": max_in_window(starts),
                   "first": min(starts), "last": max(starts)}
            for host, (requests, peak, starts) in snap.items()
        }

    # --- the app: lives on the server's loop -------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/img/{tail:.*}", self._image)
        app.router.add_get("/robots.txt", self._robots)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler):
        # The host is the address the connection arrived on, not the Host header, which the client writes.
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        host = f"{sockname[0]}:{sockname[1]}" if sockname else "?"
        with self._lock:
            load = self._loads.get(host)
            if load is None:
                load = self._loads[host] = _Load()
            load.requests += 1
            load.starts.append(time.monotonic())
            load.in_flight += 1
            load.max_in_flight = max(load.max_in_flight, load.in_flight)
        try:
            resp = await handler(request)
            # Send it here, so the request counts as in flight until its body is written (aiohttp then
            # finds it prepared and finished, and sends nothing more).
            await resp.prepare(request)
            await resp.write_eof()
            return resp
        finally:
            with self._lock:
                load.in_flight -= 1

    async def _image(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)  # a slow host: concurrent requests overlap
        return web.Response(body=small_jpeg(), content_type="image/jpeg")

    async def _robots(self, request: web.Request) -> web.Response:
        return web.Response(text=self.robots_txt, content_type="text/plain")
