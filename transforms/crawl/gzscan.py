"""Gzip-member WARC files (Common Crawl's WARC, WAT and WET: one gzip member per record) read by the C scanner
`_gzwarc` (libdeflate's inflate, the record headers and a byte-string search in C): only the records whose
block holds one of a few byte strings come back to Python.

The scanner takes a member whole or not at all. Where it cannot (a member cut short, one larger than
MAX_MEMBER, records that cross members, data that is not gzip), the scan ends at that member and the caller
reads on from there with FastWARC, which reports the damage as it does for any file. So the two paths give
the same records; tests hold them to it. One difference, on purpose: past a corrupt member the scanner goes
on at the next whole member (noting the skip as an error), where FastWARC stops, so a damaged download
keeps the records after the damage too.
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
MAX_PENDING = 16 << 20  # compressed bytes of one member past this: FastWARC too (a corrupt member ends here)
GZIP_MAGIC = b"\x1f\x8b"

# (record number in the file from 0, offset, header values, block, index of the needle found, its position)
Selected = tuple[int, "int | str", tuple, bytes, int, int]


def _corrupt(data: bytes) -> bool:
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


def available() -> bool:
    return Scanner is not None


def scan_file(path: str, stats: FileStats, needles: tuple[bytes, ...],
              names: tuple[str, ...]) -> Generator[Selected, None, int | None]:
    """Yield the records whose block holds one of `needles` (the first found is named), counting every record
    in stats.records; return None when the whole file was read, else the offset to read on from with
    FastWARC (0 when the file does not start with a gzip member).

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
            while True:
                records, used, count, stop = scanner.scan(buf, final, needles, raw_names)
                for n, start, sub, values, block, needle, position in records:
                    offset = base + start
                    yield stats.records + n, (f"{offset}:{sub}" if sub else offset), values, block, needle, position
                stats.records += count
                base += used
                buf = buf[used:]
                if stop == END and final:
                    return None
                if stop == INFLATE and not final and not _corrupt(buf):
                    if len(buf) > MAX_PENDING:
                        return base  # a member too long to hold: FastWARC streams it
                    stop = END  # the member goes on past the bytes read so far: read more
                if stop == INFLATE:
                    # A bad member (or one cut by the end of the file): go on at the next whole one, if any.
                    while (skip := scanner.resync(buf, 1)) < 0 and not final and len(buf) <= 2 * MAX_PENDING:
                        chunk = f.read(CHUNK)
                        final = not chunk
                        buf += chunk
                    if skip < 0:
                        return base  # FastWARC reads on from this member and says what is wrong with it
                    stats.error(f"corrupt gzip member at offset {base}: skipped {skip:,} bytes to the next whole "
                                f"member, at offset {base + skip}", record=f"{path}#{base}")
                    base += skip
                    buf = buf[skip:]
                    continue
                if stop != END:
                    return base  # FastWARC reads on from this member and says what is wrong with it
                chunk = f.read(CHUNK)
                final = not chunk
                buf = buf + chunk if buf else chunk
    except OSError as e:
        if base == 0:
            return 0  # nothing read: FastWARC's reader tries, and says what is wrong
        stats.error(f"cannot read past offset {base}: {type(e).__name__}: {e}")
        return None
