"""Beam wrapper of dedup: group by image URL, then both rules in the group; every dropped duplicate is a
rejected row that names the uid it lost to.

Batches in (transforms.beam_util), one shuffle: every row goes to a bucket by a hash of its URL (all copies of
a pair and all texts of an image share it), a bucket's rows arrive together as lists, and the rules run on
each URL's rows inside it. There are ceil(rows / BUCKET_ROWS) buckets, so that a bucket holds at most about
BUCKET_ROWS rows (the memory one worker holds for it) at any scale. `rows` is an upper bound the caller knows
before anything is read (`wit build`: transforms.crawl.inputs.candidates_at_most, from Parquet footers and
file sizes), or else counted first, which costs one more pass over the rows. The shuffle moves lists, not
single rows, while a bundle holds many rows per bucket (always on one machine; on a cluster with millions of
buckets the lists shrink towards single rows and the shuffle costs what it did per row).
"""
from __future__ import annotations

import math
import zlib

import apache_beam as beam

from transforms.beam_util import BATCH_ROWS, REJECTED, CountRows, Regroup, StageCounters, as_batches, chunks, \
    values_of

from .core import DedupOptions, dedup_rows

STAGE = "dedup"
BUCKET_ROWS = 50_000  # rows per bucket, about: ~50-100 MB of candidate dicts held by the worker deduplicating it


def buckets_for(rows: int) -> int:
    return max(1, math.ceil(rows / BUCKET_ROWS))


def url_bucket(url: str, buckets: int) -> int:
    """A URL's bucket: CRC-32, stable on every machine, a fifth of the cost of BLAKE2b (only the grouping
    depends on it, never an output)."""
    return zlib.crc32(url.encode("utf-8", "surrogatepass")) % buckets if buckets > 1 else 0


class _DedupFn(beam.DoFn):
    def __init__(self, options: DedupOptions):
        self.options = options

    def setup(self):
        self.counters = StageCounters(STAGE)
        self.pairs = self.counters.counter("unique_pairs")

    def process(self, keyed):
        _, lists = keyed
        rows = values_of(lists)  # a bucket: every row of each of its URLs
        kept, losers, pairs = dedup_rows(rows, self.options.captions_per_url)
        dropped = [self.counters.reject(loser, reason, f"kept {kept_uid}") for loser, reason, kept_uid in losers]
        self.counters.seen.inc(len(rows))
        self.counters.kept.inc(len(kept))
        self.pairs.inc(pairs)
        yield from chunks(kept, BATCH_ROWS)
        for batch in chunks(dropped, BATCH_ROWS):
            yield beam.pvalue.TaggedOutput(REJECTED, batch)


class Dedup(beam.PTransform):
    """Batches of candidates -> {"kept": batches, one per pair, at most captions_per_url per image URL;
    "rejected": batches of rows for the duplicates}. `rows`: at least the number of candidates, when known."""

    def __init__(self, options: DedupOptions = DedupOptions(), rows: int | None = None, label: str | None = None):
        super().__init__(label)
        self.options, self.rows = options, rows

    def expand(self, pcoll):
        if self.rows is None:
            buckets = beam.pvalue.AsSingleton(pcoll | "Count" >> CountRows() | "Buckets" >> beam.Map(buckets_for))
        else:
            buckets = buckets_for(self.rows)
        by_url = Regroup(lambda batch, n: ((url_bucket(r["url"], n), r) for r in batch), buckets)
        result = as_batches(pcoll | "ByUrl" >> by_url
                            | "Dedup" >> beam.ParDo(_DedupFn(self.options)).with_outputs(REJECTED, main="kept"))
        return {"kept": result.kept, "rejected": result[REJECTED]}
