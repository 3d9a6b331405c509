"""Content-Encoding, decoded by hand and bounded: a 2 MB gzip body must never become 2 GB in memory.

aiohttp's own decompression is turned off (the session's auto_decompress=False) so that the downloader sees
the bytes as they came off the wire, bounds them, and then inflates them here with every decoder asked for
at most `limit + 1` bytes of output: the inflated body is bounded while it is produced, not after.
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


def accept_encoding() -> str:
    """The Accept-Encoding header: the encodings this process can decode."""
    return ", ".join(["gzip", "deflate"] + ["br"] * (brotli is not None) + ["zstd"] * (zstd is not None))


def codings(header: str | None) -> list[str]:
    """The Content-Encoding codings in the order they were applied (identity dropped), lower-case."""
    if not header:
        return []
    return [c for c in (part.strip().lower() for part in header.split(",")) if c and c != "identity"]


def decode_body(raw: bytes, header: str | None, limit: int) -> bytes:
    """The body with its Content-Encoding undone, at most `limit` bytes, else a DownloadFailure."""
    applied = codings(header)
    if len(applied) > MAX_CODINGS:
        raise DownloadFailure("decode_error", f"Content-Encoding {header!r} stacks more than {MAX_CODINGS} codings")
    body = raw
    for coding in reversed(applied):  # the last coding applied is undone first
        decoder = _DECODERS.get(coding)
        if decoder is None or (coding == "br" and brotli is None) or (coding == "zstd" and zstd is None):
            raise DownloadFailure("decode_error", f"unsupported Content-Encoding {coding!r}")
        try:
            body = decoder(body, limit)
        except DownloadFailure:
            raise
        except Exception as e:  # zlib.error, brotli.error, zstd.ZstdError: a corrupt body
            raise DownloadFailure("decode_error", f"corrupt {coding} body: {type(e).__name__}: {e}") from None
    return body


def _too_large(coding: str, limit: int) -> DownloadFailure:
    return DownloadFailure("body_too_large", f"{coding} body inflates to more than max_body_bytes={limit}")


def _bounded(data: bytes, limit: int, coding: str, new_decoder, magic: bytes | None = None) -> bytes:
    """Inflate with a decoder that takes max_length (zlib's, zstd's), never holding more than limit + 1 MiB.
    A body may hold several gzip members or zstd frames (each starting with `magic`); other trailing bytes
    are ignored, as browsers do."""
    out, size = [], 0
    while True:
        d = new_decoder()
        while True:
            chunk = d.decompress(data, _STEP)
            size += len(chunk)
            if size > limit:
                raise _too_large(coding, limit)
            out.append(chunk)
            data = getattr(d, "unconsumed_tail", b"")  # zlib keeps unread input there; zstd keeps it inside
            if d.eof or (not chunk and not data):
                break
        if not d.eof:
            raise ValueError("the compressed stream is truncated")
        data = d.unused_data
        if not (magic and data.startswith(magic)):
            return b"".join(out)


def _zlib(data: bytes, limit: int, wbits: int, coding: str) -> bytes:
    return _bounded(data, limit, coding, lambda: zlib.decompressobj(wbits), b"\x1f\x8b" if wbits > 15 else None)


def _gzip(data: bytes, limit: int) -> bytes:
    return _zlib(data, limit, 16 + zlib.MAX_WBITS, "gzip")


def _deflate(data: bytes, limit: int) -> bytes:
    # HTTP's "deflate" is zlib-wrapped (RFC 9110), but servers often send raw deflate: tell them apart by
    # the zlib header (CMF 0x?8 with a window of at most 32 KiB, and a header checksum divisible by 31).
    wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and (data[0] << 8 | data[1]) % 31 == 0
    return _zlib(data, limit, zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS, "deflate")


def _brotli(data: bytes, limit: int) -> bytes:
    d = brotli.Decompressor()
    out, size = [d.process(data, output_buffer_limit=_STEP)], 0
    size = len(out[0])
    while not d.is_finished() and not d.can_accept_more_data():
        if size > limit:
            raise _too_large("br", limit)
        chunk = d.process(b"", output_buffer_limit=_STEP)
        size += len(chunk)
        out.append(chunk)
    if size > limit:
        raise _too_large("br", limit)
    if not d.is_finished():
        raise ValueError("the compressed stream is truncated")
    return b"".join(out)


def _zstd(data: bytes, limit: int) -> bytes:
    # RFC 9659 bounds HTTP zstd windows at 8 MiB (window log 23); a frame asking for more is refused.
    options = {zstd.DecompressionParameter.window_log_max: 23}
    return _bounded(data, limit, "zstd", lambda: zstd.ZstdDecompressor(options=options), b"\x28\xb5\x2f\xfd")


_DECODERS = {"gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _brotli, "zstd": _zstd}
