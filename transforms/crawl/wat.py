"""WAT files to candidates: the `IMG@/src` links with a non-blank alt of each page's
Envelope / Payload-Metadata / HTTP-Response-Metadata / HTML-Metadata / Links.

Speed comes from not parsing what is not needed. A record whose bytes lack "IMG@/src" has no image link and
is skipped unparsed (requests, metadata, pages without images: most of a WAT); with the C scanner (gzscan)
such a record never even reaches Python: its member is inflated, its header read and its block searched in C.
In the others only the link
objects around each "alt" key are parsed, one small slice each: a link is a flat JSON object of strings, so
the bytes from the `{` before to the `}` after are that object, unless a string in it holds a brace; and a
slice cut at such a brace is never valid JSON (it starts or ends inside a string), so it fails to parse.
Any failure, a <base href> (Head/Base), or an unexpected layout sends the record to a full orjson parse.
Both ways give the same links; tests hold them to it.
"""
from __future__ import annotations

from collections.abc import Iterator

import orjson

from transforms.candidate import candidate

from .container import iter_selected, keep_last, source
from .options import CrawlOptions
from .stats import FileStats
from .urls import absolute_url

IMG_PATH = "IMG@/src"
_IMG = b'"IMG@/src"'
_LINKS = b'"Links"'
_BASE = b'"Base"'
_HEAD = b'"Head"'
_ALT = b'"alt"'
_LANGUAGES = b"languages-cld2"
# The records read_wat looks at: pages with an image link, and metadata records with a page's language.
_NEEDLES = (_IMG, _LANGUAGES)
_IMG_NEEDLE, _LANGUAGE_NEEDLE = 0, 1
_HEADERS = ("WARC-Target-URI", "WARC-Refers-To")


def read_wat(path: str, options: CrawlOptions, stats: FileStats) -> Iterator[dict]:
    """Candidates of one WAT file, in file order. Problems go to `stats`."""
    pending: list[dict] = []  # the last page's candidates, held until its language (next record) is known
    pending_ids: tuple = ()
    pending_number = -2
    selected = iter_selected(path, stats, _NEEDLES, _HEADERS, options.max_record_bytes)
    for number, offset, (target, refers_to), body, needle, first in selected:
        if pending:
            # Only the record right after the page can be its metadata record.
            if number == pending_number + 1 and (needle == _LANGUAGE_NEEDLE or _LANGUAGES in body):
                _set_language(pending, pending_ids, body)
            yield from pending
            pending = []
        if needle != _IMG_NEEDLE:
            continue
        stats.pages += 1
        try:
            links, base, envelope_url = image_links(body, first)
        except (orjson.JSONDecodeError, TypeError, ValueError) as e:
            stats.error(f"the record is not valid WAT JSON: {e}", record=source(path, offset))
            continue
        page_url = target or envelope_url
        pending = _candidates(links, page_url, base, source(path, offset), options, stats)
        if pending:
            pending_ids, pending_number = (refers_to, page_url), number
    if pending_number == stats.records - 1:  # the page is the last record read: it may be cut short
        pending = keep_last(pending, stats)
    yield from pending


def _candidates(links: list[dict], page_url: str | None, base: str | None, where: str,
                options: CrawlOptions, stats: FileStats) -> list[dict]:
    base = (absolute_url(base, page_url) or page_url) if base else page_url
    max_text, max_url, keep_title = options.max_text_len, options.max_url_len, options.keep_title
    if len(links) > options.max_images_per_page:  # as for WARC pages: the rest counted, not examined
        stats.skip("too_many_images", len(links) - options.max_images_per_page)
        links = links[:options.max_images_per_page]
    out = []
    for link in links:
        alt = link.get("alt")
        if type(alt) is not str or not alt or alt.isspace():
            stats.skip("no_alt")
            continue
        if len(alt) > max_text:
            stats.skip("text_too_long")
            continue
        url = link.get("url")
        url = absolute_url(url, base) if type(url) is str else None
        if url is None:
            stats.skip("not_http_url")
            continue
        if len(url) > max_url:
            stats.skip("url_too_long")
            continue
        title = link.get("title") if keep_title else None
        out.append(candidate(url, alt, page_url, where, None, title if type(title) is str else None))
    stats.candidates += len(out)
    return out


