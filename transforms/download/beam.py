"""Beam wrapper of the downloader: deterministic shard assignment, one shard per element, sizes.json.

- `AssignShards`: n_shards = ceil(rows / shard_size) from a global count; a row's shard is a hash of its uid
  modulo n_shards, and rows are sorted by uid inside a shard. No global sort (which would not scale to
  400M rows) and the same shards on every runner; shard sizes vary around shard_size by a few percent.
- `DownloadShards`: the plain-Python ShardDownloader inside a DoFn. Its event loop, aiohttp session and
  decode threads are made in `setup` and reused for every shard the worker gets; nothing relies on
  `teardown` (Dataflow may never call it): every shard's files are complete when `process` returns, and a
  shard retried by the runner is skipped when complete or rewritten whole (temporary names, then renames).
  Skipping complete shards is only right in an output made from the same rows and options: the pipeline
  that uses it checks that before it runs (`wit build` with transforms.download.provenance.prepare_output).
- `WriteSizes`: `sizes.json` once every shard is done.
"""
from __future__ import annotations

import math

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics

from transforms.files import bucket_of

from .options import DownloadOptions
from .shard import ShardDownloader
from .writer import Output, write_sizes


class AssignShards(beam.PTransform):
    """Rows (dicts with a `uid`) -> (shard_id, [rows sorted by uid])."""

    def __init__(self, shard_size: int, label: str | None = None):
        super().__init__(label)
        self.shard_size = shard_size

    def expand(self, rows):
        n_shards = (rows | "Count" >> beam.combiners.Count.Globally()
                    | "Shards" >> beam.Map(lambda n: max(1, math.ceil(n / self.shard_size))))
        return (rows | "Key" >> beam.Map(lambda r, n: (bucket_of(r["uid"], n), r), beam.pvalue.AsSingleton(n_shards))
                | "Group" >> beam.GroupByKey()
                | "Sort" >> beam.MapTuple(lambda shard, group: (shard, sorted(group, key=lambda r: r["uid"]))))


def rows_to_table(rows: list[dict], columns: list[str]) -> pa.Table:
    """The shard's manifest as an Arrow table, lists (matched_queries) kept as list columns."""
    return pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])


class _DownloadFn(beam.DoFn):
    def __init__(self, options: DownloadOptions, columns: list[str]):
        self.options, self.columns = options, columns

    def setup(self):
        self.downloader = ShardDownloader(self.options)
        self.rows = Metrics.counter("wit.download", "rows")
        self.images = Metrics.counter("wit.download", "success")
        self.skipped = Metrics.counter("wit.download", "shards_skipped")
        self.failed = {}

    def process(self, element):
        shard_id, rows = element
        carry = [c for c in self.columns if c not in (self.options.manifest.url_col, self.options.manifest.caption_col)]
        stats = self.downloader.download(shard_id, rows_to_table(rows, self.columns), carry)
        self.rows.inc(stats["count"])
        self.images.inc(stats["successes"])
        if stats.get("skipped"):
            self.skipped.inc()
        for status, n in stats["status_counts"].items():
            if status != "success":
                if status not in self.failed:
                    self.failed[status] = Metrics.counter("wit.download", f"failed.{status}")
                self.failed[status].inc(n)
        yield stats

    def teardown(self):
        # Tidiness only (closes the session and threads): every shard is complete when process() returns.
        downloader = getattr(self, "downloader", None)
        if downloader is not None:
            downloader.close()
            self.downloader = None


class DownloadShards(beam.PTransform):
    """(shard_id, rows) -> each shard's stats, after its tar, Parquet and stats files are written.

    `columns`: the row fields written to the shard Parquet (url and caption columns first, as named in
    options.manifest); the others are carried through."""

    def __init__(self, options: DownloadOptions, columns: list[str], label: str | None = None):
        super().__init__(label)
        self.options, self.columns = options, columns

    def expand(self, shards):
        # Reshuffle so that shards spread over workers instead of staying where the GroupByKey put them.
        return shards | "Spread" >> beam.Reshuffle() | "Download" >> beam.ParDo(_DownloadFn(self.options, self.columns))


class WriteSizes(beam.PTransform):
    """After every shard's stats: write sizes.json for the whole output and return it."""

    def __init__(self, output: str, label: str | None = None):
        super().__init__(label)
        self.output = output

    def expand(self, stats):
        return (stats | "AllShards" >> beam.combiners.Count.Globally()
                | "Sizes" >> beam.Map(lambda _: write_sizes(Output(self.output))))
