"""Hostile crawl input (wit_pipeline.testbed.hostile_warc): pages and records built to stall or exhaust the
reader cost one page or record a counted reason, never the worker. No wall-clock thresholds: the inputs that
used to take minutes are simply read here; memory is bounded in a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from crawl_helpers import write_warc

from transforms.crawl import gzscan
from transforms.crawl.htmlscan import image_markup
from transforms.crawl.options import CrawlOptions
from transforms.crawl.read import read_file
from transforms.crawl.stats import FileStats
from transforms.crawl.warc import decode_html, read_warc
from wit_pipeline.testbed import hostile_warc as hostile

PAGE = hostile.PAGE
GOOD = b'<html><body><img src="/g.jpg" alt="good">'
NEXT = "http://next.example/"


def read(path, kind="warc", options=CrawlOptions()):
    stats = FileStats(str(path))
    return list(read_file(str(path), kind, options, stats)), stats


def warc_of(tmp_path, *bodies: bytes):
    return hostile.write(tmp_path / "h.warc.gz", [hostile.response(i, b) for i, b in enumerate(bodies, 1)])


# --- HTML ---

def test_100k_images_are_capped_per_page_and_the_rest_counted(tmp_path):
    found, stats = read(warc_of(tmp_path, hostile.many_images(100_000), GOOD))
    assert len(found) == 1001 and found[999]["text"] == "a999" and found[1000]["text"] == "good"
    assert stats.skipped["too_many_images"] == 99_000 and stats.candidates == 1001


def test_the_image_cap_is_an_option(tmp_path):
    found, stats = read(warc_of(tmp_path, hostile.many_images(50)), options=CrawlOptions(max_images_per_page=7))
    assert [c["text"] for c in found] == [f"a{i}" for i in range(7)] and stats.skipped["too_many_images"] == 43
    with pytest.raises(ValueError):
        CrawlOptions(max_images_per_page=0)


@pytest.mark.parametrize("body", [
    hostile.nested(100_000), hostile.nested(100_000, "ul"), hostile.formatting_bomb(20_000),
    hostile.unmatched_end_tags(100_000)], ids=["divs", "lists", "formatting", "end-tags"])
def test_pathological_nesting_is_read_in_one_pass(tmp_path, body):
    # 100k nested <div> took lexbor 22 s (quadratic); 2,000 formatting elements took 765 MB (more: killed).
    found, stats = read(warc_of(tmp_path, body, GOOD))
    assert [c["text"] for c in found] == [found[0]["text"], "good"] and found[0]["text"] in "deep f u"
    assert stats.errors == []


def test_huge_srcset_long_urls_and_alts(tmp_path):
    found, stats = read(warc_of(tmp_path, hostile.huge_srcset(100_000), hostile.long_attributes(1 << 20, 1 << 20)))
    assert [c["text"] for c in found] == ["srcset", "fine"]
    assert found[0]["url"].startswith("http://hostile.example/s")  # the largest candidate read
    assert stats.skipped["url_too_long"] == 1 and stats.skipped["text_too_long"] == 1


def test_the_markup_kept_is_what_a_browser_sees():
    html = ('<!-- <img src=c alt=comment> --><script>"<img src=s alt=script>"</script>'
            '<template><template></template><img src=t alt=template></template>'
            '<textarea><img src=ta alt=textarea></textarea><noscript><img src=n alt=noscript></noscript>'
            '<IMAGE src=i alt=image><img alt="a > b" src=q><!--><img src=e alt=empty-comment>'
            '<picture><source srcset=p1><picture><source srcset=p2><img alt=p></picture>'
            '<source srcset=loose><img src=open alt="open to the end')
    assert image_markup(html) == (
        '<img src=n alt=noscript><img src=i alt=image><img alt="a > b" src=q><img src=e alt=empty-comment>'
        '<picture><source srcset=p1></picture><picture><source srcset=p2><img alt=p></picture>')


# --- Charsets ---

@pytest.mark.parametrize("where", ["header", "meta"])
def test_a_declared_utf8_page_keeps_its_charset_past_a_bad_byte(tmp_path, where):
    body = '<html><head>{}</head><body><p>caf\u00e9 \xff</p><img src="a.jpg" alt="café">'
    meta = '<meta charset="utf-8">' if where == "meta" else ""
    raw = body.format(meta).encode("utf-8").replace("\xff".encode("utf-8"), b"\xff")
    content_type = "text/html; charset=utf-8" if where == "header" else "text/html"
    assert decode_html(raw, "utf-8" if where == "header" else None).count("café") == 2
    stats = FileStats("x")
    found = list(read_warc(str(write_warc(tmp_path / "c.warc.gz", [
        {"url": PAGE, "body": raw, "content_type": content_type}])), CrawlOptions(), stats))
    assert [c["text"] for c in found] == ["café"]


# --- WARC and WAT records that inflate far ---

def test_a_huge_metadata_record_is_skipped_and_the_next_page_read(tmp_path):
    path = hostile.write(tmp_path / "m.warc.gz", [hostile.response(1, GOOD), hostile.metadata_bomb(2, 1, 64 << 10),
                                                  hostile.response(3, GOOD, url=NEXT)])
    found, stats = read(path, options=CrawlOptions(max_record_bytes=32 << 10))
    assert [(c["page_url"], c["page_language"]) for c in found] == [(PAGE, None), (NEXT, None)]
    assert stats.skipped["record_too_large"] == 1 and stats.errors == [] and stats.records == 4
    found, _ = read(path)  # under the default cap the language is read
    assert found[0]["page_language"] == "xx"


def wat_with_bomb(tmp_path, inflated: int):
    nxt = hostile.wat_body([{"path": "IMG@/src", "url": "/n.jpg", "alt": "next"}], NEXT)
    return hostile.write(tmp_path / "b.wat.gz", [hostile.wat_bomb(1, inflated), hostile.wat_record(2, nxt, NEXT)])


@pytest.mark.parametrize("scanner", [True, False], ids=["scanner", "fastwarc"])
@pytest.mark.parametrize("inflated", [64 << 10, 80 << 20], ids=["small", "past-the-scanner"])
def test_a_huge_wat_record_is_skipped_and_the_next_read(tmp_path, monkeypatch, scanner, inflated):
    if not scanner:
        monkeypatch.setattr(gzscan, "Scanner", None)
    found, stats = read(wat_with_bomb(tmp_path, inflated), "wat", CrawlOptions(max_record_bytes=32 << 10))
    assert [c["url"] for c in found] == [NEXT + "n.jpg"]
    assert stats.skipped["record_too_large"] == 1 and stats.errors == [] and stats.records == 3


def test_wat_links_are_capped_and_deep_json_costs_one_record(tmp_path):
    path = hostile.write(tmp_path / "l.wat.gz", [
        hostile.wat_record(1, hostile.wat_many_links(5000)), hostile.wat_record(2, hostile.wat_deep_json(100_000)),
        # a brace in the alt defeats the sliced parse: the whole record is parsed, and is too deep
        hostile.wat_record(3, hostile.wat_body('[{"path":"IMG@/src","url":"/x.jpg","alt":"x}"},'
                                               + "[" * 5000 + "]" * 5000 + "]"))])
    found, stats = read(path, "wat", CrawlOptions(max_images_per_page=100))
    assert [c["text"] for c in found] == [f"a{i}" for i in range(100)] + ["d"]
    assert stats.skipped["too_many_images"] == 4900
    assert len(stats.errors) == 1 and "not valid WAT JSON" in stats.errors[0]["error"]


_CHILD = """
import json, sys
from transforms.crawl import gzscan
from transforms.crawl.options import CrawlOptions
from transforms.crawl.read import read_file
from transforms.crawl.stats import FileStats
path, kind, scanner = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if not scanner:
    gzscan.Scanner = None
