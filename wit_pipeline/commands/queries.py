"""Build a query list the way CLIP did: frequent Wikipedia words, high-PMI Wikipedia bigrams, titles of
articles with many page views, and WordNet synset heads not already there. Writes queries.parquet
(query, source, score) and queries.json (MetaCLIP's metadata format). `info` summarises any query list.

The build is an Apache Beam pipeline, run locally with FnApiRunner; flags that are not wit's are Beam's and
are passed on (after `--` too), e.g. `wit queries build ... --runner=DataflowRunner --project=P --region=R
--temp_location=gs://B/tmp --setup_file=./setup.py` (inputs and --output may then be gs:// URLs)."""
from __future__ import annotations

from collections import Counter

from wit_pipeline import flags

HELP = "build a CLIP-style query list (Wikipedia words and bigrams, page views, WordNet)"
BEAM_ARGS = True  # unknown flags of `build` are Beam's: passed on to PipelineOptions
_FLAGS: list = []  # the build's flags, made from QueryBuildOptions


def register(p) -> None:
    from queries.options import QueryBuildOptions  # Beam-free: `wit --help` does not import Beam

    fmt = flags.HelpFormatter
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = actions.add_parser("build", help="build queries.parquet and queries.json from real inputs",
                           description=__doc__, formatter_class=fmt, allow_abbrev=False)
    b.add_argument("--output", "-o", required=True, help="output folder: a path or gs://, s3://, ... URL")
    _FLAGS[:] = flags.add_flags(b, QueryBuildOptions, group="inputs (at least one) and selection")

    i = actions.add_parser("info", help="count a query list's entries (JSON, Parquet or text)",
                           description="Count and show the queries of a list in any accepted format.",
                           formatter_class=fmt, allow_abbrev=False)
    i.add_argument("path", help="queries.json / metadata.json, queries.parquet, or a .txt list (optionally .gz)")
    i.add_argument("--show", type=int, default=10, help="how many queries to print")


def run(args) -> int:
    return _build(args) if args.action == "build" else _info(args)


def _build(args) -> int:
    from queries.build import build_queries
    from queries.options import QueryBuildOptions

    options = flags.build(QueryBuildOptions, args, _FLAGS, output=args.output)
    # Beam's flags: those wit does not know, and any after `--`.
    summary = build_queries(options, beam_args=list(args.extra_args))
    print(summary.report())
    return 0


def _info(args) -> int:
    from transforms.match.query_list import detect_format, load_queries

    if args.extra_args:
        raise ValueError(f"unrecognized arguments: {' '.join(args.extra_args)}")

    queries = load_queries(args.path)
    line = f"{args.path}: {len(queries):,} queries"
    if detect_format(args.path) == "parquet":
        import fsspec
        import pyarrow.parquet as pq

        with fsspec.open(args.path, "rb", compression="infer") as f:
            schema = pq.read_schema(f)
            if "source" in schema.names:
                f.seek(0)
                counts = Counter(pq.read_table(f, columns=["source"]).column("source").to_pylist())
                line += " (" + ", ".join(f"{n:,} {s}" for s, n in sorted(counts.items())) + ")"
    print(line)
    for q in queries[:args.show]:
        print(f"  {q}")
    return 0
