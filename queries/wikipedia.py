"""Reading Wikipedia text: the pages-articles XML dump (streamed, .bz2 or plain), extracted plain text
(one paragraph per line, as WikiExtractor writes it), or JSONL with a "text" field (one article per line).

Plain Python (no Beam). Files are opened with fsspec, so local paths and gs://, s3://, ... URLs work. The
XML dump is never held in memory: it is decompressed as a stream and each <page> element is freed once read.
Wiki markup is stripped by `clean_wikitext`, a small regex cleaner that keeps the prose and drops the rest.
"""
from __future__ import annotations

import bz2
import contextlib
import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import fsspec

from transforms.files import extension

FORMATS = ("xml", "jsonl", "text")
# Plain text is handed on in chunks of whole lines, so a big file is not one element per line.
_TEXT_CHUNK_CHARS = 1 << 16


class WikipediaInputError(ValueError):
    """A Wikipedia input that cannot be read: the message names the file (and line) and what is wrong."""


@dataclass(frozen=True)
class Page:
    title: str
    namespace: int  # 0: an article; others are talk, user, file, template, category, ... pages
    redirect: bool
    wikitext: str


def detect_format(path: str) -> str:
    """`xml` (a pages-articles dump), `jsonl` (.jsonl/.json/.ndjson) or `text` (anything else), by name."""
    ext = extension(path)
    if ext == "xml":
        return "xml"
    if ext in ("jsonl", "json", "ndjson"):
        return "jsonl"
    return "text"


def read_documents(path: str) -> Iterator[str]:
    """The text of `path` in units the builder counts: cleaned articles (XML), one article per JSONL line,
    or chunks of whole lines (plain text). Word pairs never span two units or two lines."""
    fmt = detect_format(path)
    if fmt == "xml":
        with _open_binary(path) as f:
            for page in iter_pages(f, path):
                if page.namespace == 0 and not page.redirect:
                    yield clean_wikitext(page.wikitext)
    elif fmt == "jsonl":
        yield from _read_jsonl(path)
    else:
        yield from _read_text(path)


# --- the XML dump ------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _open_binary(path: str):
    compressed_bz2 = path.lower().endswith(".bz2")
    try:
        opened = fsspec.open(path, "rb", compression=None if compressed_bz2 else "infer").open()
    except FileNotFoundError:
        raise WikipediaInputError(f"no Wikipedia input at {path}") from None
    with opened as raw:
        if compressed_bz2:
            # A stream decompressor: BZ2File also reads multistream dumps (pages-articles-multistream).
            with bz2.BZ2File(raw) as f:
                yield f
        else:
            yield raw


def _local(tag: str) -> str:
    """'{http://www.mediawiki.org/xml/export-0.11/}page' -> 'page': any export schema version."""
    return tag.rpartition("}")[2]


def iter_pages(fileobj, name: str = "<stream>") -> Iterator[Page]:
    """Every <page> of a MediaWiki XML export, in order, in constant memory."""
    context = ET.iterparse(fileobj, events=("start", "end"))
    try:
        _, root = next(context)
        for event, elem in context:
            if event != "end" or _local(elem.tag) != "page":
                continue
            yield _page(elem)
            # Drop the page (and the empty shells iterparse keeps under the root) before reading on.
            root.clear()
    except ET.ParseError as e:
        raise WikipediaInputError(f"{name} is not a readable MediaWiki XML dump: {e}") from None
    except (OSError, EOFError) as e:  # a truncated or corrupt .bz2
        raise WikipediaInputError(f"{name}: cannot read on: {e}") from None


def _page(elem) -> Page:
    title, namespace, redirect, text = "", 0, False, ""
    for child in elem:
        name = _local(child.tag)
        if name == "title":
            title = child.text or ""
        elif name == "ns":
            namespace = int(child.text or 0)
        elif name == "redirect":
            redirect = True
        elif name == "revision":
            for part in child:
                if _local(part.tag) == "text":
                    text = part.text or ""
    return Page(title, namespace, redirect, text)


