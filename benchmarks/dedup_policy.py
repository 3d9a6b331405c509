"""Which dedup policy makes the better corpus on a web of real photos (issue 15, part 2): every distinct
(url, text) pair (LAION's rule, `--captions-per-url 0`), one caption per image URL (`1`), or at most K (`2`,
`3`), measured against each other at equal training compute.

1. A real-photo web: the Flickr8k *train* photos only (split.json "train", 7,079 photos; the test photos never
   appear), each photo's 5 human captions spread over 5 different sites (caption j of every photo on site j,
   the photos of a site shuffled with its own seed and 8 to a page, so every page mixes photos), plus exact
   repeats: a seeded 10% of the (photo, caption) pairs again on a sixth, "mirror" site. The pages are written by
   hand into one WARC; every <img src> points to the loopback test web serving small_8k (160x160 photos).
2. `wit build` of that WARC once per policy (FnApiRunner, the project's default query list, --balance-t far
   above any query's count so balancing never binds, images stored as served: --resize-mode no, jpg). Each
   stage's pairs in and out come from the build's summary.json.
3. `wit train` of the tiny CLIP on each policy's shards at EQUAL compute: the same --steps and batch size for
   every policy (so the one-caption corpus is seen for more epochs), the same seed, lr 1e-3, warm-up 200,
   weight decay 0.1 (as benchmarks/flickr8k.py).
4. `wit eval retrieval` on the 1,012 held-out test photos (5 captions each): image->text and text->image
   R@1/5/10 beside chance; `wit eval zeroshot` on a class folder made from the TEST photos (a photo goes to
   class c when its 5 captions mention c and no other class; symlinks), with Flickr-style prompts
   ("A {} .") and with the 8 default CLIP prompts, top-1/top-5 beside chance (1/C, 5/C).
5. Optionally the leading policies again with a second training seed (--rerun-top N).

Results of finished runs are kept under --work (runs/<policy>-s<seed>/result.json) and reused when the
script is started again; builds are reused when their summary.json exists.

  .venv/bin/python benchmarks/dedup_policy.py [--policies 0,1,2] [--steps 800] [--batch-size 128]
      [--seeds 0] [--rerun-top 2 --rerun-seed 1] [--work DIR] [--json PATH]
"""
from __future__ import annotations

import argparse
import csv
import html
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import exit_on_sigterm, wit_bin  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FLICKR = ROOT.parent / "shared" / "data" / "flickr8k"
QUERIES = ROOT / "queries" / "data" / "default_queries.json"

SITES = 5  # caption j of every photo is on site j
PER_PAGE = 8
REPEAT_FRACTION = 0.10  # pairs repeated verbatim on a mirror site
WEB_SEED = 15

# Zero-shot classes: a test photo is in class c when its captions mention one of c's words and no other class's.
CLASSES = {
    "dog": ("dog", "dogs", "puppy", "puppies"),
    "man": ("man", "men"),
    "woman": ("woman", "women"),
    "boy": ("boy", "boys"),
    "girl": ("girl", "girls"),
    "bike": ("bike", "bikes", "bicycle", "bicycles", "biker", "bikers", "cyclist", "bmx"),
    "car": ("car", "cars"),
    "snow": ("snow", "snowy"),
    "water": ("water",),
}
MIN_CLASS_IMAGES = 10
FLICKR_TEMPLATES = ("A {} .", "a {} .", "The {} .", "A {} is outside .")


# --- data ---------------------------------------------------------------------------------------------------

def read_split() -> tuple[list[str], list[str]]:
    split = json.loads((FLICKR / "split.json").read_text())
    train, test = list(split["train"]), list(split["test"])
    if set(train) & set(test):
        raise SystemExit("split.json's train and test lists overlap")
    return train, test


