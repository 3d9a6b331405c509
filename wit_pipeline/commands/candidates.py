"""Extract candidate (image URL, alt text) pairs from Common Crawl WAT or WARC files, or read them from ready
manifests (Parquet, CSV, TSV, JSONL), into candidate Parquet: OUTPUT/candidates/part-NNNNN.parquet, one part
per input file, rows in file order. Inputs are files, folders, globs, fsspec URLs (gs://, s3://, https://)
or Common Crawl path listings (wat.paths.gz, warc.paths.gz; see --paths-count / --paths-sample). A corrupt
or truncated file gives its good records; its problems are listed in OUTPUT/errors/errors.jsonl.

Runs on Beam, the embedded FnApiRunner by default; Beam flags (--runner=DataflowRunner --project ...,
--direct_num_workers ...) go after `--` or anywhere wit does not know them."""
from __future__ import annotations

import json

from wit_pipeline import flags
from wit_pipeline.options import ALIASES

HELP = "extract candidate (image URL, alt text) pairs from WAT/WARC files or manifests"
BEAM_ARGS = True  # unknown flags are Beam's: passed on to PipelineOptions

_FLAGS: list = []  # its flags, made from CrawlOptions


def register(p) -> None:
    from transforms.crawl.options import CrawlOptions  # Beam-free: `wit --help` does not import Beam

    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="WAT/WARC files, manifests, folders, globs, fsspec URLs or CC path listings")
    p.add_argument("--output", "-o", required=True, help="output folder: a path or gs://, s3://, ... URL")
    _FLAGS[:] = flags.add_flags(p, CrawlOptions, group="candidates", aliases=ALIASES)


def options_from_args(args):
    from transforms.crawl.options import CrawlOptions

    return flags.build(CrawlOptions, args, _FLAGS)


def run(args) -> int:
    import time

    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from transforms.beam_util import counter_values
    from transforms.crawl.beam import NAMESPACE, ReadCandidates, WriteCandidates
    from transforms.crawl.output import CANDIDATES_DIR, ERRORS_DIR, ERRORS_FILE, join, part_name, \
        remove_stale_parts

    beam_args = list(args.extra_args)  # what wit does not know, and everything after `--`
    options = options_from_args(args)
    if not any(a.startswith("--runner") for a in beam_args):
        beam_args = ["--runner=FnApiRunner", *beam_args]  # Beam's default would fetch its Prism binary first
    output = args.output.rstrip("/")
    started = time.time()
    read = ReadCandidates(args.inputs, options, keyed=True)  # expands the inputs now: a missing one fails here
    print(f"wit candidates: {len(read.units)} input file(s)", flush=True)
    pipeline = beam.Pipeline(options=PipelineOptions(beam_args))
    result = pipeline | "ReadCandidates" >> read
    {"candidates": result.candidates, "errors": result.errors} | "WriteCandidates" >> WriteCandidates(
        output, read.units)
    outcome = pipeline.run()
    outcome.wait_until_finish()
    remove_stale_parts(output, len(read.units))

    counts = counter_values(outcome, NAMESPACE).get(NAMESPACE, {})
    summary = {"seconds": round(time.time() - started, 1), "counts": dict(sorted(counts.items())),
               "files": [{"part": part_name(i), "input": path, "kind": kind}
                         for i, (path, kind) in enumerate(read.units)]}
    _write_summary(join(output, "summary.json"), summary)
    print(report(counts))
    if counts.get("errors"):
        print_errors(join(output, ERRORS_DIR, ERRORS_FILE))
    print(f"candidates: {join(output, CANDIDATES_DIR)}/part-*.parquet   errors: "
          f"{join(output, ERRORS_DIR, ERRORS_FILE)}   ({summary['seconds']} s)")
    return 0


def report(counts: dict) -> str:
    lines = [f"{name:>17}: {counts.get(name, 0):,}" for name in
             ("files", "records", "pages", "candidates", "errors", "files_with_errors")]
    skipped = {k.split(".", 1)[1]: v for k, v in counts.items() if k.startswith("skipped.")}
    if skipped:
        lines.append(f"{'skipped':>17}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(skipped.items())))
    return "\n".join(lines)


def print_errors(path: str, limit: int = 10) -> None:
    """The first problems with the inputs, one line each naming its file: seen without opening errors.jsonl."""
    import itertools

    import fsspec

    with fsspec.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in itertools.islice(f, limit + 1)]
    for row in rows[:limit]:
        message = row["error"]
        if not message.startswith(row["file"]):  # the readers' own messages name the record, not the file
            message = f"{row.get('record') or row['file']}: {message}"
        print(f"  {message}")
    if len(rows) > limit:
        print(f"  ... (more in {path})")


def _write_summary(path: str, summary: dict) -> None:
    import fsspec

    with fsspec.open(path, "w") as f:
        json.dump(summary, f, indent=1)
