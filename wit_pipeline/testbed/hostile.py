"""The hostile part of the test web: what a stranger's server can send a downloader, as routes and as bytes.

Routes (all under /hostile/, registered by server._Site):
- `/hostile/encoded/{coding}/{mib}/{name}`: an image/png response whose Content-Encoding (gzip, deflate,
  rawdeflate, br, zstd, gzip-gzip) inflates to {mib} MiB of zeros: a few kB or MB on the wire.
- `/hostile/compressed/{coding}/{name}`: the named test image, sent with that Content-Encoding (legitimate).
- `/hostile/image/{kind}`: an odd or refused image (HOSTILE_IMAGES), always labelled image/jpeg: the server's
  claim is a lie the downloader must not believe.
- `/hostile/location?to=URL`: a redirect whose Location header carries URL as raw UTF-8 bytes (so
  `http://１２７.０.０.１/` arrives unescaped, as a hostile server would send it).
- robots.txt with pathological wildcards: `TestWeb(robots_txt=wildcard_robots())`.

Everything is deterministic and cached, so a soak run pays for each bomb once.
"""
from __future__ import annotations

import asyncio
import functools
import io
import struct
import zlib

from aiohttp import web
from PIL import Image

from wit_pipeline.testbed.images import FORMATS, make_image

CODINGS = ("gzip", "deflate", "rawdeflate", "br", "zstd", "gzip-gzip")
_MIB = 1 << 20


_WBITS = {"gzip": 31, "gzip-gzip": 31, "deflate": 15, "rawdeflate": -15}
_HEADERS = {"rawdeflate": "deflate", "gzip-gzip": "gzip, gzip"}  # raw deflate is sent labelled "deflate"


def _compress(chunks, coding: str) -> tuple[bytes, str]:
    """(body, Content-Encoding header): the chunks compressed with `coding`, streamed (bombs are GBs)."""
    if coding in _WBITS:
        c = zlib.compressobj(9, zlib.DEFLATED, _WBITS[coding])
        step, finish = c.compress, c.flush
    elif coding == "br":
        import brotli
        c = brotli.Compressor(quality=1)
        step, finish = c.process, c.finish
    elif coding == "zstd":
        from transforms.download.body import zstd
        c = zstd.ZstdCompressor(level=3)
        step, finish = c.compress, c.flush
    else:
        raise ValueError(f"unknown coding {coding!r}; expected one of {CODINGS}")
    body = b"".join(step(chunk) for chunk in chunks) + finish()
    if coding == "gzip-gzip":  # a bomb inside a bomb: the outer layer is small, the inner one is not
        body = zlib.compress(body, 9, wbits=31)
    return body, _HEADERS.get(coding, coding)


@functools.lru_cache(maxsize=16)
def encoded_zeros(coding: str, mib: int) -> tuple[bytes, str]:
    """`mib` MiB of zeros compressed with `coding`: a few kB or MB on the wire."""
    zeros = bytes(_MIB)
    return _compress((zeros for _ in range(mib)), coding)


