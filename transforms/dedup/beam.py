"""Beam wrapper of dedup: group by image URL, then both rules in the group; every dropped duplicate is a
rejected row that names the uid it lost to."""
from __future__ import annotations

import apache_beam as beam
from transforms.beam_util import REJECTED, StageCounters

from .core import DedupOptions, dedup_url_group

STAGE = "dedup"


class _DedupFn(beam.DoFn):
    def __init__(self, options: DedupOptions):
        self.options = options

    def setup(self):
        self.counters = StageCounters(STAGE)
        self.pairs = self.counters.counter("unique_pairs")

    def process(self, keyed):
        _, group = keyed
        group = list(group)
        kept, dropped, pairs = dedup_url_group(group, self.options.captions_per_url)
        self.counters.seen.inc(len(group))
        self.pairs.inc(pairs)
        self.counters.kept.inc(len(kept))
        yield from kept
        for loser, reason, kept_uid in dropped:
            yield beam.pvalue.TaggedOutput(REJECTED, self.counters.reject(loser, reason, f"kept {kept_uid}"))


class Dedup(beam.PTransform):
    """Candidates -> {"kept": one per pair, at most captions_per_url per image URL; "rejected": the
    duplicates}. One GroupByKey on the URL (a pair's copies share it), then both rules inside each group."""

    def __init__(self, options: DedupOptions = DedupOptions(), label: str | None = None):
        super().__init__(label)
        self.options = options

    def expand(self, pcoll):
        result = (pcoll | "ByUrl" >> beam.Map(lambda e: (e["url"], e)) | "GroupUrl" >> beam.GroupByKey()
                  | "Dedup" >> beam.ParDo(_DedupFn(self.options)).with_outputs(REJECTED, main="kept"))
        return {"kept": result.kept, "rejected": result[REJECTED]}
