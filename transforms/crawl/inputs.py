"""Inputs (files, folders, globs, fsspec URLs, Common Crawl path listings) expanded into the files to read,
each with its kind: the units of work of the crawl stage. Nothing is opened here except listings and
folders; a file whose name does not tell its kind is sniffed when it is read."""
from __future__ import annotations

import os

from transforms.files import base_name, is_folder, is_glob, list_files

from .options import MANIFEST_FORMATS, CrawlOptions
from .paths import is_listing, read_listing

KINDS = ("wat", "warc", "manifest")
_MANIFEST_EXTS = {"parquet": "parquet", "pq": "parquet", "csv": "csv", "tsv": "tsv", "jsonl": "jsonl",
                  "json": "jsonl", "ndjson": "jsonl"}


# Candidates per input byte, for sizing a shuffle before anything is read: an alt text and its URL take more
# than this gzip-compressed in real WAT, WARC, CSV and JSONL files. A crafted page of up to
# max_images_per_page near-identical images compresses to under a byte per candidate, but one such page adds
# about a thousand rows to a bound of millions per crawl file; only a file made mostly of them would make the
# bound low, and then dedup's buckets larger (more memory per worker), not its result different. A Parquet
# manifest's footer says its rows exactly. A remote file is not looked up (a Common Crawl listing names
# thousands).
MIN_BYTES_PER_CANDIDATE = 16
REMOTE_FILE_BYTES = 2**30


class CrawlInputError(ValueError):
    """An input that names nothing readable: the message says which and why."""


def kind_from_name(path: str) -> str | None:
    """wat, warc or manifest from a file name (compression suffixes aside), or None when it does not tell."""
    name = base_name(path)
    if name.endswith(".wat") or name.endswith(".wat.warc"):
        return "wat"
    if name.endswith(".wet"):
        raise CrawlInputError(f"{path} is a WET file: it holds page text only, no images; use the WAT or WARC "
                              "files of the same crawl")
    if name.endswith((".warc", ".arc")):
        return "warc"
    if _MANIFEST_EXTS.get(name.rsplit(".", 1)[-1]) in MANIFEST_FORMATS:
        return "manifest"
    return None


def expand_inputs(inputs: list[str] | tuple[str, ...], options: CrawlOptions) -> list[tuple[str, str]]:
    """(path, kind) of every file to read, in input order, sorted within each input, each file once.

    kind is options.format when forced, else from the name, else "auto" (sniffed when read)."""
    if isinstance(inputs, str):
        inputs = [inputs]
    units: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in inputs:
        for path in _files(item, options):
            if path in seen:
                continue
            seen.add(path)
            units.append((path, options.format if options.format != "auto" else kind_from_name(path) or "auto"))
    return units


def _files(item: str, options: CrawlOptions) -> list[str]:
    if is_listing(item):
        return read_listing(item, options)
    found = list_files(item, _known_name)
    if found:
        return found
    if is_glob(item):
        raise CrawlInputError(f"no file matches {item}")
    if is_folder(item):
        raise CrawlInputError(f"{item} holds no WAT, WARC or manifest file (by name: .wat.gz, .warc.gz, "
                              ".parquet, .csv, .tsv, .jsonl)")
    raise CrawlInputError(f"no file at {item}")


def _known_name(path: str) -> bool:
    try:
        return kind_from_name(path) is not None
    except CrawlInputError:
        return False


def candidates_at_most(units: list[tuple[str, str]]) -> int:
    """About the most candidates the files `units` (expand_inputs) hold, from local Parquet footers and file
    sizes, without reading them (see MIN_BYTES_PER_CANDIDATE). Overestimating is safe where it is used
    (smaller shuffle buckets); underestimating only makes buckets larger."""
    total = 0
    for path, _ in units:
        local = path[len("file://"):] if path.startswith("file://") else None if "://" in path else path
        if local is None:
            total += REMOTE_FILE_BYTES // MIN_BYTES_PER_CANDIDATE
            continue
        try:
            if local.endswith((".parquet", ".pq")):
                import pyarrow.parquet as pq

                total += pq.read_metadata(local).num_rows
            else:
                total += os.path.getsize(local) // MIN_BYTES_PER_CANDIDATE + 1
        except (OSError, ValueError, ImportError):
            # Unreadable here: the reader reports it as the file's error; count it as a remote file.
            total += REMOTE_FILE_BYTES // MIN_BYTES_PER_CANDIDATE
    return total
