"""Download benchmark: `wit download` against img2dataset 1.47.0 on the same images, same settings, same run.

What it measures
  Both tools download the same manifest of N image URLs (default 2000: the 1000 Flickr8k photos of
  ../shared/data/flickr8k/web_1k twice, the second time with a ``?r=1`` query so every URL is distinct; without
  that folder, 1000 generated 300-1200 px JPEG photos) from the project's local test web
  (wit_pipeline.testbed, an aiohttp server in its own process on 127.0.0.1), resize them to 256 px
  (keep_ratio), encode JPEG quality 95 and write WebDataset shards of 1000 with 2 processes and 64 requests
  in flight per process. For each tool it prints
    - images/s = successful images (counted from the tool's own *_stats.json) / wall seconds of the whole
      command, start-up included;
    - CPU ms per image = user + system CPU of the command and all its descendants (getrusage RUSAGE_CHILDREN
      deltas around the run; the test web stays alive, so its CPU is not counted) / successful images;
    - peak RSS = the largest sum of RSS over the command's process tree, sampled with psutil every 50 ms.
  and, as the floor for CPU, the bare decode-resize-encode cost: transforms.download.images.process_image run
  in this process over every distinct image (time.process_time per image). For information it also runs each
  tool over 2 rows in 2 shards of 1 first: that fixed start-up cost (interpreter, imports, process pool) is
  part of the figures above and is shown on its own, with the CPU per image beyond it.

Targets (printed beside the figures): wit at least 2x img2dataset's images/s, and wit's CPU per image within
1.25x of the bare decode-resize-encode cost.

How
  The test web is warmed first (one request per file, so both tools find every file in its memory cache);
  then each tool runs once (``--repeat R``: R times each, alternating which goes first, medians reported).
  img2dataset lives in its own virtualenv, .bench/img2dataset-venv, created on the first run
  (python -m venv + pip install img2dataset==1.47.0; that needs the package index once).
  Everything binds to 127.0.0.1; temporary files and the server are removed even on errors.

Usage (from the project root)
  .venv/bin/python benchmarks/download.py [--count N] [--repeat R] [--json PATH]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import csv
import functools
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's packages, even when not installed
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common

from _common import Measured, exit_on_sigterm, median, peer_venv, run_measured, tail, wit_bin  # noqa: E402

WEB_1K = ROOT.parent / "shared" / "data" / "flickr8k" / "web_1k"
CAPTIONS = ROOT.parent / "shared" / "data" / "flickr8k" / "captions.txt"

IMG2DATASET_VERSION = "1.47.0"
IMG2DATASET_VENV = ROOT / ".bench" / "img2dataset-venv"
# img2dataset 1.47.0 installs and runs on Python 3.11 with today's dependency versions (numpy 2.x,
# opencv-python-headless 4.x, albumentations 1.4): no extra pins are needed.
IMG2DATASET_PINS: list[str] = []

# The settings both tools run with.
IMAGE_SIZE = 256
RESIZE_MODE = "keep_ratio"
ENCODE_FORMAT = "jpg"
ENCODE_QUALITY = 95
SHARD_SIZE = 1000
TIMEOUT_S = 10

TARGET_SPEEDUP = 2.0  # wit images/s over img2dataset images/s, at least
TARGET_CPU_RATIO = 1.25  # wit CPU per image over the bare decode-resize-encode cost, at most

TOOLS = ("wit", "img2dataset")


# ---------------------------------------------------------------------------------------------- set-up

@functools.lru_cache(maxsize=None)
def img2dataset_bin() -> Path:
    """The img2dataset command of the benchmark's own virtualenv, created on first use."""
    python = IMG2DATASET_VENV / "bin" / "python"
    exe = IMG2DATASET_VENV / "bin" / "img2dataset"
    if python.exists() and exe.exists():
        probe = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('img2dataset'))"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == IMG2DATASET_VERSION:
            return exe
    pip = peer_venv(IMG2DATASET_VENV, f"img2dataset {IMG2DATASET_VERSION}")
    subprocess.run(pip + [f"img2dataset=={IMG2DATASET_VERSION}", *IMG2DATASET_PINS], check=True)
    if not exe.exists():
        raise RuntimeError(f"img2dataset was installed but {exe} is missing")
    return exe


