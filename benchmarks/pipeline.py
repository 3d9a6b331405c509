"""Pipeline benchmark: N candidates through the whole `wit build` job against the local test web, and the bare
downloader (`wit download`) over the same shard manifests, in the same run.

What it does
  1. Writes a manifest Parquet of N candidates (default 100,000; columns url, caption). Captions are the TEXT
     column of ../shared/data/captions/laion_style_10000.parquet, cycled (real web alt texts, so text rules,
     matching, balancing and language behave as on real input); without that file, generated English phrases.
     Image URLs point at the test web: the 1000 Flickr8k photos of ../shared/data/flickr8k/web_1k served at
     /files/NAME, or without them (or with --images generated) 1000 generated JPEGs at /img/{seed}_{w}x{h}.jpg;
     either way the 1000 images are cycled with a ``?i=N`` suffix so every URL is distinct.
  2. Starts the test web in its own process (wit_pipeline.testbed.server.start_subprocess) and warms it (one
     request per distinct image, so both runs find every image in its memory).
  3. Runs the whole job, wit_pipeline.pipeline.run(argv), in a child process: manifest -> candidates -> text
     rules -> language (--languages all: the language stage identifies every text but drops nothing; wit
     build's default, English only, would drop about 15% of these captions, which py3langid finds 85%
     English) -> dedup -> query match (../shared/data/queries/proxy_500k.json, 500k queries, else the
     package's default list) -> balance (--balance-t) -> balanced manifest -> shards of --shard-size -> download, resize to 256 px (wit build's default),
     JPEG q95 -> WebDataset shards. Runner: --runner embedded (FnApiRunner, one process: the default) or
     --runner multi (--direct_running_mode=multi_processing --direct_num_workers=2).
     Measured: wall time of the child (interpreter start-up and imports included), its CPU and every
     descendant's, and the peak RSS of its process tree (summed RSS, sampled with psutil every 50 ms).
  4. Checks that every row is accounted for: manifest rows in == crawl candidates; candidates == rows in
     rejected/ + rows in manifest/; each stage's in == out + its drops; rejected/ rows per (stage, reason) ==
     the counters; shard Parquet rows == manifest rows (the same uids); sizes.json == successful images ==
     the download counter.
  5. Runs the bare downloader, `wit download OUTPUT/manifest/NNNNN.parquet ... --url-col url --caption-col text`
     as a subprocess, on the shard manifests the pipeline wrote (the first --bare-shards of them, default 4,
     about 40,000 rows at the default size, so that the whole run stays near 8 minutes on 2 cores; 0 = all),
     with the same image and network settings and 1 process (embedded runner) or 2 (multi), measured the same
     way. Rows are assigned to shards by a hash of their uid, so every shard is a sample of the same rows.
  Printed: wall, pairs/s end to end (successful images / pipeline wall), peak RSS, per-stage counters from
  summary.json, the bare downloader's images/s, and the ratio pipeline images/s / bare images/s against the
  target (the pipeline keeps at least 80% of the bare rate). The pipeline's wall includes reading, text rules,
  language, dedup, matching (building a 500k-query automaton) and balancing, so the download stage's own
  share is printed too: from the last balanced-manifest shard written (the download stage starts after a
  Reshuffle, so after every manifest shard is written) to the last shard's _stats.json (a shard's last file).

Network settings for both: --concurrency requests in flight per process (default 64, wit's default) and the
same per-host cap (default 64, not wit's 16: every URL here is on one host, 127.0.0.1, so a cap of 16 would
measure the politeness limit, not the software), total timeout 30 s, retries as wit's defaults.

Balancing barely bites on this input whatever --balance-t is: the 10,000 captions are cycled, and nearly every
caption matches some rare query whose count stays near N / 10,000, so it keeps its pair (MetaCLIP's rule: kept
when any matched query's draw succeeds).

--skip-download runs the curation alone (no images, no bare run) and prints its CPU per candidate: run it at
two sizes and take the difference for the per-candidate cost that docs/scaling.md uses.

--curation-cost measures that cost against its floor, in one run: --repeat rounds (default 3), each one
`wit build --skip-download` over N/5 and over N candidates (Beam, embedded runner, one process, its own
child) and the stages' plain-Python cores over the N candidates (benchmarks/_stage_cores.py, in a child of
its own: the same reading, rules, models, draws, plan and writers, no Beam), in alternating order. Beam's
cost per candidate is the slope between the two sizes (fixed start-up cancels out; its share of the large
run is printed); the cores' is their CPU over the N candidates, models' set-up apart. Target: Beam <= 1.3x
the cores. The cores' manifest/, rejected/ and query_counts.parquet must be byte-identical to the
pipeline's, or the comparison is void (checked every round).

Usage (from the project root)
  .venv/bin/python benchmarks/pipeline.py [--candidates N] [--runner embedded|multi] [--balance-t T]
        [--images auto|files|generated] [--bare-shards K] [--no-bare] [--skip-download]
        [--curation-cost [--repeat R]] [--json PATH] [--keep | --workdir DIR]
"""
from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's packages, even when not installed
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common

