"""Compute a corpus's statistics from its shard Parquet files, `_stats.json` files and balancing tables.

`open_corpus(OUTPUT)` accepts a `wit build` output (with `shards/`, `manifest/`, `rejected/`,
`query_counts.parquet`, `summary.json`) or a plain `wit download` folder (the shard files only), as a local
path or an fsspec URL (gs://, s3://, memory://, ...). `collect(corpus)` returns one JSON-serialisable dict;
`plots` and `html` draw from that dict alone, so `wit stats --json` holds everything the report shows.

The shard Parquet files are read with pyarrow.parquet, only the columns needed (the few-valued strings as
dictionary indices), one shard per task in a thread pool (one thread per core for local files, more for remote
stores); each shard gives a partial summary (grouped counts and integer histograms), computed with numpy and
pyarrow.compute rather than Python loops over rows, and the partials are merged, so memory stays bounded by the
number of workers, not the corpus size. Quantiles come from exact integer histograms. Duplicates are found on
the first 64 bits of the sha256 of every successful image (a chance collision needs about 4 billion images).
"""
from __future__ import annotations

import json
import os
import posixpath
import re
import tarfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

SHARD_RE = re.compile(r"^(\d+)\.parquet$")
STATS_SUFFIX = "_stats.json"
IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
HOST_RE = r"^[A-Za-z][A-Za-z0-9+.-]*://(?P<host>[^/?#]*)"  # then user info and port are cut
SIZE_COLUMNS = ("width", "height", "original_width", "original_height")
# The columns `collect` reads, with the types it reads them as (a shard lacking one reads it as nulls).
SCAN_SCHEMA = pa.schema([
    ("url", pa.string()), ("caption", pa.string()), ("status", pa.string()), ("error_message", pa.string()),
    ("width", pa.int32()), ("height", pa.int32()), ("original_width", pa.int32()),
    ("original_height", pa.int32()), ("sha256", pa.string()), ("language", pa.string()),
])
# Few distinct values: read as dictionary indices straight from the Parquet dictionary pages, and counted on them.
DICT_COLUMNS = ("status", "error_message", "language")
MAX_HIST_VALUE = 1 << 17  # larger values (pixels, characters) land in the last histogram bucket
TOP = 25  # rows kept in "most common" tables
QUANTILES = (("p01", 0.01), ("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95),
             ("p99", 0.99))
HOST_TEXTS_KEPT = 256  # per-shard host counts merged before more are kept (memory: distinct hosts, not shards)
SCORE_BINS = 2000  # CLIP scores (cosine similarities, -1..1) counted in bins 0.001 wide: quantiles to 0.001
SCORE_EXTREMES = 8  # lowest and highest scored pairs kept for the report


# ---------------------------------------------------------------------------------------------- the corpus
@dataclass
class Corpus:
    """Where a corpus lies: a pyarrow filesystem, the build output root (None for a plain download folder)
    and the shards folder, with the shard Parquet files found there."""

    url: str
    fs: pafs.FileSystem
    root: str | None
    shards: str
    shard_files: list[str] = field(default_factory=list)

    @property
    def remote(self) -> bool:
        """Not on a local disk: there reads are slow round trips, worth coalescing (pre_buffer) and overlapping
        (more threads than cores); locally both only add thread hand-offs to CPU-bound work."""
        return not isinstance(self.fs, pafs.LocalFileSystem)

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def read_bytes(self, path: str) -> bytes:
        with self.fs.open_input_stream(path) as f:
            return f.read()

    def read_json(self, path: str | None):
        if path is None or not self.exists(path):
            return None
        with _naming(path):
            return json.loads(self.read_bytes(path))

    def listdir(self, path: str) -> list[str]:
        info = self.fs.get_file_info(path)
        if info.type != pafs.FileType.Directory:
            return []
        return sorted(i.path for i in self.fs.get_file_info(pafs.FileSelector(path)) if i.type == pafs.FileType.File)

    def at_root(self, name: str) -> str | None:
        return None if self.root is None else self.join(self.root, name)


@contextmanager
def _naming(path: str):
    """A damaged file (truncated Parquet, broken JSON) fails with one line that names it."""
    try:
        yield
    except (pa.ArrowException, OSError, ValueError) as e:  # json's errors are ValueErrors
        raise ValueError(f"{path}: cannot read it: {' '.join(str(e).split())}") from None


def _filesystem(url: str) -> tuple[pafs.FileSystem, str]:
    if "://" not in url:
        return pafs.LocalFileSystem(), os.path.abspath(url).replace(os.sep, "/")
    import fsspec
    fs, path = fsspec.core.url_to_fs(url)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol in ("file", "local"):
        return pafs.LocalFileSystem(), os.path.abspath(path).replace(os.sep, "/")
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path.rstrip("/")


def open_corpus(output: str) -> Corpus:
    """Find the shards of OUTPUT (a build output with shards/, or the shards folder itself)."""
    fs, path = _filesystem(output)
    path = path.rstrip("/") or "/"
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"{output}: no such file or folder")
    for root, shards in ((path, posixpath.join(path, "shards")), (None, path)):
        corpus = Corpus(output, fs, root, shards)
        corpus.shard_files = [p for p in corpus.listdir(shards) if SHARD_RE.match(posixpath.basename(p))]
        if corpus.shard_files:
            return corpus
    raise ValueError(f"{output}: no shard Parquet files (NNNNN.parquet) in it or in its shards/ folder")