def image_links(body: bytes, first: int | None = None) -> tuple[list[dict], str | None, str | None]:
    """(the IMG@/src link objects that have an alt attribute, the page's <base href> or None, the
    envelope's target URI or None).

    `first`: where "IMG@/src" first occurs in `body`, when the caller knows."""
    links = _image_links_fast(body, body.find(_IMG) if first is None else first)
    if links is not None:
        return links, None, None
    return _image_links_parsed(orjson.loads(body))


def _image_links_fast(body: bytes, first: int) -> list[dict] | None:
    """The IMG@/src links with an alt, found through their "alt" keys and parsed slice by slice; None when a
    slice is not plainly one object, or the page has a <base href> (Head/Base, before Links), or Head does
    not come before Links, or "IMG@/src" occurs before Links."""
    links_at = _links_key(body, first)
    if links_at < 0:
        return None
    # Head (where a Base would be) must come before Links for the Base check to be over the right bytes.
    head_at = body.find(_HEAD, 0, links_at)
    if head_at < 0 or body.find(_BASE, head_at, links_at) >= 0:
        return None
    out = []
    i = body.find(_ALT, links_at)
    while i >= 0:
        start = body.rfind(b"{", links_at, i)
        end = body.find(b"}", i)
        if start < 0 or end < 0:
            return None
        try:
            link = orjson.loads(body[start:end + 1])
        except orjson.JSONDecodeError:
            return None
        if type(link) is not dict:
            return None
        if link.get("path") == IMG_PATH and "alt" in link:
            out.append(link)
        i = body.find(_ALT, end)
    return out


def _links_key(body: bytes, end: int) -> int:
    """Offset of the "Links" key (a "Links" string followed by a colon) before `end`, or -1."""
    i = body.find(_LINKS, 0, end)
    while i >= 0:
        j = i + len(_LINKS)
        while j < len(body) and body[j] in b" \t\r\n":
            j += 1
        if j < len(body) and body[j] == 0x3A:  # ":"
            return i
        i = body.find(_LINKS, j, end)
    return -1


def _image_links_parsed(data) -> tuple[list[dict], str | None, str | None]:
    envelope = _get(data, "Envelope")
    target = _get(_get(envelope, "WARC-Header-Metadata"), "WARC-Target-URI")
    html = _get(_get(_get(envelope, "Payload-Metadata"), "HTTP-Response-Metadata"), "HTML-Metadata")
    links = _get(html, "Links")
    base = _get(_get(html, "Head"), "Base")
    images = [link for link in links if type(link) is dict and link.get("path") == IMG_PATH] \
        if isinstance(links, list) else []
    with_alt = [link for link in images if "alt" in link]
    return with_alt, base if isinstance(base, str) else None, target if isinstance(target, str) else None


def _get(obj, key):
    return obj.get(key) if isinstance(obj, dict) else None


def _set_language(pending: list[dict], ids: tuple, body: bytes) -> None:
    """Give the page's candidates the language Common Crawl's metadata record (languages-cld2) names, when
    that record is about the same capture."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    envelope = _get(data, "Envelope")
    header = _get(envelope, "WARC-Header-Metadata")
    refers_to, page_url = ids
    concurrent = _get(header, "WARC-Concurrent-To")
    if refers_to and concurrent:
        if concurrent != refers_to:
            return
    elif _get(header, "WARC-Target-URI") != page_url:
        return
    fields = _get(_get(_get(envelope, "Payload-Metadata"), "WARC-Metadata-Metadata"), "Metadata-Records")
    for item in fields if isinstance(fields, list) else ():
        if _get(item, "Name") == "languages-cld2":
            language = cld2_language(_get(item, "Value"))
            if language:
                for c in pending:
                    c["page_language"] = language
            return


def cld2_language(value) -> str | None:
    """The top language code of a Common Crawl `languages-cld2` value (a JSON text), or None."""
    if isinstance(value, (str, bytes)):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    languages = _get(value, "languages")
    if isinstance(languages, list) and languages:
        code = _get(languages[0], "code")
        return code if isinstance(code, str) and code else None
    return None