from _common import Measured, exit_on_sigterm, run_measured, tail, wit_bin  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
WEB_1K = SHARED / "flickr8k" / "web_1k"
CAPTIONS = SHARED / "captions" / "laion_style_10000.parquet"
QUERIES = SHARED / "queries" / "proxy_500k.json"

TARGET_RATIO = 0.80  # pipeline images/s over bare downloader images/s, at least
DISTINCT_IMAGES = 1000
# What the child process runs: the whole job through the project's entry point, the summary on stdout.
CHILD = ("import json, sys\nfrom wit_pipeline.pipeline import run\n"
         "print('SUMMARY ' + json.dumps(run(sys.argv[1:])), flush=True)\n")
RUNNERS = {
    "embedded": (["--runner=FnApiRunner"], 1),
    "multi": (["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"], 2),
}
_GENERATED_SIZES = [(500, 375), (375, 500), (640, 480), (400, 300), (800, 600), (333, 500)]
_PHRASES = ["a red fox sitting in the snow", "a bowl of ramen with a boiled egg", "the old bridge in fog",
            "a golden retriever puppy playing with a ball", "sunset over the ocean", "a vintage car on a road",
            "a mountain lake surrounded by pine trees", "a plate of fresh sushi", "a city market selling bread"]


# ---------------------------------------------------------------------------------------------- inputs

