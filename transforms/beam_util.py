"""Small Beam pieces every stage wrapper uses: the stage counters, batches, a filter that counts and keeps
each drop with its reason, regrouping batches by key, and deterministic Parquet writers.

Candidates travel between the stages of `wit build` in batches: each element of a PCollection is a list of
up to BATCH_ROWS candidate dicts (rejected rows too). Beam's per-element work (the DoFn call chain, output
receivers, counters, coders) is then paid once per batch instead of once per candidate: per candidate it
used to cost more than the stages' own work (docs/scaling.md, section 1). A shuffle regroups batches by key
into lists (`Regroup`), never into single rows.

Only the stages' Beam wrappers import this module; the plain-Python cores never import Beam.
"""
from __future__ import annotations

import gc
import itertools
import math
import pickle
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.typehints import typehints
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from transforms.candidate import rejected
from transforms.files import bucket_of

REJECTED = "rejected"


class Rows(list):
    """The element type of a batch: a list of rows (candidate dicts, rejected rows, or (key, row) pairs).
    Batches are plain lists; this type only names their coder, RowsCoder."""


class RowsCoder(beam.coders.Coder):
    """A batch, pickled: about half the CPU of Beam's FastPrimitivesCoder on candidate dicts. Its size estimate
    comes from the first two rows: Beam samples element sizes (all of the first 10 per step, then fewer), and
    a full encode per sample cost as much as the shuffles themselves when a worker sees a few hundred
    batches."""

    def encode(self, value) -> bytes:
        return pickle.dumps(value, protocol=5)

    def decode(self, encoded: bytes):
        # A batch is a thousand new dicts at once: the cyclic GC would run several times inside one decode
        # (about half of its cost, measured) and find nothing to free. It runs after it instead.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return pickle.loads(encoded)
        finally:
            if enabled:
                gc.enable()

    def estimate_size(self, value) -> int:
        if len(value) < 3:
            return len(self.encode(value))
        # The first row with the field names, then each further row as the second one (names memoised).
        one, two = (len(self.encode(value[:n])) for n in (1, 2))
        return one + (two - one) * (len(value) - 1)

    def is_deterministic(self) -> bool:
        return False

    def to_type_hint(self):
        return Rows


beam.coders.registry.register_coder(Rows, RowsCoder)
KEYED_ROWS = typehints.Tuple[int, Rows]  # Regroup's output: (int key, a list of its values)


def as_batches(*pcolls):
    """Mark PCollections (or every output of a multi-output ParDo) as batches, so that RowsCoder moves them."""
    for pcoll in pcolls:
        for one in (pcoll if isinstance(pcoll, beam.pvalue.DoOutputsTuple) else [pcoll]):
            one.element_type = Rows
    return pcolls[0] if len(pcolls) == 1 else pcolls


BATCH_ROWS = 1000  # candidates per element between stages: past a few hundred Beam's cost per batch is noise
# Rows a Regroup DoFn holds across a bundle before it sends every list it holds (its memory bound).
REGROUP_HELD_ROWS = 20 * BATCH_ROWS


def chunks(rows: Iterable, size: int = BATCH_ROWS) -> Iterator[list]:
    """Consecutive lists of at most `size` items of `rows`."""
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def in_global_window(value) -> WindowedValue:
    """What finish_bundle must yield: the value in the global window (every stage runs in it: a batch job)."""
    return WindowedValue(value, MIN_TIMESTAMP, [GlobalWindow()])


_LABELS = itertools.count()


class Batch(beam.PTransform):
    """Single elements -> lists of at most BATCH_ROWS of them (per bundle), for callers with single rows."""

    def __init__(self, label: str | None = None):
        super().__init__(label or f"Batch{next(_LABELS)}")  # a pipeline may batch in several places

    def expand(self, pcoll):
        return as_batches(pcoll | beam.BatchElements(min_batch_size=1, max_batch_size=BATCH_ROWS))


class Unbatch(beam.PTransform):
    """Lists -> their elements."""

    def __init__(self, label: str | None = None):
        super().__init__(label or f"Unbatch{next(_LABELS)}")

    def expand(self, pcoll):
        return pcoll | beam.FlatMap(lambda batch: batch)


class CountRows(beam.PTransform):
    """Batches -> one element: how many rows they hold."""

    def expand(self, batches):
        return batches | "Lengths" >> beam.Map(len) | "Sum" >> beam.CombineGlobally(sum)