# ------------------------------------------------------------------------------------------------ histograms
def _bincount(values: np.ndarray) -> np.ndarray:
    return np.bincount(np.clip(values, 0, MAX_HIST_VALUE), minlength=1).astype(np.int64)


def _add_hist(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None or b is None:
        return b if a is None else a
    if len(a) < len(b):
        a, b = b, a
    a = a.copy()
    a[:len(b)] += b
    return a


def summarise_hist(hist: np.ndarray | None) -> dict:
    """count, mean, min, quantiles (nearest rank), max of the integer values counted in `hist`."""
    if hist is None or hist.sum() == 0:
        return {"count": 0}
    total = int(hist.sum())
    cum = np.cumsum(hist)
    nz = np.nonzero(hist)[0]
    out = {"count": total, "mean": round(float((np.arange(len(hist)) * hist).sum() / total), 2),
           "min": int(nz[0])}
    for name, q in QUANTILES:
        out[name] = int(np.searchsorted(cum, max(1, int(np.ceil(q * total)))))
    out["max"] = int(nz[-1])
    return out


def compact_hist(hist: np.ndarray | None, bins: int = 60) -> dict | None:
    """At most `bins` equal-width buckets from 0 up to the 99.5th percentile; the rest is `overflow`."""
    if hist is None or hist.sum() == 0:
        return None
    cum = np.cumsum(hist)
    top = int(np.searchsorted(cum, int(np.ceil(0.995 * cum[-1])))) + 1
    width = max(1, int(np.ceil(top / bins)))
    n = int(np.ceil(top / width))
    padded = np.zeros(n * width, dtype=np.int64)
    padded[:min(len(hist), n * width)] = hist[:n * width]
    return {"bin_width": width, "counts": padded.reshape(n, width).sum(axis=1).tolist(),
            "overflow": int(hist[n * width:].sum())}


# --------------------------------------------------------------------------------------------- per shard
@dataclass
class _Partial:
    rows: int = 0
    status_errors: Counter = field(default_factory=Counter)  # (status, error_message) -> rows
    hosts: list = field(default_factory=list)  # tables (host text, rows) of failed rows, see _host_counts
    languages: Counter = field(default_factory=Counter)
    hists: dict = field(default_factory=dict)  # name -> bincount
    sha: list = field(default_factory=list)  # uint64 prefixes of successful images
    sha_other: list = field(default_factory=list)  # sha256 strings that are not 64 hex digits
    shards: list = field(default_factory=list)  # per-shard check rows

    def merge(self, other: _Partial) -> None:
        self.rows += other.rows
        self.status_errors.update(other.status_errors)
        self.hosts.extend(other.hosts)
        if len(self.hosts) > HOST_TEXTS_KEPT:
            self.hosts = [_sum_host_texts(self.hosts)]
        self.languages.update(other.languages)
        for k, v in other.hists.items():
            self.hists[k] = _add_hist(self.hists.get(k), v)
        self.sha.extend(other.sha)
        self.sha_other.extend(other.sha_other)
        self.shards.extend(other.shards)


def _read_shard(corpus: Corpus, path: str) -> tuple[int, dict[str, pa.Array]]:
    """Row count and SCAN_SCHEMA columns of one shard, each one array of its scan type (nulls where the shard
    lacks it); DICT_COLUMNS come dictionary-encoded from the Parquet dictionary pages, never expanded to strings.
    pq.ParquetFile rather than a dataset fragment: less set-up per file, and these files are read whole."""
    with _naming(path), corpus.fs.open_input_file(path) as f:
        meta = pq.read_metadata(f)
        rows, present = meta.num_rows, set(meta.schema.to_arrow_schema().names)
        pf = pq.ParquetFile(f, metadata=meta, read_dictionary=[n for n in DICT_COLUMNS if n in present],
                            pre_buffer=corpus.remote)
        table = pf.read(columns=[n for n in SCAN_SCHEMA.names if n in present], use_threads=False)
    columns = {}
    for f in SCAN_SCHEMA:
        want = pa.dictionary(pa.int32(), f.type) if f.name in DICT_COLUMNS else f.type
        col = table[f.name].combine_chunks() if f.name in present else pa.nulls(rows, want)
        columns[f.name] = col if col.type == want else col.cast(want)
    return rows, columns


def _valid(arr: pa.Array) -> np.ndarray:
    return arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count else np.ones(len(arr), bool)


def _codes(arr: pa.DictionaryArray) -> tuple[np.ndarray, list]:
    """Each row's dictionary index (null rows: one index past the dictionary) and the values they name."""
    values = arr.dictionary.to_pylist() + [None]
    return arr.indices.fill_null(len(values) - 1).to_numpy().astype(np.int64), values


def _counted(codes: np.ndarray):
    """(code, rows) of each distinct code."""
    values, counts = np.unique(codes, return_counts=True)
    return zip(values.tolist(), counts.tolist())


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (one more than rows) and data bytes of a string array, without copying."""
    if len(arr) == arr.null_count:
        return np.zeros(len(arr) + 1, np.int32), np.zeros(0, np.uint8)
    _, offsets, data = arr.buffers()
    return (np.frombuffer(offsets, np.int32, len(arr) + 1, arr.offset * 4),
            np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8))


def _ints(arr: pa.Array, rows: np.ndarray) -> np.ndarray:
    """The non-null values of an int32 array at `rows` (a mask), read from its buffer without a copy first."""
    if len(arr) == arr.null_count:
        return np.zeros(0, np.int32)
    return np.frombuffer(arr.buffers()[1], np.int32, len(arr), arr.offset * 4)[rows & _valid(arr)]


def _strings(arr: pa.Array, rows: np.ndarray) -> list:
    return arr.filter(pa.array(rows)).to_pylist() if rows.any() else []


def _char_lengths(arr: pa.Array) -> np.ndarray:
    """Characters in each string (anything at nulls). Captions are mostly ASCII, and there characters are bytes:
    the offsets give the lengths without a UTF-8 pass."""
    offsets, data = _string_buffers(arr)
    if (data[offsets[0]:offsets[-1]] < 0x80).all():
        return np.diff(offsets)
    return pc.utf8_length(arr).fill_null(0).to_numpy()


def _hex_pairs() -> np.ndarray:
    """Two ASCII bytes read as one little-endian uint16 -> the byte their two hex digits spell, 0xFFFF where either
    is not a hex digit: one table look-up decodes two digits."""
    digit = np.full(256, 255, np.uint16)
    for i, c in enumerate(b"0123456789abcdef"):
        digit[c] = i
    for i, c in enumerate(b"ABCDEF"):
        digit[c] = 10 + i
    pair = np.arange(1 << 16)
    first, second = digit[pair & 255], digit[pair >> 8]
    return np.where((first < 16) & (second < 16), first << 4 | second, 0xFFFF).astype(np.uint16)


_HEX_PAIRS = _hex_pairs()


def _sha_prefixes(sha: pa.Array, rows: np.ndarray) -> tuple[np.ndarray, list]:
    """First 64 bits, as uint64, of the non-null sha256 at `rows` that are 64 long and start with 16 hex digits;
    the others returned as strings (wrong length first, then not hex)."""
    rows = rows & _valid(sha)
    offsets, data = _string_buffers(sha)
    good = rows & (np.diff(offsets) == 64)
    other = _strings(sha, rows & ~good)
    if not good.any():
        return np.zeros(0, np.uint64), other
    # the first 16 bytes of each: a view of the data as overlapping 16-byte records, gathered at the offsets
    heads = np.ndarray((len(data) - 15,), "V16", data, strides=(1,))[offsets[:-1][good]]
    decoded = _HEX_PAIRS[heads.view("<u2").reshape(-1, 8)]  # 8 bytes (big-endian order), 0xFFFF where not hex
    if decoded.max() > 255:
        bad = (decoded > 255).any(axis=1)
        not_hex = np.zeros(len(sha), bool)
        not_hex[np.flatnonzero(good)[bad]] = True
        other += _strings(sha, not_hex)
        decoded = decoded[~bad]
    return decoded.astype(np.uint8).view(">u8").ravel().astype(np.uint64), other


def _host_texts(urls: pa.Array) -> pa.Table:
    """Rows per host as the URLs spell it, a table (host, rows); _host_counts cleans the texts up at the end."""
    counts = pc.value_counts(pc.struct_field(pc.extract_regex(urls, HOST_RE), [0]))
    return pa.table({"host": counts.field("values"), "rows": counts.field("counts")})


def _sum_host_texts(tables: list[pa.Table]) -> pa.Table:
    summed = pa.concat_tables(tables).group_by("host").aggregate([("rows", "sum")])
    return pa.table({"host": summed["host"], "rows": summed["rows_sum"]})


def _host_counts(tables: list[pa.Table]) -> Counter:
    """Rows per host over all shards: lower-cased, user info and port cut, "(no host)" where there is none. The
    per-shard counts are summed first, so the clean-up runs once per distinct host text, not once per URL."""
    counts = Counter()
    if not tables:
        return counts
    summed = _sum_host_texts(tables)
    hosts = pc.replace_substring_regex(summed["host"], r"^[^@]*@", "")
    hosts = pc.utf8_lower(pc.replace_substring_regex(hosts, r":\d*$", ""))
    for host, n in zip(hosts.to_pylist(), summed["rows"].to_pylist()):
        counts[host or "(no host)"] += n
    return counts


def _summarise_shard(corpus: Corpus, path: str) -> _Partial:
    rows, cols = _read_shard(corpus, path)
    part = _Partial(rows=rows)
    status, status_values = _codes(cols["status"])
    error, error_values = _codes(cols["error_message"])
    for code, n in _counted(status * len(error_values) + error):  # one code per (status, error) pair
        s, e = divmod(code, len(error_values))
        part.status_errors[(status_values[s] or "(none)", error_values[e])] += n
    ok = np.array([v == "success" for v in status_values])[status]
    if not ok.all():
        part.hosts.append(_host_texts(cols["url"].filter(pa.array(~ok))))
    for name in SIZE_COLUMNS:
        values = _ints(cols[name], ok)
        if len(values):
            part.hists[name] = _bincount(values)
    caption = cols["caption"]
    lengths = _char_lengths(caption)[ok & _valid(caption)]
    if len(lengths):
        part.hists["caption_length"] = _bincount(lengths)
    if ok.any():
        language, language_values = _codes(cols["language"])
        for code, n in _counted(language[ok]):
            part.languages["(none)" if language_values[code] is None else language_values[code]] += n
        prefixes, other = _sha_prefixes(cols["sha256"], ok)
        part.sha.append(prefixes)
        part.sha_other.extend(other)
    stats = corpus.read_json(path[:-len(".parquet")] + STATS_SUFFIX)
    successes = int(ok.sum())
    check = {"shard": posixpath.basename(path)[:-len(".parquet")], "rows": rows, "success": successes,
             "stats_json": stats is not None}
    if stats is not None:
        check["stats_agree"] = (stats.get("count") == rows and stats.get("successes") == successes)
    part.shards.append(check)
    return part


def _scan_shards(corpus: Corpus, workers: int) -> _Partial:
    total = _Partial()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(lambda path: _summarise_shard(corpus, path), corpus.shard_files):
            total.merge(part)
    return total


# ----------------------------------------------------------------------------------------------- the tables
def _repeated(shards: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """The values present more than once, their counts, and the number of distinct values. By sorting: millions of
    distinct 64-bit keys make a hash table (pc.value_counts) miss the cache on every row, ten times slower."""
    ordered = np.concatenate(shards) if shards else np.zeros(0, np.uint64)
    ordered.sort()
    same = ordered[1:] == ordered[:-1]  # a value present k times has k - 1 of these
    values, pairs = np.unique(ordered[1:][same], return_counts=True)
    return values, pairs + 1, len(ordered) - int(np.count_nonzero(same))


def _most_repeated(shards: list[np.ndarray], values: np.ndarray, counts: np.ndarray) -> list[tuple[int, int]]:
    """(value, count) of the TOP highest counts; ties go in order of first appearance in the shards."""
    if len(values) > TOP:  # only the values that can make the top need their first appearance
        keep = counts >= np.partition(counts, -TOP)[-TOP]
        values, counts = values[keep], counts[keep]
    found = pc.index_in(pa.chunked_array(shards, pa.uint64()), value_set=pa.array(values, pa.uint64()))
    found = found.fill_null(-1).to_numpy()
    _, first = np.unique(found[found >= 0], return_index=True)  # index in `values` of each row holding one
    order = np.lexsort((first, -counts))[:TOP]
    return list(zip(values[order].tolist(), counts[order].tolist()))


def _duplicates(part: _Partial) -> dict:
    images = sum(len(p) for p in part.sha) + len(part.sha_other)
    if images == 0:
        return {"images": 0, "distinct": 0, "duplicate_rows": 0, "duplicated_images": 0, "top": []}
    values, counts, distinct = _repeated(part.sha)
    other = Counter(part.sha_other)
    distinct += len(other)
    top = [{"sha256_prefix": f"{v:016x}", "count": n} for v, n in _most_repeated(part.sha, values, counts)]
    top += [{"sha256_prefix": s[:16], "count": c} for s, c in other.most_common(TOP) if c > 1]
    top.sort(key=lambda r: -r["count"])
    return {"images": images, "distinct": distinct, "duplicate_rows": images - distinct,
            "duplicated_images": len(values) + sum(1 for c in other.values() if c > 1),
            "top": top[:TOP]}


def _rejected(corpus: Corpus) -> dict | None:
    folder = corpus.at_root("rejected")
    files = [p for p in corpus.listdir(folder) if p.endswith(".parquet")] if folder else []
    if not files:
        return None
    table = ds.dataset(files, format="parquet", filesystem=corpus.fs).to_table(columns=["stage", "reason"])
    grouped = table.group_by(["stage", "reason"]).aggregate([([], "count_all")]).to_pylist()
    rows = sorted(({"stage": r["stage"], "reason": r["reason"], "count": r["count_all"]} for r in grouped),
                  key=lambda r: (-r["count"], str(r["stage"]), str(r["reason"])))
    by_stage = Counter()
    for r in rows:
        by_stage[r["stage"]] += r["count"]
    return {"total": table.num_rows, "by_stage": dict(by_stage.most_common()), "by_reason": rows}


def _log_ranks(n: int, points: int = 300) -> np.ndarray:
    return np.unique(np.round(np.logspace(0, np.log10(max(n, 1)), points)).astype(np.int64)) if n else \
        np.zeros(0, np.int64)


def query_table(corpus: Corpus) -> pa.Table | None:
    path = corpus.at_root("query_counts.parquet")
    if path is None or not corpus.exists(path):
        return None
    with _naming(path):
        return pq.read_table(path, filesystem=corpus.fs)


def _queries(table: pa.Table | None, head: int = 20) -> dict | None:
    if table is None or table.num_rows == 0:
        return None
    before = table["count_before"].to_numpy(zero_copy_only=False).astype(np.int64)
    after = table["count_after"].to_numpy(zero_copy_only=False).astype(np.int64)
    prob = table["keep_probability"].to_numpy(zero_copy_only=False).astype(np.float64)
    names = table["query"].to_pylist()
    ids = table["query_id"].to_pylist()
    capped = prob < 1
    t = int(round(float(np.median(before[capped] * prob[capped])))) if capped.any() else None
    order = np.lexsort((np.array(ids), -before))
    tail = np.lexsort((np.array(ids), before))

    def row(i):
        return {"query_id": ids[i], "query": names[i], "count_before": int(before[i]),
                "count_after": int(after[i]), "keep_probability": round(float(prob[i]), 6)}

    matched = before > 0
    sorted_before = np.sort(before[matched])[::-1]
    sorted_after = np.sort(after[matched])[::-1]
    ranks = _log_ranks(len(sorted_before))
    return {
        "queries": int(table.num_rows), "matched": int(matched.sum()),
        "matches_before": int(before.sum()), "matches_after": int(after.sum()),
        "capped": int(capped.sum()), "t": t,
        "singletons": int((before == 1).sum()), "at_most_10": int(((before >= 1) & (before <= 10)).sum()),
        "head": [row(i) for i in order[:head]],
        "tail": [row(i) for i in tail[before[tail] > 0][:head]],
        "distribution": {"rank": ranks.tolist(), "count_before": sorted_before[ranks - 1].tolist(),
                         "count_after": sorted_after[ranks - 1].tolist()},
    }


def collect(corpus: Corpus | str, workers: int | None = None) -> dict:
    """Every statistic of the corpus, as one JSON-serialisable dict."""
    started = time.perf_counter()
    corpus = open_corpus(corpus) if isinstance(corpus, str) else corpus
    cpus = os.cpu_count() or 1
    workers = workers or (min(16, 2 * cpus + 2) if corpus.remote else cpus)  # see Corpus.remote
    part = _scan_shards(corpus, workers)
    status = Counter()
    errors = Counter()
    for (s, e), n in part.status_errors.items():
        status[s] += n
        if s != "success":
            errors[(s, e or "")] += n
    success = status.get("success", 0)
    hosts = _host_counts(part.hosts)
    sizes = corpus.read_json(corpus.join(corpus.shards, "sizes.json"))
    shards = sorted(part.shards, key=lambda r: r["shard"])
    summary = corpus.read_json(corpus.at_root("summary.json"))
    crawl_errors = corpus.read_json(corpus.at_root("crawl_errors.json"))
    stats = {
        "corpus": {"path": corpus.url, "layout": "build" if corpus.root else "shards",
                   "shards": len(shards),
                   "shards_without_stats_json": [r["shard"] for r in shards if not r["stats_json"]],
                   "shards_disagreeing_with_stats_json": [r["shard"] for r in shards if
                                                          r.get("stats_agree") is False]},
        "totals": {"rows": part.rows, "success": success, "failed": part.rows - success,
                   "success_rate": round(success / part.rows, 6) if part.rows else None,
                   "images_in_sizes_json": sum(sizes.values()) if isinstance(sizes, dict) else None},
        "status": dict(status.most_common()),
        "errors": [{"status": s, "error_message": e, "count": n} for (s, e), n in
                   sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]],
        "error_messages": len(errors),
        "failing_hosts": [{"host": h, "count": n} for h, n in
                          sorted(hosts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]],
        "image_sizes": {name: summarise_hist(part.hists.get(name)) for name in SIZE_COLUMNS},
        "caption_length": summarise_hist(part.hists.get("caption_length")),
        "languages": dict(sorted(part.languages.items(), key=lambda kv: (-kv[1], kv[0]))),
        "duplicates": _duplicates(part),
        "rejected": _rejected(corpus),
        "queries": _queries(query_table(corpus)),
        "pipeline": summary.get("stages") if isinstance(summary, dict) else None,
        "crawl_errors": len(crawl_errors) if isinstance(crawl_errors, list) else None,
        "histograms": {name: compact_hist(part.hists.get(name)) for name in SIZE_COLUMNS + ("caption_length",)},
        "scores": _scores(corpus),
        "shards": shards,
    }
    stats["seconds"] = round(time.perf_counter() - started, 3)
    return stats


# ---------------------------------------------------------------------------------------------- CLIP scores
def _score_file(corpus: Corpus, path: str) -> tuple[dict, pa.Table]:
    """A scores file's `wit_score` metadata and its key and score columns."""
    with _naming(path), corpus.fs.open_input_file(path) as f:
        pf = pq.ParquetFile(f)
        meta = (pf.schema_arrow.metadata or {}).get(b"wit_score")
        table = pf.read(columns=["key", "score"], use_threads=False)
    try:
        meta = json.loads(meta) if meta else {}
    except ValueError:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), table