def read_captions() -> dict[str, list[str]]:
    caps: dict[str, list[str]] = defaultdict(list)
    with open(FLICKR / "captions.txt", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            caps[row["image"]].append(row["caption"].strip())
    return caps


def page_html(title: str, items: list[tuple[str, str]], base_url: str) -> bytes:
    imgs = "\n".join(
        f'<figure><img src="{base_url}/files/{html.escape(name, quote=True)}" alt="{html.escape(cap, quote=True)}" '
        f'width="160" height="160"></figure>' for name, cap in items)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"</head><body><h1>{html.escape(title)}</h1><p>Photos shared by our readers this week.</p>\n{imgs}\n"
            f"</body></html>\n").encode("utf-8")


def web_pages(train: list[str], caps: dict[str, list[str]], limit: int | None = None):
    """[(page url, title, [(image name, caption)])] of the real-photo web, and its figures. Deterministic."""
    photos = [p for p in train if len(caps.get(p, ())) >= SITES]
    if limit:
        photos = photos[:limit]
    pages = []
    pairs = 0
    for site in range(SITES):
        order = list(photos)
        random.Random(WEB_SEED * 100 + site).shuffle(order)
        for n in range(0, len(order), PER_PAGE):
            items = [(p, caps[p][site]) for p in order[n:n + PER_PAGE]]
            pairs += len(items)
            pages.append((f"http://photos{site}.example/album/{n // PER_PAGE}.html",
                          f"Album {n // PER_PAGE} of site {site}", items))
    # Exact repeats: the same photo with the same caption on a second page (a mirror), 10% of the pairs.
    all_pairs = [(p, caps[p][site]) for site in range(SITES) for p in photos]
    rng = random.Random(WEB_SEED)
    repeats = rng.sample(all_pairs, round(REPEAT_FRACTION * len(all_pairs)))
    for n in range(0, len(repeats), PER_PAGE):
        pages.append((f"http://mirror.example/copy/{n // PER_PAGE}.html", f"Mirror {n // PER_PAGE}",
                      repeats[n:n + PER_PAGE]))
    distinct = len({(p, c) for p, c in all_pairs})
    figures = {"photos": len(photos), "pages": len(pages), "img_tags": pairs + len(repeats),
               "distinct_pairs": distinct, "repeated_pairs": len(repeats),
               "distinct_captions_per_photo_mean": distinct / max(1, len(photos))}
    return pages, figures


