"""The local test web: a real aiohttp server on 127.0.0.1 serving generated images, pages and faults.

``TestWeb`` runs the server on its own event loop in a background thread, so plain synchronous tests,
benchmarks and the demo can all use it; ``start_subprocess`` runs it in a child process instead (for
benchmarks that must not share the client's CPU or GIL). Every handler answers from precomputed
bytes and nothing is logged per request: the download benchmark pushes hundreds of requests a second.
"""
from __future__ import annotations

import asyncio
import collections
import functools
import html
import json
import mimetypes
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from aiohttp import web

from wit_pipeline.testbed import hostile, miniweb
from wit_pipeline.testbed.images import FORMATS, SUBJECTS, bomb_png, corrupt_jpeg, make_image

HOST = "127.0.0.1"
MAX_SIDE = 4096  # bigger names are 404: a typo must not make the server encode a gigapixel image
MIB = 1 << 20
DRIP_BYTES, DRIP_INTERVAL = 64, 0.2
ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"
_NAME = re.compile(r"^(\d{1,9})_(\d{1,5})x(\d{1,5})(?:_s(\d{1,3}))?\.(jpg|png|webp|gif)$")
_IMAGE_CACHE_LIMIT = 4096
_ZEROS = bytes(MIB)


def parse_name(name: str) -> tuple[int, int, int, str, int | None] | None:
    """``{seed}_{w}x{h}[_s{subject}].{ext}`` -> (seed, w, h, ext, subject), or None when it is not a valid
    image name. A subject draws that class's icon into the picture (images.SUBJECTS), so captions that name
    the subject describe something a model can learn to see."""
    m = _NAME.match(name)
    if not m:
        return None
    seed, w, h = int(m[1]), int(m[2]), int(m[3])
    subject = int(m[4]) if m[4] is not None else None
    if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE) or (subject is not None and subject >= SUBJECTS):
        return None
    return seed, w, h, m[5], subject


# --- the deterministic pages -------------------------------------------------------------------------

_ALTS = [
    "a red fox sitting in the snow", "a bowl of ramen with a boiled egg", "the Golden Gate Bridge in fog",
    "a golden retriever puppy playing with a ball", "sunset over the ocean", "a vintage car on a country road",
    "Ein Hund spielt im Park", "Der Kölner Dom bei Nacht", "Une tour Eiffel au coucher du soleil",
    "Un chat noir sur un canapé", "a mountain lake surrounded by pine trees", "a plate of fresh sushi",
]
_WORDS = ("the quick brown fox jumps over a lazy dog while photographers walk along the river "
          "and a city market sells bread cheese flowers and coffee").split()


@functools.lru_cache(maxsize=1024)
def page_html(n: int) -> str:
    """A small page with 3-6 images: English, German and French alt texts, some empty."""
    rng = random.Random(n)
    paragraphs = "\n".join(
        f"<p>{' '.join(rng.choice(_WORDS) for _ in range(rng.randint(12, 30)))}.</p>" for _ in range(rng.randint(2, 4))
    )
    images = []
    for i in range(rng.randint(3, 6)):
        w, h = rng.choice([(500, 375), (400, 300), (640, 480), (300, 400)])
        ext = rng.choice(["jpg", "jpg", "jpg", "png", "webp"])
        alt = "" if rng.random() < 0.2 else rng.choice(_ALTS)
        images.append(f'<img src="/img/{n * 10 + i}_{w}x{h}.{ext}" alt="{html.escape(alt)}">')
    return (
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Test page {n}</title></head>\n"
        f"<body>\n<h1>Test page {n}</h1>\n{paragraphs}\n" + "\n".join(images) + "\n</body></html>\n"
    )


# --- the site: handlers and their state; lives on the server's event loop ----------------------------

