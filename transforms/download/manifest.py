"""Reading manifests (Parquet, CSV, TSV, JSONL; optionally compressed; local or any fsspec URL) and cutting
them into shards of `shard_size` rows, streamed so a large manifest never sits in memory whole."""
from __future__ import annotations

import json
from collections import Counter

import fsspec
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from transforms.files import extension, is_compressed, list_files

from .options import ManifestOptions
from .writer import OUTPUT_COLUMNS

FORMATS = ("parquet", "csv", "tsv", "jsonl", "txt")  # txt: one URL a line, no header (img2dataset's txt)
_BATCH_ROWS = 65_536
# What reading a damaged or mislabelled file raises (gzip: OSError/EOFError; pyarrow: ArrowException;
# a non-UTF-8 string found by validation or conversion: UnicodeDecodeError).
_READ_ERRORS = (pa.ArrowException, OSError, EOFError, UnicodeDecodeError)


class ManifestError(ValueError):
    """A manifest that cannot be read as asked: the message says what to change."""


def detect_format(path: str) -> str:
    """The manifest format its name tells (a compression suffix is looked through); ManifestError if none."""
    ext = extension(path)
    # A .txt name is read as CSV (with a header), as before; a bare URL list is `--manifest-format txt`.
    fmt = {"json": "jsonl", "ndjson": "jsonl", "txt": "csv", "pq": "parquet"}.get(ext, ext)
    if fmt not in FORMATS:
        raise ManifestError(f"cannot tell the format of {path}: name it .parquet, .csv, .tsv, .jsonl or .txt "
                            "(optionally .gz), or pass --manifest-format")
    return fmt


def expand_inputs(inputs: list[str]) -> list[str]:
    """Files named by paths, globs or folders (a folder gives its manifest files), sorted within each input."""
    files = []
    for item in inputs:
        found = list_files(item, _is_manifest_name)
        if not found:
            raise ManifestError(f"no manifest file at {item}")
        files += found
    return files


def _is_manifest_name(path: str) -> bool:
    try:
        detect_format(path)
        return True
    except ManifestError:
        return False


def count_rows(files: list[str]) -> int | None:
    """Rows in the manifest when every file is uncompressed Parquet (read from the footers), else None."""
    total = 0
    for path in files:
        if detect_format(path) != "parquet" or is_compressed(path):
            return None
        try:
            with fsspec.open(path, "rb") as f:
                total += pq.ParquetFile(f).metadata.num_rows
        except _READ_ERRORS as e:
            raise read_error(path, "parquet", e) from None
    return total


def read_batches(path: str, fmt: str, text_columns: list[str]):
    """Record batches of one file. A file that cannot be read raises ManifestError naming it (and, for the
    text formats, its first bad line); so does a header with a repeated column name."""
    try:
        for batch in _read_batches(path, fmt, text_columns):
            _check_names(batch.schema.names, path)
            yield batch
    except _READ_ERRORS as e:
        raise read_error(path, fmt, e) from None


def _read_batches(path: str, fmt: str, text_columns: list[str]):
    """Record batches of one file, streamed where pyarrow can stream the format."""
    with fsspec.open(path, "rb", compression="infer") as f:
        if fmt == "parquet":
            # Parquet needs a seekable file: compressed Parquet is read into memory first.
            source = f if f.seekable() else pa.BufferReader(f.read())
            yield from pq.ParquetFile(source).iter_batches(batch_size=_BATCH_ROWS)
        elif fmt == "txt":  # a URL a line: one column, named by url_col, with no delimiter and no quoting
            parse = pcsv.ParseOptions(delimiter="\x1f", quote_char=False, ignore_empty_lines=True)  # no URL has it
            read = pcsv.ReadOptions(block_size=1 << 24, column_names=[text_columns[0]])
            convert = pcsv.ConvertOptions(column_types={text_columns[0]: pa.string()}, strings_can_be_null=False)
            yield from pcsv.open_csv(f, parse_options=parse, read_options=read, convert_options=convert)
        elif fmt in ("csv", "tsv"):
            parse = pcsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",", quote_char=False if fmt == "tsv"
                                      else '"', newlines_in_values=fmt == "csv")
            # URLs and captions stay text as written: a caption "007" must not become the integer 7.
            convert = pcsv.ConvertOptions(strings_can_be_null=False,
                                          column_types={c: pa.string() for c in text_columns})
            reader = pcsv.open_csv(f, parse_options=parse, read_options=pcsv.ReadOptions(block_size=1 << 24),
                                   convert_options=convert)
            yield from reader
        else:
            table = pjson.read_json(f)
            table.validate(full=True)  # pyarrow's JSON reader leaves invalid UTF-8 in strings unchecked
            yield from table.to_batches(max_chunksize=_BATCH_ROWS)