def _extremes(keys: np.ndarray, scores: np.ndarray, shard: str, n: int) -> tuple[list, list]:
    """The n lowest and n highest scored (score, key, shard) of one shard (NaN left out), ties by key."""
    valid = ~np.isnan(scores)
    keys, scores = keys[valid], scores[valid]
    low = np.lexsort((keys, scores))[:n]
    high = np.lexsort((keys, -scores))[:n]
    return ([(float(scores[i]), str(keys[i]), shard) for i in low],
            [(float(scores[i]), str(keys[i]), shard) for i in high])


def _scores(corpus: Corpus) -> dict | None:
    """The distribution of the CLIP scores `wit score` wrote beside the shards (None when there are none):
    count, unscored, mean, min, quantiles (to 0.001, from bins), max, a histogram, the checkpoints that made
    them, and the lowest and highest scored pairs."""
    from wit_pipeline.curate.score import SCORES_SUFFIX, Distribution  # numpy and pyarrow only, no torch

    files = [p for p in corpus.listdir(corpus.shards) if p.endswith(SCORES_SUFFIX)]
    if not files:
        return None
    dist = Distribution(SCORE_BINS)
    low, high, checkpoints = [], [], {}
    for path in files:
        meta, table = _score_file(corpus, path)
        shard = posixpath.basename(path)[:-len(SCORES_SUFFIX)]
        scores = table["score"].to_numpy(zero_copy_only=False).astype(np.float64)
        dist.add(scores)
        a, b = _extremes(np.asarray(table["key"].to_pylist(), dtype=str), scores, shard, SCORE_EXTREMES)
        low = sorted(low + a, key=lambda r: (r[0], r[1]))[:SCORE_EXTREMES]
        high = sorted(high + b, key=lambda r: (-r[0], r[1]))[:SCORE_EXTREMES]
        made = checkpoints.setdefault(meta.get("checkpoint_sha256"), {
            "checkpoint": meta.get("checkpoint"), "sha256": meta.get("checkpoint_sha256"), "step": meta.get("step"),
            "shards": 0})
        made["shards"] += 1
    out = {"files": len(files), **dist.summary(),
           "checkpoints": sorted(checkpoints.values(), key=lambda c: -c["shards"])}
    out["lowest"] = [{"score": round(v, 6), "key": k, "shard": s} for v, k, s in low]
    out["highest"] = [{"score": round(v, 6), "key": k, "shard": s} for v, k, s in high]
    return out


