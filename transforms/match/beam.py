"""Beam wrapper of the matcher: adds `matched_queries` (sorted query ids) and drops texts that match none.

Batches of candidates in (transforms.beam_util): a batch's texts go to the matcher in one call, which spaces
them in one replace chain (the per-call cost amortised, the batch kept in cache)."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.utils import shared

from transforms.beam_util import REJECTED, StageCounters, as_batches, split_outputs
from transforms.candidate import rejected

from .core import QueryMatcher
from .query_list import load_queries

STAGE = "match"


class _MatchFn(beam.DoFn):
    def __init__(self, queries_path: str):
        self.queries_path = queries_path
        self._shared = shared.Shared()  # pickled as a key: one matcher per worker process, for all its threads

    def setup(self):
        # Built once per worker process from the file, never pickled with the DoFn (500k queries: ~1 s and
        # ~70 MB, plus the list itself); the SDK harness runs several threads, and they share it (the matcher
        # is read-only once built).
        self.matcher = self._shared.acquire(lambda: QueryMatcher(load_queries(self.queries_path)),
                                            tag=self.queries_path)
        self.counters = StageCounters(STAGE)
        self.matches = self.counters.distribution("matches_per_text")

    def process(self, batch):
        kept, dropped = [], []
        update = self.matches.update
        for element, ids in zip(batch, self.matcher.match_many(e["text"] for e in batch)):
            if ids:
                update(len(ids))
                kept.append({**element, "matched_queries": ids})
            else:
                dropped.append(rejected(element, STAGE, "no_query_match"))
        self.counters.batch(len(batch), len(kept), dropped)
        yield from split_outputs(kept, dropped)


class MatchQueries(beam.PTransform):
    """Batches of candidates -> batches with `matched_queries`; `.rejected` holds batches of rows for those
    that match no query."""

    def __init__(self, queries_path: str, label: str | None = None):
        super().__init__(label)
        self.queries_path = queries_path

    def expand(self, pcoll):
        return as_batches(pcoll | beam.ParDo(_MatchFn(self.queries_path)).with_outputs(REJECTED, main="kept"))
