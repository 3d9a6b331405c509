"""Beam wrapper of balancing: global per-query counts (a combine over all candidates), then the draw.

`Balance` takes batches of candidates (transforms.beam_util) and returns a dict of PCollections: `kept` and
`rejected` (reason `balanced_out`), both batches, and `query_counts`: one element, the list of rows
(one per matched query: query_id, count_before, count_after, keep_probability, target: the cap it was
balanced to, t / link survival) for inspection. A measured link survival (a one-element PCollection, from
transforms.download.pilot) may be given; else BalanceOptions.link_survival is used.
`WriteQueryCounts` writes those rows to one Parquet file, with the query strings when a list is given.
"""
from __future__ import annotations

from collections import Counter

import apache_beam as beam
import pyarrow as pa
from transforms.beam_util import REJECTED, StageCounters, as_batches, in_global_window, split_outputs, \
    write_table_atomically
from transforms.candidate import rejected

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

    def process(self, batch, counts, survival=None):
        kept, dropped = [], []
        target = self.options.target(survival)
        for element in batch:
            ids = element["matched_queries"]
            if decide(element["uid"], ids, counts, self.options, survival):
                kept.append(element)
                continue
            p = min(keep_probability(counts[q], target) for q in ids)
            dropped.append(rejected(element, STAGE, "balanced_out",
                                    f"{len(ids)} head queries, smallest keep probability {p:.4g}"))
        self.counters.batch(len(batch), len(kept), dropped)
        yield from split_outputs(kept, dropped)


class _CountInBundle(beam.DoFn):
    """{query id: count} over a bundle's batches of candidates, emitted when the bundle ends."""

    def start_bundle(self):
        self.counts = Counter()

    def process(self, batch):
        update = self.counts.update
        for element in batch:
            update(element["matched_queries"])

    def finish_bundle(self):
        counts, self.counts = self.counts, Counter()
        yield in_global_window(counts)


class _SumCounts(beam.CombineFn):
    def create_accumulator(self):
        return Counter()

    def add_input(self, total, counts):
        total.update(counts)
        return total

    def merge_accumulators(self, totals):
        totals = iter(totals)
        first = next(totals)
        for other in totals:
            first.update(other)
        return first

    def extract_output(self, total):
        return dict(total)


class _CountQueryIds(beam.PTransform):
    """Batches of candidates -> one element: {query id: how many candidates matched it}. One dict per
    bundle, summed: not one Beam element per query (up to 500k of them, each costing more than its count)."""

    def expand(self, pcoll):
        return pcoll | "InBundle" >> beam.ParDo(_CountInBundle()) | "Sum" >> beam.CombineGlobally(_SumCounts())


def _count_rows(before: dict, after: dict, options: BalanceOptions, survival=None) -> list[dict]:
    target = options.target(survival)
    return [{"query_id": query_id, "count_before": n, "count_after": after.get(query_id, 0),
             "keep_probability": keep_probability(n, target), "target": target}
            for query_id, n in sorted(before.items())]


class Balance(beam.PTransform):
    def __init__(self, options: BalanceOptions = BalanceOptions(), survival=None, label: str | None = None):
        super().__init__(label)
        self.options, self.survival = options, survival

    def expand(self, pcoll):
        before = pcoll | "CountBefore" >> _CountQueryIds()
        side = {} if self.survival is None else {"survival": beam.pvalue.AsSingleton(self.survival)}
        result = as_batches(pcoll | "Draw" >> beam.ParDo(_BalanceFn(self.options), beam.pvalue.AsSingleton(before),
                                                         **side).with_outputs(REJECTED, main="kept"))
        after = result.kept | "CountAfter" >> _CountQueryIds()
        counts = before | "CountRows" >> beam.Map(_count_rows, beam.pvalue.AsSingleton(after), self.options, **side)
        return {"kept": result.kept, "rejected": result[REJECTED], "query_counts": counts}


class _NameQueries(beam.DoFn):
    def __init__(self, queries_path: str | None):
        self.queries_path = queries_path

    def setup(self):
        self.queries = None
        if self.queries_path:
            from transforms.match.query_list import load_queries
            self.queries = load_queries(self.queries_path)

    def process(self, rows):
        yield [{**row, "query": self.queries[row["query_id"]] if self.queries else None} for row in rows]


class WriteQueryCounts(beam.PTransform):
    """`Balance(...)["query_counts"]` (one element: the rows) to one Parquet file at `path`, sorted by query id
    (the same bytes on every run: the table is small, at most one row per query, written by one worker)."""

    def __init__(self, path: str, queries_path: str | None = None, label: str | None = None):
        super().__init__(label)
        self.path, self.queries_path = path, queries_path

    def expand(self, rows):
        return (rows | "Name" >> beam.ParDo(_NameQueries(self.queries_path))
                | "Write" >> beam.Map(lambda rs: write_table_atomically(
                    self.path, sorted(rs, key=lambda r: r["query_id"]), QUERY_COUNTS_SCHEMA)))