def encode(data: bytes, coding: str) -> tuple[bytes, str]:
    """`data` compressed with `coding`, as a legitimate server would send it."""
    return _compress([data], coding)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _save(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _psd_header(width: int = 64, height: int = 64) -> bytes:
    """A minimal Photoshop file (Pillow reads PSD but cannot write it): header, empty sections, raw RGB."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layer and mask info
    return header + sections + struct.pack(">H", 0) + bytes(3 * width * height)


def _grey16(level: int = 32768) -> bytes:
    return _png(Image.new("I;16", (64, 48), level))


def _float_tiff(value: float = 0.5) -> bytes:
    return _save(Image.new("F", (64, 48), value), "TIFF")


def progressive_jpeg(extra_scans: int = 0) -> bytes:
    """A small progressive JPEG whose last scan is repeated `extra_scans` times (libjpeg only warns): each
    repeat costs a pass over every block."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 120, 30)).save(buf, "JPEG", progressive=True)
    data = buf.getvalue()
    last = data.rindex(b"\xff\xda")
    return data[:-2] + data[last:-2] * extra_scans + b"\xff\xd9"


def jpeg_with_markers(n: int) -> bytes:
    """A JPEG with `n` empty APP1 segments before its frame."""
    return b"\xff\xd8" + b"\xff\xe1\x00\x02" * n + progressive_jpeg()[2:]


def png_with_chunks(n: int) -> bytes:
    """An 8x8 PNG with `n` empty ancillary chunks after its header."""
    data = _png(Image.new("RGB", (8, 8)))
    chunk = struct.pack(">I", 0) + b"zzZz" + struct.pack(">I", zlib.crc32(b"zzZz"))
    return data[:33] + chunk * n + data[33:]


def gif_with_comment(size: int) -> bytes:
    """An 8x8 GIF with a comment extension of about `size` bytes before its frame (built by hand: Pillow
    writes a long comment as slowly as it reads one)."""
    data = _save(Image.new("L", (8, 8)), "GIF")  # Pillow writes a 256-entry global colour table
    start = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    blocks = -(-size // 255)
    return data[:start] + b"\x21\xfe" + (b"\xff" + b"c" * 255) * blocks + b"\x00" + data[start:]


# kind -> (bytes factory, what it is). Refused by default: every format outside JPEG, PNG, WebP and GIF.
HOSTILE_IMAGES = {
    "tiff": (lambda: _save(Image.new("RGB", (64, 48), (200, 30, 30)), "TIFF"), "a TIFF"),
    "bmp": (lambda: _save(Image.new("RGB", (64, 48), (200, 30, 30)), "BMP"), "a BMP"),
    "ico": (lambda: _save(Image.new("RGB", (64, 64), (200, 30, 30)), "ICO"), "an ICO"),
    "eps": (lambda: _save(Image.new("RGB", (64, 48), (200, 30, 30)), "EPS"), "an EPS (Ghostscript bait)"),
    "pcx": (lambda: _save(Image.new("RGB", (64, 48), (200, 30, 30)), "PCX"), "a PCX"),
    "tga": (lambda: _save(Image.new("RGB", (64, 48), (200, 30, 30)), "TGA"), "a TGA"),
    "psd": (_psd_header, "a PSD"),
    "grey16": (_grey16, "a 16-bit greyscale PNG at mid-grey (32768)"),
    "float_tiff": (_float_tiff, "a 32-bit float TIFF at 0.5"),
    "wide_20000": (lambda: _png(Image.new("L", (20000, 1), 128)), "a 20000x1 PNG (a pixel bomb once resized)"),
    "wide_100000": (lambda: _png(Image.new("L", (100000, 1), 128)), "a 100000x1 PNG"),
    "tall_100000": (lambda: _png(Image.new("L", (1, 100000), 128)), "a 1x100000 PNG"),
    "png_as_jpeg": (lambda: _png(Image.new("RGB", (64, 48), (30, 200, 30))), "a PNG labelled image/jpeg (fine)"),
    "jpeg_scans": (lambda: progressive_jpeg(5000), "a progressive JPEG with 5,000 copies of a scan"),
    "jpeg_markers": (lambda: jpeg_with_markers(100_000), "a JPEG with 100,000 APP1 markers"),
    "png_chunks": (lambda: png_with_chunks(200_000), "a PNG with 200,000 ancillary chunks"),
    "gif_comment": (lambda: gif_with_comment(4 << 20), "a GIF with a 4 MiB comment (read in quadratic time)"),
}


@functools.lru_cache(maxsize=64)
def hostile_image(kind: str) -> bytes:
    return HOSTILE_IMAGES[kind][0]()


def wildcard_robots(stars: int = 60, rules: int = 50) -> str:
    """robots.txt rules like `Disallow: /*a*a*a...*b` that make a backtracking matcher take seconds per URL."""
    lines = ["User-agent: *"]
    lines += [f"Disallow: /{'*a' * (stars + i)}*b" for i in range(rules)]
    lines.append("Disallow: /private/")
    return "\n".join(lines) + "\n"


# --- routes ---------------------------------------------------------------------------------------------

async def _encoded(request: web.Request) -> web.Response:
    coding, mib = request.match_info["coding"], int(request.match_info["mib"])
    if coding not in CODINGS or not 1 <= mib <= 4096:
        raise web.HTTPNotFound(text="unknown coding or size\n")
    body, header = await asyncio.get_running_loop().run_in_executor(None, encoded_zeros, coding, mib)
    return web.Response(body=body, headers={"Content-Type": "image/png", "Content-Encoding": header})


async def _compressed(request: web.Request) -> web.Response:
    coding = request.match_info["coding"]
    from wit_pipeline.testbed.server import parse_name  # server imports this module
    key = parse_name(request.match_info["name"])
    if coding not in CODINGS or key is None:
        raise web.HTTPNotFound(text="unknown coding or bad image name\n")
    body, header = encode(make_image(*key), coding)
    return web.Response(body=body, headers={"Content-Type": FORMATS[key[3]], "Content-Encoding": header})


async def _image(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    if kind not in HOSTILE_IMAGES:
        raise web.HTTPNotFound(text="unknown kind\n")
    return web.Response(body=hostile_image(kind), content_type="image/jpeg")


async def _location(request: web.Request) -> web.StreamResponse:
    target = request.query.get("to")
    if not target or "\r" in target or "\n" in target:
        raise web.HTTPBadRequest(text="missing or bad ?to=\n")
    # aiohttp serialises header values as UTF-8: the Location goes out as raw, unescaped bytes.
    return web.Response(status=302, headers={"Location": target})


def add_routes(app: web.Application) -> None:
    app.router.add_get(r"/hostile/encoded/{coding}/{mib:\d+}/{name}", _encoded)
    app.router.add_get("/hostile/compressed/{coding}/{name}", _compressed)
    app.router.add_get("/hostile/image/{kind}", _image)
    app.router.add_get("/hostile/location", _location)
