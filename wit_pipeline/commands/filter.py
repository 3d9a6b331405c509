"""Write a new corpus without the samples a checkpoint scores low (run `wit score` first): `--min-score X`
keeps those scoring at least X; `--keep-fraction F` keeps the highest-scoring share F of the whole corpus
(`--quantile global`) or of each shard (`per-shard`), equal scores ordered by key. Unscored samples
(undecodable image, empty caption) are dropped too. `--against DIR ...` also drops the near-duplicates of
evaluation images (reason eval_overlap), as `wit decontaminate` finds them; it works without scores too.

OUTPUT is a shards folder in the downloader's layout: NNNNN.tar with the kept samples (byte for byte, same
keys), NNNNN.parquet with every input row (the dropped ones with status low_clip_score and a message),
NNNNN_stats.json and sizes.json; `wit train`, `wit stats` and `wit score` read it. A re-run with the same
corpus, scores and settings resumes; with others it is refused unless --overwrite."""
from __future__ import annotations

import json

from wit_pipeline import flags

HELP = "write a new corpus without the low-scoring samples (after wit score)"
_FLAGS: list = []  # its flags, made from FilterOptions


def register(p) -> None:
    from wit_pipeline.curate.options import FilterOptions

    p.add_argument("corpus", help="the scored corpus: wit build output, shards folder or brace pattern")
    p.add_argument("--output", "-o", required=True, help="the new corpus's folder (a path or fsspec URL)")
    p.add_argument("--json", default=None, help="also write the summary to this JSON file")
    _FLAGS[:] = flags.add_flags(p, FilterOptions, group="filtering")


def options_from_args(args):
    from wit_pipeline.curate.options import FilterOptions

    return flags.build(FilterOptions, args, _FLAGS, corpus=args.corpus, output=args.output)


def run(args) -> int:
    from wit_pipeline.curate.filter import filter_corpus

    summary = filter_corpus(options_from_args(args))
    dropped = ", ".join(f"{n:,} {reason}" for reason, n in summary["dropped"].items()) or "none"
    print(f"{summary['output']}: {summary['shards']} shards ({summary['skipped_shards']} already complete), "
          f"{summary['kept']:,} of {summary['input_successes']:,} samples kept; dropped: {dropped}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
    return 0
