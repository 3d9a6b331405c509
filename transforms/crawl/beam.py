"""The crawl stage in Beam: input files to candidates, one file per unit of work.

ReadCandidates(inputs, options) expands the inputs when it is built (so a missing input fails at once, with
its name), spreads the files over workers with a Reshuffle, and reads each in a DoFn that yields its
candidates. A corrupt or truncated file yields its good records and its error rows (tagged output
`errors`: {file, record, error, records_read}); counters under wit.crawl count files, records, pages,
candidates, errors and each skip reason.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.beam_util import as_batches, chunks

from .inputs import expand_inputs
from .options import CrawlOptions
from .output import write_errors, write_part
from .read import read_file
from .stats import FileStats

NAMESPACE = "wit.crawl"
ERRORS = "errors"


class _ReadFile(beam.DoFn):
    def __init__(self, options: CrawlOptions, keyed: bool, batch_rows: int = 0):
        self.options = options
        self.keyed = keyed
        self.batch_rows = batch_rows
        self.counters = {}

    def setup(self):
        self.counters = {}

    def _inc(self, name: str, n: int) -> None:
        if n:
            counter = self.counters.get(name)
            if counter is None:
                counter = self.counters[name] = Metrics.counter(NAMESPACE, name)
            counter.inc(n)

    def process(self, unit):
        index, (path, kind) = unit
        stats = FileStats(path)
        rows = read_file(path, kind, self.options, stats)
        if self.batch_rows:  # a file's candidates in lists (transforms.beam_util)
            yield from chunks(rows, self.batch_rows)
        else:
            for n, row in enumerate(rows):
                yield (index, (n, row)) if self.keyed else row
        self._inc("files", 1)
        self._inc("records", stats.records)
        self._inc("pages", stats.pages)
        self._inc("candidates", stats.candidates)
        errors = stats.error_rows()
        self._inc("errors", len(errors))
        self._inc("files_with_errors", 1 if errors else 0)
        for reason, n in stats.skipped.items():
            self._inc(f"skipped.{reason}", n)
        for row in errors:
            yield beam.pvalue.TaggedOutput(ERRORS, row)


class ReadCandidates(beam.PTransform):
    """Inputs (files, folders, globs, fsspec URLs, wat.paths.gz / warc.paths.gz listings) to candidates.

    Apply to a pipeline: `result = p | ReadCandidates(["crawl/*.wat.gz"], CrawlOptions())`; then
    `result.candidates` are the candidate dicts and `result.errors` the error rows. With keyed=True the
    candidates come as (file index, (row number in the file, candidate)), so a writer can put each file's
    rows back in file order (`units[i]` is the file of index i). With batch_rows=N they come in lists of at
    most N of one file (transforms.beam_util: how the stages of `wit build` take them).
    """

    def __init__(self, inputs: list[str], options: CrawlOptions | None = None, keyed: bool = False,
                 label: str | None = None, batch_rows: int = 0):
        super().__init__(label)
        if keyed and batch_rows:
            raise ValueError("ReadCandidates: keyed rows come one by one, not in batches")
        self.options = options or CrawlOptions()
        self.keyed = keyed
        self.batch_rows = batch_rows
        self.units = expand_inputs(list(inputs), self.options)

    def expand(self, pbegin):
        result = (pbegin
                  | "Files" >> beam.Create(list(enumerate(self.units)))
                  # One file is one unit of work: without this, a runner may read every file in one worker.
                  | "Spread" >> beam.Reshuffle()
                  | "Read" >> beam.ParDo(_ReadFile(self.options, self.keyed, self.batch_rows)).with_outputs(
                      ERRORS, main="candidates"))
        if self.batch_rows:
            as_batches(result.candidates)
        return result


class _WritePart(beam.DoFn):
    def __init__(self, output: str):
        self.output = output

    def process(self, element):
        index, grouped = element
        rows = [row for _, row in sorted(grouped["rows"], key=lambda item: item[0])]
        write_part(self.output, index, rows)
        yield len(rows)


class WriteCandidates(beam.PTransform):
    """Apply to {"candidates": ..., "errors": ...} of ReadCandidates(keyed=True): write the candidates as output/candidates/part-NNNNN.parquet, one part per input file
    (an empty part for a file without candidates), rows in file order: the same inputs give the same
    files on any runner. Errors go to output/errors/errors.jsonl. Parts left by an earlier run with more
    input files are the caller's to remove after the run (output.remove_stale_parts)."""

    def __init__(self, output: str, units: list[tuple[str, str]], label: str | None = None):
        super().__init__(label)
        self.output = output
        self.units = units

    def expand(self, pcolls):
        candidates, errors = pcolls["candidates"], pcolls["errors"]
        files = candidates.pipeline | "FileIndexes" >> beam.Create([(i, None) for i in range(len(self.units))])
        written = ({"file": files, "rows": candidates}
                   | "ByFile" >> beam.CoGroupByKey()
                   | "WriteParts" >> beam.ParDo(_WritePart(self.output)))
        output = self.output
        errors = (errors
                  | "AllErrors" >> beam.combiners.ToList()
                  | "WriteErrors" >> beam.Map(lambda rows: write_errors(output, rows)))
        return written, errors
