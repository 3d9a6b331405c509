"""Download benchmark: `wit download` against img2dataset 1.47.0 on the same images, same settings, same run.

What it measures
  Both tools download the same manifest of --count image URLs from the project's local test web
  (wit_pipeline.testbed, an aiohttp server in its own process on 127.0.0.1, serving a folder at /files/),
  resize them to 256 px (keep_ratio), encode JPEG quality 95 and write WebDataset shards of 1000 with 2
  processes and 64 requests in flight per process. The URLs cycle over the distinct images, each pass after the
  first with a ``?r=N`` query, so every URL is distinct. Two sets of images (--mix):
    web     (default) a realistic web mix built by benchmarks/_webmix.py from the real Flickr8k photos of
            ../shared/data/flickr8k/web_1k: 1000 distinct images, mean body about 85 KB, 30% with a long side
            of 1000-2000 px (collages of real photos at native resolution, never smooth upscales), JPEG 80%
            (q70-95), PNG 10% (half RGBA with a real alpha), WebP 7%, GIF 3%. It is built once per seed and
            cached under .bench/webmix/; its description (formats, long-side percentiles, bytes) is printed.
            Without web_1k it is built from photo-like generated JPEGs instead (and says so).
    flickr  the former run: the web_1k photos themselves (about 500x375, 55 KB, all JPEG); without that
            folder, 1000 generated 300-1200 px JPEG photos.
  For each tool and run it prints
    - images/s = successful images (counted from the tool's own *_stats.json) / wall seconds of the whole
      command, start-up included;
    - CPU ms per image = user + system CPU of the command and all its descendants (getrusage RUSAGE_CHILDREN
      deltas around the run; the test web stays alive, so its CPU is not counted) / successful images;
    - peak RSS = the largest sum of RSS over the command's process tree, sampled with psutil every 50 ms;
    - the 1-minute load average before and after the run (a run during which it moved by more than 1.0 is
      flagged; note the tool's own 2 busy processes raise it too, most on the first run after a pause) and
      the CPU that other processes on the machine used during the run (busy CPU of the whole machine from
      /proc/stat minus the tool's, the test web's and this script's), in cores;
  then, per tool, the median and the spread (min-max) over the runs. As the floor for CPU it measures the bare
  decode-resize-encode cost: transforms.download.images.process_image run in this process over every distinct
  image (time.process_time per image), also per format and per size class.

Steady state
  Each tool also runs over 2 rows (in 2 shards of 1) first: that fixed start-up cost (interpreter, imports,
  process pool) is part of the figures above. Its share of the measured run (start-up / run, for CPU and for
  wall) is printed per tool, with a loud warning when it reaches 5%: then the figures say more about start-up
  than about downloading, and the warning says which --count would bring it under 5%. The default --count
  (30,000 URLs) keeps both tools under 5% on 2 cores: img2dataset's start-up is about 7 s of CPU and 7 s of
  wall, so its run must last at least 140 s, i.e. 20,000-28,000 images at its 150-200 images/s (and 30,000
  leaves a margin); wit's start-up is under 1 s of CPU and of wall, so at a few hundred images/s it needs only
  a few thousand. Lower --count for a quick run (the warning will say so).

Targets (printed beside the figures, from the same run)
  - wit CPU per image at most 0.5x img2dataset's;
  - wit images/s at least 1.5x img2dataset's;
  - wit CPU per image within 1.2x of the bare decode-resize-encode cost;
  - peak memory of both tools is printed (no target).

How
  The test web is warmed first (one request per file, so both tools find every file in its memory cache);
  then each tool runs --repeat times (default 3), alternating which goes first; medians and min-max reported.
  img2dataset lives in its own virtualenv, .bench/img2dataset-venv, created on the first run
  (python -m venv + pip install img2dataset==1.47.0; that needs the package index once).
  Everything binds to 127.0.0.1; temporary files and the server are removed even on errors.
  A full run (30,000 URLs, 3 runs each) takes about 15-25 minutes on 2 cores; run it on a quiet machine.

Usage (from the project root)
  .venv/bin/python benchmarks/download.py [--mix web|flickr] [--count N] [--repeat R] [--json PATH]
  .venv/bin/python benchmarks/download.py --count 2000 --repeat 1     # a quick look (start-up dominates)
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import csv
import dataclasses
import functools
import io
import json
import math
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
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common, _webmix

from _common import (MachineWatch, Measured, exit_on_sigterm, median, peer_venv, run_measured, tail,  # noqa: E402
                     wit_bin)

WEB_1K = ROOT.parent / "shared" / "data" / "flickr8k" / "web_1k"
CAPTIONS = ROOT.parent / "shared" / "data" / "flickr8k" / "captions.txt"
WEBMIX_CACHE = ROOT / ".bench" / "webmix"

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

MIXES = ("web", "flickr")
DEFAULT_COUNT = 30_000  # steady state on 2 cores: each tool's start-up under 5% of its CPU and wall (see above)
DEFAULT_DISTINCT = 1000  # distinct images the URLs cycle over
STEADY_SHARE = 0.05  # start-up / measured run, at most, for figures that describe steady state
LOAD_MOVE_FLAG = 1.0  # a run during which the 1-minute load average moved by more than this is flagged

TARGET_SPEEDUP = 1.5  # wit images/s over img2dataset images/s, at least
TARGET_CPU_VS_PEER = 0.5  # wit CPU per image over img2dataset's, at most
TARGET_CPU_RATIO = 1.2  # wit CPU per image over the bare decode-resize-encode cost, at most

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


@dataclasses.dataclass
class Images:
    """The distinct images the URLs cycle over."""

    folder: Path  # what the test web serves at /files/
    names: list[str]
    described: str  # one line
    lines: list[str]  # the mix's description, printed in the header (empty for flickr)
    description: dict | None = None  # the web mix's figures (for --json)


def prepare_images(args, workdir: Path) -> Images:
    if args.mix == "flickr":
        folder, names, described = prepare_flickr(args.count, workdir, args.seed)
        return Images(folder, names, described, [])
    return prepare_web(args.count, args.distinct, args.seed, Path(args.mix_cache))


def synthetic_photos(folder: Path, seed: int, n: int = 300) -> Path:
    """Photo-like generated JPEGs of web_1k's sizes (the testbed's pictures), made once: the web mix's source
    where web_1k is missing. They are smoother than real photos: the mix built from them is lighter."""
    from wit_pipeline.testbed.images import make_image

    done = folder / ".done"
    if done.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for i in range(n):
        w, h = rng.choice([(500, 375), (500, 333), (375, 500), (333, 500), (500, 500)])
        (folder / f"{i:05d}_{w}x{h}.jpg").write_bytes(make_image(seed * 100_003 + i, w, h, "jpg"))
    make_image.cache_clear()
    done.write_text("")
    return folder


def prepare_web(count: int, distinct: int, seed: int, cache: Path) -> Images:
    import _webmix

    if WEB_1K.is_dir() and any(p.suffix.lower() in (".jpg", ".jpeg") for p in WEB_1K.iterdir()):
        source, what = WEB_1K, "real Flickr8k photos"
    else:
        print(f"!! {WEB_1K} not found: building the web mix from GENERATED photo-like JPEGs, which are smoother "
              f"than real photos (lighter files, cheaper decodes): figures are not comparable with real ones.",
              flush=True)
        source, what = synthetic_photos(cache / f"synthetic-photos-seed{seed}", seed), "GENERATED photos"
    mix = _webmix.build_mix(source, cache, distinct, seed)
    names = mix.names[: min(count, distinct)]
    desc = dict(mix.describe(names))
    desc["folder"] = str(mix.folder)
    lines = _webmix.summary_lines(desc, label=f"Web mix (seed {seed}, {what} from {source})")
    return Images(mix.folder, names, f"{len(names)} distinct images of the web mix", lines, desc)


def prepare_flickr(count: int, workdir: Path, seed: int) -> tuple[Path, list[str], str]:
    """--mix flickr: the folder the test web serves, the file names to use, and a description of them."""
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
    """CPU ms per image of decode-resize-encode alone, in this process, over every distinct image; also per
    format and per size class (long side at least 1000 px or not).

    With several passes (one per --repeat), the pass with the median total is reported."""
    from PIL import Image

    from transforms.download.errors import DownloadFailure
    from transforms.download.images import process_image
    from transforms.download.options import ImageOptions

    options = ImageOptions(image_size=IMAGE_SIZE, resize_mode=RESIZE_MODE, encode_format=ENCODE_FORMAT,
                           encode_quality=ENCODE_QUALITY)
    blobs = [(folder / name).read_bytes() for name in names]
    kinds = []
    for blob in blobs:  # headers only
        with Image.open(io.BytesIO(blob)) as im:
            fmt = (im.format or "?").lower()
            if fmt == "png" and im.mode in ("RGBA", "LA", "PA"):
                fmt = "png rgba"
            kinds.append((fmt, "long side >= 1000 px" if max(im.size) >= 1000 else "long side < 1000 px"))
    for blob in blobs[:10]:  # first calls load codecs and plugins
        with contextlib.suppress(DownloadFailure):
            process_image(blob, options)
    results = []
    for _ in range(passes):
        per_image, failed = [], 0
        for blob in blobs:
            start = time.process_time()
            try:
                process_image(blob, options)
            except DownloadFailure:
                failed += 1
            per_image.append(time.process_time() - start)
        results.append((sum(per_image), per_image, failed))
    results.sort(key=lambda r: r[0])
    total, per_image, failed = results[(len(results) - 1) // 2]

    def groups(index: int) -> dict:
        out: dict[str, list[float]] = {}
        for kind, t in zip(kinds, per_image):
            out.setdefault(kind[index], []).append(t)
        return {k: {"images": len(v), "cpu_ms_per_image": 1000 * sum(v) / len(v)} for k, v in sorted(out.items())}

    return {"images": len(blobs), "failed": failed, "cpu_s": total, "cpu_ms_per_image": 1000 * total / len(blobs),
            "median_cpu_ms": 1000 * median(per_image), "by_format": groups(0), "by_size": groups(1),
            "passes_cpu_ms_per_image": [1000 * r[0] / len(blobs) for r in results]}


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
    watch = MachineWatch()
    server_cpu_before = _cpu_of(server_pid)
    measured: Measured = run_measured(cmd, log_path=str(log), env=tool_env(tool), cwd=str(workdir),
                                      timeout=args.timeout)
    server_cpu = _cpu_of(server_pid) - server_cpu_before if server_pid else None
    machine = watch.finish(measured.cpu_s, measured.wall_s, also_cpu_s=server_cpu or 0.0)
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
        "server_cpu_s": server_cpu, **machine,
        "load_moved": abs(machine["load_after"] - machine["load_before"]) > LOAD_MOVE_FLAG,
        **outputs,
    }
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    print(f"  {tool:<12} {what}: {_run_line(result)}", flush=True)
    return result


def _run_line(r: dict) -> str:
    flag = f"   << load moved by more than {LOAD_MOVE_FLAG:g}" if r["load_moved"] else ""
    return (f"{r['images_per_s']:7.1f} images/s, {r['successes']}/{r['rows']} ok in {r['wall_s']:.1f} s, "
            f"CPU {_fmt(r['cpu_ms_per_image'], '.2f')} ms/image, peak RSS {r['peak_rss_mb']:.0f} MB; "
            f"load {r['load_before']:.2f} -> {r['load_after']:.2f}, others {_fmt(r['others_cores'], '.2f')} cores"
            f"{flag}")


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


def _range(values) -> list | None:
    values = [v for v in values if v is not None]
    return [min(values), max(values)] if values else None


def _ratio(a, b):
    return a / b if a is not None and b else None


def summarise(runs: list[dict], tool: str, startup: dict | None) -> dict | None:
    mine = [r for r in runs if r["tool"] == tool]
    if not mine:
        return None
    good = [r for r in mine if r["ok"]] or mine
    fixed = startup["cpu_s"] if startup and startup["ok"] else None
    fixed_wall = startup["wall_s"] if startup and startup["ok"] else None
    cpu_run, wall_run = median(r["cpu_s"] for r in good), median(r["wall_s"] for r in good)
    rows = median(r["rows"] for r in good) or 0
    # Runs grow about linearly with rows beyond the fixed start-up: s / (s + k * rows) < STEADY_SHARE needs
    # rows > s * (1 / STEADY_SHARE - 1) / k.
    needed = []
    for s, run in ((fixed, cpu_run), (fixed_wall, wall_run)):
        if s is not None and run and run > s and rows:
            needed.append(math.ceil(s * (1 / STEADY_SHARE - 1) / ((run - s) / rows)))
    return {
        "startup_cpu_s": fixed,
        "startup_wall_s": fixed_wall,
        "startup_share_cpu": _ratio(fixed, cpu_run),
        "startup_share_wall": _ratio(fixed_wall, wall_run),
        "count_for_steady_state": max(needed) if needed else None,
        "cpu_ms_per_image_beyond_startup": None if fixed is None else median(
            1000 * (r["cpu_s"] - fixed) / r["successes"] for r in good if r["successes"]),
        "runs": len(mine), "failed_runs": sum(not r["ok"] for r in mine),
        "images_per_s": median(r["images_per_s"] for r in good),
        "images_per_s_range": _range(r["images_per_s"] for r in good),
        "wall_s": wall_run,
        "cpu_s": cpu_run,
        "cpu_ms_per_image": median(r["cpu_ms_per_image"] for r in good),
        "cpu_ms_per_image_range": _range(r["cpu_ms_per_image"] for r in good),
        "peak_rss_mb": median(r["peak_rss_mb"] for r in good),
        "peak_rss_mb_max": max(r["peak_rss_mb"] for r in good),
        "successes": median(r["successes"] for r in good),
        "rows": rows,
        "images_in_tars": median(r["images_in_tars"] for r in good),
        "server_cpu_s": median(r["server_cpu_s"] for r in good),
        "others_cores": median(r["others_cores"] for r in good),
        "load_moved_runs": sum(r["load_moved"] for r in mine),
        "statuses": good[-1]["statuses"],
    }


def _banner(lines: list[str]) -> None:
    bar = "!" * 100
    text = "\n".join([bar, *(f"!! {line}" for line in lines), bar])
    print(text, flush=True)
    print(text, file=sys.stderr, flush=True)


def report(summary: dict, bare: dict, tools: list[str], header: list[str], runs: list[dict]) -> dict:
    w, i = summary.get("wit"), summary.get("img2dataset")
    print()
    for line in header:
        print(line)
    cols = [t for t in TOOLS if t in tools]
    names = {"wit": "wit download", "img2dataset": f"img2dataset {IMG2DATASET_VERSION}"}
    rows = [
        ("images/s, median", "images_per_s", ".1f"),
        ("images/s, min-max", "images_per_s_range", ".1f"),
        ("CPU ms / image, median", "cpu_ms_per_image", ".2f"),
        ("CPU ms / image, min-max", "cpu_ms_per_image_range", ".2f"),
        ("successful images / rows", None, None),
        ("images in the tars", "images_in_tars", ".0f"),
        ("wall s (start-up included)", "wall_s", ".1f"),
        ("start-up CPU s (2 rows)", "startup_cpu_s", ".2f"),
        ("start-up wall s (2 rows)", "startup_wall_s", ".2f"),
        ("start-up share of CPU", "startup_share_cpu", ".1%"),
        ("start-up share of wall", "startup_share_wall", ".1%"),
        ("CPU ms / image beyond start-up", "cpu_ms_per_image_beyond_startup", ".2f"),
        ("peak RSS MB (tree sum), median", "peak_rss_mb", ".0f"),
        ("peak RSS MB, largest run", "peak_rss_mb_max", ".0f"),
        ("test web CPU s during run", "server_cpu_s", ".2f"),
        ("other processes, cores", "others_cores", ".2f"),
        (f"runs where load moved > {LOAD_MOVE_FLAG:g}", "load_moved_runs", "d"),
    ]
    width = 34
    print(f"{'':<{width}}" + "".join(f"{names[t]:>22}" for t in cols))
    for label, key, spec in rows:
        cells = []
        for t in cols:
            s = summary[t]
            if key is None:
                cells.append(f"{s['successes']:.0f}/{s['rows']:.0f}")
            elif key.endswith("_range"):
                cells.append("-" if s[key] is None else f"{s[key][0]:{spec}}-{s[key][1]:{spec}}")
            else:
                cells.append(_fmt(s[key], spec))
        print(f"{label:<{width}}" + "".join(f"{c:>22}" for c in cells))
    for t in cols:
        bad = {k: v for k, v in summary[t]["statuses"].items() if k != "success"}
        if bad:
            print(f"{names[t]} failures: {bad}")
        if summary[t]["failed_runs"]:
            print(f"{names[t]}: {summary[t]['failed_runs']} of {summary[t]['runs']} runs FAILED")

    print("\nRuns, in order (1-minute load average before -> after; others = CPU of other processes):")
    for r in runs:
        print(f"  {r['tool']:<12} run {r['run']}: {_run_line(r)}")

    print(f"\nBare decode-resize-encode (process_image in this process, {bare['images']} distinct images"
          f"{', ' + str(bare['failed']) + ' refused' if bare['failed'] else ''}): "
          f"{bare['cpu_ms_per_image']:.2f} CPU ms / image")
    print("  by format: " + ", ".join(f"{k} {v['cpu_ms_per_image']:.2f} ({v['images']})"
                                      for k, v in bare["by_format"].items()))
    print("  by size:   " + ", ".join(f"{k} {v['cpu_ms_per_image']:.2f} ({v['images']})"
                                      for k, v in bare["by_size"].items()))

    verdict: dict = {"startup_shares": {}, "flagged_runs": sum(r["load_moved"] for r in runs)}
    print("\nStart-up share of the measured run (start-up over 2 rows / median run; steady state needs < "
          f"{STEADY_SHARE:.0%}):")
    unsteady = []
    for t in cols:
        s = summary[t]
        sc, sw = s["startup_share_cpu"], s["startup_share_wall"]
        if sc is None or sw is None:
            print(f"  {names[t]:<20} unknown (no start-up run)")
            continue
        verdict["startup_shares"][t] = {"cpu": sc, "wall": sw}
        ok = sc < STEADY_SHARE and sw < STEADY_SHARE
        print(f"  {names[t]:<20} CPU {sc:6.1%} ({s['startup_cpu_s']:.2f} of {s['cpu_s']:.1f} s), "
              f"wall {sw:6.1%} ({s['startup_wall_s']:.2f} of {s['wall_s']:.1f} s)   "
              f"{'OK' if ok else 'NOT STEADY STATE'}")
        if not ok:
            unsteady.append(f"{names[t]}: start-up is {max(sc, sw):.0%} of its "
                            f"{'CPU' if sc >= sw else 'wall time'}; about --count "
                            f"{_fmt(s['count_for_steady_state'], ',')} would bring it under {STEADY_SHARE:.0%}")
    verdict["steady_state"] = not unsteady if verdict["startup_shares"] else None
    if unsteady:
        _banner(["NOT STEADY STATE: start-up weighs on these figures (they understate steady throughput and "
                 "overstate CPU per image).", *unsteady])

    print("\nTargets (this run):")
    wc, ic = (w or {}).get("cpu_ms_per_image"), (i or {}).get("cpu_ms_per_image")
    ws, is_ = (w or {}).get("images_per_s"), (i or {}).get("images_per_s")

    def target(label, value, op, goal, detail, key):
        if value is None:
            print(f"  {label:<44} n/a ({detail})")
            return
        ok = value <= goal if op == "<=" else value >= goal
        verdict[key], verdict[key + "_ok"] = value, ok
        print(f"  {label:<44}{value:6.2f}x   target {op} {goal:g}x: {'PASS' if ok else 'FAIL'}   ({detail})")

    no_peer = "img2dataset not run" if i is None else None
    target("wit CPU / image over img2dataset's:", _ratio(wc, ic), "<=", TARGET_CPU_VS_PEER,
           no_peer or f"{_fmt(wc, '.2f')} vs {_fmt(ic, '.2f')} ms", "cpu_vs_peer")
    target("wit images/s over img2dataset's:", _ratio(ws, is_), ">=", TARGET_SPEEDUP,
           no_peer or f"{_fmt(ws, '.1f')} vs {_fmt(is_, '.1f')} images/s", "speedup")
    target("wit CPU / bare decode-resize-encode:", _ratio(wc, bare["cpu_ms_per_image"]), "<=", TARGET_CPU_RATIO,
           "wit not run" if w is None else f"{_fmt(wc, '.2f')} / {bare['cpu_ms_per_image']:.2f} ms",
           "cpu_ratio")
    if ic is not None:
        verdict["img2dataset_cpu_ratio"] = ic / bare["cpu_ms_per_image"]
        print(f"  {'img2dataset CPU / bare decode-resize-encode:':<44}{verdict['img2dataset_cpu_ratio']:6.2f}x"
              f"   (information)")
    beyond = [f"{t} {summary[t]['cpu_ms_per_image_beyond_startup'] / bare['cpu_ms_per_image']:.2f}x" for t in cols
              if summary[t]["cpu_ms_per_image_beyond_startup"] is not None]
    if beyond:
        print(f"  {'CPU beyond start-up / bare:':<44}{', '.join(beyond)}   (information)")
    print(f"  {'peak RSS, median of runs (largest):':<44}" + ", ".join(
        f"{t} {summary[t]['peak_rss_mb']:.0f} MB ({summary[t]['peak_rss_mb_max']:.0f})" for t in cols)
        + "   (no target)")
    caveats = []
    if unsteady:
        caveats.append("not steady state")
    if verdict["flagged_runs"]:
        caveats.append(f"{verdict['flagged_runs']} run(s) with the load moving by more than {LOAD_MOVE_FLAG:g} "
                       f"(the tool's own processes count too: see 'others')")
    busy = [r for r in runs if (r["others_cores"] or 0) > 0.25]
    if busy:
        caveats.append(f"{len(busy)} run(s) with other processes using more than 0.25 cores")
    if caveats:
        print(f"  caveat: {'; '.join(caveats)}: rerun on a quiet machine before trusting these ratios.")
    verdict["caveats"] = caveats
    return verdict


# ---------------------------------------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mix", choices=MIXES, default="web",
                   help="web: the realistic web mix (default); flickr: the Flickr8k photos alone (the former run)")
    p.add_argument("--count", type=int, default=DEFAULT_COUNT,
                   help=f"manifest rows (default {DEFAULT_COUNT:,}: steady state on 2 cores); lower it for a "
                        f"quick run")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of each tool, alternating which goes first; medians and min-max (default 3)")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    p.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of: wit,img2dataset")
    p.add_argument("--processes", type=int, default=2, help="processes per tool (default 2)")
    p.add_argument("--concurrency", type=int, default=64,
                   help="requests in flight per process: wit --concurrency, img2dataset --thread_count")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds before one tool run is stopped (default: 60 + count / 40, at least 240)")
    p.add_argument("--seed", type=int, default=0, help="seed of the web mix (and of generated photos)")
    p.add_argument("--distinct", type=int, default=DEFAULT_DISTINCT,
                   help=f"distinct images of the web mix (default {DEFAULT_DISTINCT}); the URLs cycle over them")
    p.add_argument("--mix-cache", default=str(WEBMIX_CACHE), help="folder the built web mixes are cached under")
    p.add_argument("--no-startup", action="store_true",
                   help="skip the 2-row runs that measure each tool's fixed start-up cost")
    p.add_argument("--keep", action="store_true", help="keep the work folder (outputs and logs) and print it")
    args = p.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if not tools or any(t not in TOOLS for t in tools):
        p.error(f"--tools takes a comma-separated subset of {','.join(TOOLS)}")
    args.tools = tools
    for name in ("count", "repeat", "processes", "concurrency", "distinct"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.timeout is None:
        args.timeout = max(240.0, 60 + args.count / 40)
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
        images = prepare_images(args, workdir)
        folder, names = images.folder, images.names
        for line in images.lines:
            print(line, flush=True)
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
            f"Download benchmark, --mix {args.mix}: {args.count} URLs ({images.described}, {copies} URL(s) each) "
            f"from the test web on 127.0.0.1,",
            *images.lines,
            f"  {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{args.repeat} run(s) per tool{' (medians, min-max)' if args.repeat > 1 else ''}, alternating which "
            f"goes first; 1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other "
            f"work on the machine skews timings).",
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
        verdict = report(summary, bare, args.tools, header, runs)
        print(f"\n(total benchmark time {time.perf_counter() - started:.0f} s)")
        if args.json:
            doc = {
                "benchmark": "download", "mix": args.mix, "count": args.count, "distinct_images": len(names),
                "images": images.described, "mix_description": images.description, "seed": args.seed,
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
                "targets": {"speedup_at_least": TARGET_SPEEDUP, "cpu_vs_img2dataset_at_most": TARGET_CPU_VS_PEER,
                            "cpu_ratio_at_most": TARGET_CPU_RATIO, "startup_share_below": STEADY_SHARE,
                            "load_move_flag": LOAD_MOVE_FLAG},
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
