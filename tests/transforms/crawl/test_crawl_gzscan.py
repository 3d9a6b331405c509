"""The C gzip-member scanner against FastWARC: the same selected records, offsets (but see records that share a
member), header values and candidates on the real files, on odd layouts it hands back to FastWARC (records
sharing or crossing members, huge members, plain files), at every chunk size, and on cut copies; past a
corrupt member, the records FastWARC gives and then those after the damage."""
from __future__ import annotations

import gzip
import random
import re

import pytest
from crawl_helpers import CC_WARC, DERIVED_WAT, WHIRLWIND_WAT, pairs, warc_record

from transforms.crawl import gzscan
from transforms.crawl.container import iter_selected
from transforms.crawl.options import CrawlOptions
from transforms.crawl.stats import FileStats
from transforms.crawl.wat import _HEADERS, _NEEDLES, read_wat

NEEDLES = (b'"IMG@/src"', b"languages-cld2", b"<img", b"Envelope")  # the last: every WAT record
NAMES = ("WARC-Target-URI", "WARC-Refers-To", "warc-type")


def test_the_scanner_was_built():
    from transforms.crawl._gzwarc import Scanner  # noqa: F401 - setup.py builds it; without it WATs read at half speed
    assert gzscan.available()


def selected(path, monkeypatch, scanner: bool, needles=NEEDLES, names=NAMES):
    with monkeypatch.context() as m:
        if not scanner:
            m.setattr(gzscan, "Scanner", None)
        stats = FileStats(str(path))
        rows = list(iter_selected(str(path), stats, needles, names))
    return rows, stats


def assert_same_as_fastwarc(path, monkeypatch, **kwargs):
    fast, fast_stats = selected(path, monkeypatch, True, **kwargs)
    slow, slow_stats = selected(path, monkeypatch, False, **kwargs)
    assert fast == slow
    assert fast_stats.records == slow_stats.records
    # The same kind of error; the scanner names the member that failed, FastWARC the record before it.
    assert [e["error"].split(":")[0].split(" at ")[0].replace(" past", "") for e in fast_stats.errors] == \
        [e["error"].split(":")[0].split(" at ")[0].replace(" past", "") for e in slow_stats.errors]
    assert fast_stats.last_record_damaged == slow_stats.last_record_damaged
    return fast, fast_stats


@pytest.mark.parametrize("path", [DERIVED_WAT, CC_WARC, WHIRLWIND_WAT], ids=lambda p: p.name)
def test_real_files_give_what_fastwarc_gives(path, monkeypatch):
    rows, stats = assert_same_as_fastwarc(path, monkeypatch)
    assert rows and stats.records > 0 and not stats.errors


def test_derived_wat_selects_the_12_image_pages_with_their_headers(monkeypatch):
    rows, stats = selected(DERIVED_WAT, monkeypatch, True)
    pages = [r for r in rows if r[4] == 0]
    assert stats.records == 50 and len(pages) == 12
    for number, offset, (uri, _refers, kind), block, _needle, position in pages:
        assert uri.startswith("http") and kind == "metadata" and block[position:position + 10] == b'"IMG@/src"'
        assert isinstance(offset, int) and 0 <= number < 50


@pytest.mark.parametrize("chunk", [64, 1000, 4099, 1 << 16])
def test_any_chunk_size_gives_the_same_records(chunk, monkeypatch):
    whole, _ = selected(DERIVED_WAT, monkeypatch, True)
    monkeypatch.setattr(gzscan, "CHUNK", chunk)
    assert selected(DERIVED_WAT, monkeypatch, True)[0] == whole


def _raw_records():
    raw = gzip.decompress(DERIVED_WAT.read_bytes())
    parts = raw.split(b"WARC/1.0\r\n")[1:]
    return [b"WARC/1.0\r\n" + p for p in parts]


