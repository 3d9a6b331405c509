"""Ready manifests (Parquet, CSV, TSV, JSONL; optionally compressed) read into the same candidates as the
crawl readers give, so every later stage sees one shape. Reading reuses the download stage's streaming
reader (transforms.download.manifest), batch by batch.

Columns: the URL and text columns (named by the options, or the first usual name present: url/URL,
caption/text/TEXT/alt); page_url, page_language and title are carried when the file has them, and so is
source (a candidates file read again keeps where its rows came from). Other columns are ignored. A
relative URL is resolved against the row's page_url when there is one."""
from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from transforms.candidate import candidate
from transforms.download.manifest import ManifestError, detect_format, read_batches, read_error

from .options import TEXT_COLUMNS, URL_COLUMNS, CrawlOptions
from .stats import FileStats
from .urls import absolute_url

_CARRIED = ("page_url", "page_language", "title", "source")


def read_manifest(path: str, options: CrawlOptions, stats: FileStats) -> Iterator[dict]:
    """Candidates of one manifest file, in row order. Problems go to `stats`."""
    try:
        fmt = options.manifest_format or detect_format(path)
    except ManifestError as e:
        stats.error(str(e))
        return
    columns = None
    try:
        for batch in read_batches(path, fmt, [c for c in (options.url_col, options.text_col) if c]):
            if columns is None:
                columns = _columns(batch.schema.names, options, path)
            yield from _rows(batch, columns, path, options, stats)
    except ManifestError as e:
        stats.error(str(e))
    except (pa.ArrowException, OSError, EOFError, ValueError, UnicodeDecodeError) as e:
        stats.error(f"{read_error(path, fmt, e)} (after {stats.records} rows)")


def _columns(names: list[str], options: CrawlOptions, path: str) -> tuple[str, str, tuple[str, ...]]:
    url_col = options.url_col or next((c for c in URL_COLUMNS if c in names), None)
    text_col = options.text_col or next((c for c in TEXT_COLUMNS if c in names), None)
    missing = [f"{what} column {name!r}" if name else f"{what} column (none of {', '.join(usual)})"
               for what, name, usual in (("URL", url_col, URL_COLUMNS), ("text", text_col, TEXT_COLUMNS))
               if not name or name not in names]
    if missing:
        raise ManifestError(f"{path} has no {' and no '.join(missing)}; its columns are {', '.join(names)}. "
                            "Name them with --url-col / --text-col")
    return url_col, text_col, tuple(c for c in _CARRIED if c in names and c not in (url_col, text_col))


def _rows(batch: pa.RecordBatch, columns, path: str, options: CrawlOptions, stats: FileStats) -> Iterator[dict]:
    url_col, text_col, carried = columns
    data = {name: batch.column(name).cast(pa.string()).to_pylist() for name in (url_col, text_col, *carried)}
    urls, texts = data[url_col], data[text_col]
    extra = {name: data[name] for name in carried}
    first_row = stats.records
    stats.records += batch.num_rows
    for i in range(batch.num_rows):
        text = texts[i]
        if not text or text.isspace():
            stats.skip("no_text")
            continue
        if len(text) > options.max_text_len:
            stats.skip("text_too_long")
            continue
        page_url = extra["page_url"][i] if "page_url" in extra else None
        url = absolute_url(urls[i], page_url)
        if url is None:
            stats.skip("not_http_url")
            continue
        if len(url) > options.max_url_len:
            stats.skip("url_too_long")
            continue
        row_source = (extra["source"][i] if "source" in extra else None) or f"{path}#{first_row + i}"
        title = extra["title"][i] if "title" in extra and options.keep_title else None
        stats.candidates += 1
        yield candidate(url, text, page_url, row_source, extra["page_language"][i] if "page_language" in extra
                        else None, title)