def write_warc(path: Path, pages, base_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    from wit_pipeline.testbed.hostile_warc import response, write
    write(path, (response(i + 1, page_html(title, items, base_url), url)
                 for i, (url, title, items) in enumerate(pages)))


def class_folder(folder: Path, test: list[str], caps: dict[str, list[str]]) -> dict:
    """DIR/<class>/<photo> symlinks to the test photos of each class; {class: count}."""
    pats = {c: re.compile(r"\b(" + "|".join(words) + r")\b") for c, words in CLASSES.items()}
    members: dict[str, list[str]] = defaultdict(list)
    for name in test:
        text = " ".join(caps[name]).lower()
        hits = [c for c, pat in pats.items() if pat.search(text)]
        if len(hits) == 1:
            members[hits[0]].append(name)
    if folder.exists():
        shutil.rmtree(folder)
    counts = {}
    for c in sorted(members):
        if len(members[c]) < MIN_CLASS_IMAGES:
            continue
        (folder / c).mkdir(parents=True)
        for name in members[c]:
            os.symlink(FLICKR / "small_8k" / name, folder / c / name)
        counts[c] = len(members[c])
    return counts


# --- commands -------------------------------------------------------------------------------------------------

def run(cmd: list[str], log: Path | None = None) -> float:
    print("$", " ".join(cmd), flush=True)
    start = time.monotonic()
    if log is None:
        subprocess.run(cmd, check=True)
    else:
        with open(log, "wb") as f:
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
        if proc.returncode:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{cmd[1:3]} failed ({proc.returncode}); {log}:\n{tail}")
    return time.monotonic() - start


def build_cmd(warc: Path, out: Path, policy: int, shard_size: int) -> list[str]:
    return [*wit_bin(), "build", "--input", str(warc), "--input-kind", "warc", "--queries", str(QUERIES),
            "--output", str(out), "--captions-per-url", str(policy), "--balance-t", "100000000",
            "--resize-mode", "no", "--encode-format", "jpg", "--shard-size", str(shard_size),
            "--allow-network", "127.0.0.0/8", "--overwrite", "--runner=FnApiRunner"]


def build_all(work: Path, policies: list[int], shard_size: int, limit: int | None) -> dict:
    """Each policy's build (skipped when its summary.json exists); {policy: summary}."""
    todo = [k for k in policies if not (work / f"build-k{k}" / "summary.json").exists()]
    web_figures_path = work / "web.json"
    if todo:
        help_text = subprocess.run([*wit_bin(), "build", "--help"], capture_output=True, text=True).stdout
        if "--captions-per-url" not in help_text:
            raise SystemExit("`wit build` has no --captions-per-url flag yet")
        sys.path.insert(0, str(ROOT))
        from wit_pipeline.testbed import start_subprocess
        train, _ = read_split()
        caps = read_captions()
        pages, figures = web_pages(train, caps, limit)
        web_figures_path.write_text(json.dumps(figures, indent=1))
        with start_subprocess(files_dir=str(FLICKR / "small_8k")) as web:
            warc = work / "web.warc.gz"
            write_warc(warc, pages, web.base_url)
            print(f"real-photo web: {figures} -> {warc} ({warc.stat().st_size / 1e6:.1f} MB)", flush=True)
            for k in todo:
                out = work / f"build-k{k}"
                if out.exists():
                    shutil.rmtree(out)
                seconds = run(build_cmd(warc, out, k, shard_size), work / f"build-k{k}.log")
                summary = json.loads((out / "summary.json").read_text())
                summary["bench_build_s"] = seconds
                (work / f"build-k{k}.bench.json").write_text(json.dumps({"build_s": seconds}))
                print(f"  build k={k}: {seconds:.0f} s, {stage_line(summary['stages'])}", flush=True)
    summaries = {}
    for k in policies:
        s = json.loads((work / f"build-k{k}" / "summary.json").read_text())
        extra = work / f"build-k{k}.bench.json"
        s["bench_build_s"] = json.loads(extra.read_text())["build_s"] if extra.exists() else None
        summaries[k] = s
    return summaries


def stage_out(stages: dict, stage: str):
    s = stages.get(stage, {})
    for key in ("out", "rows", "success"):
        if key in s:
            return s[key]
    return None


def stage_line(stages: dict) -> str:
    parts = [f"crawl {stages.get('crawl', {}).get('candidates')}"]
    for st in ("text", "language", "dedup", "match", "balance"):
        if st in stages:
            parts.append(f"{st} {stage_out(stages, st)}")
    parts.append(f"shards {stages.get('download', {}).get('success')}")
    return " -> ".join(parts)


def shard_adjacency(build: Path, limit: int = 20000) -> float | None:
    """Share of consecutive samples in the shards that are the same image (sha of the jpg): how clustered a
    URL's captions are in the order the trainer reads them (its shuffle buffer is 2,000)."""
    import hashlib
    import tarfile
    tars = sorted((build / "shards").glob("*.tar")) or sorted(build.rglob("*.tar"))
    prev, same, total = None, 0, 0
    for t in tars:
        with tarfile.open(t) as tf:
            for m in tf:
                if m.name.endswith(".jpg"):
                    digest = hashlib.sha1(tf.extractfile(m).read()).digest()
                    same += digest == prev
                    total += prev is not None
                    prev = digest
                    if total >= limit:
                        return same / total
    return same / total if total else None


def train_and_eval(work: Path, k: int, seed: int, args, zs_folder: Path, templates: Path) -> dict:
    run_dir = work / "runs" / f"k{k}-s{seed}"
    result_path = run_dir / "result.json"
    if result_path.exists():
        res = json.loads(result_path.read_text())
        if res.get("steps_asked") == args.steps and res.get("batch_size") == args.batch_size:
            print(f"reusing {result_path}", flush=True)
            return res
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    wit = wit_bin()
    build = work / f"build-k{k}"
    cmd = [*wit, "train", str(build), "--output", str(run_dir / "train"), "--model", args.model,
           "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
           "--warmup", "200", "--weight-decay", "0.1", "--workers", str(args.workers), "--seed", str(seed),
           "--save-every", str(args.steps), "--keep-checkpoints", "1", "--log-every", "20", "--no-progress"]
    if args.shuffle_buffer:
        cmd += ["--shuffle-buffer", str(args.shuffle_buffer)]
    train_s = run(cmd, run_dir / "train.log")
    metrics = [json.loads(line) for line in open(run_dir / "train" / "metrics.jsonl")]
    ckpt = sorted((run_dir / "train" / "checkpoints").glob("step_*.pt"))[-1]
    run([*wit, "eval", "retrieval", str(ckpt), "--captions", str(FLICKR / "captions.txt"), "--images",
         str(FLICKR / "small_8k"), "--split-json", str(FLICKR / "split.json"), "--split", "test",
         "--json", str(run_dir / "retrieval.json")], run_dir / "retrieval.log")
    run([*wit, "eval", "zeroshot", str(ckpt), "--images", str(zs_folder), "--templates", str(templates),
         "--json", str(run_dir / "zeroshot.json")], run_dir / "zeroshot.log")
    run([*wit, "eval", "zeroshot", str(ckpt), "--images", str(zs_folder),
         "--json", str(run_dir / "zeroshot_clip_templates.json")], run_dir / "zeroshot_clip.log")
    res = {"policy": k, "seed": seed, "steps_asked": args.steps, "batch_size": args.batch_size,
           "steps": metrics[-1]["step"], "first_loss": metrics[0]["loss"], "final_loss": metrics[-1]["loss"],
           "samples_per_s_median": sorted(m["samples_per_s"] for m in metrics)[len(metrics) // 2],
           "train_s": train_s, "checkpoint": str(ckpt),
           "retrieval": json.loads((run_dir / "retrieval.json").read_text()),
           "zeroshot": json.loads((run_dir / "zeroshot.json").read_text()),
           "zeroshot_clip_templates": json.loads((run_dir / "zeroshot_clip_templates.json").read_text())}
    os.remove(ckpt)  # 1 checkpoint per run is all the evaluation needs; keep the disk small
    result_path.write_text(json.dumps(res, indent=1))
    return res


def score(res: dict) -> float:
    r = res["retrieval"]
    return (r["image_to_text_R@10"] / r["chance_image_to_text_R@10"]
            + r["text_to_image_R@10"] / r["chance_text_to_image_R@10"]) / 2


# --- report ---------------------------------------------------------------------------------------------------

def print_report(summaries: dict, results: list[dict], web: dict, zs_counts: dict, args) -> None:
    print("\nReal-photo web:", ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                         for k, v in web.items()))
    print("\nPairs at each stage (wit build summary.json)")
    order = ("crawl", "text", "language", "dedup", "match", "balance", "download")
    print(f"  {'policy':<8}" + "".join(f"{s:>10}" for s in order) + f"{'distinct imgs':>15}{'build s':>9}")
    for k, s in summaries.items():
        st = s["stages"]
        cells = [st.get("crawl", {}).get("candidates")] + [stage_out(st, x) for x in order[1:-1]] + \
            [st.get("download", {}).get("success")]
        drops = {f"{name}.{key}": v for name, d in st.items() for key, v in d.items()
                 if key.startswith(("dropped", "failed", "skipped"))}
        print(f"  {'k=' + str(k):<8}" + "".join(f"{c if c is not None else '-':>10}" for c in cells)
              + f"{s.get('distinct_images', '-'):>15}{(s.get('bench_build_s') or 0):>9.0f}")
        print(f"  {'':<8}drops: " + ", ".join(f"{a} {b}" for a, b in sorted(drops.items())))
    ch = results[0]["retrieval"] if results else {}
    zs = results[0]["zeroshot"] if results else {}
    print(f"\nTiny CLIP, {args.steps} steps of {args.batch_size} for every policy, lr {args.lr}, warm-up 200, "
          f"wd 0.1; retrieval on the 1,012 held-out test photos (5,060 captions); zero-shot on "
          f"{sum(zs_counts.values())} test photos in {len(zs_counts)} classes ({', '.join(f'{c} {n}' for c, n in zs_counts.items())})")
    if ch:
        print("  chance: " + "  ".join(f"i2t R@{k} {ch[f'chance_image_to_text_R@{k}']:.4f}" for k in (1, 5, 10))
              + "  " + "  ".join(f"t2i R@{k} {ch[f'chance_text_to_image_R@{k}']:.4f}" for k in (1, 5, 10))
              + f"  zero-shot top-1 {zs['chance_top1']:.3f} top-5 {zs['chance_top5']:.3f}"
              f" (majority class {max(zs_counts.values()) / sum(zs_counts.values()):.3f})")
    head = (f"  {'policy':<7}{'seed':>5}{'pairs':>7}{'steps':>6}{'epochs':>7}{'loss':>6}"
            f"{'i2t@1':>7}{'i2t@5':>7}{'i2t@10':>7}{'x ch':>6}{'t2i@1':>7}{'t2i@5':>7}{'t2i@10':>7}{'x ch':>6}"
            f"{'zs1':>7}{'zs5':>7}{'zs1clip':>8}{'zs5clip':>8}{'min':>6}")
    print(head)
    for res in results:
        r, z, zc = res["retrieval"], res["zeroshot"], res["zeroshot_clip_templates"]
        pairs = res["pairs"]
        print(f"  {'k=' + str(res['policy']):<7}{res['seed']:>5}{pairs:>7}{res['steps']:>6}"
              f"{res['steps'] * args.batch_size / pairs:>7.1f}{res['final_loss']:>6.2f}"
              f"{r['image_to_text_R@1']:>7.3f}{r['image_to_text_R@5']:>7.3f}{r['image_to_text_R@10']:>7.3f}"
              f"{r['image_to_text_R@10'] / r['chance_image_to_text_R@10']:>6.1f}"
              f"{r['text_to_image_R@1']:>7.3f}{r['text_to_image_R@5']:>7.3f}{r['text_to_image_R@10']:>7.3f}"
              f"{r['text_to_image_R@10'] / r['chance_text_to_image_R@10']:>6.1f}"
              f"{z['top1']:>7.3f}{z['top5']:>7.3f}{zc['top1']:>8.3f}{zc['top5']:>8.3f}{res['train_s'] / 60:>6.1f}")
    print("  (x ch: R@10 over chance; zs1/zs5: zero-shot top-1/top-5 with Flickr-style prompts "
          f"{list(FLICKR_TEMPLATES)}; zs1clip/zs5clip: with the 8 default CLIP prompts)")
    if len({r['policy'] for r in results}) > 1:
        by = defaultdict(list)
        for r in results:
            by[r["policy"]].append(score(r))
        print("  mean of i2t and t2i R@10 over chance, per policy (all seeds): "
              + ", ".join(f"k={k}: {sum(v) / len(v):.1f} ({', '.join(f'{x:.1f}' for x in v)})" for k, v in by.items()))


def main(argv=None) -> int:
    exit_on_sigterm()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default=str(ROOT / ".bench" / "dedup_policy"), help="folder for the web, builds, runs")
    p.add_argument("--policies", default="0,1,2", help="--captions-per-url values to compare (0: every pair)")
    p.add_argument("--steps", type=int, default=800, help="optimiser steps of every training run")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--model", default="tiny")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--shuffle-buffer", type=int, default=0, help="trainer's shuffle buffer (0: its default)")
    p.add_argument("--seeds", default="0", help="training seeds run for every policy")
    p.add_argument("--rerun-top", type=int, default=0, help="then train the N leading policies with --rerun-seed")
    p.add_argument("--rerun-seed", type=int, default=1)
    p.add_argument("--shard-size", type=int, default=1000)
    p.add_argument("--limit-photos", type=int, default=None, help="a smaller web (smoke tests only)")
    p.add_argument("--build-only", action="store_true", help="stop after the builds")
    p.add_argument("--json", default=None, help="write the figures here too")
    args = p.parse_args(argv)
    if not FLICKR.is_dir():
        raise SystemExit(f"no Flickr8k data at {FLICKR}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    policies = [int(x) for x in args.policies.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    started = time.monotonic()

    summaries = build_all(work, policies, args.shard_size, args.limit_photos)
    web = json.loads((work / "web.json").read_text())
    for k, s in summaries.items():
        s["distinct_images"] = len(_manifest_urls(work / f"build-k{k}"))
        s["shard_adjacency"] = shard_adjacency(work / f"build-k{k}")
    print("builds:", {k: stage_line(s["stages"]) for k, s in summaries.items()}, flush=True)
    print("share of consecutive shard samples that are the same photo:",
          {k: round(s["shard_adjacency"] or 0, 3) for k, s in summaries.items()}, flush=True)
    if args.build_only:
        return 0

    _, test = read_split()
    caps = read_captions()
    zs_folder = work / "zeroshot_classes"
    zs_counts = class_folder(zs_folder, test, caps)
    templates = work / "flickr_templates.txt"
    templates.write_text("\n".join(FLICKR_TEMPLATES) + "\n")

    results = []
    for seed in seeds:
        for k in policies:
            res = train_and_eval(work, k, seed, args, zs_folder, templates)
            res["pairs"] = summaries[k]["stages"]["download"]["success"]
            results.append(res)
            print(f"  k={k} seed {seed}: i2t R@10 {res['retrieval']['image_to_text_R@10']:.3f}, t2i R@10 "
                  f"{res['retrieval']['text_to_image_R@10']:.3f}, zero-shot top-1 {res['zeroshot']['top1']:.3f} "
                  f"({res['train_s'] / 60:.1f} min)", flush=True)
    if args.rerun_top:
        first = [r for r in results if r["seed"] == seeds[0]]
        lead = [r["policy"] for r in sorted(first, key=score, reverse=True)[:args.rerun_top]]
        if args.rerun_seed not in seeds:
            for k in lead:
                res = train_and_eval(work, k, args.rerun_seed, args, zs_folder, templates)
                res["pairs"] = summaries[k]["stages"]["download"]["success"]
                results.append(res)
                print(f"  k={k} seed {args.rerun_seed}: i2t R@10 {res['retrieval']['image_to_text_R@10']:.3f}",
                      flush=True)
    print_report(summaries, results, web, zs_counts, args)
    print(f"\nwall time {(time.monotonic() - started) / 60:.1f} min")
    if args.json:
        out = {"web": web, "zeroshot_classes": zs_counts, "steps": args.steps, "batch_size": args.batch_size,
               "builds": {str(k): s for k, s in summaries.items()}, "runs": results}
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


def _manifest_urls(build: Path) -> set:
    """Distinct image URLs among the shards' rows (from the shards' .json sidecars)."""
    import tarfile
    urls = set()
    for t in sorted(build.rglob("*.tar")):
        with tarfile.open(t) as tf:
            for m in tf:
                if m.name.endswith(".json"):
                    try:
                        urls.add(json.loads(tf.extractfile(m).read()).get("url"))
                    except ValueError:
                        pass
    urls.discard(None)
    return urls


if __name__ == "__main__":
    sys.exit(main())
