"""Summarise a built corpus (a `wit build` output or a `wit download` shards folder; local path or gs://, s3://
URL): totals, success rate, failures by status, error message and host, image sizes before and after resizing,
caption lengths, languages, duplicate images, rejected candidates by stage and reason, per-query counts
before and after balancing, and the CLIP scores of `wit score` where there are some (distribution, lowest and
highest scored pairs). Readable tables by default; --json for scripts; --plots for PNGs; --html for one
self-contained report page with the plots and a gallery of sample images."""
from __future__ import annotations

import json
import sys


HELP = "statistics, plots and an HTML report of a built corpus"


def register(p) -> None:
    p.add_argument("output", help="a wit build output or a shards folder: a path or gs://, s3://, ... URL")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON instead of tables")
    p.add_argument("--plots", default=None, metavar="DIR", help="write PNG plots into this local folder")
    p.add_argument("--html", default=None, metavar="FILE", help="write a self-contained HTML report here")
    p.add_argument("--samples", type=int, default=24, help="images in the HTML report's gallery")
    p.add_argument("--queries", default=None,
                   help="queries file (JSON list or Parquet) naming query ids when there is no query_counts.parquet")
    p.add_argument("--workers", type=int, default=0, help="shards read in parallel; 0 = automatic")


def _table(title: str, header: list[str], rows: list[list], out) -> None:
    if not rows:
        return
    cells = [[str(h) for h in header]] + [[f"{c:,}" if isinstance(c, int) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}", file=out)
    for j, r in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) if j and rows[j - 1][i].__class__ in (int, float) else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip(), file=out)


def print_report(s: dict, out=None) -> None:
    out = out or sys.stdout
    t = s["totals"]
    c = s["corpus"]
    rate = "-" if t["success_rate"] is None else f"{100 * t['success_rate']:.2f}%"
    print(f"{c['path']}: {c['shards']:,} shards, {t['rows']:,} rows, {t['success']:,} images ({rate}), "
          f"{t['failed']:,} failed  [{s['seconds']:.2f} s]", file=out)
    if c["shards_without_stats_json"]:
        print(f"  incomplete shards (no _stats.json): {', '.join(c['shards_without_stats_json'])}", file=out)
    if c["shards_disagreeing_with_stats_json"]:
        print(f"  shards whose _stats.json disagrees: {', '.join(c['shards_disagreeing_with_stats_json'])}", file=out)
    _table("status", ["status", "rows", "share"],
           [[k, v, f"{100 * v / max(t['rows'], 1):.2f}%"] for k, v in s["status"].items()], out)
    _table(f"failures by error message (top {len(s['errors'])} of {s['error_messages']:,})",
           ["status", "error message", "rows"], [[e["status"], e["error_message"], e["count"]] for e in s["errors"]],
           out)
    _table("hosts with most failures", ["host", "failed"], [[h["host"], h["count"]] for h in s["failing_hosts"]], out)
    keys = ["count", "mean", "min", "p05", "p50", "p95", "max"]
    named = {**s["image_sizes"], "caption length": s["caption_length"]}
    _table("image sizes (px) and caption lengths (characters)", [""] + keys,
           [[n] + [q.get(k, "") for k in keys] for n, q in named.items()], out)
    _table("languages", ["language", "images"], [[k, v] for k, v in list(s["languages"].items())[:15]], out)
    d = s["duplicates"]
    print(f"\nduplicates: {d['images']:,} images, {d['distinct']:,} distinct sha256, "
          f"{d['duplicated_images']:,} stored more than once ({d['duplicate_rows']:,} extra copies)", file=out)
    if s.get("rejected"):
        r = s["rejected"]
        _table(f"rejected before download: {r['total']:,}", ["stage", "reason", "rows"],
               [[x["stage"], x["reason"], x["count"]] for x in r["by_reason"]], out)
    _scores_report(s.get("scores"), out)
    q = s.get("queries")
    if q:
        at_t = "" if q["t"] is None else f" at t = {q['t']:,}"
        print(f"\nbalancing: {q['matched']:,} queries matched, {q['matches_before']:,} matches before, "
              f"{q['matches_after']:,} after; {q['capped']:,} capped{at_t}; {q['singletons']:,} matched once", file=out)
        cols = ["query", "before", "after", "p"]
        _table("head queries", cols, [[r["query"], r["count_before"], r["count_after"],
                                       f"{r['keep_probability']:.4f}"] for r in q["head"][:10]], out)
        _table("tail queries", cols, [[r["query"], r["count_before"], r["count_after"],
                                       f"{r['keep_probability']:.4f}"] for r in q["tail"][:10]], out)


def _scores_report(sc: dict | None, out) -> None:
    """`wit score`'s CLIP scores: their distribution and the lowest and highest scored pairs."""
    if not sc:
        return
    made = ", ".join(f"{c['checkpoint']} (step {c['step']}, {c['shards']} shards)" for c in sc["checkpoints"])
    print(f"\nCLIP scores: {sc['count']:,} samples scored, {sc['unscored']:,} unscored, in {sc['files']} "
          f"scores files, by {made}", file=out)
    keys = ["count", "mean", "min", "p01", "p05", "p25", "p50", "p75", "p95", "p99", "max"]
    if sc["count"]:
        _table("score distribution", keys, [[sc["count"]] + [f"{sc[k]:.4f}" for k in keys[1:]]], out)
    for side in ("lowest", "highest"):
        _table(f"{side} scored", ["score", "key"], [[f"{r['score']:.4f}", r["key"]] for r in sc[side]], out)


def run(args) -> int:
    # Imported here, not at the top: every `wit` command would pay for it at start-up.
    from wit_pipeline.stats.collect import collect, gallery_samples, open_corpus, scored_samples
    corpus = open_corpus(args.output)
    stats = collect(corpus, workers=args.workers or None)
    if args.json:
        json.dump(stats, sys.stdout, indent=1)
        print()
    else:
        print_report(stats)
    notes = sys.stderr if args.json else sys.stdout
    if args.plots:
        from wit_pipeline.stats import plots
        for path in plots.write(stats, args.plots):
            print(f"wrote {path}", file=notes)
    if args.html:
        from wit_pipeline.stats import html
        samples = gallery_samples(corpus, args.samples, args.queries)
        scored = scored_samples(corpus, stats.get("scores"))
        print(f"wrote {html.write(stats, args.html, samples, scored)} ({len(samples)} sample images)", file=notes)
    return 0
