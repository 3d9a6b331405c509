"""Content-Encoding, decoded by hand and bounded: a 2 MB gzip body must never become 2 GB in memory.

aiohttp's own decompression is turned off (the session's auto_decompress=False) so that the downloader sees
the bytes as they came off the wire, bounds them, and then inflates them here with every decoder asked for
at most 1 MiB of output at a time: the inflated body is bounded while it is produced, not after.
"""
from __future__ import annotations

import zlib

from .errors import DownloadFailure

try:
    import brotli
except ImportError:  # optional: without it a br body is refused as an unsupported encoding
    brotli = None
try:
    from compression import zstd  # Python 3.14+
except ImportError:
    try:
        from backports import zstd
    except ImportError:
        zstd = None

_STEP = 1 << 20  # inflate in 1 MiB steps: the limit is checked between them
MAX_CODINGS = 2  # "gzip, gzip" is legal; a longer stack of codings only serves to amplify
MAX_MEMBERS = 16  # gzip members or zstd frames in one body


def accept_encoding() -> str:
    """The Accept-Encoding header: the encodings this process can decode."""
    return ", ".join(["gzip", "deflate"] + ["br"] * (brotli is not None) + ["zstd"] * (zstd is not None))


def codings(header: str | None) -> list[str]:
    """The Content-Encoding codings in the order they were applied (identity dropped), lower-case."""
    if not header:
        return []
    return [c for c in (part.strip().lower() for part in header.split(",")) if c and c != "identity"]


def decode_body(raw, header: str | None, limit: int, truncate: bool = False) -> bytes | bytearray:
    """The body with its Content-Encoding undone, at most `limit` bytes, else a DownloadFailure; with
    `truncate`, its first `limit` bytes instead of the failure (robots.txt: only the first 500 KiB count)."""
    applied = codings(header)
    if len(applied) > MAX_CODINGS:
        raise DownloadFailure("decode_error", f"Content-Encoding {header!r} stacks more than {MAX_CODINGS} codings")
    body = raw
    for coding in reversed(applied):  # the last coding applied is undone first
        decoder = _DECODERS.get(coding)
        if decoder is None or (coding == "br" and brotli is None) or (coding == "zstd" and zstd is None):
            raise DownloadFailure("decode_error", f"unsupported Content-Encoding {coding!r}")
        sink = _Sink(coding, limit, truncate)
        try:
            decoder(body, sink)
        except _Full:
            pass
        except DownloadFailure:
            raise
        except Exception as e:  # zlib.error, brotli.error, zstd.ZstdError: a corrupt body
            raise DownloadFailure("decode_error", f"corrupt {coding} body: {type(e).__name__}: {e}") from None
        body = sink.out
    return body


class _Full(Exception):
    """The truncated output is complete: stop inflating."""


class _Sink:
    """Collects inflated bytes into one buffer (no list and join: the peak stays near the limit), and stops
    at the limit: a failure, or with `truncate` the end of the output."""

    def __init__(self, coding: str, limit: int, truncate: bool):
        self.coding, self.limit, self.truncate = coding, limit, truncate
        self.out = bytearray()

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.out)
        if len(chunk) > room:
            if not self.truncate:
                raise DownloadFailure("body_too_large", f"{self.coding} body inflates to more than "
                                      f"max_body_bytes={self.limit}")
            self.out += chunk[:room]
            raise _Full()
        self.out += chunk


def _bounded(data, sink: _Sink, new_decoder, magic: bytes | None = None) -> None:
    """Inflate with a decoder that takes max_length (zlib's, zstd's), 1 MiB at a time. A body may hold
    several gzip members or zstd frames (each starting with `magic`), MAX_MEMBERS at most (each costs a copy
    of the rest of the body: thousands of empty members made decoding quadratic); other trailing bytes are
    ignored, as browsers do."""
    for _ in range(MAX_MEMBERS):
        d = new_decoder()
        while True:
            chunk = d.decompress(data, _STEP)
            sink.add(chunk)
            data = getattr(d, "unconsumed_tail", b"")  # zlib keeps unread input there; zstd keeps it inside
            if d.eof or (not chunk and not data):
                break
        if not d.eof:
            raise ValueError("the compressed stream is truncated")
        data = d.unused_data
        if not (magic and data.startswith(magic)):
            return
    raise ValueError(f"more than {MAX_MEMBERS} gzip members or zstd frames")


def _zlib(data, sink: _Sink, wbits: int) -> None:
    _bounded(data, sink, lambda: zlib.decompressobj(wbits), b"\x1f\x8b" if wbits > 15 else None)


def _gzip(data, sink: _Sink) -> None:
    _zlib(data, sink, 16 + zlib.MAX_WBITS)


def _deflate(data, sink: _Sink) -> None:
    # HTTP's "deflate" is zlib-wrapped (RFC 9110), but servers often send raw deflate: tell them apart by
    # the zlib header (CMF 0x?8 with a window of at most 32 KiB, and a header checksum divisible by 31).
    wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and (data[0] << 8 | data[1]) % 31 == 0
    _zlib(data, sink, zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


def _brotli(data, sink: _Sink) -> None:
    d = brotli.Decompressor()
    sink.add(d.process(data, output_buffer_limit=_STEP))
    while not d.is_finished() and not d.can_accept_more_data():
        sink.add(d.process(b"", output_buffer_limit=_STEP))
    if not d.is_finished():
        raise ValueError("the compressed stream is truncated")


def _zstd(data, sink: _Sink) -> None:
    # RFC 9659 bounds HTTP zstd windows at 8 MiB (window log 23); a frame asking for more is refused.
    options = {zstd.DecompressionParameter.window_log_max: 23}
    _bounded(data, sink, lambda: zstd.ZstdDecompressor(options=options), b"\x28\xb5\x2f\xfd")


_DECODERS = {"gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _brotli, "zstd": _zstd}