def test_records_sharing_members_get_their_members_offsets(tmp_path, monkeypatch):
    records = _raw_records()
    rng = random.Random(3)
    members, i = [], 0
    while i < len(records):
        n = rng.randint(1, 4)
        members.append(gzip.compress(b"".join(records[i:i + n]), mtime=0))
        i += n
    path = tmp_path / "shared-members.wat.gz"
    path.write_bytes(b"".join(members))
    fast, _ = selected(path, monkeypatch, True)
    slow, _ = selected(path, monkeypatch, False)
    assert [r[:1] + r[2:] for r in fast] == [r[:1] + r[2:] for r in slow]
    # The offsets are the members' starts, "start:n" for the n-th further record of a member. (FastWARC
    # gives a later record of a member the offset where its inflater stood, often the next member's.)
    starts, at = [], 0
    for member in members:
        starts.append(at)
        at += len(member)
    expected = []
    for start, n in zip(starts, [gzip.decompress(m).count(b"WARC/1.0\r\n") for m in members]):
        expected += [start] + [f"{start}:{k}" for k in range(1, n)]
    assert [offset for _, offset, *_ in fast] == expected


def test_a_record_split_across_members_goes_to_fastwarc_from_there(tmp_path, monkeypatch):
    records = _raw_records()
    split = records[10]
    members = [gzip.compress(r, mtime=0) for r in records[:10]]
    members += [gzip.compress(split[:200], mtime=0), gzip.compress(split[200:], mtime=0)]
    members += [gzip.compress(r, mtime=0) for r in records[11:]]
    path = tmp_path / "split.wat.gz"
    path.write_bytes(b"".join(members))
    rows, stats = assert_same_as_fastwarc(path, monkeypatch)
    assert stats.records == 50 and len([r for r in rows if r[4] == 0]) == 12


def test_a_member_past_max_member_goes_to_fastwarc(tmp_path, monkeypatch):
    monkeypatch.setattr(gzscan, "MAX_MEMBER", 4096)  # the page records inflate to more than this
    assert_same_as_fastwarc(DERIVED_WAT, monkeypatch)


def test_a_member_longer_than_max_pending_goes_to_fastwarc(monkeypatch):
    monkeypatch.setattr(gzscan, "CHUNK", 500)
    monkeypatch.setattr(gzscan, "MAX_PENDING", 2000)  # the page members are longer than this, compressed
    rows, stats = assert_same_as_fastwarc(DERIVED_WAT, monkeypatch)
    assert not stats.errors and stats.records == 50 and len([r for r in rows if r[4] == 0]) == 12


def test_one_member_for_the_whole_file_and_a_plain_file(tmp_path, monkeypatch):
    raw = gzip.decompress(DERIVED_WAT.read_bytes())
    one = tmp_path / "one.wat.gz"
    one.write_bytes(gzip.compress(raw, mtime=0))
    plain = tmp_path / "plain.wat"
    plain.write_bytes(raw)
    expected, _ = selected(DERIVED_WAT, monkeypatch, True)
    rows, stats = assert_same_as_fastwarc(plain, monkeypatch)  # not gzip: FastWARC reads it all
    assert [r[2:] for r in rows] == [r[2:] for r in expected] and stats.records == 50
    rows, stats = selected(one, monkeypatch, True)  # one member of 50 records: offsets "0:n"
    assert [r[2:] for r in rows] == [r[2:] for r in expected] and stats.records == 50 and not stats.errors
    assert [r[1] for r in rows] == [0 if r[0] == 0 else f"0:{r[0]}" for r in rows]