def scored_samples(corpus: Corpus, scores: dict | None) -> dict[str, list[dict]]:
    """{"lowest": [...], "highest": [...]}: the extreme pairs of `scores` (collect()'s "scores") with their
    images and captions, read from their tars (those found; a pair whose tar lacks it is left out)."""
    if not scores:
        return {}
    wanted: dict[str, set] = {}
    for row in scores["lowest"] + scores["highest"]:
        wanted.setdefault(row["shard"], set()).add(row["key"])
    found: dict[str, dict] = {}
    for shard, keys in sorted(wanted.items()):
        tar_path = corpus.join(corpus.shards, f"{shard}.tar")
        if corpus.exists(tar_path):
            found.update(_samples_by_key(corpus, tar_path, keys))
    return {side: [{**found[r["key"]], "score": r["score"]} for r in scores[side] if r["key"] in found]
            for side in ("lowest", "highest")}


def _samples_by_key(corpus: Corpus, tar_path: str, keys: set) -> dict[str, dict]:
    """key -> {key, image, ext, caption} of the samples of `keys` in a tar, reading it until all are found."""
    out: dict[str, dict] = {}
    for sample in _tar_samples(corpus, tar_path, keys):
        if "image" in sample:
            out[sample["key"]] = sample
        if len(out) == len(keys):
            break
    return out