# --- markup ------------------------------------------------------------------------------------------------

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_REF = re.compile(r"<ref\b[^>]*/>|<ref\b[^>]*>.*?(?:</ref\s*>|\Z)", re.S | re.I)
# Blocks whose content is not prose: formulas, code, galleries, ...
_NON_PROSE = re.compile(r"<(math|chem|code|pre|source|syntaxhighlight|score|timeline|gallery|imagemap|graph)\b"
                        r"[^>]*>.*?</\1\s*>", re.S | re.I)
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")  # innermost only; applied until nothing changes
_TABLE = re.compile(r"\{\|(?:(?!\{\|)[\s\S])*?\|\}")  # innermost only, likewise
_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")  # innermost only, likewise (image captions hold links)
_EXTERNAL_LINK = re.compile(r"\[(?:https?:|ftp:)?//[^\s\]]*(?:\s+([^\]]*))?\]")
_URL = re.compile(r"https?://\S+")
_HEADING = re.compile(r"^(={1,6})\s*(.*?)\s*\1\s*$", re.M)
_LIST_MARKER = re.compile(r"^[*#:;]+[ \t]*", re.M)
_LINE_BREAK = re.compile(r"<br\s*/?>", re.I)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"'{2,}")
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_RULE = re.compile(r"^-{4,}\s*$", re.M)
_BLANK_LINES = re.compile(r"\n\s*\n\s*")
# Link targets in these namespaces are not prose: [[File:...]], [[Category:...]], interwiki [[de:Hund]].
_DROPPED_PREFIXES = frozenset({"file", "image", "media", "category"})
_LANGUAGE_PREFIX = re.compile(r"[a-z]{2,3}(?:-[a-z]+)*")


def clean_wikitext(text: str) -> str:
    """The prose of a page's wikitext: templates, tables, references, comments, files, categories, tags
    and formatting removed; [[target|label]] -> label, [[target]] -> target, [url label] -> label;
    headings keep their words on their own line. Good enough to count words, not to render."""
    text = _COMMENT.sub("", text)
    text = _NON_PROSE.sub("", text)
    text = _REF.sub("", text)
    text = _innermost_first(_TEMPLATE, "", text)
    text = _innermost_first(_TABLE, "", text)
    text = _innermost_first(_LINK, _link_text, text)
    text = text.replace("{{", "").replace("}}", "")  # what unbalanced markup leaves behind
    text = _EXTERNAL_LINK.sub(lambda m: m.group(1) or "", text)
    text = _URL.sub("", text)
    text = _HEADING.sub(r"\2", text)
    text = _LIST_MARKER.sub("", text)
    text = _LINE_BREAK.sub("\n", text)
    text = _TAG.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _MAGIC_WORD.sub("", text)
    text = _RULE.sub("", text)
    text = html.unescape(text)  # &nbsp; &amp; ... as written in the wikitext
    return _BLANK_LINES.sub("\n", text).strip()


def _innermost_first(pattern: re.Pattern, replacement, text: str) -> str:
    # One pass per nesting level; real pages nest a few levels at most.
    while True:
        text, n = pattern.subn(replacement, text)
        if not n:
            return text


def _link_text(m: re.Match) -> str:
    target, _, label = m.group(1).partition("|")
    prefix, colon, _ = target.partition(":")
    prefix = prefix.strip()
    if colon and (prefix.lower() in _DROPPED_PREFIXES or _LANGUAGE_PREFIX.fullmatch(prefix)):
        return ""
    return (label.rpartition("|")[2] if label else target).strip()


# --- extracted text and JSONL ------------------------------------------------------------------------------

def _open_text(path: str):
    return fsspec.open(path, "rt", compression="infer", encoding="utf-8", errors="strict")


def _read_text(path: str) -> Iterator[str]:
    chunk: list[str] = []
    size = 0
    try:
        with _open_text(path) as f:
            for line in f:
                # WikiExtractor wraps each article in <doc ...> ... </doc> lines.
                if line.startswith(("<doc ", "</doc>")):
                    continue
                chunk.append(line)
                size += len(line)
                if size >= _TEXT_CHUNK_CHARS:
                    yield "".join(chunk)
                    chunk, size = [], 0
    except FileNotFoundError:
        raise WikipediaInputError(f"no Wikipedia input at {path}") from None
    except UnicodeDecodeError as e:
        raise WikipediaInputError(f"{path} is not UTF-8 text: {e}") from None
    if chunk:
        yield "".join(chunk)


def _read_jsonl(path: str) -> Iterator[str]:
    try:
        with _open_text(path) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise WikipediaInputError(f"{path}:{number}: not a JSON line: {e}") from None
                text = record.get("text") if isinstance(record, dict) else None
                if not isinstance(text, str):
                    raise WikipediaInputError(f"{path}:{number}: expected a JSON object with a string "
                                              "field 'text'")
                yield text
    except FileNotFoundError:
        raise WikipediaInputError(f"no Wikipedia input at {path}") from None
    except UnicodeDecodeError as e:
        raise WikipediaInputError(f"{path} is not UTF-8 text: {e}") from None