stats = FileStats(path)
rows = list(read_file(path, kind, CrawlOptions(), stats))
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child of a big pytest process would
# report its parent's peak.
peak_kb = int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1])
print(json.dumps({"urls": [r["url"] for r in rows], "skipped": dict(stats.skipped), "errors": stats.errors,
                  "peak_mb": peak_kb // 1024}))
"""


@pytest.mark.parametrize("kind", ["warc", "wat"])
def test_a_512mb_record_from_a_2mb_member_keeps_memory_bounded(tmp_path, kind):
    # Before: each such record was read whole (2.1 GB peak for 1 GB).
    if kind == "warc":
        path = hostile.write(tmp_path / "m.warc.gz", [hostile.response(1, GOOD), hostile.metadata_bomb(2, 1, 512 << 20),
                                                      hostile.response_bomb(3, 512 << 20),
                                                      hostile.response(4, GOOD, url=NEXT)])
        expected = ([PAGE.rsplit("/", 1)[0] + "/g.jpg", NEXT + "g.jpg"], {"record_too_large": 1, "html_too_large": 1})
    else:
        path = wat_with_bomb(tmp_path, 512 << 20)
        expected = ([NEXT + "n.jpg"], {"record_too_large": 1})
    for scanner in ("1", "0"):
        out = subprocess.run([sys.executable, "-c", _CHILD, path, kind, scanner], capture_output=True, text=True,
                             check=True)
        result = json.loads(out.stdout)
        assert (result["urls"], result["skipped"], result["errors"]) == (*expected, [])
        assert result["peak_mb"] < 600, result
