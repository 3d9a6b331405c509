"""WARC extraction: every alt image of the real CC-MAIN-2020-34 WARC, parity with its WAT, and the HTML rules
(base href, srcset, http(s) only, charsets, title, language)."""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

from crawl_helpers import CC_WARC, DERIVED_WAT, WHIRLWIND_WARC, pairs, write_warc
from fastwarc.warc import ArchiveIterator, WarcRecordType

from transforms.crawl.options import CrawlOptions
from transforms.crawl.stats import FileStats
from transforms.crawl.warc import decode_html, read_warc
from transforms.crawl.wat import read_wat

OPTIONS = CrawlOptions()
PAGE = "http://example.com/dir/page.html"


def read(path, options=OPTIONS):
    stats = FileStats(str(path))
    return list(read_warc(str(path), options, stats)), stats


class _AltImages(HTMLParser):
    """The reference: Python's own HTML tokenizer, collecting (src, alt) of <img> with a non-blank alt."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img" and (attrs.get("alt") or "").strip():
            self.found.append((attrs.get("src"), attrs["alt"]))


def test_every_non_blank_alt_img_of_the_real_warc_is_found():
    expected = []
    for record in ArchiveIterator(open(CC_WARC, "rb"), parse_http=True):
        if record.record_type != WarcRecordType.response or not (record.http_content_type or "").startswith("text/html"):
            continue
        page_url = record.headers.get("WARC-Target-URI")
        reference = _AltImages()
        reference.feed(decode_html(record.reader.read(), record.http_charset))
        expected += [(urljoin(page_url, src.strip()), alt, page_url) for src, alt in reference.found]
    found, stats = read(CC_WARC)
    assert len(expected) == 32
    assert pairs(found) == expected
    assert stats.errors == [] and stats.pages == 16 and stats.candidates == 32


def test_the_derived_wat_gives_the_same_pairs_as_the_warc():
    from_warc, _ = read(CC_WARC)
    stats = FileStats(str(DERIVED_WAT))
    from_wat = list(read_wat(str(DERIVED_WAT), OPTIONS, stats))
    assert pairs(from_wat) == pairs(from_warc)
    assert [c["title"] for c in from_wat] == [c["title"] for c in from_warc]
    assert [c["uid"] for c in from_wat] == [c["uid"] for c in from_warc]


def test_page_language_from_the_real_metadata_records():
    found, _ = read(CC_WARC)
    by_page = {c["page_url"]: c["page_language"] for c in found}
    assert by_page["http://003338.cn/l41/481397.html"] == "zh"
    assert by_page["http://01spb.ru/company/"] == "ru"
    assert by_page["http://0900-hovenier.nl/gelderland/oosterbeek/"] == "nl"
    assert all(c["page_language"] for c in found)


def test_real_whirlwind_warc():
    found, stats = read(WHIRLWIND_WARC)
    assert stats.errors == [] and len(found) == 7
    assert all(c["page_url"] == "https://an.wikipedia.org/wiki/Escopete" for c in found)


def page(body: str, **kw) -> dict:
    return {"url": kw.pop("url", PAGE), "body": body.encode(kw.pop("encoding", "utf-8")), **kw}


def test_base_href_first_one_counts_and_is_resolved(tmp_path):
    html = ('<html><head><base target="_blank"><base href="../static/"><base href="http://ignored.org/">'
            '</head><body><img src="a.jpg" alt="A"><img src="/b.jpg" alt="B"></body></html>')
    found, _ = read(write_warc(tmp_path / "b.warc.gz", [page(html)]))
    assert [c["url"] for c in found] == ["http://example.com/static/a.jpg", "http://example.com/b.jpg"]


def test_srcset_is_used_when_src_is_unusable(tmp_path):
    html = ('<img alt="widths" srcset="s.jpg 480w, https://cdn.example.org/w_800,h_600/l.jpg 800w, m.jpg 640w">'
            '<img alt="densities" src="" srcset="x1.jpg, x2.jpg 2x, x15.jpg 1.5x">'
            '<img alt="src wins" src="src.jpg" srcset="big.jpg 2000w">'
            '<img alt="data src" src="data:image/gif;base64,R0lGOD" srcset="real.jpg 1x">'
            '<img alt="nothing usable" src="javascript:x" srcset="data:a 1x">')
    found, stats = read(write_warc(tmp_path / "s.warc.gz", [page(html)]))
    assert [(c["text"], c["url"]) for c in found] == [
        ("widths", "https://cdn.example.org/w_800,h_600/l.jpg"), ("densities", "http://example.com/dir/x2.jpg"),
        ("src wins", "http://example.com/dir/src.jpg"), ("data src", "http://example.com/dir/real.jpg")]
    assert stats.skipped["not_http_url"] == 1
    found, _ = read(write_warc(tmp_path / "n.warc.gz", [page(html)]), CrawlOptions(use_srcset=False))
    assert [c["text"] for c in found] == ["src wins"]


def test_lazy_loading_attributes_and_picture_sources(tmp_path):
    html = ('<img alt="lazysizes" src="data:image/gif;base64,R0lGOD" data-src="/lazy/a.jpg" class="lazyload">'
            '<img alt="spacer src" src="spacer.gif" data-lazy-src="b.jpg">'
            '<img alt="jquery" src="grey.gif" data-original="https://cdn.example.org/c.jpg">'
            '<img alt="lazy srcset" data-srcset="d1.jpg 400w, d2.jpg 800w">'
            '<picture><source type="image/webp" srcset="e.webp 1x, e2.webp 2x"><source srcset="f.jpg">'
            '<img alt="picture"></picture>'
            '<picture><source srcset="g.webp"><img alt="img src first" src="h.jpg"></picture>'
            '<div><source srcset="no.jpg"><img alt="not in a picture"></div>')
    found, stats = read(write_warc(tmp_path / "l.warc.gz", [page(html)]))
    assert [(c["text"], c["url"]) for c in found] == [
        ("lazysizes", "http://example.com/lazy/a.jpg"), ("spacer src", "http://example.com/dir/b.jpg"),
        ("jquery", "https://cdn.example.org/c.jpg"), ("lazy srcset", "http://example.com/dir/d2.jpg"),
        ("picture", "http://example.com/dir/e2.webp"), ("img src first", "http://example.com/dir/h.jpg")]
    assert stats.skipped["not_http_url"] == 1


def test_only_http_images_with_non_blank_alt(tmp_path):
    html = ('<img src="ftp://x.org/a.jpg" alt="ftp"><img src="mailto:a@b" alt="mail"><img src="ok.jpg" alt="ok">'
            '<img src="b.jpg" alt=""><img src="c.jpg" alt=" &#9;\n "><img src="d.jpg">'
            '<IMG SRC="//cdn.org/e.jpg" ALT="upper &amp; entity" TITLE="a title">')
    found, stats = read(write_warc(tmp_path / "h.warc.gz", [page(html)]))
    assert [(c["url"], c["text"], c["title"]) for c in found] == [
        ("http://example.com/dir/ok.jpg", "ok", None), ("http://cdn.org/e.jpg", "upper & entity", "a title")]
    assert stats.skipped == {"not_http_url": 2, "no_alt": 2}  # alt present but blank; no alt: not a pair


def test_charsets_declared_meta_bom_and_detected(tmp_path):
    russian = "Стратегия пожарной безопасности"
    japanese = "日本語の説明文"
    body = f'<html><body><img src="a.jpg" alt="{russian}"></body></html>'
    pages = [
        # the HTTP header's charset
        {"url": "http://a.ru/", "body": body.encode("windows-1251"), "content_type": "text/html; charset=windows-1251"},
        # <meta charset> in the page, none in the header
        {"url": "http://b.jp/", "body": (f'<html><head><meta charset="shift_jis"></head><body>'
                                         f'<img src="a.jpg" alt="{japanese}"></body></html>').encode("shift_jis")},
        # a byte order mark beats a wrong header
        {"url": "http://c.ru/", "body": b"\xff\xfe" + body.encode("utf-16-le"),
         "content_type": "text/html; charset=iso-8859-1"},
        # nothing declared: detected (a longer Cyrillic text, as real pages have)
        {"url": "http://d.ru/", "body": (f"<html><body><p>{russian}. {russian}. Компания специализируется на "
                                         f"оказании широкого спектра услуг.</p>{body}</body></html>").encode("koi8-r")},
    ]
    found, stats = read(write_warc(tmp_path / "c.warc.gz", pages))
    assert [c["text"] for c in found] == [russian, japanese, russian, russian]
    assert stats.errors == []


def test_language_header_non_html_and_other_records(tmp_path):
    img = '<img src="a.jpg" alt="A">'
    pages = [page(img, language="deu,eng"),
             page(img, cld2={"reliable": True, "languages": [{"code": "fr"}]}, url="http://fr.example.com/"),
             page(img, content_type="image/jpeg"), page(img, content_type="text/plain"),
             page(img, type="request"), page(img, type="resource"),
             page(img, content_type="application/xhtml+xml; charset=utf-8", url="<http://wget.example.com/>")]
    found, stats = read(write_warc(tmp_path / "l.warc.gz", pages))
    assert [(c["page_url"], c["page_language"]) for c in found] == [
        (PAGE, "deu"), ("http://fr.example.com/", "fr"), ("http://wget.example.com/", None)]
    assert stats.pages == 3


def test_uncompressed_warc(tmp_path):
    found, stats = read(write_warc(tmp_path / "u.warc", [page('<img src="a.jpg" alt="A">')], compress=False))
    assert pairs(found) == [("http://example.com/dir/a.jpg", "A", PAGE)] and stats.errors == []
    assert found[0]["source"].startswith(f"{tmp_path / 'u.warc'}#")


def test_oversized_html_is_skipped_and_counted(tmp_path):
    html = '<img src="a.jpg" alt="A">' + "x" * 5000
    found, stats = read(write_warc(tmp_path / "big.warc.gz", [page(html)]), CrawlOptions(max_html_bytes=1000))
    assert found == [] and stats.skipped["html_too_large"] == 1
