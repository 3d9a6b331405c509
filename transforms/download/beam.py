"""Beam wrapper of the downloader: host-aware shard groups (plan.py), one group per element, sizes.json.

- `AssignShards`: each host's rows in lanes, each lane in one group, each group cut into shards of about
  shard_size (plan.py); shard ids run from 0 over the groups, rows are sorted by uid inside a shard. Global
  counts only (rows, rows per large host, rows per group), no global sort (which would not scale to 400M
  rows), and the same shards on every runner.
- `DownloadShards`: the plain-Python ShardDownloader inside a DoFn, a group per element, its shards one after
  another, holding the group's share of each host's budget (budget.py), so that the budget holds for the
  whole job. Its event loop, aiohttp session and decode threads are made in `setup` and reused; nothing
  relies on `teardown` (Dataflow may never call it): every shard's files are complete when its download
  returns, and a group retried by the runner skips its complete shards and rewrites the others whole
  (temporary names, then renames). Skipping complete shards is only right in an output made from the same
  rows and options: the pipeline that uses it checks that before it runs (`wit build` with
  transforms.download.provenance.prepare_output).
- `WriteSizes`: `sizes.json` once every shard is done.
"""
from __future__ import annotations

from collections import Counter

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics

from transforms.beam_util import CountRows, Regroup, as_batches, values_of

from . import plan
from .budget import HostShare
from .options import DownloadOptions
from .shard import ShardDownloader
from .writer import Output, write_sizes


class AssignShards(beam.PTransform):
    """Batches of rows (dicts with `uid` and `url`) -> groups (group id, number of groups, [(shard id, rows)]),
    each row with its host lane (plan.LANE, plan.LANES)."""

    def __init__(self, shard_size: int, per_host_budget: int, label: str | None = None):
        super().__init__(label)
        self.shard_size, self.budget = shard_size, per_host_budget

    def expand(self, batches):
        size, budget = self.shard_size, self.budget
        groups = batches | "Count" >> CountRows() | "Groups" >> beam.Map(lambda n: plan.n_groups(n, size))
        # Each row's host parsed once: batches of (host, row).
        hosted = as_batches(batches | "Host" >> beam.Map(
            lambda batch: [(plan.host_of(r.get("url")), r) for r in batch]))
        # Only hosts with more than a lane's worth of rows get several lanes: fewer of them than groups, a
        # small side input whatever the number of hosts.
        big = (hosted | "PerHostInBatch" >> beam.FlatMap(lambda pairs: Counter(h for h, _ in pairs).items())
               | "PerHost" >> beam.CombinePerKey(sum)
               | "Big" >> beam.Filter(lambda kv: kv[1] > plan.lane_rows(size)))
        planned, sizes = hosted | "Plan" >> Regroup(
            lambda pairs, *side: (plan.plan_row(host, row, *side) for host, row in pairs),
            beam.pvalue.AsDict(big), beam.pvalue.AsSingleton(groups), size, budget, sizes=True)
        offsets = sizes | "Sizes" >> beam.combiners.ToList() | "Offsets" >> beam.Map(plan.shard_offsets, size)
        return planned | "Split" >> beam.Map(_split, beam.pvalue.AsSingleton(offsets), beam.pvalue.AsSingleton(groups),
                                             size)


def _split(keyed, offsets: dict, groups: int, size: int) -> tuple:
    group, lists = keyed
    return group, groups, plan.split_group(group, values_of(lists), offsets[group], size)


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
        self.group_rows = Metrics.distribution("wit.download", "group_rows")
        self.failed = {}

    def process(self, element):
        group, n_groups, shards = element
        carry = [c for c in self.columns if c not in (self.options.manifest.url_col, self.options.manifest.caption_col)]
        rows = sum(len(r) for _, r in shards)
        self.group_rows.update(rows)  # the largest is the straggler a large host makes
        tables = [(shard_id, rows_to_table(r, self.columns)) for shard_id, r in shards]
        shares = plan.shares_of(row for _, r in shards for row in r)
        for stats in self.downloader.download_group(tables, carry, shares, HostShare((group,), n_groups)):
            yield from self._count(stats)

    def _count(self, stats):
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
    """Groups of AssignShards -> each shard's stats, after its tar, Parquet and stats files are written.

    `columns`: the row fields written to the shard Parquet (url and caption columns first, as named in
    options.manifest); the others are carried through."""

    def __init__(self, options: DownloadOptions, columns: list[str], label: str | None = None):
        super().__init__(label)
        self.options, self.columns = options, columns

    def expand(self, shards):
        # Reshuffle so that groups spread over workers instead of staying where the GroupByKey put them.
        return shards | "Spread" >> beam.Reshuffle() | "Download" >> beam.ParDo(_DownloadFn(self.options, self.columns))


class WriteSizes(beam.PTransform):
    """After every shard's stats: write sizes.json for the whole output and return it."""

    def __init__(self, output: str, label: str | None = None):
        super().__init__(label)
        self.output = output

    def expand(self, stats):
        return (stats | "AllShards" >> beam.combiners.Count.Globally()
                | "Sizes" >> beam.Map(lambda _: write_sizes(Output(self.output))))
