"""Build a corpus: read crawl files (Common Crawl WAT/WARC) or manifests, apply the text rules, keep the
chosen languages, dedup, match the query list, balance what is left, then download the images into
WebDataset shards.

Runs on Beam: the embedded FnApiRunner by default; every Beam flag works (--runner=DataflowRunner
--project ... --region ... --temp_location gs://... --setup_file ./setup.py, or the SparkRunner / a
portable job server). wit's flags are spelt with dashes (--shard-size, --balance-t; underscores work too);
Beam's keep Beam's spelling (--direct_num_workers). See `wit build --help` for wit's flags; Beam's own are
in its documentation."""
from __future__ import annotations

HELP = "build a balanced corpus from crawl files or manifests (the main Beam job)"
BEAM_ARGS = True  # unknown flags are Beam's: passed on to PipelineOptions


def register(p) -> None:
    from wit_pipeline.options import add_build_flags
    add_build_flags(p)


def run(args) -> int:
    from wit_pipeline.options import config_from_args
    from wit_pipeline.pipeline import report, run_config
    summary = run_config(config_from_args(args), args.extra_args)
    print(f"wit build finished in {summary['seconds']} s")
    print(report(summary["stages"]))
    return 0