class _Regroup(beam.DoFn):
    """Batches -> (key, list of values) with every value of a key in a bundle in as few lists as possible:
    lists of up to BATCH_ROWS values, sent when full, when the DoFn holds REGROUP_HELD_ROWS values, and when
    the bundle ends. `keyed(batch, *side_inputs)` yields (int key, value) for a batch. With `sizes`, each
    key's count of values in the bundle also goes to that tagged output as (key, n)."""

    def __init__(self, keyed: Callable, sizes: str | None = None):
        self.keyed = keyed
        self.sizes = sizes

    def start_bundle(self):
        self.held, self.n_held = {}, 0
        self.counts = Counter()

    def process(self, batch, *side):
        held = self.held
        n = self.n_held
        for key, value in self.keyed(batch, *side):
            values = held.get(key)
            if values is None:
                values = held[key] = []
            values.append(value)
            n += 1
            if len(values) >= BATCH_ROWS:
                n -= len(values)
                yield self._out(key, held.pop(key))
        self.n_held = n
        if n >= REGROUP_HELD_ROWS:
            yield from self._send()

    def finish_bundle(self):
        for pair in self._send():
            yield in_global_window(pair)
        counts, self.counts = self.counts, Counter()
        for pair in counts.items():
            yield beam.pvalue.TaggedOutput(self.sizes, in_global_window(pair))

    def _out(self, key, values):
        if self.sizes:
            self.counts[key] += len(values)
        return key, values

    def _send(self):
        held, self.held, self.n_held = self.held, {}, 0
        return [self._out(key, values) for key, values in held.items()]


class Regroup(beam.PTransform):
    """Batches -> (key, [lists of values]) after a GroupByKey: `keyed(batch, *side)` gives (int key, value)
    pairs; each key's values arrive as lists (concatenate them with `values_of`). With sizes=True the result
    is (grouped, sizes): sizes holds (key, how many values) pairs, summed per key, known before the grouping
    is read (a consumer of the grouped lists can take them as a side input without reading the lists
    twice)."""

    def __init__(self, keyed: Callable, *side, sizes: bool = False, label: str | None = None):
        super().__init__(label)
        self.keyed, self.side, self.sizes = keyed, side, sizes

    def expand(self, batches):
        fn = beam.ParDo(_Regroup(self.keyed, "sizes" if self.sizes else None), *self.side)
        if not self.sizes:
            return batches | "ByKey" >> fn.with_output_types(KEYED_ROWS) | "Group" >> beam.GroupByKey()
        keyed = batches | "ByKey" >> fn.with_outputs("sizes", main="keyed")
        keyed.keyed.element_type = KEYED_ROWS
        return (keyed.keyed | "Group" >> beam.GroupByKey(),
                keyed.sizes | "SumSizes" >> beam.CombinePerKey(sum))


def values_of(lists: Iterable[list]) -> list:
    """The values of one key after Regroup, in one list."""
    return [value for values in lists for value in values]


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

    def batch(self, seen: int, kept: int, dropped: list[dict]) -> None:
        """Count a batch: `seen` rows in, `kept` out, the rejected rows `dropped` by their reason."""
        self.seen.inc(seen)
        if kept:
            self.kept.inc(kept)
        for reason, n in Counter(row["reason"] for row in dropped).items():
            self.drop(reason, n)


def split_outputs(kept: list, dropped: list):
    """A batch stage's outputs: the kept batch (main) and the rejected one, each only when not empty."""
    if kept:
        yield kept
    if dropped:
        yield beam.pvalue.TaggedOutput(REJECTED, dropped)


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

    def process(self, batch):
        kept, dropped = [], []
        judge, stage, rewrites = self.judge, self.stage, self.rewrites
        for element in batch:
            out, verdict = judge(element) if rewrites else (element, judge(element))
            if verdict is None:
                kept.append(out)
            else:
                dropped.append(rejected(element, stage, *verdict))
        self.counters.batch(len(batch), len(kept), dropped)
        yield from split_outputs(kept, dropped)


class FilterWithReasons(beam.PTransform):
    """Batches -> batches of the elements `judge` accepts; the rest go to the `rejected` output (batches of
    rejected rows) with their reason.

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
        return as_batches(pcoll | beam.ParDo(_FilterWithReasons(self.stage, self.judge_factory, self.rewrites))
                          .with_outputs(REJECTED, main="kept"))


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
    """Batches of rows -> `{prefix}-{i:05d}.parquet` for i < n, n = ceil(rows / rows_per_file): rows go to a
    file by a hash of `key(row)` and are sorted by `sort_key(row)` inside it, so every runner writes the same
    bytes (Beam's own sharded writers assign rows to files at random)."""

    def __init__(self, prefix: str, schema: pa.Schema, key, sort_key, rows_per_file: int = 200_000,
                 label: str | None = None):
        super().__init__(label)
        self.prefix, self.schema, self.key, self.sort_key = prefix, schema, key, sort_key
        self.rows_per_file = rows_per_file

    def expand(self, rows):
        n = (rows | "Count" >> CountRows()
             | "Files" >> beam.Map(lambda c: max(1, math.ceil(c / self.rows_per_file))))
        key = self.key
        return (rows
                | "Bucket" >> Regroup(lambda batch, n: ((bucket_of(key(r), n), r) for r in batch),
                                      beam.pvalue.AsSingleton(n))
                | "Write" >> beam.MapTuple(lambda i, lists: write_table_atomically(
                    f"{self.prefix}-{i:05d}.parquet", sorted(values_of(lists), key=self.sort_key), self.schema)))
