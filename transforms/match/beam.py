"""Beam wrapper of the matcher: adds `matched_queries` (sorted query ids) and drops texts that match none."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.utils import shared
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from transforms.beam_util import REJECTED, StageCounters

from .core import QueryMatcher
from .query_list import load_queries

STAGE = "match"
_BATCH = 1000  # texts spaced in one replace chain: amortises the per-call cost, keeps the batch in cache


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

    def start_bundle(self):
        self.buffer = []

    def process(self, element, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        self.buffer.append((element, window, timestamp))
        if len(self.buffer) >= _BATCH:
            yield from self._flush(windowed=False)

    def finish_bundle(self):
        yield from self._flush(windowed=True)

    def _flush(self, windowed: bool):
        batch, self.buffer = self.buffer, []
        if not batch:
            return
        self.counters.seen.inc(len(batch))
        for (element, window, timestamp), ids in zip(batch, self.matcher.match_many(e["text"] for e, _, _ in batch)):
            if ids:
                self.counters.kept.inc()
                self.matches.update(len(ids))
                out, tag = {**element, "matched_queries": ids}, None
            else:
                out, tag = self.counters.reject(element, "no_query_match"), REJECTED
            if windowed:  # finish_bundle must say which window each output belongs to
                out = WindowedValue(out, timestamp if timestamp is not None else MIN_TIMESTAMP,
                                    [window if window is not None else GlobalWindow()])
            yield out if tag is None else beam.pvalue.TaggedOutput(tag, out)


class MatchQueries(beam.PTransform):
    """Candidates -> candidates with `matched_queries`; `.rejected` holds those that match no query."""

    def __init__(self, queries_path: str, label: str | None = None):
        super().__init__(label)
        self.queries_path = queries_path

    def expand(self, pcoll):
        return pcoll | beam.ParDo(_MatchFn(self.queries_path)).with_outputs(REJECTED, main="kept")
