"""WARC files to candidates: each HTML response parsed with a real HTML5 parser (Resiliparse, on lexbor),
decoded with the charset a browser would use; every <img> with a non-blank alt gives a candidate (at most
max_images_per_page per page; the rest are counted). The parser sees only the image markup, cut out in one
linear pass (htmlscan), so a hostile page cannot make tree building quadratic.

The image URL is the src, resolved against the page's first <base href> (itself resolved against the page
URL) or the page URL. Lazy-loading markup wins over src, which then holds a placeholder (a data: URI or a
spacer GIF): data-src, data-lazy-src, data-original. An <img> without a usable URL so far takes the largest
candidate of its srcset, then of data-srcset, then of the <source srcset> of its <picture>. The title
attribute is kept apart (the candidate's `title`). The page language comes from the record metadata when
there is some: the WARC-Identified-Content-Language header, or the languages-cld2 field of the metadata
record Common Crawl writes right after each response.
"""
from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from fastwarc.warc import WarcRecordType
from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5
from resiliparse.parse.html import HTMLTree

from transforms.candidate import candidate

from .container import iter_records, keep_last, source
from .htmlscan import image_markup
from .options import CrawlOptions
from .stats import FileStats
from .urls import absolute_url, best_srcset_url
from .wat import cld2_language

HTML_TYPES = ("text/html", "application/xhtml+xml")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def read_warc(path: str, options: CrawlOptions, stats: FileStats) -> Iterator[dict]:
    """Candidates of one WARC file, in file order. Problems go to `stats`."""
    pending: list[dict] = []  # the last page's candidates, held until the metadata record after it is seen
    pending_id = None
    for record, offset in iter_records(path, stats, parse_http=True):
        kind = record.record_type
        if pending:
            if kind == WarcRecordType.metadata and record.headers.get("WARC-Concurrent-To") == pending_id:
                fields = record.reader.read(options.max_record_bytes + 1)
                if len(fields) > options.max_record_bytes:
                    stats.skip("record_too_large")  # the page keeps its candidates, without a language
                else:
                    _set_language(pending, fields)
            yield from pending
            pending = []
        if kind != WarcRecordType.response or not record.is_http or not _is_html(record):
            continue
        body = record.reader.read(options.max_html_bytes + 1)
        if len(body) > options.max_html_bytes:
            stats.skip("html_too_large")
            continue
        stats.pages += 1
        page_url = _target_uri(record.headers.get("WARC-Target-URI"))
        language = _header_language(record.headers.get("WARC-Identified-Content-Language"))
        here = source(path, offset)
        try:
            pending = page_candidates(body, page_url, record.http_charset, here, language, options, stats)
        except Exception as e:  # noqa: BLE001 - one bad page is noted and the file goes on
            stats.error(f"cannot parse the page's HTML: {type(e).__name__}: {e}", record=here)
            continue
        pending_id = record.headers.get("WARC-Record-ID")
    yield from keep_last(pending, stats)


def _is_html(record) -> bool:
    declared = (record.http_content_type or "").strip().lower()
    if declared:
        return declared.startswith(HTML_TYPES)
    # No Content-Type: Common Crawl's own detection, when present.
    identified = (record.headers.get("WARC-Identified-Payload-Type") or "").strip().lower()
    return identified.startswith(HTML_TYPES)


def _target_uri(value: str | None) -> str | None:
    # WARC 1.0 writers (wget) put the URI in angle brackets.
    if value and value.startswith("<") and value.endswith(">"):
        return value[1:-1]
    return value or None


def _header_language(value: str | None) -> str | None:
    """First language of WARC-Identified-Content-Language ("zho,eng": ISO 639-3, most text first)."""
    if not value:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None


def _set_language(pending: list[dict], body: bytes) -> None:
    """Fill the page language from a Common Crawl metadata record ("languages-cld2: {json}")."""
    if pending[0]["page_language"]:
        return  # the response's own header already named it
    for line in body.splitlines():
        name, _, value = line.partition(b":")
        if name.strip() == b"languages-cld2":
            language = cld2_language(value.strip())
            if language:
                for c in pending:
                    c["page_language"] = language
            return