def prepare_images(count: int, workdir: Path, seed: int) -> tuple[Path, list[str], str]:
    """The folder the test web serves, the file names to use, and a description of them."""
    unique = min(count, 1000)
    if WEB_1K.is_dir():
        names = sorted(p.name for p in WEB_1K.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))[:unique]
        if names:
            return WEB_1K, names, f"{len(names)} Flickr8k photos from {WEB_1K}"
    from wit_pipeline.testbed.images import make_image

    folder = workdir / "images"
    folder.mkdir()
    rng = random.Random(seed)
    names = []
    print(f"{WEB_1K} not found: generating {unique} JPEG photos ...", flush=True)
    for i in range(unique):
        w, h = rng.randint(300, 1200), rng.randint(300, 1200)
        name = f"{i:05d}_{w}x{h}.jpg"
        (folder / name).write_bytes(make_image(seed * 100_003 + i, w, h, "jpg"))
        names.append(name)
    make_image.cache_clear()
    return folder, names, f"{unique} generated 300-1200 px JPEG photos"


def load_captions() -> dict[str, str]:
    """First Flickr8k caption of each image, when the captions file is there."""
    captions: dict[str, str] = {}
    if CAPTIONS.is_file():
        with open(CAPTIONS, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                captions.setdefault(row.get("image", ""), (row.get("caption") or "").strip())
    return captions


def write_manifest(path: Path, base_url: str, names: list[str], count: int, query: str = "r") -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    captions = load_captions()
    urls, texts = [], []
    for i in range(count):
        name = names[i % len(names)]
        rep = i // len(names)
        urls.append(f"{base_url}/files/{urllib.parse.quote(name)}" + (f"?{query}={rep}" if rep else ""))
        texts.append(captions.get(name) or f"photo {i}")
    pq.write_table(pa.table({"url": urls, "caption": texts}), path)


def warm_up(base_url: str, folder: Path, names: list[str]) -> None:
    """One request per file, checked against the file on disk, so the server has them all in memory."""
    def fetch(name: str) -> None:
        url = f"{base_url}/files/{urllib.parse.quote(name)}"
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = resp.read()
        if body != (folder / name).read_bytes():
            raise RuntimeError(f"test web served wrong bytes for {url}")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(fetch, names))