# ------------------------------------------------------------------------------------------ single samples
def query_names(corpus: Corpus, queries_file: str | None = None) -> dict[int, str]:
    """query id -> query string, from query_counts.parquet, else from a queries file (JSON list or Parquet with a
    `query` column; the id is the position)."""
    names: dict[int, str] = {}
    if queries_file:
        fs, path = _filesystem(queries_file)
        if path.endswith(".parquet"):
            names = dict(enumerate(pq.read_table(path, columns=["query"], filesystem=fs)["query"].to_pylist()))
        else:
            with fs.open_input_stream(path) as f:
                data = json.loads(f.read())
            data = data.get("queries", data) if isinstance(data, dict) else data
            names = dict(enumerate(str(q) for q in data))
    table = query_table(corpus)
    if table is not None and not names:
        names = dict(zip(table["query_id"].to_pylist(), table["query"].to_pylist()))
    return names


def _candidate_shards(corpus: Corpus, key: str) -> list[str]:
    """The shard files whose name is a prefix of the key (keys are the shard id then the index), else all."""
    named = [p for p in corpus.shard_files if key.startswith(posixpath.basename(p)[:-len(".parquet")])]
    return named or corpus.shard_files


def find_sample(corpus: Corpus, key: str) -> dict | None:
    """The shard Parquet row of KEY (every column), plus `shard`; None when no shard has it."""
    for path in _candidate_shards(corpus, key):
        table = pq.read_table(path, filesystem=corpus.fs, filters=[("key", "=", key)])
        if table.num_rows:
            row = table.slice(0, 1).to_pylist()[0]
            row["shard"] = posixpath.basename(path)[:-len(".parquet")]
            return row
    return None