class _Site:
    def __init__(self, files_dir: str | None, stall_seconds: float, robots_txt: str = ROBOTS_TXT):
        self.files_dir = os.path.realpath(files_dir) if files_dir else None
        self.stall_seconds = stall_seconds
        self.robots_txt = robots_txt
        self.hits: collections.Counter[str] = collections.Counter()
        self.fault_counts: collections.Counter[str] = collections.Counter()  # per-path request counts
        self.stopping = asyncio.Event()
        self._files: dict[str, tuple[bytes, str]] = {}
        self._images: dict[tuple, bytes] = {}

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._count_hits])
        get = app.router.add_get
        get("/img/{name}", self.image)
        get("/site/{n}.html", self.site_page)
        get("/files/{filename}", self.file)
        get("/robots.txt", self.robots)
        get("/private/{name}", self.image)
        get(r"/page/{n:\d+}.html", self.page)
        get(r"/fault/status/{code:\d+}/{name}", self.status)
        get(r"/fault/retry_after/{n:\d+}/{secs:\d+}/{name}", self.retry_after)
        get(r"/fault/fail_then_ok/{n:\d+}/{name}", self.fail_then_ok)
        get("/fault/stall/{name}", self.stall)
        get("/fault/drip/{name}", self.drip)
        get("/fault/truncated/{name}", self.truncated)
        get("/fault/corrupt/{name}", self.corrupt)
        get("/fault/html/{name}", self.html)
        get("/fault/bomb/{name}", self.bomb)
        get(r"/fault/huge/{mb:\d+}/{name}", self.huge)
        get(r"/fault/huge_chunked/{mb:\d+}/{name}", self.huge)
        get(r"/fault/redirect/{n:\d+}/{name}", self.redirect)
        get("/fault/loop/{name}", self.loop)
        get("/fault/redirect_to", self.redirect_to)
        get("/fault/xrobots/{value}/{name}", self.xrobots)
        hostile.add_routes(app)
        return app

    @web.middleware
    async def _count_hits(self, request: web.Request, handler):
        self.hits[request.path] += 1
        return await handler(request)

    # helpers

    async def _image_bytes(self, request: web.Request, fmt: str | None = None
                           ) -> tuple[bytes, str, tuple]:
        """The named image (or the same picture as ``fmt``), generated off the loop on first use so a slow
        encode never stalls other requests."""
        key = self._key(request)
        if fmt is not None:
            key = key[:3] + (fmt,) + key[4:]
        body = self._images.get(key)
        if body is None:
            body = await asyncio.get_running_loop().run_in_executor(None, make_image, *key)
            if len(self._images) >= _IMAGE_CACHE_LIMIT:
                self._images.clear()
            self._images[key] = body
        return body, FORMATS[key[3]], key

    @staticmethod
    def _key(request: web.Request) -> tuple:
        """The parsed image name; bad names are 404 on every route, faults included."""
        key = parse_name(request.match_info["name"])
        if key is None:
            raise web.HTTPNotFound(text="bad image name\n")
        return key

    def _count(self, request: web.Request) -> int:
        """How many times this exact path has been asked for, this request included."""
        self.fault_counts[request.path] += 1
        return self.fault_counts[request.path]

    async def _pause(self, seconds: float) -> bool:
        """Sleep without blocking the loop; True as soon as the server is stopping."""
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
            return True
        except asyncio.TimeoutError:
            return False

    def _load_file(self, name: str) -> tuple[bytes, str]:
        if self.files_dir is None or name in ("", ".", "..") or any(c in name for c in "/\\\0"):
            raise web.HTTPNotFound()
        path = os.path.realpath(os.path.join(self.files_dir, name))
        if os.path.dirname(path) != self.files_dir or not os.path.isfile(path):
            raise web.HTTPNotFound()
        with open(path, "rb") as f:
            body = f.read()
        ext = name.rsplit(".", 1)[-1].lower()
        ctype = FORMATS.get("jpg" if ext == "jpeg" else ext) or mimetypes.guess_type(name)[0]
        self._files[name] = (body, ctype or "application/octet-stream")
        return self._files[name]

    # plain content

    async def image(self, request: web.Request) -> web.Response:
        body, ctype, _ = await self._image_bytes(request)
        return web.Response(body=body, content_type=ctype)

    async def file(self, request: web.Request) -> web.Response:
        name = request.match_info["filename"]
        body, ctype = self._files.get(name) or self._load_file(name)
        return web.Response(body=body, content_type=ctype)

    async def site_page(self, request: web.Request) -> web.Response:
        try:
            n = int(request.match_info["n"])
        except ValueError:
            raise web.HTTPNotFound() from None
        return web.Response(text=miniweb.page(n), content_type="text/html", charset="utf-8")

    async def robots(self, request: web.Request) -> web.Response:
        return web.Response(text=self.robots_txt)

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=page_html(int(request.match_info["n"])), content_type="text/html")

    # faults

    async def status(self, request: web.Request) -> web.Response:
        self._key(request)
        code = int(request.match_info["code"])
        if not 200 <= code <= 599:
            raise web.HTTPNotFound(text="status code out of range\n")
        if code in (204, 304):
            return web.Response(status=code)
        return web.Response(status=code, text=f"fault: HTTP {code}\n")

    async def retry_after(self, request: web.Request) -> web.Response:
        body, ctype, _ = await self._image_bytes(request)
        if self._count(request) <= int(request.match_info["n"]):
            return web.Response(status=429, text="slow down\n", headers={"Retry-After": request.match_info["secs"]})
        return web.Response(body=body, content_type=ctype)

    async def fail_then_ok(self, request: web.Request) -> web.Response:
        body, ctype, _ = await self._image_bytes(request)
        if self._count(request) <= int(request.match_info["n"]):
            return web.Response(status=503, text="try again\n")
        return web.Response(body=body, content_type=ctype)

    async def stall(self, request: web.Request) -> web.Response:
        self._key(request)
        await self._pause(self.stall_seconds)
        # Close without ever answering; aiohttp then fails to send the response below and drops it quietly.
        if request.transport is not None:  # None when the client gave up first
            request.transport.close()
        return web.Response(status=500)

    async def drip(self, request: web.Request) -> web.StreamResponse:
        body, ctype, _ = await self._image_bytes(request)
        resp = web.StreamResponse(headers={"Content-Type": ctype})
        resp.content_length = len(body)
        await resp.prepare(request)
        deadline = time.monotonic() + self.stall_seconds
        try:
            for start in range(0, len(body), DRIP_BYTES):
                if start and (time.monotonic() >= deadline or await self._pause(DRIP_INTERVAL)):
                    request.transport.close()  # gave up dripping: the client sees a short body
                    break
                await resp.write(body[start:start + DRIP_BYTES])
        except ConnectionError:
            pass  # the client timed out and left
        return resp

    async def truncated(self, request: web.Request) -> web.StreamResponse:
        body, ctype, _ = await self._image_bytes(request)
        resp = web.StreamResponse(headers={"Content-Type": ctype})
        resp.content_length = len(body)
        await resp.prepare(request)
        try:
            await resp.write(body[: len(body) // 2])
        except ConnectionError:
            pass
        request.transport.close()  # flushes the half already written, then closes: fewer bytes than promised
        return resp

    async def corrupt(self, request: web.Request) -> web.Response:
        _, _, (seed, w, h, _, _) = await self._image_bytes(request, fmt="jpg")  # warms make_image's cache
        return web.Response(body=corrupt_jpeg(seed, w, h), content_type="image/jpeg")

    async def html(self, request: web.Request) -> web.Response:
        self._key(request)
        return web.Response(text="<!DOCTYPE html>\n<html><body><p>Not an image.</p></body></html>\n",
                            content_type="text/html")

    async def bomb(self, request: web.Request) -> web.Response:
        self._key(request)
        return web.Response(body=bomb_png(100_000, 100_000), content_type="image/png")

    async def huge(self, request: web.Request) -> web.StreamResponse:
        """A real JPEG padded with zeros to {mb} MiB, streamed so the server never holds the whole body."""
        mb = int(request.match_info["mb"])
        if mb < 1:
            raise web.HTTPNotFound(text="size must be at least 1 MiB\n")
        jpeg, _, _ = await self._image_bytes(request, fmt="jpg")
        total = max(mb * MIB, len(jpeg))
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        if request.path.startswith("/fault/huge_chunked/"):
            resp.enable_chunked_encoding()
        else:
            resp.content_length = total
        await resp.prepare(request)
        try:
            await resp.write(jpeg)
            left = total - len(jpeg)
            while left > 0 and not self.stopping.is_set():
                chunk = _ZEROS[: min(left, MIB)]
                await resp.write(chunk)
                left -= len(chunk)
        except ConnectionError:
            pass  # the client hit its size limit and hung up, as it should
        return resp

    async def redirect(self, request: web.Request) -> web.Response:
        self._key(request)
        name = request.match_info["name"]
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/fault/redirect/{n - 1}/{name}" if n > 0 else f"/img/{name}")

    async def loop(self, request: web.Request) -> web.Response:
        self._key(request)
        raise web.HTTPFound(request.path)

    async def redirect_to(self, request: web.Request) -> web.Response:
        # Only answers with a Location: the server itself never connects to the target.
        location = request.query.get("location")
        if not location:
            raise web.HTTPBadRequest(text="missing ?location=\n")
        raise web.HTTPFound(location)

    async def xrobots(self, request: web.Request) -> web.Response:
        body, ctype, _ = await self._image_bytes(request)
        value = request.match_info["value"]
        if "\r" in value or "\n" in value:
            raise web.HTTPBadRequest(text="bad header value\n")
        return web.Response(body=body, content_type=ctype, headers={"X-Robots-Tag": value})


# --- connect-timeout target ---------------------------------------------------------------------------

class _Blackhole:
    """A 127.0.0.1 port where TCP connects hang until the client's connect timeout.

    A listener with backlog 0 is never accepted from; a few non-blocking connects of our own fill its
    accept queue, and Linux then drops further SYNs, so a client keeps retransmitting its SYN and waits.
    """

    FILLERS = 3

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((HOST, 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self._fillers = []
        for _ in range(self.FILLERS):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)  # the 2nd and later connects hang by design: never wait on them
            s.connect_ex((HOST, self.port))
            self._fillers.append(s)

    def close(self) -> None:
        for s in self._fillers:
            s.close()
        self.listener.close()


# --- the server in a background thread -----------------------------------------------------------------

class BackgroundServer:
    """An aiohttp app served, on sockets bound in the caller's thread (so ports are known and bind errors raised
    at once), by an event loop in a background thread. Subclasses bind in start() and call _launch()."""

    NAME = "server"

    def __init__(self):
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _check_not_started(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already started")

    def _launch(self, make_app, socks: list, on_stop=None) -> None:
        """Serve make_app() (called on the loop) on `socks`; `on_stop` runs on the loop before the clean-up."""
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve(make_app, socks, on_stop)),
                                        name=self.NAME.replace(" ", ""), daemon=True)
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            self.stop()
            raise RuntimeError(f"{self.NAME} failed to start: {self._error!r}")

    async def _serve(self, make_app, socks: list, on_stop) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        runner = web.AppRunner(make_app(), access_log=None, shutdown_timeout=1.0)
        try:
            await runner.setup()
            for sock in socks:
                await web.SockSite(runner, sock).start()
        except BaseException as exc:  # reported by _launch
            self._error = exc
            self._ready.set()
            await runner.cleanup()
            return
        self._ready.set()
        await self._stop_event.wait()
        if on_stop is not None:
            on_stop()
        await runner.cleanup()

    def _halt(self) -> None:
        """Stop the loop and its thread (the sockets are the subclass's to close)."""
        if self._thread is not None:
            if self._loop is not None and self._stop_event is not None and self._loop.is_running():
                self._loop.call_soon_threadsafe(self._stop_event.set)
            self._thread.join(timeout=15)
            self._thread = None

    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        self._halt()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class TestWeb(BackgroundServer):
    """The test web in a background thread; ``with TestWeb() as web: urlopen(web.url("/img/1_40x30.jpg"))``."""

    __test__ = False  # not a pytest test class, despite the name
    NAME = "test web"

    def __init__(self, files_dir: str | None = None, stall_seconds: float = 30.0, port: int = 0,
                 robots_txt: str = ROBOTS_TXT):
        super().__init__()
        self.files_dir = files_dir
        self.stall_seconds = stall_seconds
        self.robots_txt = robots_txt
        self._port = port
        self._site: _Site | None = None
        self._sock: socket.socket | None = None
        self._blackhole: _Blackhole | None = None
        self._ports: tuple[int, int] | None = None  # (server, blackhole); kept after stop() for messages

    def start(self) -> "TestWeb":
        self._check_not_started()
        self._sock = socket.create_server((HOST, self._port))
        self._blackhole = _Blackhole()
        self._ports = (self._sock.getsockname()[1], self._blackhole.port)
        self._site = _Site(self.files_dir, self.stall_seconds, self.robots_txt)
        # on stop, stall and drip handlers return at once instead of after stall_seconds
        self._launch(self._site.app, [self._sock], on_stop=self._site.stopping.set)
        return self

    def stop(self) -> None:
        self._halt()
        for closable in (self._sock, self._blackhole):
            if closable is not None:
                closable.close()
        self._sock = self._blackhole = None

    def _started(self) -> _Site:
        if self._site is None:
            raise RuntimeError("TestWeb not started")
        return self._site

    @property
    def port(self) -> int:
        self._started()
        return self._ports[0]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def blackhole_url(self, path: str = "/") -> str:
        self._started()
        return f"http://{HOST}:{self._ports[1]}{path}"

    @property
    def hits(self) -> collections.Counter:
        """Requests per path (no query string) since start or the last ``reset_state()``."""
        return self._started().hits

    def reset_state(self) -> None:
        """Forget hits and the per-path counters of retry_after and fail_then_ok."""
        site = self._started()
        site.hits.clear()
        site.fault_counts.clear()


# --- the server in the foreground, and as a child process -----------------------------------------------

def serve_forever(files_dir: str | None = None, port: int = 0, stall_seconds: float = 30.0,
                  robots_txt: str | None = None) -> None:
    """Serve until SIGTERM or SIGINT; the first stdout line is JSON with the two base URLs."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with TestWeb(files_dir, stall_seconds=stall_seconds, port=port, robots_txt=robots_txt or ROBOTS_TXT) as testweb:
        print(json.dumps({"base_url": testweb.base_url, "blackhole_url": testweb.blackhole_url("")}), flush=True)
        while not stop.wait(0.5):
            pass


class SubprocessWeb:
    """A test web running in a child process (``python -m wit_pipeline.testbed``)."""

    def __init__(self, proc: subprocess.Popen, base_url: str, blackhole_url: str):
        self.proc = proc
        self.base_url = base_url
        self.blackhole_url = blackhole_url

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> "SubprocessWeb":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_subprocess(files_dir: str | None = None, stall_seconds: float = 30.0,
                     timeout: float = 30.0, robots_file: str | None = None) -> SubprocessWeb:
    """Launch the test web in a child process and wait for its URLs."""
    cmd = [sys.executable, "-m", "wit_pipeline.testbed", "--port", "0", "--stall-seconds", str(stall_seconds)]
    if files_dir:
        cmd += ["--files", files_dir]
    if robots_file:
        cmd += ["--robots-file", robots_file]
    # The child must import this package even when it is not installed (e.g. run from a checkout).
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    stderr = tempfile.TemporaryFile()  # a file, not a pipe: a chatty child can never block on it
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, env=env)
    try:
        line = _read_line(proc, timeout)
        urls = json.loads(line)
        return SubprocessWeb(proc, urls["base_url"], urls["blackhole_url"])
    except Exception as exc:
        SubprocessWeb(proc, "", "").stop()
        stderr.seek(0)
        tail = stderr.read()[-2000:].decode(errors="replace")
        raise RuntimeError(f"test web subprocess failed to start ({exc}); exit code {proc.returncode}; "
                           f"stderr:\n{tail}") from exc
    finally:
        stderr.close()


def _read_line(proc: subprocess.Popen, timeout: float) -> bytes:
    """The child's first stdout line, or an error when it dies or stays silent for ``timeout`` seconds."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError(f"no URL line within {timeout:.0f} s")
    line = proc.stdout.readline()
    if not line:
        raise EOFError("child exited before printing its URLs")
    return line
