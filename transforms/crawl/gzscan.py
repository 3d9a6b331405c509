"""Gzip-member WARC files (Common Crawl's WARC, WAT and WET: one gzip member per record) read by the C scanner
`_gzwarc` (libdeflate's inflate, the record headers and a byte-string search in C): only the records whose
block holds one of a few byte strings come back to Python.

The scanner takes a member whole or not at all. Where it cannot (a member cut short, one larger than
MAX_MEMBER, records that cross members, data that is not gzip), the scan ends at that member and the caller
reads on from there with FastWARC, which reports the damage as it does for any file. So the two paths give
the same records; tests hold them to it. One difference, on purpose: past a corrupt member the scanner goes
on at the next whole member (noting the skip as an error), where FastWARC stops, so a damaged download
keeps the records after the damage too. That is safe for WAT files, the scanner's use: their records are
JSON text, which cannot hold the bytes of a gzip member, so the next member found is never one nested in a
record. (A WARC response can hold a .warc.gz as it is: read_warc does not use the scanner.)
"""
from __future__ import annotations

import zlib
from collections.abc import Generator

import fsspec

from .stats import FileStats

try:
    from ._gzwarc import END, INFLATE, Scanner
except ImportError:  # built without a C compiler (setup.py marks the extension optional): FastWARC reads all
    Scanner = None
    END = INFLATE = None

CHUNK = 2 << 20  # bytes read at a time
MAX_MEMBER = 64 << 20  # an inflated member past this goes to FastWARC, which streams it
MAX_PENDING = 16 << 20  # compressed bytes of one member past this: FastWARC too, which streams it
MAX_RESYNC_TRIES = 256  # gzip headers tried past a corrupt member before giving up (each may inflate a lot)
GZIP_MAGIC = b"\x1f\x8b"

# (record number in the file from 0, offset, header values, block, index of the needle found, its position)
Selected = tuple[int, "int | str", tuple, bytes, int, int]


def _corrupt(data) -> bool:
    """Whether the gzip member at the start of `data` is bad, rather than cut short by the end of `data`
    (libdeflate cannot tell the two apart; zlib's streaming inflater can)."""
    inflater = zlib.decompressobj(31)
    try:
        while data and not inflater.eof:  # 1 MB of output at a time: a long member is not held inflated
            if not inflater.decompress(data, 1 << 20) and not inflater.unconsumed_tail:
                break
            data = inflater.unconsumed_tail
    except zlib.error:
        return True
    return inflater.eof  # whole to zlib yet refused by libdeflate: take it as bad, not as waiting for more


def _read_more(f, buf: bytes) -> tuple[bytes, bool]:
    """`buf` and what comes next in `f`; whether `f` is at its end. Reads grow with what is held (a member still
    cut short), so a long member is not inflated again and again."""
    chunk = f.read(max(CHUNK, len(buf)))
    return (buf + chunk if buf else chunk), not chunk


def _next_member(scanner, f, buf: bytes, final: bool) -> tuple[int | None, bytes, bool]:
    """(where in `buf` the next whole member holding a WARC record starts, past the corrupt one at 0, or None;
    `buf` with whatever more had to be read; whether the file is read to its end). A gzip header whose data
    is only cut short by the end of what was read is judged on more data, never skipped."""
    at, tries = 1, 0
    while True:
        found, state = scanner.resync(buf, at)
        if found >= 0 and state == 1:
            return found, buf, final
        if found >= 0 and (state == -1 or final or _corrupt(memoryview(buf)[found:])):
            at, tries = found + 1, tries + 1  # no member, or not one that holds a record: look further on
            if tries < MAX_RESYNC_TRIES:
                continue
        if final or len(buf) > 2 * MAX_PENDING or tries >= MAX_RESYNC_TRIES:
            return None, buf, final  # no whole member near enough: FastWARC reads on and reports it
        if found < 0:
            at = max(at, len(buf) - 2)  # a header may straddle the end of what was read
        buf, final = _read_more(f, buf)


def available() -> bool:
    return Scanner is not None


def scan_file(path: str, stats: FileStats, needles: tuple[bytes, ...], names: tuple[str, ...],
              max_bytes: int | None = None) -> Generator[Selected, None, int | None]:
    """Yield the records whose block holds one of `needles` (the first found is named), counting every record
    in stats.records; return None when the whole file was read, else the offset to read on from with
    FastWARC (0 when the file does not start with a gzip member). A block longer than `max_bytes` is counted
    (skipped: record_too_large), not given.

    Offsets: the member's start (what Common Crawl's index names), "start:n" for the n-th further record that
    shares a member."""
    raw_names = tuple(name.encode("ascii") for name in names)
    base = 0
    try:
        with fsspec.open(path, "rb") as f:
            buf = f.read(CHUNK)
            if not buf.startswith(GZIP_MAGIC):
                return 0
            scanner = Scanner(MAX_MEMBER)
            final = False
            skew = 0  # added to record numbers past each skip: the record after one is no page's next record
            while True:
                records, used, count, stop = scanner.scan(buf, final, needles, raw_names)
                for n, start, sub, values, block, needle, position in records:
                    if max_bytes is not None and len(block) > max_bytes:
                        stats.skip("record_too_large")
                        continue
                    offset = base + start
                    yield (stats.records + n + skew, (f"{offset}:{sub}" if sub else offset), values, block, needle,
                           position)
                stats.records += count
                base += used
                buf = buf[used:]
                if stop == INFLATE:
                    if not _corrupt(buf):  # cut short by the end of what was read
                        if final or len(buf) > MAX_PENDING:
                            return base  # FastWARC reads on: it says "truncated", or streams a huge member
                        stop = END  # read more
                    else:
                        skip, buf, final = _next_member(scanner, f, buf, final)
                        if skip is None:
                            return base  # FastWARC reads on from this member and says what is wrong with it
                        stats.error(f"corrupt gzip member at offset {base}: skipped {skip:,} bytes to the next "
                                    f"whole member, at offset {base + skip}", record=f"{path}#{base}")
                        base += skip
                        buf = buf[skip:]
                        skew += 1
                        continue
                if stop != END:
                    return base  # FastWARC reads on from this member and says what is wrong with it
                if final and not buf:
                    return None
                if not final:
                    buf, final = _read_more(f, buf)
    except OSError as e:
        if base == 0:
            return 0  # nothing read: FastWARC's reader tries, and says what is wrong
        stats.error(f"cannot read past offset {base}: {type(e).__name__}: {e}")
        return None