def decode_html(body: bytes, declared_charset: str | None = None) -> str:
    """The page as text, decoded as a browser would: byte order mark, else the HTTP charset, else the
    <meta charset> within the first 1024 bytes, else a detected encoding (WHATWG names: ISO-8859-1 means
    windows-1252, and so on). A declared charset is kept whatever the bytes: a stray invalid byte becomes
    U+FFFD, as in a browser, instead of the page being re-read in another charset. Undecodable bytes never
    fail the page."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(encoding, errors="replace")
    encoding = _declared(declared_charset) if declared_charset else None
    if encoding is None:
        encoding = _meta_charset(body)
    if encoding is not None:
        return bytes_to_str(body, encoding, errors="replace", fallback_encodings=())
    return bytes_to_str(body, detect_encoding(body), errors="replace")


def _declared(charset: str) -> str | None:
    return map_encoding_to_html5(charset.strip().strip("\"'"), fallback_utf8=False)


# The HTML standard's prescan looks for <meta charset=...> or <meta http-equiv content="...; charset=...">
# in the first 1024 bytes (bounded: the pattern never scans far).
_META_CHARSET = re.compile(rb"<meta[^>]{0,512}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_:.()+-]{1,40})", re.IGNORECASE)


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body, 0, 1024)
    if match is None:
        return None
    encoding = _declared(match.group(1).decode("ascii"))
    # A page cannot really be UTF-16 if its <meta> reads as ASCII: the standard takes UTF-8 then.
    return "utf-8" if encoding and encoding.startswith("utf-16") else encoding


def page_images(html: str, page_url: str | None, use_srcset: bool = True,
                limit: int | None = None) -> tuple[list[tuple[str | None, str, str | None]], int]:
    """((absolute http(s) image URL or None, alt, title or None) of the first `limit` <img> with an alt
    attribute, in document order; how many more there are). Time is linear in len(html)."""
    document = HTMLTree.parse(image_markup(html)).document
    base = page_url
    base_element = document.query_selector("base[href]")  # the first one counts (HTML standard)
    if base_element is not None:
        base = absolute_url(base_element.getattr("href"), page_url) or page_url
    # img[alt], not every img: matching runs inside lexbor, and each node handed to Python costs time.
    images = document.query_selector_all("img[alt]")
    n = len(images)
    keep = n if limit is None else min(n, limit)
    # item(i), not iteration (quadratic in resiliparse 2) nor values() (a node object for every image).
    return [_image(images.item(i), base, use_srcset) for i in range(keep)], n - keep


def _image(img, base: str | None, use_srcset: bool) -> tuple[str | None, str, str | None]:
    url = None
    for attr in LAZY_SRC:
        url = absolute_url(img.getattr(attr), base)
        if url is not None:
            break
    else:
        url = absolute_url(img.getattr("src"), base)
    if url is None and use_srcset:
        url = _srcset_url(img, base)
    return url, img.getattr("alt") or "", img.getattr("title")


# What lazy-loading scripts (lazysizes, jQuery lazyload, WordPress plugins) read the real URL from.
LAZY_SRC = ("data-src", "data-lazy-src", "data-original")


def _srcset_url(img, base: str | None) -> str | None:
    url = best_srcset_url(img.getattr("srcset"), base) or best_srcset_url(img.getattr("data-srcset"), base)
    parent = img.parent
    if url is None and parent is not None and parent.tag == "picture":
        for source_element in parent.query_selector_all("source[srcset]"):
            url = best_srcset_url(source_element.getattr("srcset"), base)
            if url is not None:
                break  # the first source a browser would consider; its media/type conditions are not evaluated
    return url


def page_candidates(body: bytes, page_url: str | None, declared_charset: str | None, source_id: str,
                    language: str | None, options: CrawlOptions, stats: FileStats) -> list[dict]:
    out = []
    images, more = page_images(decode_html(body, declared_charset), page_url, options.use_srcset,
                               options.max_images_per_page)
    if more:
        stats.skip("too_many_images", more)
    for url, alt, title in images:
        if not alt or alt.isspace():
            stats.skip("no_alt")
        elif len(alt) > options.max_text_len:
            stats.skip("text_too_long")
        elif url is None:
            stats.skip("not_http_url")
        elif len(url) > options.max_url_len:
            stats.skip("url_too_long")
        else:
            out.append(candidate(url, alt, page_url, source_id, language, title if options.keep_title else None))
    stats.candidates += len(out)
    return out
