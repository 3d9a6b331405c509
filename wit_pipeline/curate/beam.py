"""`wit score` as a Beam job: one shard per element, the model loaded once per worker in `DoFn.setup`, each
shard's scores file written by score.Scorer (atomically; a retried bundle finds it current and skips it), so it
runs on Dataflow with GPU workers as it runs locally on FnApiRunner. Only this module imports Beam."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from wit_pipeline.curate.corpus import Shard
from wit_pipeline.curate.options import ScoreOptions

NAMESPACE = "wit.score"


class _ScoreFn(beam.DoFn):
    def __init__(self, options: ScoreOptions, identity: dict):
        self.options, self.identity = options, identity

    def setup(self):
        from wit_pipeline.curate.score import Scorer

        self.scorer = Scorer(self.options, self.identity)
        self.counters = {name: Metrics.counter(NAMESPACE, name) for name in ("shards", "samples", "scored",
                                                                             "shards_skipped")}

    def process(self, url: str):
        stats = self.scorer.score_shard(Shard(url))
        self.counters["shards_skipped" if stats["skipped"] else "shards"].inc()
        self.counters["samples"].inc(stats["samples"])
        self.counters["scored"].inc(stats["scored"])
        yield stats

    def teardown(self):
        scorer = getattr(self, "scorer", None)
        if scorer is not None:  # tidiness only: every scores file is complete when process() returns
            scorer.close()


class ScoreShards(beam.PTransform):
    """Shard URLs (.tar) -> each shard's scoring stats, after its scores file is written."""

    def __init__(self, options: ScoreOptions, identity: dict, label: str | None = None):
        super().__init__(label)
        self.options, self.identity = options, identity

    def expand(self, urls):
        # Reshuffle: the shards spread over the workers instead of staying on the one that created them.
        return urls | "Spread" >> beam.Reshuffle() | "Score" >> beam.ParDo(_ScoreFn(self.options, self.identity))


def run_scoring(options: ScoreOptions, identity: dict, urls: list[str], beam_args: list[str]) -> dict:
    """Score `urls` on Beam (FnApiRunner unless beam_args name a runner); counts of shards, samples, scored."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from transforms.beam_util import counter_values

    pipeline_options = PipelineOptions(beam_args)
    if not pipeline_options.view_as(StandardOptions).runner:  # Beam's default would fetch Prism first
        pipeline_options.view_as(StandardOptions).runner = "FnApiRunner"
    if not urls:
        return {"shards": 0, "samples": 0, "scored": 0}
    p = beam.Pipeline(options=pipeline_options)
    _ = p | "Shards" >> beam.Create(urls) | "ScoreShards" >> ScoreShards(options, identity)
    result = p.run()
    result.wait_until_finish()
    counts = counter_values(result, NAMESPACE).get(NAMESPACE, {})
    return {"shards": counts.get("shards", 0), "samples": counts.get("samples", 0), "scored": counts.get("scored", 0)}
