"""Loading a query list from any of the formats a user has: a MetaCLIP `metadata.json` or our `queries.json`
(a JSON list of strings), our `queries.parquet` (column `query`), or a plain text list (one query per line).

Plain Python (no Beam): the matcher, the balancer and `wit queries` all load lists through `load_queries`.
Files are opened with fsspec, so gs://, s3://, ... work too, and a `.gz`/`.bz2`/`.xz`/`.zst` suffix is
decompressed on the fly.
"""
from __future__ import annotations

import io
import json

import fsspec

from transforms.files import extension

FORMATS = ("json", "parquet", "txt")


class QueryListError(ValueError):
    """A query list that cannot be read: the message names the file and what is wrong."""


def detect_format(path: str) -> str:
    """`json`, `parquet` or `txt`, from the file name (a compression suffix is looked through)."""
    ext = extension(path)
    fmt = {"json": "json", "parquet": "parquet", "pq": "parquet", "txt": "txt", "text": "txt"}.get(ext)
    if fmt is None:
        raise QueryListError(f"cannot tell the format of query list {path}: name it .json (a JSON list of "
                             "strings, as MetaCLIP's metadata.json), .parquet (column 'query') or .txt "
                             "(one query per line), optionally .gz")
    return fmt


def load_queries(path: str) -> list[str]:
    """The queries of the list at `path`, in file order.

    Duplicates keep their first occurrence; empty strings (and Parquet nulls) are dropped, since an empty
    query would match every text. Text lists have each line stripped of surrounding whitespace; queries are
    otherwise kept exactly as written (matching is case-sensitive).
    """
    fmt = detect_format(path)
    try:
        with fsspec.open(path, "rb", compression="infer") as f:
            raw = f.read()
    except FileNotFoundError:
        raise QueryListError(f"no query list at {path}") from None
    if fmt == "json":
        queries = _from_json(raw, path)
    elif fmt == "parquet":
        queries = _from_parquet(raw, path)
    else:
        queries = _from_text(raw, path)
    return list(dict.fromkeys(q for q in queries if q))


def _from_json(raw: bytes, path: str) -> list[str]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise QueryListError(f"query list {path} is not valid JSON: {e}") from None
    if not isinstance(data, list):
        raise QueryListError(f"query list {path} must be a JSON list of strings (MetaCLIP metadata format), "
                             f"not a JSON {type(data).__name__}")
    for i, q in enumerate(data):
        if not isinstance(q, str):
            raise QueryListError(f"query list {path}: entry {i} is a {type(q).__name__}, not a string: {q!r}")
    return data


def _from_parquet(raw: bytes, path: str) -> list[str]:
    import pyarrow as pa  # only Parquet lists need pyarrow
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(io.BytesIO(raw))
    except Exception as e:  # pyarrow raises several types for a file that is not Parquet
        raise QueryListError(f"query list {path} is not a readable Parquet file: {e}") from None
    names = pf.schema_arrow.names
    if "query" not in names:
        raise QueryListError(f"query list {path} has no column 'query' (columns: {', '.join(names)})")
    column = pf.read(columns=["query"]).column("query")
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise QueryListError(f"query list {path}: column 'query' holds {column.type}, not strings")
    return column.to_pylist()


def _from_text(raw: bytes, path: str) -> list[str]:
    try:
        text = raw.decode("utf-8-sig")  # -sig: a byte-order mark is not part of the first query
    except UnicodeDecodeError as e:
        raise QueryListError(f"query list {path} is not UTF-8 text: {e}") from None
    return [line.strip() for line in text.splitlines()]