def _tar_samples(corpus: Corpus, tar_path: str, keys: set | None = None):
    """Each sample of a tar in order, as {key, image, ext, caption} with the members it has (only the samples of
    `keys` when given, the others' members skipped unread), yielded once its last member is read: a reader
    that stops early reads no further than the next sample's first member."""
    current: dict | None = None
    with corpus.fs.open_input_stream(tar_path) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            stem, _, ext = member.name.rpartition(".")
            key = posixpath.basename(stem)
            if current is not None and key != current["key"]:
                yield current
                current = None
            if keys is not None and key not in keys:
                continue
            current = current or {"key": key}
            ext = ext.lower()
            if ext in IMAGE_EXTS:
                current["image"], current["ext"] = tar.extractfile(member).read(), ext
            elif ext == "txt":
                current["caption"] = tar.extractfile(member).read().decode("utf-8", "replace")
        if current is not None:
            yield current


def read_tar_samples(corpus: Corpus, tar_path: str, limit: int) -> list[dict]:
    """The first `limit` complete samples (image and caption) of a tar, reading only its beginning."""
    done: list[dict] = []
    if limit <= 0:
        return done
    for sample in _tar_samples(corpus, tar_path):
        if "image" in sample and "caption" in sample:
            done.append(sample)
            if len(done) >= limit:
                break
    return done


