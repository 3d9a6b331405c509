"""Crawl benchmark: WAT records per second on one core, wit's extraction beside cc2dataset's, in the same run;
and WARC HTML pages per second.

What it measures
  WAT: a WAT built by repeating ../shared/data/warc/derived_cc2020-34.wat.gz (or the test fixture copy) N
  times (default 1000: 50,000 records, 12,000 of them pages with image links). Each tool reads it from
  the start to the last candidate in a child process pinned to one CPU (os.sched_setaffinity):
    - wit: transforms.crawl.wat.read_wat, the plain-Python core that the Beam DoFn runs (the C gzip-member
      scanner with libdeflate, orjson, slice parsing of the image links), and the same function without
      the scanner (FastWARC 2.0.0 reads every record: what runs where no C compiler was found);
    - cc2dataset 1.5.0: cc2dataset.main.process_wat(path, "image"), its public per-WAT function (FastWARC
      plus simdjson, one full JSON parse per record), from its own virtualenv .bench/cc2dataset-venv,
      created on the first run (pip install cc2dataset==1.5.0 fastwarc==2.0.0: the same FastWARC as
      wit's, so the WARC reader is the same on both sides). When it cannot be installed or imported, the
      benchmark runs a faithful copy of its extraction loop (extract_documents_from_wat for images, from
      rom1504/cc2dataset cc2dataset/main.py) instead, and says so in the table.
  records/s = WARC records in the file / CPU seconds (user + system) of the extraction; the wall rate is
  printed too. Both tools' (url, alt) pairs are compared: they must be the same multiset.
  WARC: transforms.crawl.warc.read_warc over the real CC-MAIN-2020-34 WARC repeated M times (default 100:
  1,600 HTML pages): HTML pages per CPU second, and candidates per second.

Target (printed): wit at least 40,000 WAT records/s on one core. On a shared machine the absolute figures
move by 15% or more from run to run; the ratio, taken in the same run, is the steadier figure.

Usage (from the project root)
  .venv/bin/python benchmarks/crawl.py [--copies N] [--warc-copies M] [--repeat R] [--json PATH]
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peer_venv  # noqa: E402
DATA = ROOT.parent / "shared" / "data" / "warc"
FIXTURES = ROOT / "tests" / "fixtures" / "warc"
WAT_NAME = "derived_cc2020-34.wat.gz"
WARC_NAME = "cc-main-2020-34-sample.warc.gz"

CC2DATASET_VERSION = "1.5.0"
CC2DATASET_VENV = ROOT / ".bench" / "cc2dataset-venv"
CC2DATASET_PINS = ["fastwarc==2.0.0"]  # the FastWARC wit pins: the same reader on both sides
TARGET_RECORDS_PER_S = 40_000

# Runs in a child process: pins itself to one CPU, times one tool over one file, prints JSON.
RUNNER = r'''
import json, os, sys, time
tool, path, cpu, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.sched_setaffinity(0, {cpu})

def wit_wat():
    from transforms.crawl.options import CrawlOptions
    from transforms.crawl.stats import FileStats
    from transforms.crawl.wat import read_wat
    options = CrawlOptions()
    def run():
        stats = FileStats(path)
        pairs = [(c["url"], c["text"]) for c in read_wat(path, options, stats)]
        return stats.records, pairs, stats.errors
    return run, "transforms.crawl.wat.read_wat"

def wit_wat_fastwarc():
    from transforms.crawl import gzscan
    gzscan.Scanner = None  # as when the C scanner was not built: FastWARC reads every record
    run, _ = wit_wat()
    return run, "transforms.crawl.wat.read_wat without the C scanner"

def wit_warc():
    from transforms.crawl.options import CrawlOptions
    from transforms.crawl.stats import FileStats
    from transforms.crawl.warc import read_warc
    options = CrawlOptions()
    def run():
        stats = FileStats(path)
        pairs = [(c["url"], c["text"]) for c in read_warc(path, options, stats)]
        return stats.pages, pairs, stats.errors
    return run, "transforms.crawl.warc.read_warc"

def count_records():
    from fastwarc.warc import ArchiveIterator
    with open(path, "rb") as f:
        return sum(1 for _ in ArchiveIterator(f, parse_http=False))

def cc2dataset_wat():
    records = count_records()
    try:
        import logging
        from loguru import logger
        logger.remove()  # it logs a line per WAT; keep the timing clean
        from cc2dataset.main import process_wat
        def run():
            pairs = [(url, alt) for _uid, url, alt, _name, _page in process_wat(path, "image")]
            return records, pairs, []
        return run, "cc2dataset.main.process_wat (installed package)"
    except Exception as e:  # a faithful copy of its loop (cc2dataset/main.py, extract_documents_from_wat)
        reason = f"{type(e).__name__}: {e}"
    import hashlib
    from io import BytesIO
    from urllib.parse import urljoin
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    try:
        import simdjson
        load = simdjson.load
        parser = "simdjson"
    except ImportError:
        load = json.load
        parser = "json (pysimdjson missing)"
    def extract(stream):
        all_links = []
        for record in ArchiveIterator(stream, record_types=WarcRecordType.metadata, parse_http=False):
            try:
                record_data = load(record.reader)
            except Exception:
                continue
            envelope = record_data["Envelope"]
            payload = envelope["Payload-Metadata"]
            if "HTTP-Response-Metadata" not in payload:
                continue
            http_resp = payload["HTTP-Response-Metadata"]
            if "HTML-Metadata" not in http_resp:
                continue
            metadata = http_resp["HTML-Metadata"]
            if "Links" not in metadata:
                continue
            links = metadata["Links"]
            cc_filename = record_data["Container"]["Filename"]
            page_url = envelope["WARC-Header-Metadata"]["WARC-Target-URI"]
            base_url = page_url
            if "Head" in metadata and "Base" in metadata["Head"]:
                try:
                    base_url = urljoin(base_url, metadata["Head"]["Base"])
                except ValueError:
                    pass
            filtered = [{"url": l["url"], "alt": l["alt"]} for l in links
                        if l.get("path", "") == "IMG@/src" and len(l.get("alt", "")) > 0]
            filtered = [{"url": l["url"] if l["url"].startswith(("http://", "https://")) else urljoin(base_url, l["url"]),
                         "alt": l["alt"]} for l in filtered]
            filtered = [l for l in filtered if l["url"].startswith(("http://", "https://"))]
            for l in filtered:
                l["uid"] = hashlib.md5((l["alt"] + l["url"]).encode()).hexdigest()
                l["cc_filename"] = cc_filename
                l["page_url"] = page_url
            all_links.extend(filtered)
        return all_links
    def run():
        with open(path, "rb") as f:
            stream = BytesIO(f.read())
        return records, [(l["url"], l["alt"]) for l in extract(stream)], []
    return run, f"REIMPLEMENTED cc2dataset loop with {parser} (package unusable: {reason})"

run, what = {"wit-wat": wit_wat, "wit-wat-fastwarc": wit_wat_fastwarc, "wit-warc": wit_warc,
             "cc2dataset-wat": cc2dataset_wat}[tool]()
run()  # warm-up: imports, page cache
results = []
for _ in range(repeat):
    cpu0, wall0 = time.process_time(), time.perf_counter()
    units, pairs, errors = run()
    results.append({"cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0})
print(json.dumps({"what": what, "units": units, "pairs": sorted(pairs), "errors": errors, "runs": results}))
'''


@functools.lru_cache(maxsize=None)
def cc2dataset_python() -> tuple[Path | None, str]:
    """The Python of cc2dataset's own virtualenv (created on first use), or None and why not."""
    python = CC2DATASET_VENV / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('cc2dataset'), m.version('fastwarc'))"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.split() == [CC2DATASET_VERSION, "2.0.0"]:
            return python, ""
    try:
        pip = peer_venv(CC2DATASET_VENV, f"cc2dataset {CC2DATASET_VERSION}")
        subprocess.run(pip + [f"cc2dataset=={CC2DATASET_VERSION}", *CC2DATASET_PINS], check=True)
    except (subprocess.CalledProcessError, OSError) as e:
        return (python if python.exists() else None), f"install failed: {e}"
    return python, ""


