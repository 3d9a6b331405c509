"""Trainer throughput: `wit train` against open_clip 3.3.0, side by side, same model sizes, same shards.

Both train the tiny CLIP (ViT 64 px / patch 8 / width 128 / 3 layers; text 32 tokens / width 128 / 3 layers /
49,408-token embedding table; 128-d joint space) from scratch on CPU, fp32, on the Flickr8k train shards that
`wit download` built (benchmarks/flickr8k.py makes them once), with the same batch size, loader workers and
torch threads. Runs alternate (wit, open_clip, wit, open_clip, ...) so drift on a shared machine hits both.
Steady-state samples/s leaves out the first 5 steps (worker start-up, first-touch allocations); the
data-wait share is the time the step loop spent waiting for a batch over the step time.

open_clip runs in its own virtualenv (.bench/openclip-venv, made on first use; see benchmarks/_openclip.py).

  .venv/bin/python benchmarks/train.py [--steps 60] [--batch-size 128] [--workers 1] [--threads 2] [--repeat 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import exit_on_sigterm, run_measured, wit_bin  # noqa: E402
from _openclip import TINY_OPENCLIP_CONFIG, WARMUP_STEPS, ensure_openclip_venv, run_openclip  # noqa: E402
from flickr8k import build_shards  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run_wit(shards: Path, tokenizer: Path, args, workdir: Path) -> dict:
    out = workdir / "wit-run"
    cmd = [*wit_bin(), "train", str(shards), "--output", str(out), "--model", "tiny", "--steps", str(args.steps),
           "--batch-size", str(args.batch_size), "--workers", str(args.workers), "--threads", str(args.threads),
           "--tokenizer", str(tokenizer), "--vocab-size", str(TINY_OPENCLIP_CONFIG["text_cfg"]["vocab_size"]),
           "--lr", "5e-4", "--warmup", "10", "--log-every", "1", "--save-every", str(args.steps), "--no-progress",
           "--precision", args.precision]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    log = workdir / "train.log"
    measured = run_measured(cmd, log_path=str(log), env=env)
    if measured.returncode:
        raise SystemExit(f"wit train failed:\n{log.read_text()[-3000:]}")
    rows = [json.loads(line) for line in open(out / "metrics.jsonl")]
    steady = [r for r in rows if r["step"] > WARMUP_STEPS]
    times = [args.batch_size / r["samples_per_s"] for r in steady]
    wait = sum(r["data_wait_share"] * t for r, t in zip(steady, times))
    return {"samples_per_s": len(steady) * args.batch_size / sum(times),
            "samples_per_s_median": args.batch_size / statistics.median(times),
            "data_wait_share": wait / sum(times), "wall_s": measured.wall_s, "cpu_s": measured.cpu_s,
            "peak_rss_bytes": measured.peak_rss_bytes, "steps": rows[-1]["step"], "final_loss": rows[-1]["loss"]}


def main(argv=None) -> int:
    exit_on_sigterm()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--work", default=str(ROOT / ".bench" / "flickr8k"))
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    shards = build_shards(Path(args.work))
    sizes = json.loads((shards / "sizes.json").read_text())
    names = sorted(sizes)
    pattern = f"{shards}/{{{names[0][:-4]}..{names[-1][:-4]}}}.tar"
    ensure_openclip_venv()
    results: dict[str, list[dict]] = {"wit": [], "open_clip": []}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        tmp = Path(tmp)
        tokenizer = tmp / "tokenizer.json"
        subprocess.run([*wit_bin(), "tokenizer", "train", str(shards), "--output", str(tokenizer),
                        "--vocab-size", "8192"], check=True, capture_output=True)
        for i in range(args.repeat):
            for tool in ("wit", "open_clip"):
                work = tmp / f"{tool}-{i}"
                work.mkdir()
                if tool == "wit":
                    r = run_wit(shards, tokenizer, args, work)
                else:
                    r = run_openclip(pattern, sum(sizes.values()), TINY_OPENCLIP_CONFIG, args.batch_size,
                                     args.steps, args.workers, args.threads, work, precision=args.precision)
                results[tool].append(r)
                print(f"  run {i + 1} {tool:9s} {r['samples_per_s']:7.1f} samples/s   data wait "
                      f"{r['data_wait_share']:6.1%}   wall {r['wall_s']:5.1f} s   loss {r['final_loss']:.3f}",
                      flush=True)
    keys = ("samples_per_s", "samples_per_s_median", "data_wait_share", "wall_s", "peak_rss_bytes")
    med = {t: {k: statistics.median(r[k] for r in runs) for k in keys} for t, runs in results.items()}
    ratio = med["wit"]["samples_per_s"] / med["open_clip"]["samples_per_s"]
    print(f"\ntiny CLIP on CPU, batch {args.batch_size}, {args.workers} loader worker(s), {args.threads} threads, "
          f"{args.precision}, {args.steps} steps (first {WARMUP_STEPS} left out), median of {args.repeat}")
    print(f"  {'':10s} {'samples/s':>10s} {'median step':>12s} {'data wait':>10s} {'wall s':>8s} {'peak RSS':>9s}")
    for tool in ("wit", "open_clip"):
        m = med[tool]
        print(f"  {tool:10s} {m['samples_per_s']:10.1f} {m['samples_per_s_median']:12.1f} {m['data_wait_share']:10.1%} "
              f"{m['wall_s']:8.1f} {m['peak_rss_bytes'] / 2**20:7.0f} MB")
    print(f"  wit / open_clip samples/s: {ratio:.2f}x (target: at least 1.2x)")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "median": med, "ratio": ratio,
                                               "args": vars(args)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
