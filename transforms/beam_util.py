"""Small Beam pieces every stage wrapper uses: the stage counters, a filter that counts and keeps each drop
with its reason, and deterministic Parquet writers.

Only the stages' Beam wrappers import this module; the plain-Python cores never import Beam.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics

from transforms.candidate import rejected
from transforms.files import bucket_of

REJECTED = "rejected"


class StageCounters:
    """How every stage counts: wit.<stage>/in, out and dropped.<reason> (one counter per reason, made when first
    used), plus the stage's own counters by name. Make it in DoFn.setup (per worker), never in __init__."""

    def __init__(self, stage: str):
        self.stage = stage
        self.namespace = f"wit.{stage}"
        self.seen = Metrics.counter(self.namespace, "in")
        self.kept = Metrics.counter(self.namespace, "out")
        self._dropped = {}

    def counter(self, name: str):
        return Metrics.counter(self.namespace, name)

    def distribution(self, name: str):
        return Metrics.distribution(self.namespace, name)

    def drop(self, reason: str, n: int = 1) -> None:
        counter = self._dropped.get(reason)
        if counter is None:
            counter = self._dropped[reason] = Metrics.counter(self.namespace, f"dropped.{reason}")
        counter.inc(n)

    def reject(self, element: dict, reason: str, detail: str | None = None) -> dict:
        """Count the drop of `element` and return its rejected row (stage, reason, detail)."""
        self.drop(reason)
        return rejected(element, self.stage, reason, detail)


class _FilterWithReasons(beam.DoFn):
    def __init__(self, stage: str, judge_factory: Callable[[], Callable], rewrites: bool):
        self.stage = stage
        self.judge_factory = judge_factory
        self.rewrites = rewrites
        self.judge = None

    def setup(self):
        # Per-worker state (automata, models) is built here, once, never pickled per element.
        self.judge = self.judge_factory()
        self.counters = StageCounters(self.stage)

    def process(self, element):
        self.counters.seen.inc()
        kept, verdict = self.judge(element) if self.rewrites else (element, self.judge(element))
        if verdict is None:
            self.counters.kept.inc()
            yield kept
            return
        reason, detail = verdict
        yield beam.pvalue.TaggedOutput(REJECTED, self.counters.reject(element, reason, detail))


class FilterWithReasons(beam.PTransform):
    """Keep the elements `judge` accepts; route the rest to the `rejected` output with their reason.

    `judge_factory()` is called once per worker (DoFn.setup) and returns `judge(element) -> None` to keep,
    or `(reason, detail)` to drop. With `rewrites=True` the judge returns `(element_to_keep, None)` or
    `(None, (reason, detail))` instead, for stages that also normalise what they keep.
    Counters: wit.<stage>/in, out, dropped.<reason>. The rejected row records the element as it came in.
    The result is a DoOutputsTuple: `result["kept"]` (main) and `result["rejected"]`.
    """

    def __init__(self, stage: str, judge_factory, rewrites: bool = False, label: str | None = None):
        super().__init__(label)
        self.stage = stage
        self.judge_factory = judge_factory
        self.rewrites = rewrites

    def expand(self, pcoll):
        return pcoll | beam.ParDo(_FilterWithReasons(self.stage, self.judge_factory, self.rewrites)).with_outputs(
            REJECTED, main="kept")


def counter_values(result, prefix: str = "wit.") -> dict[str, dict[str, int]]:
    """The counters (and distributions) of a finished pipeline whose namespace starts with `prefix`:
    {namespace: {name: value}}, each summed over the steps that count it (committed values where the runner
    has them, else attempted).
    {} when the runner cannot say (e.g. a Dataflow dry run: translated, never executed)."""
    try:
        metrics = result.metrics().query()
    except NotImplementedError:
        return {}
    out: dict = {}
    for counter in metrics["counters"]:
        namespace, name = counter.key.metric.namespace, counter.key.metric.name
        if namespace.startswith(prefix):
            value = counter.committed if counter.committed is not None else counter.attempted
            values = out.setdefault(namespace, {})
            values[name] = values.get(name, 0) + value
    # Distributions as <name>.count and <name>.max (e.g. the download's largest group: its straggler).
    for dist in metrics.get("distributions", []):
        namespace, name = dist.key.metric.namespace, dist.key.metric.name
        value = dist.committed if dist.committed is not None else dist.attempted
        if namespace.startswith(prefix) and value is not None and value.count:
            values = out.setdefault(namespace, {})
            values[f"{name}.count"] = values.get(f"{name}.count", 0) + value.count
            values[f"{name}.max"] = max(values.get(f"{name}.max", value.max), value.max)
    return out


def write_table_atomically(path: str, rows: list[dict], schema: pa.Schema) -> str:
    """Write rows to one Parquet file through Beam's FileSystems (local, gs://, s3://): temp name, rename."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    tmp = f"{path}.tmp"
    with FileSystems.create(tmp) as f:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), f, compression="zstd")
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])
    return path


class WriteBucketedParquet(beam.PTransform):
    """Rows -> `{prefix}-{i:05d}.parquet` for i < n, n = ceil(rows / rows_per_file): rows go to a file by a
    hash of `key(row)` and are sorted by `sort_key(row)` inside it, so every runner writes the same bytes
    (Beam's own sharded writers assign rows to files at random)."""

    def __init__(self, prefix: str, schema: pa.Schema, key, sort_key, rows_per_file: int = 200_000,
                 label: str | None = None):
        super().__init__(label)
        self.prefix, self.schema, self.key, self.sort_key = prefix, schema, key, sort_key
        self.rows_per_file = rows_per_file

    def expand(self, rows):
        n = (rows | "Count" >> beam.combiners.Count.Globally()
             | "Files" >> beam.Map(lambda c: max(1, math.ceil(c / self.rows_per_file))))
        return (rows
                | "Bucket" >> beam.Map(lambda r, n: (bucket_of(self.key(r), n), r), beam.pvalue.AsSingleton(n))
                | "Group" >> beam.GroupByKey()
                | "Write" >> beam.MapTuple(lambda i, group: write_table_atomically(
                    f"{self.prefix}-{i:05d}.parquet", sorted(group, key=self.sort_key), self.schema)))