def _check_names(names: list[str], path: str) -> None:
    repeated = [name for name, n in Counter(names).items() if n > 1]
    if repeated:
        raise ManifestError(f"{path}: column {', '.join(map(repr, repeated))} appears more than once in the "
                            "header; rename or remove the copies")


def read_error(path: str, fmt: str, error: Exception) -> ManifestError:
    """One line naming the file and what is wrong with it."""
    detail = None if fmt == "parquet" else _first_bad_line(path, fmt)
    detail = detail or " ".join(str(error).split()) or type(error).__name__
    return ManifestError(f"{path}: cannot read it as {fmt}: {detail}")


def _first_bad_line(path: str, fmt: str) -> str | None:
    """Which line of a text manifest is not UTF-8 (or, in JSONL, not a JSON object), or that the file is
    empty; None when every line looks fine. A second pass over the file, made only after pyarrow failed:
    pyarrow's own messages count rows within a block, not lines of the file."""
    n = 0
    try:
        with fsspec.open(path, "rb", compression="infer") as f:
            for n, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    return f"line {n} is not UTF-8 text; convert the file to UTF-8"
                if fmt == "jsonl" and line.strip():
                    problem = _json_object_problem(line)
                    if problem:
                        return f"line {n} {problem}"
    except (OSError, EOFError):  # the file itself is damaged (e.g. truncated gzip): pyarrow's message says so
        return None
    return "the file is empty" if n == 0 else None


def _json_object_problem(line: str) -> str | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as e:
        return f"is not valid JSON ({e.msg} at column {e.colno})"
    return None if isinstance(value, dict) else "is not a JSON object"


def _select(batch: pa.RecordBatch, options: ManifestOptions, path: str) -> tuple[pa.Table, list[str]]:
    names = batch.schema.names
    needed = [options.url_col] + ([options.caption_col] if options.caption_col else [])
    missing = [c for c in needed if c not in names]
    if missing:
        raise ManifestError(f"{path} has no column {', '.join(missing)}; its columns are {', '.join(names)}. "
                            "Name the right ones with --url-col / --caption-col")
    if options.carry_columns is None:
        carry = [c for c in names if c not in needed]
    else:
        carry = list(options.carry_columns)
        absent = [c for c in carry if c not in names]
        if absent:
            raise ManifestError(f"{path} has no column {', '.join(absent)} to carry; its columns are "
                                f"{', '.join(names)}")
    clash = [c for c in carry if c in OUTPUT_COLUMNS]
    if clash:
        raise ManifestError(f"{path} has column(s) {', '.join(clash)}, which the output already defines; "
                            "choose the columns to carry with --carry-columns")
    table = pa.Table.from_batches([batch]).select(needed + carry)
    for col in needed:  # urls and captions as strings, whatever the file's types
        i = table.schema.get_field_index(col)
        if not pa.types.is_string(table.schema.field(i).type):
            try:
                table = table.set_column(i, col, table.column(col).cast(pa.string()))
            except pa.ArrowException as e:  # e.g. a nested column, or bytes that are not UTF-8
                raise ManifestError(f"{path}: column {col!r} cannot be read as text: {e}") from None
    return table, carry


def iter_shards(inputs: list[str], options: ManifestOptions, shard_size: int):
    """Yield (shard_id, table, carry_columns): consecutive slices of `shard_size` rows over all files in order."""
    files = expand_inputs(inputs)
    pending: list[pa.Table] = []
    rows, shard_id, carry, schema = 0, 0, None, None
    for path in files:
        fmt = options.input_format or detect_format(path)
        if fmt not in FORMATS:
            raise ManifestError(f"unknown input format {fmt!r}; use one of {', '.join(FORMATS)}")
        text_columns = [options.url_col] + ([options.caption_col] if options.caption_col else [])
        for batch in read_batches(path, fmt, text_columns):
            table, batch_carry = _select(batch, options, path)
            if schema is None:
                schema, carry = table.schema, batch_carry
            elif table.schema != schema:
                try:
                    table = table.select(schema.names).cast(schema)
                except (KeyError, ValueError, pa.ArrowInvalid) as e:
                    raise ManifestError(f"{path} does not have the columns and types of {files[0]}: {e}")
            pending.append(table)
            rows += table.num_rows
            while rows >= shard_size:
                whole = pa.concat_tables(pending)
                yield shard_id, whole.slice(0, shard_size), carry
                shard_id += 1
                pending, rows = [whole.slice(shard_size)], rows - shard_size
    if rows:
        yield shard_id, pa.concat_tables(pending), carry