def _damaged(damage: str, rng: random.Random) -> bytes:
    blob = bytearray(DERIVED_WAT.read_bytes())
    at = rng.randrange(len(blob) // 5, len(blob) - 10)
    if damage == "cut":
        return bytes(blob[:at])
    if damage == "zeros":
        blob[at:at + 300] = bytes(300)
    elif damage == "flip":
        blob[at] ^= 1 << rng.randrange(8)
    else:
        blob += b"not gzip at all" * rng.randint(1, 3)
    return bytes(blob)


@pytest.mark.parametrize("damage", ["cut", "garbage_tail"])
def test_cut_and_trailing_garbage_give_what_fastwarc_gives(damage, tmp_path, monkeypatch):
    rng = random.Random(5)
    for trial in range(6):
        path = tmp_path / f"{damage}-{trial}.wat.gz"
        path.write_bytes(_damaged(damage, rng))
        _, stats = assert_same_as_fastwarc(path, monkeypatch)
        assert stats.errors


@pytest.mark.parametrize("damage", ["zeros", "flip"])
def test_past_a_corrupt_member_the_scanner_goes_on(damage, tmp_path, monkeypatch):
    """FastWARC stops at a corrupt member; the scanner notes it and goes on at the next whole member, so it
    gives what FastWARC gives, then the records after the damage, each exactly as in the clean file."""
    clean = {r[1]: r[2:] for r in selected(DERIVED_WAT, monkeypatch, True)[0]}
    rng = random.Random(5)
    for trial in range(6):
        path = tmp_path / f"{damage}-{trial}.wat.gz"
        path.write_bytes(_damaged(damage, rng))
        fast, fast_stats = selected(path, monkeypatch, True)
        slow, slow_stats = selected(path, monkeypatch, False)
        assert fast[:len(slow)] == slow and slow_stats.errors and len(fast_stats.errors) == 1
        error = fast_stats.errors[0]
        assert error["error"].startswith("corrupt gzip member at offset") and error["record"].startswith(str(path))
        assert all(clean[offset] == tuple(rest) for _, offset, *rest in fast)  # nothing made up
        assert fast[-1][1] == max(clean)  # the last record of the file is read
        assert fast_stats.records < 50


def test_read_wat_candidates_are_the_same_both_ways(monkeypatch):
    options = CrawlOptions()
    got = {}
    for scanner in (True, False):
        with monkeypatch.context() as m:
            if not scanner:
                m.setattr(gzscan, "Scanner", None)
            stats = FileStats(str(DERIVED_WAT))
            got[scanner] = [dict(c) for c in read_wat(str(DERIVED_WAT), options, stats)]
    assert got[True] == got[False] and len(got[True]) == 32
    assert _NEEDLES[0] == b'"IMG@/src"' and _HEADERS[0] == "WARC-Target-URI"


def test_header_values_are_case_insensitive_trimmed_and_decoded(tmp_path, monkeypatch):
    record = warc_record({"WARC-Type": "metadata", "warc-target-uri": "  http://x.org/é  ",
                          "WARC-Target-URI": "http://second.org/"}, b'{"IMG@/src": 1}')
    path = tmp_path / "headers.wat.gz"
    path.write_bytes(record + gzip.compress(b"WARC/1.0\r\nContent-Length: 0\r\n\r\n\r\n\r\n", mtime=0))
    rows, stats = assert_same_as_fastwarc(path, monkeypatch)
    assert stats.records == 2 and len(rows) == 1
    assert rows[0][2] == ("http://x.org/é", None, "metadata") and rows[0][4:] == (0, 1)


def test_scanner_rejects_bad_arguments():
    from transforms.crawl._gzwarc import Scanner
    scanner = Scanner(1 << 16)
    with pytest.raises(TypeError):
        scanner.scan(b"", True, [b"x"], ())
    with pytest.raises(TypeError):
        scanner.scan(b"", True, (b"",), ())
    with pytest.raises(ValueError):
        Scanner(10)
    assert scanner.scan(b"", True, (b"x",), ()) == ([], 0, 0, 0)


def test_mutated_headers_read_as_fastwarc_reads_them(tmp_path, monkeypatch):
    """Random edits of record headers (bytes changed, cut, CRLFs, colons, blanks, NULs, extra lengths put in):
    the scanner reads what FastWARC reads, or hands the member to it. One deliberate difference: the scanner
    takes the Content-Length name in any case, as the WARC standard says; FastWARC only as spelt."""
    records = _raw_records()[:8]
    rng = random.Random(1)
    compared = 0
    for trial in range(150):
        recs = [bytearray(r) for r in records]
        for _ in range(rng.randint(1, 4)):
            r = rng.choice(recs)
            i = rng.randrange(0, min(len(r), r.find(b"\r\n\r\n") + 24))
            op = rng.random()
            if op < 0.4:
                r[i] = rng.randrange(256)
            elif op < 0.7:
                del r[i:i + rng.randint(1, 10)]
            else:
                r[i:i] = rng.choice([b"\r\n", b":", b" ", b"\n", b"Content-Length: 5\r\n", b"\x00", b"\r\n "])
        blob = b"".join(gzip.compress(bytes(r), mtime=0) for r in recs)
        raw = b"".join(recs)
        if len(re.findall(rb"(?i)content-length", raw)) != raw.count(b"Content-Length"):
            continue
        path = tmp_path / f"mutated-{trial}.wat.gz"
        path.write_bytes(blob)
        fast, fast_stats = selected(path, monkeypatch, True)
        slow, slow_stats = selected(path, monkeypatch, False)
        assert fast == slow and fast_stats.records == slow_stats.records, trial
        compared += 1
    assert compared > 120


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("scanner", [True, False], ids=["scanner", "fastwarc"])
def test_a_cut_record_after_a_page_keeps_the_pages_candidates(tmp_path, monkeypatch, compress, scanner):
    """Only the last record read can be cut short: a whole page before it keeps its candidates, also when that
    cut record holds no needle and so never reaches read_wat."""
    from crawl_helpers import wat_json
    page = "http://example.com/"
    good = warc_record({"WARC-Type": "metadata", "WARC-Target-URI": page, "Content-Type": "application/json"},
                       wat_json(page, [{"path": "IMG@/src", "url": "a.jpg", "alt": "A"}]), compress)
    request = warc_record({"WARC-Type": "metadata", "WARC-Target-URI": page, "Content-Type": "application/json"},
                          b'{"Envelope": {"request": "' + b"x" * 2000 + b'"}}', compress)
    path = tmp_path / ("cut.wat.gz" if compress else "cut.wat")
    path.write_bytes(good + request[:len(request) // 2])
    if not scanner:
        monkeypatch.setattr(gzscan, "Scanner", None)
    stats = FileStats(str(path))
    found = pairs(read_wat(str(path), CrawlOptions(), stats))
    assert found == [("http://example.com/a.jpg", "A", page)]
    assert len(stats.errors) == 1 and stats.errors[0]["error"].startswith("truncated")


def test_a_corrupt_member_found_across_small_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(gzscan, "CHUNK", 300)
    blob = bytearray(DERIVED_WAT.read_bytes())
    blob[30000:30300] = bytes(300)
    path = tmp_path / "zeros-small-reads.wat.gz"
    path.write_bytes(bytes(blob))
    monkeypatch.setattr(gzscan, "CHUNK", 1 << 20)
    whole, whole_stats = selected(path, monkeypatch, True)
    monkeypatch.setattr(gzscan, "CHUNK", 300)
    rows, stats = selected(path, monkeypatch, True)
    assert rows == whole and stats.records == whole_stats.records and len(stats.errors) == 1


def test_a_gzipped_warc_inside_a_record_is_no_place_to_resync(tmp_path, monkeypatch):
    """A record whose block is itself a .warc.gz (a crawled archive) holds whole gzip members, stored verbatim
    as they are by an outer member of stored blocks (as deflate stores what it cannot compress). Cut by a read, the outer member is incomplete, not corrupt: the scanner reads on
    instead of jumping into the inner archive."""
    rng = random.Random(2)
    inner = warc_record({"WARC-Type": "resource", "WARC-Target-URI": "http://inner/"},
                        b'"IMG@/src" ' + bytes(rng.randrange(256) for _ in range(20000)))
    raw_outer = warc_record({"WARC-Type": "resource", "WARC-Target-URI": "http://outer/"}, b"archive: " + inner,
                            compress=False)
    outer = gzip.compress(raw_outer, compresslevel=0, mtime=0)  # stored blocks: the bytes as they are
    path = tmp_path / "nested.warc.gz"
    path.write_bytes(gzip.compress(b"WARC/1.0\r\nContent-Length: 0\r\n\r\n\r\n\r\n", mtime=0) + outer)
    assert inner in outer  # the inner member's bytes are there as they are
    monkeypatch.setattr(gzscan, "CHUNK", 4096)
    rows, stats = assert_same_as_fastwarc(path, monkeypatch)
    assert not stats.errors and stats.records == 2 and [r[2][0] for r in rows] == ["http://outer/"]


def _stored(headers: dict, block: bytes) -> bytes:
    """A gzip member of stored blocks: the record's bytes are in it as they are."""
    return gzip.compress(warc_record(headers, block, compress=False), compresslevel=0, mtime=0)


def _nested_archive(n: int = 3) -> bytes:
    rng = random.Random(4)
    return b"".join(warc_record({"WARC-Type": "resource", "WARC-Target-URI": f"http://inner/{i}"},
                                b"<img " + bytes(rng.randrange(256) for _ in range(3000))) for i in range(n))


def test_a_cut_member_holding_an_archive_gives_no_inner_records(tmp_path, monkeypatch):
    """At the end of the file a member cut short is just that: nothing inside it is taken for a member."""
    first = warc_record({"WARC-Type": "resource", "WARC-Target-URI": "http://first/"}, b"<img first")
    outer = _stored({"WARC-Type": "resource", "WARC-Target-URI": "http://outer/"}, b"<img " + _nested_archive())
    path = tmp_path / "cut-nested.warc.gz"
    path.write_bytes(first + outer[:-500])
    rows, stats = assert_same_as_fastwarc(path, monkeypatch)
    assert [r[2][0] for r in rows] == ["http://first/", "http://outer/"]
    assert len(stats.errors) == 1 and stats.errors[0]["error"].startswith("truncated")


@pytest.mark.parametrize("chunk", [4096, 1 << 21])
def test_after_a_corrupt_member_a_member_cut_by_the_read_is_read_whole(tmp_path, monkeypatch, chunk):
    """The member after a corrupt one may be cut by the bytes read so far: it is judged on more data, never
    skipped into (here it holds an archive whose members would otherwise be taken for the file's)."""
    monkeypatch.setattr(gzscan, "CHUNK", chunk)
    rng = random.Random(6)
    pad = bytes(rng.randrange(256) for _ in range(chunk - 400)) if chunk > 4096 else b"x"  # incompressible
    first = warc_record({"WARC-Type": "resource", "WARC-Target-URI": "http://first/"}, b"<img " + pad)
    bad = bytearray(warc_record({"WARC-Type": "resource", "WARC-Target-URI": "http://bad/"}, b"<img bad" * 20))
    bad[30] ^= 0xFF
    outer = _stored({"WARC-Type": "resource", "WARC-Target-URI": "http://outer/"}, b"<img " + _nested_archive())
    last = warc_record({"WARC-Type": "resource", "WARC-Target-URI": "http://last/"}, b"<img last")
    path = tmp_path / "corrupt-then-nested.warc.gz"
    path.write_bytes(first + bytes(bad) + outer + last)
    rows, stats = selected(path, monkeypatch, True)
    assert [r[2][0] for r in rows] == ["http://first/", "http://outer/", "http://last/"]
    assert len(stats.errors) == 1 and stats.errors[0]["error"].startswith("corrupt gzip member")


def test_fastwarc_stopping_quietly_at_an_empty_member_is_reported(tmp_path, monkeypatch):
    """FastWARC ends at an empty gzip member without a word; the end check counts the whole records it left."""
    a = warc_record({"WARC-Type": "resource", "WARC-Target-URI": "http://a/"}, b"<img a")
    split = warc_record({"WARC-Type": "resource", "WARC-Target-URI": "http://split/"}, b"<img split", compress=False)
    b = warc_record({"WARC-Type": "resource", "WARC-Target-URI": "http://b/"}, b"<img b")
    path = tmp_path / "empty-member.warc.gz"
    # the split record sends the scanner to FastWARC, which then stops at the empty member
    path.write_bytes(a + gzip.compress(split[:60], mtime=0) + gzip.compress(split[60:], mtime=0)
                     + gzip.compress(b"", mtime=0) + b + b)
    for scanner in (True, False):
        rows, stats = selected(path, monkeypatch, scanner)
        assert [r[2][0] for r in rows] == ["http://a/", "http://split/"]
        assert len(stats.errors) == 1 and "2 whole record(s)" in stats.errors[0]["error"]


def test_one_scan_call_gives_back_a_bounded_number_of_records():
    from transforms.crawl._gzwarc import END, Scanner
    tiny = b"".join(warc_record({"WARC-Type": "resource"}, b"x", compress=False) for _ in range(40000))
    data = gzip.compress(tiny, mtime=0) * 3
    records, used, count, stop = Scanner().scan(data, True, (b"x",), ())
    assert stop == END and count == len(records) == 80000 and used == 2 * (len(data) // 3)


def test_an_uninitialised_or_reinitialised_scanner_is_safe():
    from transforms.crawl._gzwarc import TOO_LARGE, Scanner
    with pytest.raises(RuntimeError):
        Scanner.__new__(Scanner).scan(b"", True, (b"x",), ())
    member = gzip.compress(warc_record({"WARC-Type": "resource"}, b"x" * 5000, compress=False), mtime=0)
    scanner = Scanner(1 << 20)
    assert scanner.scan(member, True, (b"x",), ())[2] == 1
    scanner.__init__(1024)
    assert scanner.scan(member, True, (b"x",), ())[3] == TOO_LARGE
