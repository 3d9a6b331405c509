"""Noisy-caption experiment: does `wit score` + `wit filter` find swapped captions, and does training on what it
keeps beat training on everything, at the same compute?

1. Corpus: the Flickr8k *train* shards that `wit download` built (benchmarks/flickr8k.py makes them once under
   --source; the 1,012 test photos are never in them), copied with the captions of --swap-fraction (30%) of
   the pairs swapped at random among themselves (seeded; one random cycle over the chosen pairs, so every one
   of them gets the caption of another photo, never one of its own photo's other captions). The .txt member,
   the .json's "caption" and the Parquet's caption column all carry the swapped caption; sizes.json and
   NNNNN_stats.json match the new tars. WORKDIR/swaps.json records which keys were swapped and from where.
2. One BPE tokenizer trained on that corpus's captions (`wit tokenizer train`; the swap only permutes them)
   is shared by every training run, so the runs differ in their pairs only.
3. `wit train --model tiny` on the noisy corpus: --steps S of --batch-size B, --seed, CPU, --threads.
4. `wit score` of the noisy corpus with that checkpoint; `wit filter --keep-fraction 0.7` (drops the lowest
   30%, global quantile).
5. `wit train` from scratch on the filtered corpus with the same S, B, seed, lr schedule and tokenizer.
   With --clean, a third run on the unswapped corpus (a reference: what the noise costs).
6. `wit eval retrieval` of each final checkpoint on the Flickr8k test split (1,012 photos x 5 captions):
   R@1/5/10 image->text and text->image beside a random ranking's.
7. Report: how many swapped pairs the filter dropped (precision and recall of "dropped" against "swapped",
   beside what a random 30% would score), the CLIP score's AUC at telling swapped from true pairs, R@10 of
   each model beside chance, the settings and the wall and CPU time of each phase.

The filtered run beats the noisy one when the mean of its image->text and text->image R@10 is higher; the
exit status is 1 when it is not (2 when a step fails). --json PATH writes every figure.

  .venv/bin/python benchmarks/filtering.py [--steps 600] [--batch-size 128] [--seed 0] [--threads 2]
      [--workdir .bench/filtering] [--keep] [--clean] [--json PATH]
  smoke run (a few minutes of CPU):  --limit 300 --test-images 100 --steps 10 --batch-size 32
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import run_measured, tail, wit_bin  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FLICKR = ROOT.parent / "shared" / "data" / "flickr8k"
DROP_STATUS = "low_clip_score"  # what wit filter writes in the Parquet status of a dropped sample


# ---- the noisy corpus -------------------------------------------------------------------------------------


def read_pairs(shards: list, limit: int | None = None) -> tuple[list[tuple], dict, dict]:
    """The first `limit` samples (all with None) of `shards` (wit_pipeline.curate.corpus.Shard, in order):
    ([(shard, [keys])], {key: image digest}, {key: caption bytes}). A sample without an image or a .txt
    caption is refused: every pair of the experiment must be swappable."""
    from wit_pipeline.curate.corpus import image_of, iter_samples, members_by_ext

    layout, images, captions, total = [], {}, {}, 0
    for shard in shards:
        if limit is not None and total >= limit:
            break
        keys = []
        for key, members in iter_samples(shard.url):
            if limit is not None and total >= limit:
                break
            sample = members_by_ext(members)
            image = image_of(sample)
            if image is None or "txt" not in sample:
                raise SystemExit(f"{shard.url}: sample {key} has no image or no .txt caption")
            if key in images:
                raise SystemExit(f"{shard.url}: key {key} appears twice in the corpus")
            images[key] = hashlib.sha1(image).hexdigest()
            captions[key] = sample["txt"]
            keys.append(key)
            total += 1
        if keys:
            layout.append((shard, keys))
    return layout, images, captions


def choose_swaps(keys: list[str], images: dict, fraction: float, seed: int) -> dict[str, str]:
    """{key: the key whose caption it gets} for round(fraction * len(keys)) keys drawn at random (seeded): the
    chosen keys, shuffled, form one cycle, each taking the caption of the next, so no key keeps its own caption.
    Shuffled again (same seed, so still deterministic) until no key gets a caption of its own image (`images`:
    key -> image identity; Flickr8k has 5 captions per photo)."""
    n = int(round(fraction * len(keys)))
    if n < 2:
        return {}
    rng = random.Random(seed)
    chosen = rng.sample(sorted(keys), n)
    for _ in range(1000):
        rng.shuffle(chosen)
        if all(images[chosen[i]] != images[chosen[(i + 1) % n]] for i in range(n)):
            return {chosen[i]: chosen[(i + 1) % n] for i in range(n)}
    raise SystemExit(f"cannot swap {n} captions without giving some pair a caption of its own image: too few "
                     "distinct images")


def _swapped_json(data: bytes, caption: str) -> bytes:
    try:
        meta = json.loads(data)
    except ValueError:
        return data
    if not isinstance(meta, dict) or "caption" not in meta:
        return data
    meta["caption"] = caption
    return json.dumps(meta, ensure_ascii=False).encode("utf-8")


def write_corpus(layout: list[tuple], captions: dict, swaps: dict, output: Path) -> dict:
    """Copy the samples of `layout` (from read_pairs) into OUTPUT (a shards folder in the downloader's layout:
    NNNNN.tar, NNNNN.parquet, NNNNN_stats.json, sizes.json), the keys in `swaps` with the caption of the key
    they map to (.txt, the .json's "caption", the Parquet's caption column). Parquet rows are kept for the
    copied samples (and, for a shard copied whole, for its failed downloads too). A summary."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from transforms.download.writer import tar_info
    from wit_pipeline.curate.corpus import iter_samples, split_name

    output.mkdir(parents=True)
    sizes, swapped = {}, 0
    for shard, keys in layout:
        wanted = set(keys)
        whole = True
        tar_path = output / f"{shard.name}.tar"
        with open(tar_path, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for key, members in iter_samples(shard.url):
                if key not in wanted:
                    whole = False
                    continue
                caption = captions[swaps[key]] if key in swaps else None
                swapped += caption is not None
                for name, data in members:
                    ext = split_name(name)[1].lower()
                    if caption is not None and ext == "txt":
                        data = caption
                    elif caption is not None and ext == "json":
                        data = _swapped_json(data, caption.decode("utf-8"))
                    tar.addfile(tar_info(name, len(data)), io.BytesIO(data))
        parquet_path = output / f"{shard.name}.parquet"
        source = Path(shard.beside(".parquet"))
        if source.exists():
            table = pq.read_table(source)
            rows = table.column("key").to_pylist()
            statuses = table.column("status").to_pylist()
            keep = [i for i, (k, s) in enumerate(zip(rows, statuses)) if k in wanted or (whole and s != "success")]
            table = table.take(pa.array(keep, pa.int64()))
            if "caption" in table.column_names:
                at = table.column_names.index("caption")
                values = [captions[swaps[k]].decode("utf-8") if k in swaps else c
                          for k, c in zip(table.column("key").to_pylist(), table.column("caption").to_pylist())]
                table = table.set_column(at, table.schema.field(at), pa.array(values, pa.string()))
            pq.write_table(table, parquet_path, compression="zstd")
            statuses = table.column("status").to_pylist()
        else:
            statuses = ["success"] * len(keys)
        counts = {s: statuses.count(s) for s in sorted(set(statuses))}
        files = {p.name: {"bytes": p.stat().st_size} for p in (tar_path, parquet_path) if p.exists()}
        stats = {"shard": int(shard.name) if shard.name.isdigit() else shard.name, "count": len(statuses),
                 "successes": counts.get("success", 0), "failed": len(statuses) - counts.get("success", 0),
                 "status_counts": counts, "error_counts": {}, "files": files,
                 "swapped_captions": sum(1 for k in keys if k in swaps)}
        (output / f"{shard.name}_stats.json").write_text(json.dumps(stats, indent=1, sort_keys=True))
        sizes[f"{shard.name}.tar"] = len(keys)
    (output / "sizes.json").write_text(json.dumps(sizes, indent=1))
    return {"shards": len(sizes), "pairs": sum(sizes.values()), "swapped": swapped}


# ---- what the filter caught -------------------------------------------------------------------------------


def dropped_keys(corpus: Path) -> set[str]:
    """Keys that wit filter dropped for their score (status low_clip_score in the output's Parquet files)."""
    import pyarrow.parquet as pq

    out = set()
    for path in sorted(corpus.glob("*.parquet")):
        if path.name.endswith("_scores.parquet"):
            continue
        t = pq.read_table(path, columns=["key", "status"])
        out.update(k for k, s in zip(t.column("key").to_pylist(), t.column("status").to_pylist()) if s == DROP_STATUS)
    return out


def catch_figures(dropped: set, swapped: set, total: int) -> dict:
    """Precision and recall of `dropped` as a detector of `swapped`, beside a random drop of the same size."""
    caught = len(dropped & swapped)
    return {"pairs": total, "swapped": len(swapped), "dropped": len(dropped), "caught": caught,
            "precision": caught / len(dropped) if dropped else 0.0,
            "recall": caught / len(swapped) if swapped else 0.0,
            "chance_precision": len(swapped) / total if total else 0.0,
            "chance_recall": len(dropped) / total if total else 0.0}


def auc(clean, swapped) -> float | None:
    """The chance that a true pair scores above a swapped one (ties count half); NaN scores left out."""
    import numpy as np

    a, b = np.asarray(clean, np.float64), np.asarray(swapped, np.float64)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not len(a) or not len(b):
        return None
    _, inverse, counts = np.unique(np.concatenate([a, b]), return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # 1-based, ties averaged
    return float((ranks[:len(a)].sum() - len(a) * (len(a) + 1) / 2) / (len(a) * len(b)))


def read_scores(corpus: Path) -> dict[str, float]:
    import pyarrow.parquet as pq

    out = {}
    for path in sorted(corpus.glob("*_scores.parquet")):
        t = pq.read_table(path, columns=["key", "score"])
        out.update(zip(t.column("key").to_pylist(), t.column("score").to_pylist()))
    return out


# ---- running the wit commands -----------------------------------------------------------------------------


class Phases:
    """Wall and CPU time of each phase: `wit` commands measured by run_measured (their process trees), the
    work done in this process by process_time."""

    def __init__(self, workdir: Path, env: dict):
        self.workdir, self.env, self.times = workdir, env, {}

    def run(self, name: str, cmd: list[str]) -> None:
        log = self.workdir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"[{name}] $ {' '.join(cmd)}", flush=True)
        m = run_measured(cmd, log_path=str(log), env=self.env, timeout=4 * 3600)
        self.times[name] = {"wall_s": round(m.wall_s, 2), "cpu_s": round(m.cpu_s, 2),
                            "peak_rss_mb": round(m.peak_rss_bytes / 2**20)}
        print(f"[{name}] {m.wall_s:.1f} s wall, {m.cpu_s:.1f} s CPU", flush=True)
        if m.returncode:
            print(tail(str(log), 40), file=sys.stderr)
            raise SystemExit(f"{name} failed (exit {m.returncode}); log: {log}")

    def local(self, name: str, started_wall: float, started_cpu: float) -> None:
        wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
        self.times[name] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
        print(f"[{name}] {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)


def train(phases: Phases, name: str, corpus: Path, run_dir: Path, tokenizer: Path, args) -> dict:
    phases.run(name, [*wit_bin(), "train", str(corpus), "--output", str(run_dir), "--model", "tiny",
                      "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
                      "--warmup", str(args.warmup), "--weight-decay", str(args.weight_decay),
                      "--workers", str(args.workers), "--threads", str(args.threads), "--seed", str(args.seed),
                      "--device", "cpu", "--tokenizer", str(tokenizer), "--save-every", str(args.steps),
                      "--keep-checkpoints", "1", "--log-every", str(max(1, min(20, args.steps // 5))),
                      "--no-progress"])
    rows = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    ckpt = sorted((run_dir / "checkpoints").glob("step_*.pt"))[-1]
    return {"checkpoint": str(ckpt), "steps": rows[-1]["step"], "first_loss": rows[0]["loss"],
            "final_loss": rows[-1]["loss"], "epochs": rows[-1].get("epoch"),
            "samples_per_s_median": sorted(r["samples_per_s"] for r in rows)[len(rows) // 2]}


def evaluate(phases: Phases, name: str, checkpoint: str, split_json: Path, out: Path) -> dict:
    phases.run(name, [*wit_bin(), "eval", "retrieval", checkpoint, "--captions", str(FLICKR / "captions.txt"),
                      "--images", str(FLICKR / "small_8k"), "--split-json", str(split_json), "--split", "test",
                      "--device", "cpu", "--json", str(out)])
    return json.loads(out.read_text())


def r10(result: dict) -> float:
    """The mean of image->text and text->image R@10: what 'beats' compares."""
    return (result["image_to_text_R@10"] + result["text_to_image_R@10"]) / 2


# ---- main -------------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=600, help="optimiser steps of every training run")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0, help="seed of every training run and of the caption swap")
    p.add_argument("--threads", type=int, default=2, help="torch threads (and OMP_NUM_THREADS) of every command")
    p.add_argument("--workers", type=int, default=1, help="data loader processes of wit train")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps (default: steps / 4, at most 200)")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--swap-fraction", type=float, default=0.3, help="share of the pairs whose captions are swapped")
    p.add_argument("--keep-fraction", type=float, default=0.7, help="wit filter --keep-fraction")
    p.add_argument("--clean", action="store_true", help="also train on the unswapped corpus (a reference)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N train pairs (smoke runs)")
    p.add_argument("--test-images", type=int, default=None,
                   help="evaluate on the first N test photos only (smoke runs; default all 1,012)")
    p.add_argument("--source", default=str(ROOT / ".bench" / "flickr8k"),
                   help="folder whose shards/ holds the Flickr8k train shards (built there by "
                        "benchmarks/flickr8k.py's wit download when missing)")
    p.add_argument("--workdir", default=str(ROOT / ".bench" / "filtering"),
                   help="where the corpora, runs, logs and results go (its previous run's are replaced)")
    p.add_argument("--keep", action="store_true", help="keep the noisy and filtered corpora (about 0.9 GB at full "
                   "size) in --workdir; by default they are removed at the end (checkpoints and logs stay)")
    p.add_argument("--json", default=None, help="also write every figure to this file")
    args = p.parse_args(argv)
    if args.warmup is None:
        args.warmup = max(1, min(200, args.steps // 4))
    if not 0 < args.swap_fraction < 1 or not 0 < args.keep_fraction < 1:
        p.error("--swap-fraction and --keep-fraction must lie strictly between 0 and 1")
    return args


def main(argv=None) -> int:
    from _common import exit_on_sigterm

    exit_on_sigterm()
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from flickr8k import build_shards

    from wit_pipeline.curate.corpus import find_shards

    workdir = Path(args.workdir).resolve()
    noisy, filtered, clean_copy = workdir / "noisy", workdir / "filtered", workdir / "clean"
    for old in (noisy, filtered, clean_copy, workdir / "runs", workdir / "eval", workdir / "logs"):
        shutil.rmtree(old, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    phases = Phases(workdir, env)
    figures: dict = {"settings": {k: v for k, v in vars(args).items() if k != "json"}, "times": phases.times}

    # 1. the noisy corpus
    wall0, cpu0 = time.perf_counter(), time.process_time()
    source = build_shards(Path(args.source))
    split = json.loads((FLICKR / "split.json").read_text())
    test = set(split["test"])
    layout, images, captions = read_pairs(find_shards(str(source)), args.limit)
    keys = [k for _, ks in layout for k in ks]
    leaked = _test_images_in(layout, test)
    if leaked:
        raise SystemExit(f"{leaked} pairs of {source} show test-split photos: the test split must be held out")
    swaps = choose_swaps(keys, images, args.swap_fraction, args.seed)
    summary = write_corpus(layout, captions, swaps, noisy)
    (workdir / "swaps.json").write_text(json.dumps(
        {"seed": args.seed, "fraction": args.swap_fraction, "pairs": len(keys),
         "caption_from": dict(sorted(swaps.items()))}, indent=0))
    if args.clean and args.limit is not None:
        write_corpus(layout, captions, {}, clean_copy)
    split_json = FLICKR / "split.json"
    if args.test_images:
        split_json = workdir / "split_test_subset.json"
        split_json.write_text(json.dumps({"test": split["test"][:args.test_images]}))
    figures["corpus"] = {**summary, "images": len(set(images.values())), "source": str(source)}
    print(f"noisy corpus: {summary['pairs']:,} pairs of {figures['corpus']['images']:,} photos in "
          f"{summary['shards']} shards, {summary['swapped']:,} captions swapped", flush=True)
    phases.local("corpus", wall0, cpu0)

    # 2. one tokenizer for every run
    tokenizer = workdir / "runs" / "tokenizer.json"
    tokenizer.parent.mkdir(parents=True, exist_ok=True)
    phases.run("tokenizer", [*wit_bin(), "tokenizer", "train", str(noisy), "--output", str(tokenizer),
                             "--vocab-size", "8192"])

    # 3-5. train on the noisy corpus, score, filter, retrain
    runs = {"noisy": train(phases, "train_noisy", noisy, workdir / "runs" / "noisy", tokenizer, args)}
    phases.run("score", [*wit_bin(), "score", str(noisy), "--checkpoint", runs["noisy"]["checkpoint"],
                         "--device", "cpu", "--decode-threads", str(args.threads),
                         "--json", str(workdir / "score.json")])
    phases.run("filter", [*wit_bin(), "filter", str(noisy), "--output", str(filtered), "--keep-fraction",
                          str(args.keep_fraction), "--json", str(workdir / "filter.json")])
    wall0, cpu0 = time.perf_counter(), time.process_time()
    dropped, swapped = dropped_keys(filtered), set(swaps)
    caught = catch_figures(dropped, swapped, len(keys))
    scores = read_scores(noisy)
    caught["score_auc"] = auc([scores[k] for k in keys if k not in swapped], [scores[k] for k in swapped])
    caught["mean_score_true"] = _mean([scores[k] for k in keys if k not in swapped])
    caught["mean_score_swapped"] = _mean([scores[k] for k in swapped])
    figures["filter"] = caught
    phases.local("catch", wall0, cpu0)
    runs["filtered"] = train(phases, "train_filtered", filtered, workdir / "runs" / "filtered", tokenizer, args)
    if args.clean:
        runs["clean"] = train(phases, "train_clean", clean_copy if args.limit is not None else source,
                              workdir / "runs" / "clean", tokenizer, args)

    # 6. held-out retrieval
    (workdir / "eval").mkdir()
    for name, run in runs.items():
        run["retrieval"] = evaluate(phases, f"eval_{name}", run["checkpoint"], split_json,
                                    workdir / "eval" / f"{name}.json")
    figures["runs"] = runs
    pairs = {"noisy": summary["pairs"], "filtered": summary["pairs"] - len(dropped), "clean": summary["pairs"]}
    beats = r10(runs["filtered"]["retrieval"]) > r10(runs["noisy"]["retrieval"])
    figures["filtered_beats_noisy"] = beats
    figures["mean_R@10"] = {name: r10(run["retrieval"]) for name, run in runs.items()}
    report(figures, runs, pairs, args)
    if not args.keep:
        for folder in (noisy, filtered, clean_copy):
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    (workdir / "result.json").write_text(json.dumps(figures, indent=1))
    return 0 if beats else 1


def _mean(values) -> float | None:
    values = [v for v in values if v == v]  # NaN: unscored
    return sum(values) / len(values) if values else None


def _test_images_in(layout: list[tuple], test: set) -> int:
    """Pairs whose Parquet row names a test photo (its `image` column or its URL's file name)."""
    import pyarrow.parquet as pq

    leaked = 0
    for shard, keys in layout:
        path = Path(shard.beside(".parquet"))
        if not path.exists():
            continue
        t = pq.read_table(path)
        names = t.column("image").to_pylist() if "image" in t.column_names else \
            [str(u).rsplit("/", 1)[-1] for u in t.column("url").to_pylist()]
        wanted = set(keys)
        leaked += sum(1 for k, n in zip(t.column("key").to_pylist(), names) if k in wanted and n in test)
    return leaked


def report(figures: dict, runs: dict, pairs: dict, args) -> None:
    f, s = figures["filter"], figures["settings"]
    print(f"\nNoisy-caption experiment on Flickr8k (train split only; evaluated on "
          f"{runs['noisy']['retrieval'].get('images', '?')} held-out test photos)")
    print(f"  settings: tiny CLIP, {s['steps']} steps x batch {s['batch_size']} = {s['steps'] * s['batch_size']:,} "
          f"samples per run, seed {s['seed']}, torch threads {s['threads']}, loader workers {s['workers']}, lr "
          f"{s['lr']:g}, warm-up {s['warmup']}, weight decay {s['weight_decay']:g}, CPU fp32")
    print(f"  corpus: {f['pairs']:,} pairs, {f['swapped']:,} captions swapped ({s['swap_fraction']:.0%}); filter "
          f"keeps {s['keep_fraction']:.0%}: {pairs['filtered']:,} pairs kept, {f['dropped']:,} dropped")
    print(f"  filter caught {f['caught']:,} of {f['swapped']:,} swapped pairs: precision {f['precision']:.3f} "
          f"(a random drop: {f['chance_precision']:.3f}), recall {f['recall']:.3f} (random: "
          f"{f['chance_recall']:.3f})")
    if f["score_auc"] is not None:
        print(f"  CLIP score: true pairs mean {f['mean_score_true']:.4f}, swapped {f['mean_score_swapped']:.4f}; "
              f"AUC (a true pair above a swapped one) {f['score_auc']:.3f}")
    print(f"\n  {'run':<9}{'pairs':>8}{'epochs':>7}{'loss':>14}{'i2t R@1':>9}{'R@5':>7}{'R@10':>7}"
          f"{'t2i R@1':>9}{'R@5':>7}{'R@10':>7}{'R@10/chance':>13}")
    for name, run in runs.items():
        r = run["retrieval"]
        over = r10(r) / ((r["chance_image_to_text_R@10"] + r["chance_text_to_image_R@10"]) / 2)
        epochs = s["steps"] * s["batch_size"] / pairs[name] if pairs[name] else 0
        print(f"  {name:<9}{pairs[name]:>8,}{epochs:>7.1f}{run['first_loss']:>7.2f}->{run['final_loss']:<5.2f}"
              f"{r['image_to_text_R@1']:>9.3f}{r['image_to_text_R@5']:>7.3f}{r['image_to_text_R@10']:>7.3f}"
              f"{r['text_to_image_R@1']:>9.3f}{r['text_to_image_R@5']:>7.3f}{r['text_to_image_R@10']:>7.3f}"
              f"{over:>12.1f}x")
    r = runs["noisy"]["retrieval"]
    print(f"  {'chance':<9}{'':>8}{'':>7}{'':>14}{r['chance_image_to_text_R@1']:>9.4f}"
          f"{r['chance_image_to_text_R@5']:>7.4f}{r['chance_image_to_text_R@10']:>7.4f}"
          f"{r['chance_text_to_image_R@1']:>9.4f}{r['chance_text_to_image_R@5']:>7.4f}"
          f"{r['chance_text_to_image_R@10']:>7.4f}")
    n, fl = r10(runs["noisy"]["retrieval"]), r10(runs["filtered"]["retrieval"])
    images = r.get("images") or 0
    se = (n * (1 - n) / images) ** 0.5 if images else float("nan")
    print(f"\n  mean R@10 (i2t, t2i): noisy {n:.4f}, filtered {fl:.4f} ({fl - n:+.4f}; one run's binomial standard "
          f"error at this R@10 over {images} photos is about {se:.4f})")
    margin = "" if abs(fl - n) >= se else " (by less than one standard error: rerun with another --seed to tell)"
    print(f"  filtered {'BEATS' if figures['filtered_beats_noisy'] else 'does NOT beat'} noisy{margin}")
    print("\n  phase             wall s    CPU s")
    for name, t in figures["times"].items():
        print(f"  {name:<16}{t['wall_s']:>8.1f}{t['cpu_s']:>9.1f}")
    total_wall = sum(t["wall_s"] for t in figures["times"].values())
    total_cpu = sum(t["cpu_s"] for t in figures["times"].values())
    print(f"  {'total':<16}{total_wall:>8.1f}{total_cpu:>9.1f}   (load average now {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    sys.exit(main())
