"""The demo on the embedded default, in one folder: start the local test web (a generated mini-web whose
pages carry real English captions, German and French ones, junk alt texts, duplicates and faulty image
links), crawl its pages into a WARC, build a query list from the small Wikipedia, page-view and WordNet
inputs the package ships, run `wit build` on the embedded Beam runner (WARC -> candidates -> text rules ->
language -> dedup -> match -> balance -> shards), print what happened at every stage, train the tiny CLIP on
the shards for a short while and measure zero-shot accuracy on held-out generated images of the 20 objects
the English captions name (every mini-web image shows its object's icon)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import time

HELP = "run the whole job on a local mini-web (the README's first command)"


def register(p) -> None:
    p.add_argument("--output", default="demo_output", help="folder for everything the demo writes")
    p.add_argument("--pages", type=int, default=200, help="pages of the mini-web to crawl")
    p.add_argument("--train-steps", type=int, default=300, help="steps of the tiny CLIP (0: no training)")
    p.add_argument("--heldout", type=int, default=10, help="held-out zero-shot images per object")


def _step(text: str) -> float:
    print(f"\n== {text}", flush=True)
    return time.monotonic()


def run(args) -> int:
    from functools import partial

    from queries import DEMO_DIR
    from wit_pipeline import runner
    from wit_pipeline.commands import build, evaluate, queries, train
    from wit_pipeline.testbed import start_subprocess
    from wit_pipeline.testbed.warc import write_warc

    # The commands it runs, through the same runner as `wit` (not cli.main: cli imports this module).
    wit = partial(runner.run, commands={"queries": queries, "build": build, "train": train, "eval": evaluate})
    out = os.path.abspath(args.output)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    start = time.monotonic()
    # The web runs in its own process, as a real one would: its image synthesis must not share our GIL.
    with start_subprocess(stall_seconds=10) as web:
        _step(f"local test web at {web.base_url}: crawling {args.pages} pages into a WARC (a tenth of them twice)")
        warc = os.path.join(out, "crawl", "miniweb.warc.gz")
        os.makedirs(os.path.dirname(warc))
        # The first tenth of the pages twice, as a later crawl of the same site would: dedup has copies to drop.
        write_warc(warc, [web.url(f"/site/{n}.html") for n in (*range(args.pages), *range(args.pages // 10))])
        print(f"   {warc}")

        _step("building the query list from the bundled Wikipedia, page-view and WordNet samples")
        # The thresholds of queries.demo_build_options: the sample text is 300 KB, not Wikipedia's 20 GB.
        code = wit(["queries", "build", "--wikipedia", str(DEMO_DIR / "enwiki-demo-pages-articles.xml.bz2"),
                    "--pageviews", str(DEMO_DIR / "pageviews-demo-20240101-000000.gz"),
                    "--wordnet", str(DEMO_DIR / "wordnet"), "--min-count", "5", "--bigram-min-count", "5",
                    "--pmi-threshold", "8", "--pageview-threshold", "500", "--output", os.path.join(out, "queries")])
        if code:
            return code

        _step("wit build on the embedded Beam runner (FnApiRunner)")
        corpus = os.path.join(out, "corpus")
        code = wit(["build", "--input", warc, "--queries", os.path.join(out, "queries", "queries.json"),
                    "--output", corpus, "--balance-t", "25", "--shard-size", "100", "--image-size", "128",
                    # The mini-web is on loopback, so loopback is allowed explicitly; nothing else non-public is.
                    "--allow-network", "127.0.0.0/8", "--total-timeout", "10", "--runner", "FnApiRunner"])
        if code:
            return code
    _report(corpus)
    if args.train_steps:
        code = _train_and_evaluate(wit, corpus, out, args.train_steps, args.heldout)
        if code:
            return code
    print(f"\ndemo finished in {time.monotonic() - start:.0f} s; everything is in {out}/")
    return 0


def _report(corpus: str) -> None:
    import glob

    import pyarrow.dataset as ds

    _step("what came out")
    stages = json.load(open(os.path.join(corpus, "summary.json")))["stages"]
    chain = [f"{stages['crawl']['candidates']} candidates"] + [
        f"{stage} {stages[stage]['out']}" for stage in ("text", "language", "dedup", "match", "balance")]
    print("   kept at each stage: " + " -> ".join(chain) + " (the balanced manifest)")
    shards = os.path.join(corpus, "shards")
    sizes = json.load(open(os.path.join(shards, "sizes.json")))
    parquets = sorted(glob.glob(os.path.join(shards, "*.parquet")))
    rows = ds.dataset(parquets, format="parquet").to_table(columns=["status"]).column("status").to_pylist()
    print(f"   {sum(sizes.values())} image-text pairs in {len(sizes)} WebDataset shards ({shards}/)")
    print(f"   download: {len(rows)} rows, " + ", ".join(
        f"{s} {rows.count(s)}" for s in sorted(set(rows), key=lambda s: -rows.count(s))))
    rejected = ds.dataset(os.path.join(corpus, "rejected"), format="parquet").to_table(columns=["stage", "reason"])
    pairs = list(zip(rejected.column("stage").to_pylist(), rejected.column("reason").to_pylist()))
    print(f"   rejected before download: {len(pairs)} candidates, every one with its reason:")
    for (stage, reason) in sorted(set(pairs), key=lambda p: -pairs.count(p)):
        print(f"     {stage:9s} {reason:22s} {pairs.count((stage, reason))}")
    counts = ds.dataset(os.path.join(corpus, "query_counts.parquet"), format="parquet").to_table().to_pylist()
    capped = [r for r in counts if r["keep_probability"] < 1]
    print(f"   balancing, over the English unique pairs that are left: {len(counts)} queries matched; "
          f"{len(capped)} head queries capped near t=25:")
    for r in sorted(capped, key=lambda r: -r["count_before"])[:5]:
        print(f"     {r['query']!r:14s} {r['count_before']:4d} -> {r['count_after']:4d}")


def _heldout_images(folder: str, per_class: int) -> None:
    """Pictures the crawl never saw (other seeds), one sub-folder per object, for zero-shot evaluation."""
    from wit_pipeline.testbed.images import make_image
    from wit_pipeline.testbed.miniweb import OBJECTS

    for subject, name in enumerate(OBJECTS):
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        for k in range(per_class):
            with open(os.path.join(folder, name, f"{k}.jpg"), "wb") as f:
                f.write(make_image(900_000 + subject * 1000 + k, 256, 256, "jpg", subject))


def _train_and_evaluate(wit, corpus: str, out: str, steps: int, per_class: int) -> int:
    _step(f"training the tiny CLIP on the shards for {steps} steps (CPU)")
    run = os.path.join(out, "train")
    with contextlib.redirect_stdout(io.StringIO()):  # its JSON summary; the figures are printed below
        code = wit(["train", corpus, "--output", run, "--model", "tiny", "--steps", str(steps), "--batch-size", "32",
                    "--lr", "1e-3", "--warmup", "30", "--weight-decay", "0.1", "--workers", "1", "--vocab-size", "1000",
                    "--save-every", str(steps), "--log-every", "25", "--no-progress"])
    if code:
        return code
    metrics = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
    print(f"   loss {metrics[0]['loss']:.3f} (step {metrics[0]['step']}) -> {metrics[-1]['loss']:.3f} "
          f"(step {metrics[-1]['step']}); {metrics[-1]['samples_per_s']:.0f} samples/s")

    _step(f"zero-shot classification of {per_class} held-out generated images per object")
    folder = os.path.join(out, "zeroshot")
    _heldout_images(folder, per_class)
    result_path = os.path.join(out, "zeroshot.json")
    ckpt = os.path.join(run, "checkpoints", f"step_{steps:08d}.pt")
    with contextlib.redirect_stdout(io.StringIO()):  # the JSON goes to a file; a summary line is printed below
        code = wit(["eval", "zeroshot", ckpt, "--images", folder, "--json", result_path])
    if code:
        return code
    result = json.load(open(result_path))
    print(f"   top-1 {result['top1']:.1%}, top-5 {result['top5']:.1%} over {result['classes']} classes "
          f"and {result['images']} images (chance: top-1 {result['chance_top1']:.1%}, top-5 "
          f"{min(1, 5 * result['chance_top1']):.1%})")
    return 0
