"""WARC containers (WARC and WAT files, gzip per record or whole, or plain) read record by record with
FastWARC, through fsspec, so that a damaged file gives every record before the damage and a noted error.

FastWARC raises on corrupt data, but at a truncated end it just stops, silently dropping the last, partial
record. So after a clean stop the end of the file is checked: from the start of the last record it read,
the bytes must hold whole records only (whole gzip members too, when compressed). Common Crawl files
compress each record on its own, so this reads one small member again."""
from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import fsspec
from fastwarc.warc import ArchiveIterator, WarcRecord

from . import gzscan
from .gzscan import GZIP_MAGIC, Selected
from .stats import FileStats

_OTHER_MAGIC = (b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18")  # zstd, lz4 frames: FastWARC reads them; not checked
_MAX_HEADER_LINE = 1 << 16
_CHUNK = 1 << 20
_NOT_A_MEMBER = " is not the start of a gzip member"


def iter_selected(path: str, stats: FileStats, needles: tuple[bytes, ...],
                  names: tuple[str, ...], max_bytes: int | None = None) -> Iterator[Selected]:
    """(record number, offset, header values, block, needle index, position) of each record of the file at
    `path` whose block holds one of `needles` (the first of them found), in file order; every record is
    counted in stats.records. `names`: the WARC headers whose values come with each record (None if absent).

    Gzip-member files go through the C scanner (gzscan), the rest, and whatever the scanner cannot take,
    through FastWARC: the same records either way. Problems go to `stats`, as for iter_records.

    A selected block longer than `max_bytes` is not given but counted (skipped: record_too_large); FastWARC
    reads no more of any record than that."""
    start = 0
    if gzscan.available():
        start = yield from gzscan.scan_file(path, stats, needles, names, max_bytes)
        if start is None:
            return
    for record, offset in iter_records(path, stats, parse_http=False, start=start):
        block = record.reader.read() if max_bytes is None else record.reader.read(max_bytes + 1)
        if max_bytes is not None and len(block) > max_bytes:
            # Counted only when it would have been selected, as the scanner counts it (which sees it whole).
            if any(needle in block for needle in needles):
                stats.skip("record_too_large")
            continue
        for i, needle in enumerate(needles):
            position = block.find(needle)
            if position >= 0:
                yield stats.records - 1, offset, tuple(record.headers.get(name) for name in names), block, i, position
                break


def iter_records(path: str, stats: FileStats, *, parse_http: bool,
                 start: int = 0) -> Iterator[tuple[WarcRecord, int | str]]:
    """(record, offset) for each record of the file at `path`, from offset `start` (a record's or gzip
    member's start); problems go to `stats`, nothing is raised.

    When the iteration ends, stats.last_record_damaged tells whether the last record was cut short (a
    truncated file): readers then drop what they got from it.

    offset is where the record's gzip member starts (Common Crawl's offset: a range request there gets the
    record), or where the record starts in an uncompressed file; records that share a member get
    "offset:n". A record's source is f"{path}#{offset}" (see `source`), made only for records that give
    candidates, as it costs time on every record otherwise.
    """
    last_pos, same = None, 0
    try:
        with fsspec.open(path, "rb") as f:
            if _is_empty(f):
                stats.error("the file is empty (0 bytes)")
                return
            f.seek(start)
            # auto_decode: a WARC written by a crawler that kept Content-Encoding: gzip or chunked transfer
            # gets its payload decoded; Common Crawl already stores it decoded (X-Crawler-Content-Encoding).
            records = ArchiveIterator(f, parse_http=parse_http, auto_decode="all" if parse_http else "none",
                                      fsspec_args=False)
            for record in records:
                stats.records += 1
                pos = record.stream_pos
                if pos == last_pos:
                    same += 1
                    yield record, f"{pos}:{same}"
                else:
                    last_pos, same = pos, 0
                    yield record, pos
    except Exception as e:  # noqa: BLE001 - FastWARC and fsspec raise OSError, ValueError and others
        where = (f"past the record at offset {last_pos}" if last_pos is not None
                 else f"the record at offset {start}" if start else "the first record")
        stats.error(f"cannot read {where}: {type(e).__name__}: {e}")
        return
    # From `start` on, when nothing was read here: the records before it (read by the scanner) are whole.
    problem, last_whole = check_end(path, start if last_pos is None else last_pos,
                                    0 if last_pos is None else same + 1, stats.records)
    if problem:
        stats.error(problem)
    stats.last_record_damaged = stats.records > 0 and not last_whole


def keep_last(candidates: list[dict], stats: FileStats) -> list[dict]:
    """The last record's candidates, unless that record was cut short (then they are counted, not kept:
    a cut page can end inside an alt text or a URL)."""
    if stats.last_record_damaged and candidates:
        stats.skip("damaged_record", len(candidates))
        stats.candidates -= len(candidates)
        return []
    return candidates


def source(path: str, offset: int | str) -> str:
    return f"{path}#{offset}"


def _is_empty(f) -> bool:
    head = f.read(1)
    f.seek(0)
    return not head


def check_end(path: str, start: int, at_start: int, total: int) -> tuple[str | None, bool]:
    """(None when the file, from offset `start` (the last record FastWARC read) to its end, holds whole
    records only, else what is wrong; whether the last record FastWARC gave is whole).

    `at_start`: how many records FastWARC gave from offset `start`; `total`: how many in all. When `start`
    is no member start (one gzip member for the whole file), the file is checked from its beginning."""
    try:
        with fsspec.open(path, "rb") as f:
            problem, whole = _end_problem(f, start)
            if problem and start and problem.endswith(_NOT_A_MEMBER):
                problem, whole = _end_problem(f, 0)
                at_start = total
    except Exception as e:  # noqa: BLE001 - a failing re-read is itself the problem to note
        return f"cannot check the end of the file: {type(e).__name__}: {e}", False
    if problem is None and whole > at_start:  # FastWARC stops quietly at some things, such as an empty member
        problem = (f"the reader stopped early: {whole - at_start} whole record(s) from offset {start} on were not "
                   f"read")
    return problem, whole >= at_start


def _end_problem(f, start: int) -> tuple[str | None, int]:
    """(what is wrong from `start` on, or None; how many whole records come first)."""
    f.seek(0)
    compressed = f.read(2) == GZIP_MAGIC
    f.seek(start)
    magic = f.read(4)
    f.seek(start)
    if magic.startswith(_OTHER_MAGIC):
        return None, 1 << 62
    if compressed and not magic.startswith(GZIP_MAGIC):
        return f"offset {start}{_NOT_A_MEMBER}", 0
    counter = [0]
    if compressed:
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                return _records_problem(stream, start, counter), counter[0]
        except EOFError:
            return f"truncated: the gzip data ends inside a member (after offset {start})", counter[0]
        except (gzip.BadGzipFile, zlib.error) as e:
            return f"corrupt gzip data after offset {start}: {e}", counter[0]
    return _records_problem(f, start, counter), counter[0]


def _records_problem(stream, start: int, whole: list[int]) -> str | None:
    """Walk whole WARC records to the end of `stream`, counting them in whole[0]; say what is wrong, or None."""
    while True:
        line = stream.readline(_MAX_HEADER_LINE)
        if not line:
            return None
        if not line.strip():  # blank lines end each record
            continue
        if not line.startswith(b"WARC/"):
            return f"unreadable data after offset {start}: expected a WARC record, found {line[:40]!r}"
        length = None
        while True:
            line = stream.readline(_MAX_HEADER_LINE)
            if not line:
                return f"truncated: the file ends inside a record header (after offset {start})"
            if not line.strip():
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return f"bad Content-Length {value.strip()[:40]!r} after offset {start}"
        if length is None or length < 0:
            return f"a record without a valid Content-Length after offset {start}"
        while length > 0:
            chunk = stream.read(min(length, _CHUNK))
            if not chunk:
                return f"truncated: the file ends inside a record ({length} bytes short, after offset {start})"
            length -= len(chunk)
        whole[0] += 1
