"""Damaged files, made here from the real ones: truncated and corrupt copies give their good records and a
noted error; garbage, empty and mislabelled files give an error; nothing raises."""
from __future__ import annotations

import gzip
import random

import pytest
from crawl_helpers import CC_WARC, DERIVED_WAT, pairs

from transforms.crawl import gzscan
from transforms.crawl.options import CrawlOptions
from transforms.crawl.read import read_file
from transforms.crawl.stats import FileStats

OPTIONS = CrawlOptions()
REAL = {"warc": CC_WARC, "wat": DERIVED_WAT}


def read(path, kind):
    stats = FileStats(str(path))
    return pairs(read_file(str(path), kind, OPTIONS, stats)), stats


@pytest.fixture(scope="module")
def complete():
    return {kind: read(path, kind)[0] for kind, path in REAL.items()}


def _is_prefix(part, whole):
    return part == whole[:len(part)]


@pytest.mark.parametrize("kind", ["warc", "wat"])
def test_truncated_copy_gives_its_good_records_and_an_error(tmp_path, kind, complete):
    data = REAL[kind].read_bytes()
    cut = tmp_path / f"cut.{kind}.gz"
    cut.write_bytes(data[:len(data) * 2 // 3])
    found, stats = read(cut, kind)
    assert 0 < len(found) < len(complete[kind]) and _is_prefix(found, complete[kind])
    assert len(stats.errors) == 1 and stats.errors[0]["error"].startswith("truncated")
    assert stats.errors[0]["file"] == str(cut) and stats.errors[0]["records_read"] == stats.records > 0


@pytest.mark.parametrize("kind", ["warc", "wat"])
def test_corrupt_copy_gives_its_good_records_and_an_error(tmp_path, kind, complete):
    data = bytearray(REAL[kind].read_bytes())
    middle = len(data) // 2
    data[middle:middle + 1000] = bytes(1000)
    bad = tmp_path / f"bad.{kind}.gz"
    bad.write_bytes(bytes(data))
    found, stats = read(bad, kind)
    assert 0 < len(found) < len(complete[kind])
    assert len(stats.errors) == 1
    if kind == "wat" and gzscan.available():  # the scanner goes on at the next whole member
        assert "corrupt gzip member at offset" in stats.errors[0]["error"]
        kept = iter(complete[kind])
        assert all(pair in kept for pair in found)  # an ordered subset: nothing made up, nothing reordered
        assert found[-1] == complete[kind][-1]  # the records after the damage are there
    else:  # FastWARC stops at the damage
        assert _is_prefix(found, complete[kind]) and "cannot read" in stats.errors[0]["error"]


@pytest.mark.parametrize("kind", ["warc", "wat"])
def test_cut_at_any_point_never_raises_and_keeps_only_whole_records(tmp_path, kind, complete):
    data = REAL[kind].read_bytes()
    raw = gzip.decompress(data)
    rng = random.Random(7)
    for label, blob in (("gz", data), ("plain", raw), ("onegz", gzip.compress(raw, mtime=0))):
        for n in sorted(rng.sample(range(1, len(blob)), 12)):
            path = tmp_path / f"{label}-{n}.{kind}"
            path.write_bytes(blob[:n])
            found, stats = read(path, kind)
            assert _is_prefix(found, complete[kind]), (label, n)
            assert stats.errors, (label, n)  # none of these cuts falls between two records


@pytest.mark.parametrize("kind", ["warc", "wat"])
def test_flipped_bytes_never_raise(tmp_path, kind):
    data = REAL[kind].read_bytes()
    rng = random.Random(11)
    for i in range(12):
        blob = bytearray(data)
        for _ in range(3):
            blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
        path = tmp_path / f"flip-{i}.{kind}.gz"
        path.write_bytes(bytes(blob))
        found, stats = read(path, kind)
        assert stats.errors  # gzip CRCs catch every flip


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\x00\x01garbage" * 100, "cannot read"),
    (gzip.compress(b"plain text, not a WARC\n" * 50), "cannot read"),
    (b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 99999\r\n\r\nshort", "truncated"),
])
@pytest.mark.parametrize("kind", ["warc", "wat"])
def test_unreadable_files_give_one_error(tmp_path, content, message, kind):
    path = tmp_path / f"x.{kind}.gz"
    path.write_bytes(content)
    found, stats = read(path, kind)
    assert found == [] and len(stats.errors) == 1 and message in stats.errors[0]["error"]


def test_unknown_kind_is_sniffed_or_reported(tmp_path):
    wat = tmp_path / "no-extension"
    wat.write_bytes(DERIVED_WAT.read_bytes())
    assert len(read(wat, "auto")[0]) == 32
    text = tmp_path / "notes.bin"
    text.write_text("hello")
    found, stats = read(text, "auto")
    assert found == [] and "cannot tell what kind of file" in stats.errors[0]["error"]


def test_missing_file_is_an_error_not_a_crash(tmp_path):
    found, stats = read(tmp_path / "absent.warc.gz", "warc")
    assert found == [] and len(stats.errors) == 1
