"""The record every stage after the crawl sees, whatever the input (WAT, WARC or a manifest): one (image URL,
alt text) pair and where it came from; CANDIDATE_SCHEMA below names its fields.

Elements are plain dicts (cheap to pickle between Beam stages); these helpers make and check them, and
name the Parquet schemas of candidates and of rejected rows.
"""
from __future__ import annotations

import hashlib

import pyarrow as pa

CANDIDATE_SCHEMA = pa.schema([
    ("uid", pa.string()),  # stable hash of url + text: the same pair has the same uid on every run
    ("url", pa.string()),  # the image URL, absolute
    ("text", pa.string()),  # the alt text
    ("page_url", pa.string()),  # the page the image is on, when known
    ("source", pa.string()),  # "file#record" it was read from
    ("page_language", pa.string()),  # from crawl metadata, when present
    ("title", pa.string()),  # the <img title>, kept apart from the alt text
])
CANDIDATE_FIELDS = tuple(CANDIDATE_SCHEMA.names)

# A dropped candidate: which stage dropped it and why (a fixed reason code plus free-form detail).
REJECTED_SCHEMA = pa.schema([
    ("uid", pa.string()), ("url", pa.string()), ("text", pa.string()), ("source", pa.string()),
    ("stage", pa.string()), ("reason", pa.string()), ("detail", pa.string()),
])


def make_uid(url: str, text: str) -> str:
    """16 hex digits of BLAKE2b over url and text (NUL-separated, so ("ab", "c") != ("a", "bc"))."""
    return hashlib.blake2b(f"{url}\x00{text}".encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def candidate(url: str, text: str, page_url: str | None = None, source: str | None = None,
              page_language: str | None = None, title: str | None = None) -> dict:
    return {"uid": make_uid(url, text), "url": url, "text": text, "page_url": page_url, "source": source,
            "page_language": page_language, "title": title}


def rejected(element: dict, stage: str, reason: str, detail: str | None = None) -> dict:
    """The row that records why `element` (a candidate) was dropped."""
    return {"uid": element.get("uid"), "url": element.get("url"), "text": element.get("text"),
            "source": element.get("source"), "stage": stage, "reason": reason, "detail": detail}
