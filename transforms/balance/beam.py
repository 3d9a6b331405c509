"""Beam wrapper of balancing: global per-query counts (a combine over all candidates), then the draw.

`Balance` returns a dict of PCollections: `kept`, `rejected` (reason `balanced_out`) and `query_counts`
(one row per matched query: query_id, count_before, count_after, keep_probability, target: the cap it was
balanced to, t / link survival) for inspection. A measured link survival (a one-element PCollection, from
transforms.download.pilot) may be given; else BalanceOptions.link_survival is used.
`WriteQueryCounts` writes those rows to one Parquet file, with the query strings when a list is given.
"""
from __future__ import annotations

from collections import Counter

import apache_beam as beam
import pyarrow as pa
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from transforms.beam_util import REJECTED, StageCounters, write_table_atomically

from .core import BalanceOptions, decide, keep_probability

STAGE = "balance"
QUERY_COUNTS_SCHEMA = pa.schema([("query_id", pa.int64()), ("query", pa.string()), ("count_before", pa.int64()),
                                 ("count_after", pa.int64()), ("keep_probability", pa.float64()),
                                 ("target", pa.float64())])


class _BalanceFn(beam.DoFn):
    def __init__(self, options: BalanceOptions):
        self.options = options

    def setup(self):
        self.counters = StageCounters(STAGE)

    def process(self, element, counts, survival=None):
        self.counters.seen.inc()
        ids = element["matched_queries"]
        if decide(element["uid"], ids, counts, self.options, survival):
            self.counters.kept.inc()
            yield element
            return
        p = min(keep_probability(counts[q], self.options.target(survival)) for q in ids)
        yield beam.pvalue.TaggedOutput(REJECTED, self.counters.reject(
            element, "balanced_out", f"{len(ids)} head queries, smallest keep probability {p:.4g}"))


class _CountInBundle(beam.DoFn):
    """(query id, count) over a bundle's candidates, emitted when the bundle ends: one output per query seen
    instead of one per (candidate, query), about 7 per candidate, each a Beam element to count."""

    def start_bundle(self):
        self.counts = Counter()

    def process(self, element):
        self.counts.update(element["matched_queries"])

    def finish_bundle(self):
        counts, self.counts = self.counts, Counter()
        for query_id, n in counts.items():  # balancing runs in the global window (a batch job)
            yield WindowedValue((query_id, n), MIN_TIMESTAMP, [GlobalWindow()])


class _CountQueryIds(beam.PTransform):
    """Candidates -> (query id, how many candidates matched it)."""

    def expand(self, pcoll):
        return pcoll | "InBundle" >> beam.ParDo(_CountInBundle()) | "Sum" >> beam.CombinePerKey(sum)


def _count_rows(query_id_and_counts, options: BalanceOptions, survival=None):
    query_id, grouped = query_id_and_counts
    before, after = sum(grouped["before"]), sum(grouped["after"])
    target = options.target(survival)
    return {"query_id": query_id, "count_before": before, "count_after": after,
            "keep_probability": keep_probability(before, target), "target": target}


class Balance(beam.PTransform):
    def __init__(self, options: BalanceOptions = BalanceOptions(), survival=None, label: str | None = None):
        super().__init__(label)
        self.options, self.survival = options, survival

    def expand(self, pcoll):
        before = pcoll | "CountBefore" >> _CountQueryIds()
        side = {} if self.survival is None else {"survival": beam.pvalue.AsSingleton(self.survival)}
        result = pcoll | "Draw" >> beam.ParDo(_BalanceFn(self.options), beam.pvalue.AsDict(before),
                                              **side).with_outputs(REJECTED, main="kept")
        after = result.kept | "CountAfter" >> _CountQueryIds()
        counts = ({"before": before, "after": after} | "JoinCounts" >> beam.CoGroupByKey()
                  | "CountRows" >> beam.Map(_count_rows, self.options, **side))
        return {"kept": result.kept, "rejected": result[REJECTED], "query_counts": counts}


class _NameQueries(beam.DoFn):
    def __init__(self, queries_path: str | None):
        self.queries_path = queries_path

    def setup(self):
        self.queries = None
        if self.queries_path:
            from transforms.match.query_list import load_queries
            self.queries = load_queries(self.queries_path)

    def process(self, row):
        yield {**row, "query": self.queries[row["query_id"]] if self.queries else None}


class WriteQueryCounts(beam.PTransform):
    """Rows of `Balance(...)["query_counts"]` to one Parquet file at `path`, sorted by query id (the same
    bytes on every run: the table is small, so it is gathered and written by one worker)."""

    def __init__(self, path: str, queries_path: str | None = None, label: str | None = None):
        super().__init__(label)
        self.path, self.queries_path = path, queries_path

    def expand(self, rows):
        return (rows | "Name" >> beam.ParDo(_NameQueries(self.queries_path))
                | "Gather" >> beam.combiners.ToList()
                | "Write" >> beam.Map(lambda rs: write_table_atomically(
                    self.path, sorted(rs, key=lambda r: r["query_id"]), QUERY_COUNTS_SCHEMA)))