def bare_cost(folder: Path, names: list[str], passes: int = 1) -> dict:
    """CPU ms per image of decode-resize-encode alone, in this process, over every distinct image.

    With several passes (one per --repeat), the pass with the median total is reported."""
    from transforms.download.images import process_image
    from transforms.download.options import ImageOptions

    options = ImageOptions(image_size=IMAGE_SIZE, resize_mode=RESIZE_MODE, encode_format=ENCODE_FORMAT,
                           encode_quality=ENCODE_QUALITY)
    blobs = [(folder / name).read_bytes() for name in names]
    for blob in blobs[:10]:  # first calls load codecs and plugins
        process_image(blob, options)
    results = []
    for _ in range(passes):
        per_image = []
        for blob in blobs:
            start = time.process_time()
            process_image(blob, options)
            per_image.append(time.process_time() - start)
        total = sum(per_image)
        results.append({"images": len(blobs), "cpu_s": total, "cpu_ms_per_image": 1000 * total / len(blobs),
                        "median_cpu_ms": 1000 * median(per_image)})
    results.sort(key=lambda r: r["cpu_s"])
    chosen = dict(results[(len(results) - 1) // 2])
    chosen["passes_cpu_ms_per_image"] = [r["cpu_ms_per_image"] for r in results]
    return chosen


# ---------------------------------------------------------------------------------------------- the tools

def tool_command(tool: str, manifest: Path, out: Path, processes: int, concurrency: int,
                 shard_size: int = SHARD_SIZE) -> list[str]:
    if tool == "wit":
        return wit_bin() + [
            "download", str(manifest), "--output", str(out), "--url-col", "url", "--caption-col", "caption",
            "--image-size", str(IMAGE_SIZE), "--resize-mode", RESIZE_MODE, "--encode-format", ENCODE_FORMAT,
            "--encode-quality", str(ENCODE_QUALITY), "--processes", str(processes),
            "--concurrency", str(concurrency), "--shard-size", str(shard_size),
            # As img2dataset: no retries, the same timeouts, and no lower cap per host (every URL here is on
            # one host; wit's default of 16 per host would cap it below img2dataset's 64 threads).
            "--retries", "0", "--connect-timeout", str(TIMEOUT_S), "--read-timeout", str(TIMEOUT_S),
            "--per-host-concurrency", str(concurrency),
            "--allow-private-network", "--no-progress",
        ]
    return [
        str(img2dataset_bin()), "--url_list", str(manifest), "--input_format", "parquet",
        "--url_col", "url", "--caption_col", "caption", "--output_format", "webdataset",
        "--output_folder", str(out), "--image_size", str(IMAGE_SIZE), "--resize_mode", RESIZE_MODE,
        "--encode_format", ENCODE_FORMAT, "--encode_quality", str(ENCODE_QUALITY),
        "--processes_count", str(processes), "--thread_count", str(concurrency),
        "--number_sample_per_shard", str(shard_size), "--distributor", "multiprocessing",
        "--timeout", str(TIMEOUT_S), "--retries", "0", "--enable_wandb", "False",
        # wit reads no EXIF metadata (beyond the orientation) and hashes with sha256, like this default.
        "--extract_exif", "False", "--compute_hash", "sha256",
    ]


def tool_env(tool: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.pop("PYTHONPATH", None)
    if tool == "img2dataset":
        env["NO_ALBUMENTATIONS_UPDATE"] = "1"  # else albumentations asks PyPI for a newer version at import
        env["WANDB_MODE"] = "disabled"
        env["WANDB_SILENT"] = "true"
    return env


def read_outputs(out: Path) -> dict:
    """Successes and statuses from the tool's *_stats.json files, and the images really in the tars."""
    successes = rows = 0
    statuses: dict[str, int] = {}
    for path in sorted(out.glob("*_stats.json")):
        stats = json.loads(path.read_text())
        successes += int(stats.get("successes", 0))
        rows += int(stats.get("count", 0))
        for status, n in (stats.get("status_counts") or stats.get("status_dict") or {}).items():
            statuses[status] = statuses.get(status, 0) + int(n)
    in_tars = 0
    for path in sorted(out.glob("*.tar")):
        with tarfile.open(path) as tar:
            in_tars += sum(1 for m in tar.getmembers() if m.name.endswith("." + ENCODE_FORMAT))
    return {"successes": successes, "rows": rows, "statuses": statuses, "images_in_tars": in_tars}


def run_tool(tool: str, manifest: Path, workdir: Path, run_index: int, args, server_pid: int | None,
             shard_size: int = SHARD_SIZE, label: str = "") -> dict:
    name = f"{tool}-{label or run_index}"
    out = workdir / name
    log = workdir / f"{name}.log"
    cmd = tool_command(tool, manifest, out, args.processes, args.concurrency, shard_size)
    server_cpu_before = _cpu_of(server_pid)
    measured: Measured = run_measured(cmd, log_path=str(log), env=tool_env(tool), cwd=str(workdir),
                                      timeout=args.timeout)
    server_cpu = _cpu_of(server_pid) - server_cpu_before if server_pid else None
    outputs = read_outputs(out) if out.is_dir() else {"successes": 0, "rows": 0, "statuses": {},
                                                      "images_in_tars": 0}
    ok = measured.returncode == 0 and not measured.timed_out and outputs["successes"] > 0
    what = label or f"run {run_index + 1}"
    if not ok:
        why = "timed out" if measured.timed_out else f"exit code {measured.returncode}"
        print(f"\n!! {tool} {what} failed ({why}); last lines of its output:\n{tail(str(log))}",
              file=sys.stderr, flush=True)
    n = outputs["successes"]
    result = {
        "tool": tool, "run": run_index + 1, "ok": ok, "returncode": measured.returncode,
        "timed_out": measured.timed_out, "wall_s": measured.wall_s, "cpu_s": measured.cpu_s,
        "images_per_s": n / measured.wall_s if n else 0.0,
        "cpu_ms_per_image": 1000 * measured.cpu_s / n if n else None,
        "peak_rss_mb": measured.peak_rss_bytes / 2**20, "rss_samples": measured.samples,
        "server_cpu_s": server_cpu, **outputs,
    }
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    print(f"  {tool:<12} {what}: {result['images_per_s']:7.1f} images/s, "
          f"{n}/{outputs['rows']} ok in {measured.wall_s:.1f} s, "
          f"CPU {_fmt(result['cpu_ms_per_image'], '.2f')} ms/image, peak RSS {result['peak_rss_mb']:.0f} MB",
          flush=True)
    return result


def _cpu_of(pid: int | None) -> float:
    if not pid:
        return 0.0
    import psutil

    try:
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except psutil.Error:
        return 0.0


@contextlib.contextmanager
def serve(folder: Path):
    """The test web in its own process, serving `folder` at /files/; yields (base_url, pid)."""
    from wit_pipeline.testbed.server import start_subprocess

    with start_subprocess(files_dir=str(folder)) as web:
        yield web.base_url, web.pid


# ---------------------------------------------------------------------------------------------- report

def _fmt(value, spec: str = ".1f", missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def summarise(runs: list[dict], tool: str, startup: dict | None) -> dict | None:
    mine = [r for r in runs if r["tool"] == tool]
    if not mine:
        return None
    good = [r for r in mine if r["ok"]] or mine
    fixed = startup["cpu_s"] if startup and startup["ok"] else None
    return {
        "startup_cpu_s": fixed,
        "startup_wall_s": startup["wall_s"] if startup and startup["ok"] else None,
        "cpu_ms_per_image_beyond_startup": None if fixed is None else median(
            1000 * (r["cpu_s"] - fixed) / r["successes"] for r in good if r["successes"]),
        "runs": len(mine), "failed_runs": sum(not r["ok"] for r in mine),
        "images_per_s": median(r["images_per_s"] for r in good),
        "wall_s": median(r["wall_s"] for r in good),
        "cpu_ms_per_image": median(r["cpu_ms_per_image"] for r in good),
        "peak_rss_mb": median(r["peak_rss_mb"] for r in good),
        "successes": median(r["successes"] for r in good),
        "rows": median(r["rows"] for r in good),
        "images_in_tars": median(r["images_in_tars"] for r in good),
        "server_cpu_s": median(r["server_cpu_s"] for r in good),
        "statuses": good[-1]["statuses"],
    }


def report(summary: dict, bare: dict, tools: list[str], header: list[str]) -> dict:
    w, i = summary.get("wit"), summary.get("img2dataset")
    print()
    for line in header:
        print(line)
    cols = [t for t in TOOLS if t in tools]
    names = {"wit": "wit download", "img2dataset": f"img2dataset {IMG2DATASET_VERSION}"}
    rows = [
        ("images/s", "images_per_s", ".1f"),
        ("successful images / rows", None, None),
        ("images in the tars", "images_in_tars", ".0f"),
        ("wall s (start-up included)", "wall_s", ".2f"),
        ("CPU ms / image", "cpu_ms_per_image", ".2f"),
        ("start-up CPU s (2 rows)", "startup_cpu_s", ".2f"),
        ("start-up wall s (2 rows)", "startup_wall_s", ".2f"),
        ("CPU ms / image beyond start-up", "cpu_ms_per_image_beyond_startup", ".2f"),
        ("peak RSS MB (tree sum)", "peak_rss_mb", ".0f"),
        ("test web CPU s during run", "server_cpu_s", ".2f"),
    ]
    width = 32
    print(f"{'':<{width}}" + "".join(f"{names[t]:>22}" for t in cols))
    for label, key, spec in rows:
        cells = []
        for t in cols:
            s = summary[t]
            if key is None:
                cells.append(f"{s['successes']:.0f}/{s['rows']:.0f}")
            else:
                cells.append(_fmt(s[key], spec))
        print(f"{label:<{width}}" + "".join(f"{c:>22}" for c in cells))
    print(f"{'bare decode-resize-encode':<{width}}{bare['cpu_ms_per_image']:>22.2f}  CPU ms / image, in-process "
          f"process_image over {bare['images']} images")
    for t in cols:
        bad = {k: v for k, v in summary[t]["statuses"].items() if k != "success"}
        if bad:
            print(f"{names[t]} failures: {bad}")
        if summary[t]["failed_runs"]:
            print(f"{names[t]}: {summary[t]['failed_runs']} of {summary[t]['runs']} runs FAILED")

    verdict: dict = {}
    print()
    if w and i and i["images_per_s"]:
        ratio = w["images_per_s"] / i["images_per_s"]
        verdict["speedup"] = ratio
        verdict["speedup_ok"] = ratio >= TARGET_SPEEDUP
        print(f"{'images/s ratio wit / img2dataset:':<46}{ratio:5.2f}x   target >= {TARGET_SPEEDUP:g}x: "
              f"{'PASS' if verdict['speedup_ok'] else 'FAIL'}")
    for t in cols:
        cpu = summary[t]["cpu_ms_per_image"]
        if cpu is None:
            continue
        ratio = cpu / bare["cpu_ms_per_image"]
        label = f"{t} CPU / bare decode-resize-encode:"
        line = f"{label:<46}{ratio:5.2f}x   ({cpu:.2f} / {bare['cpu_ms_per_image']:.2f} ms per image)"
        if t == "wit":
            verdict["cpu_ratio"] = ratio
            verdict["cpu_ratio_ok"] = ratio <= TARGET_CPU_RATIO
            line += f"   target <= {TARGET_CPU_RATIO:g}x: {'PASS' if verdict['cpu_ratio_ok'] else 'FAIL'}"
        else:
            verdict[f"{t}_cpu_ratio"] = ratio
        print(line)
    for t in cols:
        beyond = summary[t]["cpu_ms_per_image_beyond_startup"]
        if beyond is not None:
            label = f"{t} CPU beyond start-up / bare:"
            print(f"{label:<46}{beyond / bare['cpu_ms_per_image']:5.2f}x   (information, no target)")
    return verdict


# ---------------------------------------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=2000, help="manifest rows (default 2000: 1000 files twice)")
    p.add_argument("--repeat", type=int, default=1, help="runs of each tool, alternating; medians reported")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    p.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of: wit,img2dataset")
    p.add_argument("--processes", type=int, default=2, help="processes per tool (default 2)")
    p.add_argument("--concurrency", type=int, default=64,
                   help="requests in flight per process: wit --concurrency, img2dataset --thread_count")
    p.add_argument("--timeout", type=float, default=240, help="seconds before one tool run is stopped")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated photos (without web_1k)")
    p.add_argument("--no-startup", action="store_true",
                   help="skip the 2-row runs that measure each tool's fixed start-up cost")
    p.add_argument("--keep", action="store_true", help="keep the work folder (outputs and logs) and print it")
    args = p.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if not tools or any(t not in TOOLS for t in tools):
        p.error(f"--tools takes a comma-separated subset of {','.join(TOOLS)}")
    args.tools = tools
    for name in ("count", "repeat", "processes", "concurrency"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    if "img2dataset" in args.tools:
        img2dataset_bin()
    if "wit" in args.tools:
        wit_bin()
    workdir = Path(tempfile.mkdtemp(prefix="wit-bench-download-"))
    try:
        folder, names, described = prepare_images(args.count, workdir, args.seed)
        print(f"Measuring bare decode-resize-encode over {len(names)} images ...", flush=True)
        bare = bare_cost(folder, names, passes=args.repeat)
        manifest = workdir / "manifest.parquet"
        runs: list[dict] = []
        with serve(folder) as (base_url, server_pid):
            write_manifest(manifest, base_url, names, args.count)
            print(f"Test web at {base_url} (pid {server_pid}); warming it up ...", flush=True)
            warm_up(base_url, folder, names)
            startup: dict[str, dict] = {}
            if not args.no_startup:
                # Fixed cost: the same command over 2 rows in 2 shards of 1 (so both start all their processes).
                tiny = workdir / "startup.parquet"
                write_manifest(tiny, base_url, names, 2)
                for tool in args.tools:
                    startup[tool] = run_tool(tool, tiny, workdir, 0, args, server_pid, shard_size=1,
                                             label="start-up")
            for r in range(args.repeat):
                order = args.tools if r % 2 == 0 else list(reversed(args.tools))
                for tool in order:
                    runs.append(run_tool(tool, manifest, workdir, r, args, server_pid))
        summary = {t: summarise(runs, t, startup.get(t)) for t in args.tools}
        copies = -(-args.count // len(names))
        header = [
            f"Download benchmark: {args.count} URLs ({described}, {copies} URL(s) each) from the test web "
            f"on 127.0.0.1,",
            f"  {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{args.repeat} run(s) per tool{' (medians)' if args.repeat > 1 else ''}; 1-minute load average "
            f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine skews timings).",
            f"Same settings: image size {IMAGE_SIZE}, resize {RESIZE_MODE}, {ENCODE_FORMAT} quality {ENCODE_QUALITY}, "
            f"{args.processes} processes, {args.concurrency} requests in flight per process, shards of {SHARD_SIZE}.",
        ]
        if "img2dataset" in args.tools:
            header.append("img2dataset flags: " + " ".join(
                tool_command("img2dataset", Path("M.parquet"), Path("OUT"), args.processes, args.concurrency)[1:]))
        if "wit" in args.tools:
            header.append("wit flags: " + " ".join(
                tool_command("wit", Path("M.parquet"), Path("OUT"), args.processes, args.concurrency)[1:]))
        header.append("")
        verdict = report(summary, bare, args.tools, header)
        print(f"\n(total benchmark time {time.perf_counter() - started:.0f} s)")
        if args.json:
            doc = {
                "benchmark": "download", "count": args.count, "distinct_images": len(names), "images": described,
                "repeat": args.repeat, "cpus": os.cpu_count(), "python": platform.python_version(),
                "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
                "settings": {"image_size": IMAGE_SIZE, "resize_mode": RESIZE_MODE, "encode_format": ENCODE_FORMAT,
                             "encode_quality": ENCODE_QUALITY, "processes": args.processes,
                             "concurrency": args.concurrency, "shard_size": SHARD_SIZE},
                "commands": {t: tool_command(t, Path("M.parquet"), Path("OUT"), args.processes, args.concurrency)
                             for t in args.tools},
                "img2dataset_version": IMG2DATASET_VERSION, "img2dataset_pins": IMG2DATASET_PINS,
                "bare_decode_resize_encode": bare, "summary": summary, "runs": runs,
                "startup_runs": startup,
                "targets": {"speedup_at_least": TARGET_SPEEDUP, "cpu_ratio_at_most": TARGET_CPU_RATIO},
                **verdict,
            }
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
            print(f"Figures written to {args.json}")
        return 1 if any(not r["ok"] for r in runs) else 0
    finally:
        if args.keep:
            print(f"Work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