def gallery_samples(corpus: Corpus, n: int = 24, queries_file: str | None = None) -> list[dict]:
    """About n samples spread over the first shards: key, caption, image bytes, url, matched query names."""
    tars = [p[:-len(".parquet")] + ".tar" for p in corpus.shard_files]
    tars = [t for t in tars if corpus.exists(t)]
    if not tars or n <= 0:
        return []
    per_shard = max(1, -(-n // len(tars)))
    names = query_names(corpus, queries_file)
    out: list[dict] = []
    for tar_path in tars:
        if len(out) >= n:
            break
        samples = read_tar_samples(corpus, tar_path, min(per_shard, n - len(out)))
        if not samples:
            continue
        parquet = tar_path[:-len(".tar")] + ".parquet"
        schema = pq.read_schema(parquet, filesystem=corpus.fs)
        cols = [c for c in ("key", "url", "matched_queries") if c in schema.names]
        keys = [s["key"] for s in samples]
        meta = {r["key"]: r for r in pq.read_table(parquet, columns=cols, filesystem=corpus.fs,
                                                   filters=[("key", "in", keys)]).to_pylist()}
        for s in samples:
            row = meta.get(s["key"], {})
            s["url"] = row.get("url")
            ids = row.get("matched_queries") or []
            s["queries"] = [names.get(i, f"#{i}") for i in ids]
            out.append(s)
    return out


def image_bytes_of(corpus: Corpus, shard: str, key: str) -> tuple[str, int] | None:
    """(member name, size) of KEY's image in its tar, or None (used by `wit show`)."""
    tar_path = corpus.join(corpus.shards, f"{shard}.tar")
    if not corpus.exists(tar_path):
        return None
    with corpus.fs.open_input_file(tar_path) as raw, tarfile.open(fileobj=raw, mode="r:") as tar:
        for member in tar:
            stem, _, ext = member.name.rpartition(".")
            if posixpath.basename(stem) == key and ext.lower() in IMAGE_EXTS:
                return member.name, member.size
    return None
