"""A pilot download: how many of a pool's URLs still serve an image, measured on a sample before balancing.

A crawl's links rot (about a third no longer serve an image, in MetaCLIP's experience); balancing happens
before the download, so a head capped at t would end with about two thirds of t in the shards. The pilot
downloads a sample of the pool exactly as the shards will (same fetch rules, robots, decoding and limits,
nothing written) and its success rate is the link survival balancing divides t by.

The sample is the `n` URLs with the smallest hash draw of (seed, uid): the same sample on every run and
runner, a uniform one over the pool. Its standard error is sqrt(s (1 - s) / n): 0.01 at n = 2,000.
"""
from __future__ import annotations

import heapq
from collections import Counter

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.balance.core import MIN_SURVIVAL, draw

from .errors import SUCCESS
from .options import DownloadOptions
from .shard import ShardDownloader

# The uid draws of the pilot must not be the balancing draws (query ids are >= 0).
_PILOT_DRAW = -1


def measure_survival(urls: list[str], options: DownloadOptions) -> dict:
    """Download `urls` (nothing written); {sampled, success, statuses, survival}. With nothing to sample
    the survival is 1 (nothing known to be lost); never below balance.core.MIN_SURVIVAL."""
    downloader = ShardDownloader(options)
    try:
        results = downloader.probe(urls) if urls else []
    finally:
        downloader.close()
    statuses = Counter(r.status for r in results)
    survival = statuses[SUCCESS] / len(results) if results else 1.0
    return {"sampled": len(results), "success": statuses[SUCCESS], "statuses": dict(sorted(statuses.items())),
            "survival": max(MIN_SURVIVAL, survival)}


def _measure(sample: list[tuple], options: DownloadOptions) -> dict:
    result = measure_survival([url for _, _, url in sorted(sample)], options)
    Metrics.counter("wit.pilot", "sampled").inc(result["sampled"])
    for status, n in result["statuses"].items():
        Metrics.counter("wit.pilot", "success" if status == SUCCESS else f"failed.{status}").inc(n)
    # Counters are integers: the survival the heads were balanced with, in parts per million.
    Metrics.counter("wit.pilot", "survival_ppm").inc(round(result["survival"] * 1e6))
    return result


class PilotSurvival(beam.PTransform):
    """Batches of candidates (dicts with uid and url) -> a one-element PCollection: measure_survival's
    result."""

    def __init__(self, n: int, seed: int, options: DownloadOptions, label: str | None = None):
        super().__init__(label)
        self.n, self.seed, self.options = n, seed, options

    def expand(self, pcoll):
        n, seed = self.n, self.seed
        # The n smallest draws of the pool are among the n smallest of each batch: only those go on.
        return (pcoll | "Draw" >> beam.FlatMap(lambda batch: heapq.nsmallest(
                    n, ((draw(seed, r["uid"], _PILOT_DRAW), r["uid"], r["url"]) for r in batch)))
                | "Sample" >> beam.combiners.Top.Smallest(self.n)
                | "Download" >> beam.Map(_measure, self.options))
