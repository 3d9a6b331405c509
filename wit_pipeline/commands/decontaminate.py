"""Find the corpus images that are copies of evaluation images (resized, recompressed, cropped by up to about
10%, brightness- or colour-shifted), so that a model trained on the corpus is not evaluated on what it saw.

  wit decontaminate CORPUS --against DIR [DIR ...] [--report FILE.json] [--html FILE] [--output NEW]

Each DIR is one evaluation set, named by its folder, searched recursively for images. Every view of every
evaluation image (whole, and 3 x 3 grids of 5% and 10% crops) gets a 256-bit DCT hash; every corpus image is
hashed once and compared with all of them. Prints per set how many corpus samples matched and how many
evaluation images were found; --report lists every match, --html shows them side by side, --output writes a
new corpus without the matched samples (their Parquet rows: status eval_overlap). --checkpoint adds the
similarity of a wit train checkpoint's image embeddings to every match, a second opinion
(--min-similarity: matches below it are not counted). CORPUS: a wit build output, a shards folder or .tar
patterns (`dir/{00000..00009}.tar`, joined with `::`), local or fsspec URLs."""
from __future__ import annotations

import json
import os
import sys

from wit_pipeline import flags

HELP = "find corpus images that are copies of evaluation images; write a corpus without them"
_FLAGS: list = []  # its flags, made from DecontaminateOptions


def register(p) -> None:
    from wit_pipeline.curate.decontaminate_options import DecontaminateOptions  # light: `wit --help` stays quick

    p.add_argument("corpus", help="wit build output, shards folder or .tar pattern (local path or URL)")
    _FLAGS[:] = flags.add_flags(p, DecontaminateOptions)


def options_from_args(args):
    from wit_pipeline.curate.decontaminate_options import DecontaminateOptions

    return flags.build(DecontaminateOptions, args, _FLAGS, corpus=args.corpus)


def _write_json(path: str, value) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)
    os.replace(path + ".tmp", path)


def print_summary(found, out=None) -> None:
    out = out or sys.stdout
    t, sets, index = found.totals(), found.per_set(), found.index
    print(f"wit decontaminate: {t['samples']:,} corpus samples in {t['shards']:,} shard(s), {t['compared']:,} "
          f"compared ({t['no_image']:,} without an image, {t['unreadable']:,} unreadable, {t['flat']:,} flat); "
          f"{len(sets)} evaluation set(s), {len(index.view_names)} views per image", file=out)
    rows = [["evaluation set", "images", "indexed", "found", "corpus samples matched"]]
    rows += [[name, f"{s['eval_images']:,}", f"{s['indexed']:,}", f"{s['eval_images_found']:,}",
              f"{s['corpus_samples_matched']:,}"] for name, s in sets.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        print("  " + "  ".join(c.ljust(w) if i == 0 or j == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip(), file=out)
    share = 100 * t["matched_samples"] / max(t["samples"], 1)
    s = found.seconds
    line = (f"matched corpus samples: {t['matched_samples']:,} ({share:.2f}%), hash distance <= "
            f"{found.max_distance} of 256; index {s['index']:.1f} s, scan {s['scan']:.1f} s "
            f"({s['ms_per_corpus_image']:.2f} ms per corpus image, {found.workers} worker(s))")
    if found.similarity_checked:
        similarities = [m["similarity"] for m in found.matches() if m["similarity"] is not None]
        line += f"; embeddings {s['embeddings']:.1f} s"
        if similarities:
            line += f", similarity of the matched pairs {min(similarities):.3f}..{max(similarities):.3f}"
        if found.min_similarity is not None:
            rejected = sum(1 for m in found.matches() if not m["confirmed"])
            line += f", {rejected:,} match(es) below {found.min_similarity} not counted"
    print(line, file=out)


def run(args) -> int:
    from wit_pipeline.curate.decontaminate import check_embeddings, scan

    options = options_from_args(args)
    for path in (options.report, options.html):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise ValueError(f"{path}: its folder does not exist")
    found = scan(options, keep_images=bool(options.html or options.checkpoint))
    if options.checkpoint:
        check_embeddings(found, options.checkpoint, options.min_similarity, options.device)
    print_summary(found)
    if options.report:
        _write_json(options.report, found.report())
        print(f"wrote {options.report}")
    if options.html:
        from wit_pipeline.curate import decontaminate_html
        print(f"wrote {decontaminate_html.write(found, options.html, options.examples)}")
    if options.output:
        from wit_pipeline.curate.rewrite import write_filtered
        settings = {"command": "decontaminate", "against": [os.path.abspath(d) for d in options.against],
                    "max_distance": options.max_distance, "crops": list(options.crops),
                    "checkpoint": options.checkpoint, "min_similarity": options.min_similarity}
        summary = write_filtered(options.corpus, options.output, found.drops(), settings=settings,
                                 overwrite=options.overwrite)
        print(f"wrote {options.output}: {summary['kept']:,} samples kept of {summary['input_successes']:,}, "
              f"{sum(summary['dropped'].values()):,} dropped ({summary['shards']} shards, "
              f"{summary['skipped_shards']} already complete)")
    return 1 if options.fail_on_match and found.totals()["matched_samples"] else 0
