"""Real data for the trainer: Flickr8k shards built by the project, the tiny CLIP trained on CPU, retrieval on
the 1,012 held-out test images.

1. The local test web serves ../shared/data/flickr8k/small_8k/ (8,091 photos, 160x160) on 127.0.0.1.
2. A manifest of the *train* split only (7,079 images x 5 human captions = 35,395 pairs) goes through
   `wit download` into WebDataset shards, as any crawl's manifest would.
3. `wit train` trains the tiny config for --epochs (default 5, about 15 minutes on 2 cores).
4. `wit eval retrieval` on the test split (captions.txt restricted by split.json's "test" list; never trained on)
   prints image->text and text->image R@1/5/10 beside what a random ranking scores.

  .venv/bin/python benchmarks/flickr8k.py [--work DIR] [--epochs E] [--json PATH]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import exit_on_sigterm, wit_bin  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FLICKR = ROOT.parent / "shared" / "data" / "flickr8k"


def write_manifest(path: Path, base_url: str) -> int:
    split = json.loads((FLICKR / "split.json").read_text())
    train = set(split["train"])
    if train & set(split["test"]):
        raise SystemExit("split.json's train and test lists overlap")
    rows = 0
    with open(FLICKR / "captions.txt", newline="", encoding="utf-8") as src, open(path, "w", newline="") as dst:
        out = csv.writer(dst)
        out.writerow(["url", "caption", "image"])
        for row in csv.DictReader(src):
            if row["image"] in train:  # the test images never reach the training shards
                out.writerow([f"{base_url}/files/{row['image']}", row["caption"].strip(), row["image"]])
                rows += 1
    return rows


def build_shards(work: Path, figures: dict | None = None) -> Path:
    """work/shards: the train split downloaded from the local test web by `wit download` (once; reused)."""
    shards = work / "shards"
    if (shards / "sizes.json").exists():
        return shards
    if not FLICKR.is_dir():
        raise SystemExit(f"no Flickr8k data at {FLICKR}")
    sys.path.insert(0, str(ROOT))
    from wit_pipeline.testbed import start_subprocess

    work.mkdir(parents=True, exist_ok=True)
    figures = {} if figures is None else figures
    with start_subprocess(files_dir=str(FLICKR / "small_8k")) as web:
        figures["pairs_in_manifest"] = write_manifest(work / "train.csv", web.base_url)
        figures["download_s"] = run([*wit_bin(), "download", str(work / "train.csv"), "--output", str(shards),
                                     "--shard-size", "2000", "--resize-mode", "no", "--encode-format", "jpg",
                                     "--allow-network", "127.0.0.0/8", "--no-progress"])
    return shards


def run(cmd: list[str]) -> float:
    print("$", " ".join(cmd), flush=True)
    start = time.monotonic()
    subprocess.run(cmd, check=True)
    return time.monotonic() - start


def main(argv=None) -> int:
    exit_on_sigterm()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default=str(ROOT / ".bench" / "flickr8k"), help="folder for shards and the run")
    p.add_argument("--model", default="tiny")
    p.add_argument("--epochs", type=float, default=5.0)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--json", default=None, help="write the figures here too")
    args = p.parse_args(argv)
    work = Path(args.work)
    run_dir = work / f"run-{args.model}"
    wit = wit_bin()
    figures: dict = {"model": args.model, "epochs": args.epochs, "batch_size": args.batch_size}
    shards = build_shards(work, figures)
    sizes = json.loads((shards / "sizes.json").read_text())
    figures["pairs_in_shards"] = sum(sizes.values())
    if run_dir.exists():
        import shutil
        shutil.rmtree(run_dir)
    figures["train_s"] = run([*wit, "train", str(shards), "--output", str(run_dir), "--model", args.model,
                              "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
                              "--warmup", "200", "--weight-decay", "0.1", "--workers", str(args.workers),
                              "--save-every", "500", "--log-every", "20", "--no-progress"])
    last = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    figures["steps"], figures["final_loss"] = last[-1]["step"], last[-1]["loss"]
    figures["first_loss"] = last[0]["loss"]
    figures["samples_per_s_median"] = sorted(r["samples_per_s"] for r in last)[len(last) // 2]
    ckpt = sorted((run_dir / "checkpoints").glob("step_*.pt"))[-1]
    result_path = work / "retrieval.json"
    run([*wit, "eval", "retrieval", str(ckpt), "--captions", str(FLICKR / "captions.txt"), "--images",
         str(FLICKR / "small_8k"), "--split-json", str(FLICKR / "split.json"), "--split", "test",
         "--json", str(result_path)])
    result = json.loads(result_path.read_text())
    figures["retrieval"] = result
    ratio = result["image_to_text_R@10"] / result["chance_image_to_text_R@10"]
    figures["i2t_R@10_over_chance"] = ratio
    print("\nFlickr8k, tiny CLIP trained from scratch on CPU on the train split, evaluated on the 1,012 test images")
    print(f"  pairs trained on      {figures['pairs_in_shards']}  ({figures['steps']} steps of {args.batch_size}, "
          f"{figures['train_s'] / 60:.1f} min, median {figures['samples_per_s_median']:.0f} samples/s)")
    print(f"  loss                  {figures['first_loss']:.3f} -> {figures['final_loss']:.3f}")
    for k in (1, 5, 10):
        print(f"  image->text R@{k:<2d}     {result[f'image_to_text_R@{k}']:.3f}   (chance "
              f"{result[f'chance_image_to_text_R@{k}']:.4f})   text->image R@{k:<2d} "
              f"{result[f'text_to_image_R@{k}']:.3f}   (chance {result[f'chance_text_to_image_R@{k}']:.4f})")
    print(f"  image->text R@10 is {ratio:.1f}x chance (target: at least 10x)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
