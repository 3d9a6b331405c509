"""Score every sample of a corpus with a checkpoint of `wit train`: the cosine similarity of its normalised
image and caption embeddings (CLIP score), written beside each shard as NNNNN_scores.parquet (key, score;
with --embeddings also both embeddings in float16), for `wit filter` and `wit stats`.

CORPUS is a `wit build` output, a shards folder or brace patterns of .tar shards (`dir/{00000..00099}.tar`,
several joined with `::`), local or fsspec URLs. A re-run skips the shards already scored with the same
checkpoint; scores made with another checkpoint are refused unless --overwrite. With --beam it runs as a Beam
job (one shard per element, the model loaded once per worker): flags wit does not know are Beam's, e.g.
`--runner=DataflowRunner --project P --region R ...` with GPU workers (the default runner is FnApiRunner)."""
from __future__ import annotations

import json

from wit_pipeline import flags

HELP = "score every sample of a corpus with a checkpoint (CLIP image-caption similarity)"
BEAM_ARGS = True  # with --beam, unknown flags are Beam's
_FLAGS: list = []  # its flags, made from ScoreOptions


def register(p) -> None:
    from wit_pipeline.curate.options import ScoreOptions  # torch-free

    p.add_argument("corpus", help="wit build output, shards folder or brace pattern of .tar shards")
    p.add_argument("--checkpoint", required=True, help="a checkpoint file written by wit train")
    p.add_argument("--json", default=None, help="also write the summary to this JSON file")
    _FLAGS[:] = flags.add_flags(p, ScoreOptions, group="scoring")


def options_from_args(args):
    from wit_pipeline.curate.options import ScoreOptions

    return flags.build(ScoreOptions, args, _FLAGS, corpus=args.corpus, checkpoint=args.checkpoint)


def run(args) -> int:
    from wit_pipeline.curate.score import score_corpus

    options = options_from_args(args)
    if args.extra_args and not options.beam:
        raise ValueError(f"unrecognized arguments: {' '.join(args.extra_args)} (Beam's flags need --beam)")
    summary = score_corpus(options, list(args.extra_args))
    print(report(summary))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
    return 0


def report(summary: dict) -> str:
    d = summary["distribution"]
    lines = [f"{summary['corpus']}: {summary['shards']} shards, {summary['scored_shards']} scored now "
             f"({summary['samples']:,} samples, {summary['unscored']:,} unscored), {summary['skipped_shards']} "
             f"already scored with this checkpoint  [{summary['seconds']} s]"]
    if d.get("count"):
        lines.append(f"scores of {d['count']:,} samples ({d['unscored']:,} unscored): min {d['min']:.4f}  "
                     f"p05 {d['p05']:.4f}  p50 {d['p50']:.4f}  p95 {d['p95']:.4f}  max {d['max']:.4f}")
    return "\n".join(lines)
