"""Beam wrapper of dedup: group by image URL, then both rules in the group; every dropped duplicate is a
rejected row that names the uid it lost to."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.beam_util import REJECTED
from transforms.candidate import rejected

from .core import dedup_url_group

STAGE = "dedup"


class _DedupFn(beam.DoFn):
    def setup(self):
        self.pairs = Metrics.counter(f"wit.{STAGE}", "unique_pairs")
        self.kept = Metrics.counter(f"wit.{STAGE}", "out")
        self.dropped = {reason: Metrics.counter(f"wit.{STAGE}", f"dropped.{reason}")
                        for reason in ("duplicate_pair", "duplicate_image_url")}

    def process(self, keyed):
        _, group = keyed
        winner, dropped, pairs = dedup_url_group(group)
        self.pairs.inc(pairs)
        self.kept.inc()
        yield winner
        for loser, reason, kept_uid in dropped:
            self.dropped[reason].inc()
            yield beam.pvalue.TaggedOutput(REJECTED, rejected(loser, STAGE, reason, f"kept {kept_uid}"))


class Dedup(beam.PTransform):
    """Candidates -> {"kept": one per pair, then one per image URL; "rejected": the duplicates}.

    One GroupByKey on the URL (a pair's copies share it), then both rules inside each group."""

    def expand(self, pcoll):
        result = (pcoll | "ByUrl" >> beam.Map(lambda e: (e["url"], e)) | "GroupUrl" >> beam.GroupByKey()
                  | "Dedup" >> beam.ParDo(_DedupFn()).with_outputs(REJECTED, main="kept"))
        return {"kept": result.kept, "rejected": result[REJECTED]}