def build_inputs(workdir: Path, copies: int, warc_copies: int) -> tuple[Path, Path, str]:
    folder = DATA if (DATA / WAT_NAME).is_file() else FIXTURES
    wat = workdir / "repeated.wat.gz"
    warc = workdir / "repeated.warc.gz"
    # Gzip members concatenate into a valid file: the copies read as one long WAT / WARC.
    wat.write_bytes((folder / WAT_NAME).read_bytes() * copies)
    warc.write_bytes((folder / WARC_NAME).read_bytes() * warc_copies)
    return wat, warc, str(folder)


def run_tool(tool: str, path: Path, cpu: int, repeat: int) -> dict:
    if tool.startswith("cc2dataset"):
        python, _ = cc2dataset_python()
        python = python or Path(sys.executable)
    else:
        python = Path(sys.executable)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(RUNNER)
        script = f.name
    try:
        done = subprocess.run([str(python), script, tool, str(path), str(cpu), str(repeat)], capture_output=True,
                              text=True, env=env, cwd=str(ROOT), timeout=3600)
    finally:
        os.unlink(script)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["cpu_s"] = statistics.median(r["cpu_s"] for r in result["runs"])
    result["wall_s"] = statistics.median(r["wall_s"] for r in result["runs"])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=1000, help="copies of the derived WAT (50 records each)")
    parser.add_argument("--warc-copies", type=int, default=100, help="copies of the real WARC (16 HTML pages each)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per tool (medians reported)")
    parser.add_argument("--cpu", type=int, default=None, help="the CPU to pin to (default: the last one)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    _, install_note = cc2dataset_python()

    with tempfile.TemporaryDirectory(prefix="wit-crawl-bench-") as tmp:
        wat, warc, source = build_inputs(Path(tmp), args.copies, args.warc_copies)
        # Alternate which tool goes first, so neither always gets the warmer machine.
        runs = {"wit-wat": [], "cc2dataset-wat": [], "wit-wat-fastwarc": []}
        for i in range(2):
            order = list(runs) if i == 0 else list(reversed(runs))
            for tool in order:
                runs[tool].append(run_tool(tool, wat, cpu, max(1, args.repeat // 2 + (i == 0 and args.repeat % 2))))
        merged = {}
        for tool, parts in runs.items():
            first = parts[0]
            all_runs = [r for p in parts for r in p["runs"]]
            merged[tool] = dict(first, runs=all_runs, cpu_s=statistics.median(r["cpu_s"] for r in all_runs),
                                wall_s=statistics.median(r["wall_s"] for r in all_runs))
        warc_result = run_tool("wit-warc", warc, cpu, args.repeat)
        wat_mb = wat.stat().st_size / 1e6
        warc_mb = warc.stat().st_size / 1e6

    w, c, wf = merged["wit-wat"], merged["cc2dataset-wat"], merged["wit-wat-fastwarc"]
    records = w["units"]
    w_rate, c_rate = records / w["cpu_s"], c["units"] / c["cpu_s"]
    same_pairs = w["pairs"] == c["pairs"]
    names = {"wit": "wit (read_wat)", "cc2dataset": f"cc2dataset {CC2DATASET_VERSION} (process_wat)"}
    if "REIMPLEMENTED" in c["what"]:
        names["cc2dataset"] = f"cc2dataset {CC2DATASET_VERSION} loop, REIMPLEMENTED"
    lines = [
        f"Crawl benchmark: one core (pinned to CPU {cpu}), {len(w['runs'])} timed runs per tool, medians; "
        f"Python {platform.python_version()}, {platform.machine()}",
        f"WAT input: {WAT_NAME} x {args.copies} = {records:,} records, {wat_mb:.1f} MB (from {source})",
        "",
        f"{'tool':<36} {'records/s':>10} {'wall rec/s':>11} {'CPU s':>7} {'pairs':>7}",
        f"{names['wit']:<36} {w_rate:>10,.0f} {records / w['wall_s']:>11,.0f} {w['cpu_s']:>7.3f} "
        f"{len(w['pairs']):>7,}",
        f"{names['cc2dataset']:<36} {c_rate:>10,.0f} {c['units'] / c['wall_s']:>11,.0f} {c['cpu_s']:>7.3f} "
        f"{len(c['pairs']):>7,}",
        f"{'wit without the C scanner (FastWARC)':<36} {wf['units'] / wf['cpu_s']:>10,.0f} "
        f"{wf['units'] / wf['wall_s']:>11,.0f} {wf['cpu_s']:>7.3f} {len(wf['pairs']):>7,}",
        "",
        f"wit: {w['what']}; cc2dataset: {c['what']}",
        f"best runs: wit {records / min(r['cpu_s'] for r in w['runs']):,.0f}, cc2dataset "
        f"{c['units'] / min(r['cpu_s'] for r in c['runs']):,.0f} records/s",
        f"ratio wit / cc2dataset (records per CPU second): {w_rate / c_rate:.2f}x",
        f"same (url, alt) pairs from all three: {'yes' if same_pairs and wf['pairs'] == w['pairs'] else 'NO'}",
        f"target: wit >= {TARGET_RECORDS_PER_S:,} WAT records/s on one core: "
        f"{'PASS' if w_rate >= TARGET_RECORDS_PER_S else 'FAIL'} ({w_rate:,.0f})",
    ]
    if install_note or "REIMPLEMENTED" in c["what"]:
        lines.append(f"NOTE: cc2dataset's own package was not used: {install_note or c['what']}")
    pages = warc_result["units"]
    lines += [
        "",
        f"WARC input: {WARC_NAME} x {args.warc_copies} = {pages:,} HTML pages, {warc_mb:.1f} MB",
        f"wit  {warc_result['what']}: {pages / warc_result['cpu_s']:,.0f} HTML pages/s on one core "
        f"({pages / warc_result['wall_s']:,.0f} wall), {len(warc_result['pairs']) / warc_result['cpu_s']:,.0f} "
        f"candidates/s, {len(warc_result['pairs']):,} candidates",
    ]
    print("\n".join(lines))
    if args.json:
        figures = {"cpu": cpu, "records": records, "wit_records_per_s": w_rate, "cc2dataset_records_per_s": c_rate,
                   "ratio": w_rate / c_rate, "same_pairs": same_pairs and wf["pairs"] == w["pairs"],
                   "wit_fastwarc_records_per_s": wf["units"] / wf["cpu_s"], "cc2dataset": c["what"],
                   "warc_pages": pages, "warc_pages_per_s": pages / warc_result["cpu_s"],
                   "target_pass": w_rate >= TARGET_RECORDS_PER_S}
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