def image_paths(kind: str) -> tuple[str | None, list[str], str]:
    """(folder served at /files/ or None, the 1000 URL paths, a description)."""
    if kind in ("auto", "files") and WEB_1K.is_dir():
        names = sorted(p.name for p in WEB_1K.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        names = names[:DISTINCT_IMAGES]
        if names:
            return (str(WEB_1K), [f"/files/{urllib.parse.quote(n)}" for n in names],
                    f"{len(names)} Flickr8k photos (about 500x375, 55 KB) from {WEB_1K}")
    if kind == "files":
        raise SystemExit(f"--images files: {WEB_1K} not found")
    rng = random.Random(0)
    paths = []
    for seed in range(DISTINCT_IMAGES):
        w, h = rng.choice(_GENERATED_SIZES)
        paths.append(f"/img/{seed}_{w}x{h}.jpg")
    return None, paths, f"{DISTINCT_IMAGES} generated JPEGs (333-800 px) from the test web's /img/"


def load_captions() -> tuple[list[str], str]:
    if CAPTIONS.is_file():
        import pyarrow.parquet as pq

        texts = [t for t in pq.read_table(CAPTIONS, columns=["TEXT"]).column("TEXT").to_pylist() if t]
        return texts, f"{len(texts)} real alt texts from {CAPTIONS.name} (TEXT), cycled"
    rng = random.Random(1)
    texts = [f"{rng.choice(_PHRASES)} {i}" for i in range(10_000)]
    return texts, "generated English phrases (the LAION-style captions file is absent)"


def queries_path() -> tuple[str, str]:
    if QUERIES.is_file():
        return str(QUERIES), f"{QUERIES.name} (500k queries, a proxy of CLIP's list)"
    from queries import DEFAULT_QUERIES

    return str(DEFAULT_QUERIES), f"the package's default list {Path(str(DEFAULT_QUERIES)).name}"


def write_candidates(path: Path, base_url: str, paths: list[str], captions: list[str], n: int) -> None:
    """n rows: the images cycled with ?i=N (every URL distinct), the captions cycled."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    urls = [f"{base_url}{paths[i % len(paths)]}?i={i}" for i in range(n)]
    texts = [captions[i % len(captions)] for i in range(n)]
    pq.write_table(pa.table({"url": urls, "caption": texts}), path)


def warm_up(base_url: str, paths: list[str]) -> None:
    """One request per distinct image: the test web then serves them all from memory."""
    def fetch(path: str) -> None:
        with urllib.request.urlopen(base_url + path, timeout=60) as resp:
            resp.read()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fetch, paths))


# ---------------------------------------------------------------------------------------------- runs

def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def pipeline_argv(args, candidates: Path, queries: str, out: Path) -> list[str]:
    return [
        "--input", str(candidates), "--input-kind", "manifest", "--url-col", "url", "--caption-col", "caption",
        "--queries", queries, "--output", str(out), "--languages", "all", "--balance-t", str(args.balance_t),
        "--shard-size", str(args.shard_size), "--image-size", str(args.image_size),
        "--concurrency", str(args.concurrency), "--per-host-concurrency", str(args.per_host_concurrency),
        "--total-timeout", str(args.download_timeout), "--allow-network", "127.0.0.0/8",
    ] + RUNNERS[args.runner][0]


def bare_command(args, manifests: list[str], out: Path, summary_json: Path) -> list[str]:
    return wit_bin(fallback_module=True) + [
                        "download", *manifests, "--output", str(out), "--url-col", "url", "--caption-col", "text",
                        "--image-size", str(args.image_size), "--resize-mode", "keep_ratio",
                        "--encode-format", "jpg", "--encode-quality", "95",
                        "--processes", str(RUNNERS[args.runner][1]), "--shard-size", str(args.shard_size),
                        "--concurrency", str(args.concurrency),
                        "--per-host-concurrency", str(args.per_host_concurrency),
                        "--total-timeout", str(args.download_timeout), "--allow-network", "127.0.0.0/8",
                        "--no-progress", "--summary-json", str(summary_json)]


def parquet_rows(pattern: str, columns: list[str]) -> list[dict]:
    import pyarrow.parquet as pq

    rows: list[dict] = []
    for f in sorted(glob.glob(pattern)):
        rows.extend(pq.read_table(f, columns=columns).to_pylist())
    return rows


def shard_stats(folder: Path) -> dict:
    successes = rows = 0
    statuses: collections.Counter = collections.Counter()
    for path in sorted(folder.glob("*_stats.json")):
        stats = json.loads(path.read_text())
        successes += int(stats["successes"])
        rows += int(stats["count"])
        statuses.update(stats["status_counts"])
    return {"successes": successes, "rows": rows, "statuses": dict(statuses),
            "shards": len(list(folder.glob("*.tar")))}


def account(out: Path, n_input: int, summary: dict, downloaded: bool = True
            ) -> tuple[list[tuple[str, bool, str]], dict]:
    """Every accounting check as (what, ok, figures), and the figures (no shard checks without a download)."""
    stages = summary.get("stages", {})
    rejected = parquet_rows(f"{out}/rejected/part-*.parquet", ["stage", "reason"])
    manifest = parquet_rows(f"{out}/manifest/*.parquet", ["uid"])
    shard_rows = parquet_rows(f"{out}/shards/*.parquet", ["uid", "status"])
    candidates = stages.get("crawl", {}).get("candidates", -1)
    sizes_path = out / "shards" / "sizes.json"
    sizes = json.loads(sizes_path.read_text()) if sizes_path.is_file() else {}
    successes = sum(r["status"] == "success" for r in shard_rows)
    checks = [
        ("input rows == crawl candidates", n_input == candidates, f"{n_input} == {candidates}"),
        ("candidates == rejected rows + manifest rows", candidates == len(rejected) + len(manifest),
         f"{candidates} == {len(rejected)} + {len(manifest)}"),
    ]
    shard_checks = [
        ("shard Parquet rows == manifest rows", len(shard_rows) == len(manifest),
         f"{len(shard_rows)} == {len(manifest)}"),
        ("shard Parquet uids == manifest uids",
         sorted(r["uid"] for r in shard_rows) == sorted(r["uid"] for r in manifest), ""),
        ("sizes.json == successes == download counter",
         sum(sizes.values()) == successes == stages.get("download", {}).get("success", -1),
         f"{sum(sizes.values())} == {successes} == {stages.get('download', {}).get('success')}"),
    ]
    if downloaded:
        checks += shard_checks
    for stage in ("text", "language", "dedup", "match", "balance"):
        c = stages.get(stage, {})
        drops = sum(v for k, v in c.items() if k.startswith("dropped."))
        checks.append((f"{stage}: in == out + drops", c.get("in") == c.get("out", 0) + drops,
                       f"{c.get('in')} == {c.get('out')} + {drops}"))
    by_reason = collections.Counter((r["stage"], r["reason"]) for r in rejected)
    mismatched = {f"{s}/{r}": (n, stages.get(s, {}).get(f"dropped.{r}"))
                  for (s, r), n in by_reason.items() if stages.get(s, {}).get(f"dropped.{r}") != n}
    checks.append(("rejected/ rows per reason == counters", not mismatched, str(mismatched) if mismatched else ""))
    figures = {"candidates": candidates, "rejected": len(rejected), "manifest": len(manifest),
               "shard_rows": len(shard_rows), "successes": successes,
               "rejected_by_reason": {f"{s}/{r}": n for (s, r), n in sorted(by_reason.items())}}
    return checks, figures


def download_window(out: Path) -> float | None:
    """Seconds from the last balanced-manifest shard written to the last shard's stats file written."""
    manifests = glob.glob(f"{out}/manifest/*.parquet")
    stats = glob.glob(f"{out}/shards/*_stats.json")
    if not manifests or not stats:
        return None
    return max(os.path.getmtime(p) for p in stats) - max(os.path.getmtime(p) for p in manifests)


def measured_dict(m: Measured, load_before: float) -> dict:
    return {"returncode": m.returncode, "timed_out": m.timed_out, "wall_s": round(m.wall_s, 2),
            "cpu_s": round(m.cpu_s, 2), "peak_rss_mb": round(m.peak_rss_bytes / 2**20, 1), "rss_samples": m.samples,
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


def load_note(measured: dict) -> str:
    return f"1-minute load average {measured['load_before']:.1f} -> {measured['load_after']:.1f}"


def run_pipeline(args, workdir: Path, candidates: Path, queries: str) -> dict:
    out = workdir / "corpus"
    log = workdir / "pipeline.log"
    argv = pipeline_argv(args, candidates, queries, out) + (["--skip-download"] if args.skip_download else [])
    print(f"Running the pipeline ({args.runner} runner) over {args.candidates} candidates ...", flush=True)
    load = os.getloadavg()[0]
    m = run_measured([sys.executable, "-c", CHILD, *argv], log_path=str(log), env=child_env(), cwd=str(workdir),
                     timeout=args.timeout)
    result = {"argv": argv, "measured": measured_dict(m, load), "out": out, "ok": m.returncode == 0 and not m.timed_out}
    if not result["ok"]:
        why = "timed out" if m.timed_out else f"exit code {m.returncode}"
        print(f"\n!! the pipeline failed ({why}); last lines of its output:\n{tail(str(log))}", file=sys.stderr)
        return result
    summary_path = out / "summary.json"
    result["summary"] = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    result["shards"] = shard_stats(out / "shards")
    result["download_window_s"] = None if args.skip_download else download_window(out)
    return result


def run_bare(args, workdir: Path, pipeline_out: Path) -> dict:
    every = sorted(glob.glob(f"{pipeline_out}/manifest/*.parquet"))
    manifests = every[:args.bare_shards] if args.bare_shards else every
    out = workdir / "bare"
    log = workdir / "bare.log"
    summary_json = workdir / "bare_summary.json"
    cmd = bare_command(args, manifests, out, summary_json)
    print(f"Running the bare downloader (`wit download`, {RUNNERS[args.runner][1]} process(es)) over the "
          f"{len(manifests)} of the {len(every)} manifest shards ...", flush=True)
    load = os.getloadavg()[0]
    m = run_measured(cmd, log_path=str(log), env=child_env(), cwd=str(workdir), timeout=args.timeout)
    result = {"command": cmd, "measured": measured_dict(m, load), "ok": m.returncode == 0 and not m.timed_out,
              "manifest_shards": len(manifests), "of_shards": len(every)}
    if not result["ok"]:
        why = "timed out" if m.timed_out else f"exit code {m.returncode}"
        print(f"\n!! the bare downloader failed ({why}); last lines of its output:\n{tail(str(log))}",
              file=sys.stderr)
    result["shards"] = shard_stats(out) if out.is_dir() else {"successes": 0, "rows": 0, "statuses": {},
                                                               "shards": 0}
    return result


# ---------------------------------------------------------------------------------------------- curation cost

CORES = Path(__file__).resolve().parent / "_stage_cores.py"
CURATION_TARGET = 1.3  # Beam's CPU per candidate over the stage cores', at most
_COMPARED = ("query_counts.parquet", "manifest/*.parquet", "rejected/*.parquet")


def same_files(a: Path, b: Path) -> list[str]:
    """The compared files that differ (or exist on one side only) between two outputs."""
    names = sorted({str(p.relative_to(root)) for root in (a, b) for pattern in _COMPARED for p in root.glob(pattern)})
    return [n for n in names if not ((a / n).is_file() and (b / n).is_file()
                                     and (a / n).read_bytes() == (b / n).read_bytes())]


def run_curation(args, workdir: Path, files: dict, queries: str, round_no: int) -> dict:
    """One round: Beam at both sizes and the cores at the large one, in an order that alternates by round."""
    small, large = sorted(files)
    runs = [("beam", small), ("beam", large), ("cores", large)]
    if round_no % 2:
        runs.reverse()
    out: dict = {}
    for kind, n in runs:
        folder = workdir / f"{kind}_{n}_{round_no}"
        argv = [a for a in pipeline_argv(args, files[n], queries, folder) if not a.startswith("--runner")]
        if kind == "beam":
            cmd = [sys.executable, "-c", CHILD, *argv, "--skip-download", *RUNNERS["embedded"][0]]
        else:
            cmd = [sys.executable, str(CORES), str(folder), *[a for a in argv if a != str(folder) and a != "--output"],
                   "--skip-download"]
        load = os.getloadavg()[0]
        log = workdir / f"{kind}_{n}_{round_no}.log"
        m = run_measured(cmd, log_path=str(log), env=child_env(), cwd=str(workdir), timeout=args.timeout)
        result = {"kind": kind, "candidates": n, **measured_dict(m, load), "folder": folder}
        if m.returncode or m.timed_out:
            raise SystemExit(f"{kind} over {n} candidates failed; last lines:\n{tail(str(log))}")
        if kind == "cores":
            line = next(x for x in Path(log).read_text().splitlines() if x.startswith("CORES "))
            result["cores"] = json.loads(line[len("CORES "):])
        print(f"  round {round_no + 1}: {kind:5s} {n:>7} candidates: CPU {m.cpu_s:6.1f} s, wall {m.wall_s:6.1f} s, "
              f"{load_note(result)}", flush=True)
        out[(kind, n)] = result
    differ = same_files(out[("beam", large)]["folder"], out[("cores", large)]["folder"])
    for result in out.values():
        shutil.rmtree(result.pop("folder"), ignore_errors=True)
    small_cpu, large_cpu = out[("beam", small)]["cpu_s"], out[("beam", large)]["cpu_s"]
    slope = (large_cpu - small_cpu) / (large - small)
    stages = {k: v for k, v in out[("cores", large)]["cores"]["seconds"].items() if not k.startswith("setup")}
    return {"beam_us": 1e6 * slope, "cores_us": 1e6 * sum(stages.values()) / large,
            "stage_us": {k: 1e6 * v / large for k, v in stages.items()},
            "startup_share": max(0.0, large_cpu - slope * large) / large_cpu, "identical": not differ,
            "differ": differ, "runs": [{k: v for k, v in r.items()} for r in out.values()]}


def curation_cost(args, workdir: Path, captions: list[str], paths: list[str], base_url: str, queries: str) -> dict:
    small = max(1, args.candidates // 5)
    files = {}
    for n in (small, args.candidates):
        files[n] = workdir / f"candidates_{n}.parquet"
        write_candidates(files[n], base_url, paths, captions, n)
    print(f"Curation cost: {args.repeat} rounds of Beam over {small} and {args.candidates} candidates and the "
          f"stage cores over {args.candidates} ...", flush=True)
    rounds = [run_curation(args, workdir, files, queries, i) for i in range(args.repeat)]
    return {"small": small, "large": args.candidates, "rounds": rounds}


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.0f} (range {min(values):.0f}-{max(values):.0f})"


def report_curation(header: list[str], cost: dict) -> bool:
    print()
    for line in header:
        print(line)
    rounds = cost["rounds"]
    beam, cores = [r["beam_us"] for r in rounds], [r["cores_us"] for r in rounds]
    ratios = [r["beam_us"] / r["cores_us"] for r in rounds]
    loads = [x for r in rounds for run in r["runs"] for x in (run["load_before"], run["load_after"])]
    print(f"\nCuration CPU per candidate, {len(rounds)} rounds ({cost['small']} and {cost['large']} candidates), "
          f"1-minute load {min(loads):.1f}-{max(loads):.1f}:")
    print(f"  Beam (embedded runner, slope between the sizes): {spread(beam)} us")
    print(f"  stage cores, plain Python, the same work:        {spread(cores)} us")
    for stage in rounds[0]["stage_us"]:
        print(f"    {stage:9s} {statistics.median(r['stage_us'][stage] for r in rounds):6.1f} us")
    print(f"  fixed start-up of the Beam run over {cost['large']}: "
          f"{100 * statistics.median(r['startup_share'] for r in rounds):.0f}% of its CPU (the slope leaves it out)")
    ratio = statistics.median(ratios)
    ok = ratio <= CURATION_TARGET
    print(f"  Beam / cores: median {ratio:.2f} (range {min(ratios):.2f}-{max(ratios):.2f}), target <= "
          f"{CURATION_TARGET}: {'PASS' if ok else 'FAIL'}")
    identical = all(r["identical"] for r in rounds)
    print(f"  the cores wrote the pipeline's manifest/, rejected/ and query_counts.parquet byte for byte: "
          f"{'yes, every round' if identical else 'NO: ' + str([r['differ'] for r in rounds])}")
    if max(loads) - min(loads) > 1.0:
        print(f"  note: the load moved between {min(loads):.1f} and {max(loads):.1f}: other work skews these")
    return identical


# ---------------------------------------------------------------------------------------------- report

def rate(n: int, seconds: float | None) -> float | None:
    return n / seconds if seconds else None


def fmt(value, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def report(args, header: list[str], pipe: dict, checks, figures, bare: dict | None) -> dict:
    print()
    for line in header:
        print(line)
    m = pipe["measured"]
    images = pipe["shards"]["successes"]
    wall = m["wall_s"]
    print(f"\nPipeline ({args.runner} runner): wall {wall:.1f} s (start-up and imports included; "
          f"Beam's own timer {pipe['summary'].get('seconds')} s), CPU {m['cpu_s']:.1f} s, "
          f"peak RSS {m['peak_rss_mb']:.0f} MB (process tree, {m['rss_samples']} samples); {load_note(m)}")
    print(f"  candidates {figures['candidates']} -> manifest {figures['manifest']} -> images "
          f"{images} in {pipe['shards']['shards']} shards")
    print(f"  end to end: {fmt(rate(images, wall))} pairs/s (downloaded images / wall), "
          f"{fmt(rate(figures['candidates'], wall), '.0f')} candidates/s")
    if args.skip_download:
        print(f"  curation only (--skip-download): {1e6 * m['cpu_s'] / figures['candidates']:.0f} us CPU per "
              f"candidate, start-up and imports included (run two sizes and take the difference for the "
              f"per-candidate slope)")
    print("Per-stage counters (summary.json):")
    for stage, counters in pipe["summary"].get("stages", {}).items():
        print(f"  {stage:9s} " + ", ".join(f"{k} {v}" for k, v in counters.items()))
    statuses = {k: v for k, v in pipe["shards"]["statuses"].items() if k != "success"}
    if statuses:
        print(f"  failed downloads: {statuses}")
    print("Accounting:")
    for what, ok, detail in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else ""))

    verdict: dict = {"accounted": all(ok for _, ok, _ in checks), "pipeline_images_per_s": rate(images, wall)}
    window = pipe.get("download_window_s")
    if window:
        verdict["download_stage_s"] = window
        verdict["download_stage_share"] = window / wall
        verdict["download_stage_images_per_s"] = rate(images, window)
        print(f"Download stage: about {window:.1f} s of {wall:.1f} s ({100 * window / wall:.0f}%), "
              f"{fmt(rate(images, window))} images/s within it (last manifest shard written -> last shard "
              f"stats written); everything before it: {wall - window:.1f} s")
    if bare is not None:
        bm = bare["measured"]
        bare_images = bare["shards"]["successes"]
        bare_rate = rate(bare_images, bm["wall_s"])
        verdict["bare_images_per_s"] = bare_rate
        print(f"\nBare downloader (`wit download`, {RUNNERS[args.runner][1]} process(es), {bare['manifest_shards']} of "
              f"the pipeline's {bare['of_shards']} shard manifests): "
              f"{bare_images}/{bare['shards']['rows']} images in {bm['wall_s']:.1f} s = {fmt(bare_rate)} images/s, "
              f"CPU {bm['cpu_s']:.1f} s, peak RSS {bm['peak_rss_mb']:.0f} MB; {load_note(bm)}")
        bad = {k: v for k, v in bare["shards"]["statuses"].items() if k != "success"}
        if bad:
            print(f"  failed downloads: {bad}")
        if images and bare_rate:
            ratio = rate(images, wall) / bare_rate
            verdict["ratio"] = ratio
            verdict["ratio_ok"] = ratio >= TARGET_RATIO
            print()
            print(f"{'pipeline images/s / bare downloader images/s:':<52}{ratio:6.2f}   "
                  f"({rate(images, wall):.1f} / {bare_rate:.1f})   target >= {TARGET_RATIO:.2f}: "
                  f"{'PASS' if verdict['ratio_ok'] else 'FAIL'}")
            if window:
                stage_ratio = rate(images, window) / bare_rate
                verdict["download_stage_ratio"] = stage_ratio
                print(f"{'download stage images/s / bare images/s:':<52}{stage_ratio:6.2f}   "
                      f"(information: the pipeline's download stage alone, without the stages before it)")
            cpu_pipe, cpu_bare = m["cpu_s"] / images, bm["cpu_s"] / max(1, bare_images)
            print(f"{'CPU ms per image, pipeline / bare:':<52}{1000 * cpu_pipe:6.2f} / {1000 * cpu_bare:.2f}   "
                  f"(the pipeline's includes curation)")
            loads = [m["load_before"], m["load_after"], bm["load_before"], bm["load_after"]]
            if max(loads) - min(loads) > 1.0:
                print(f"note: the two runs are sequential and the machine's load moved between "
                      f"{min(loads):.1f} and {max(loads):.1f} meanwhile: other work skews this ratio; "
                      f"rerun on a quiet machine")
    return verdict


# ---------------------------------------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--candidates", type=int, default=100_000, help="candidates pushed through (default 100,000)")
    p.add_argument("--runner", choices=sorted(RUNNERS), default="embedded",
                   help="embedded: FnApiRunner in one process (bare downloader: 1 process); multi: "
                        "--direct_running_mode=multi_processing --direct_num_workers=2 (bare: 2 processes)")
    p.add_argument("--balance-t", type=int, default=200,
                   help="MetaCLIP's per-query cap, scaled down to the sample (default 200; 20,000 is for "
                        "400M-pair runs and would keep everything here)")
    p.add_argument("--shard-size", type=int, default=10_000, help="rows per shard (wit build's default 10,000)")
    p.add_argument("--image-size", type=int, default=256, help="wit build's default 256")
    p.add_argument("--concurrency", type=int, default=64, help="requests in flight per process, both tools")
    p.add_argument("--per-host-concurrency", type=int, default=64,
                   help="per-host cap, both tools (one host here: wit's default 16 would measure politeness)")
    p.add_argument("--download-timeout", type=float, default=30.0, help="total timeout per request, both tools")
    p.add_argument("--images", choices=["auto", "files", "generated"], default="auto",
                   help="auto: the Flickr8k files when present, else generated")
    p.add_argument("--bare-shards", type=int, default=4,
                   help="the bare downloader runs over the first K of the pipeline's shard manifests (default 4: "
                        "about 40,000 rows, which keeps the default run near 8 minutes on 2 cores; 0 = all)")
    p.add_argument("--no-bare", action="store_true", help="skip the bare downloader run")
    p.add_argument("--skip-download", action="store_true",
                   help="curation only (wit build --skip-download, no bare run): candidates/s and CPU per candidate "
                        "of everything before the download")
    p.add_argument("--curation-cost", action="store_true",
                   help="Beam's curation CPU per candidate (slope between N/5 and N) against the stage cores in "
                        "plain Python over the same N, --repeat rounds; no download")
    p.add_argument("--repeat", type=int, default=3, help="rounds of --curation-cost (default 3)")
    p.add_argument("--timeout", type=float, default=1200, help="seconds before one run is stopped")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the work folder and print it")
    p.add_argument("--workdir", metavar="DIR",
                   help="work in this (new or empty) folder and keep it: candidates.parquet, corpus/ (the "
                        "pipeline's output), bare/, logs")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.bare_shards < 0:
        p.error("--bare-shards must be 0 (all) or more")
    for name in ("candidates", "balance_t", "shard_size", "image_size", "concurrency", "per_host_concurrency"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    from wit_pipeline.testbed.server import start_subprocess

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    if args.workdir:  # kept afterwards: the tests read the outputs
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        if any(workdir.iterdir()):
            raise SystemExit(f"--workdir {workdir} is not empty")
        args.keep = True
    else:
        workdir = Path(tempfile.mkdtemp(prefix="wit-bench-pipeline-"))
    try:
        files_dir, paths, images_described = image_paths(args.images)
        captions, captions_described = load_captions()
        queries, queries_described = queries_path()
        candidates = workdir / "candidates.parquet"
        if args.curation_cost:  # nothing is downloaded: no web, no warm-up
            cost = curation_cost(args, workdir, captions, paths, "http://127.0.0.1:9", queries)
            ok = report_curation([
                f"Curation cost: {os.cpu_count()} CPUs, Python {platform.python_version()}, 1-minute load "
                f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after",
                f"  captions: {captions_described}; queries: {queries_described}",
                f"  --languages all, --balance-t {args.balance_t}, shards of {args.shard_size}"], cost)
            print(f"\n(total benchmark time {time.perf_counter() - started:.0f} s)")
            if args.json:
                Path(args.json).write_text(json.dumps({"benchmark": "curation_cost", **cost}, indent=2, default=str))
            return 0 if ok else 1
        with start_subprocess(files_dir=files_dir) as web:
            write_candidates(candidates, web.base_url, paths, captions, args.candidates)
            print(f"Test web at {web.base_url} (pid {web.pid}); warming it up ...", flush=True)
            warm_up(web.base_url, paths)
            pipe = run_pipeline(args, workdir, candidates, queries)
            if not pipe["ok"]:
                return 1
            checks, figures = account(pipe["out"], args.candidates, pipe["summary"], not args.skip_download)
            bare = None if args.no_bare or args.skip_download else run_bare(args, workdir, pipe["out"])
        header = [
            f"Pipeline benchmark: {args.candidates} candidates, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}; 1-minute load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after (other work on the machine skews timings).",
            f"  images: {images_described}, cycled with ?i=N (distinct URLs), test web on 127.0.0.1 in its "
            f"own process",
            f"  captions: {captions_described}; queries: {queries_described}",
            f"  --languages all (the language stage identifies every text, drops nothing), --balance-t "
            f"{args.balance_t}, shards of {args.shard_size}, {args.image_size} px keep_ratio JPEG q95, "
            f"{args.concurrency} in flight per process, {args.per_host_concurrency} per host",
            "  wit build " + " ".join(pipe["argv"]).replace(str(workdir), "WORK"),
        ]
        if bare is not None:
            header.append("  " + " ".join(bare["command"][1:]).replace(str(workdir), "WORK")[:400]
                          + (" ..." if len(" ".join(bare["command"])) > 400 else ""))
        verdict = report(args, header, pipe, checks, figures, bare)
        print(f"\n(total benchmark time {time.perf_counter() - started:.0f} s)")
        if args.json:
            doc = {"benchmark": "pipeline", "candidates": args.candidates, "runner": args.runner,
                   "cpus": os.cpu_count(), "python": platform.python_version(), "images": images_described,
                   "captions": captions_described, "queries": queries_described,
                   "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
                   "pipeline": {k: v for k, v in pipe.items() if k != "out"}, "accounting": figures,
                   "checks": [{"check": w, "ok": ok, "detail": d} for w, ok, d in checks],
                   "bare": bare, "target_ratio": TARGET_RATIO, **verdict}
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(doc, indent=2, default=str) + "\n")
            print(f"Figures written to {args.json}")
        failed = not verdict["accounted"] or (bare is not None and not bare["ok"])
        return 1 if failed else 0
    finally:
        if args.keep:
            print(f"Work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
