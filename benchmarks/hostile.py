"""Soak the pipeline with a hostile web: every row accounted for, no stall, bounded memory per process.

Two runs against the local test web (two servers on 127.0.0.1, one of them with a pathological robots.txt):

1. `wit download --processes 2` over --count URLs (default 10,000): about 60% normal images, the rest every
   hostile case of wit_pipeline/testbed/hostile.py and the fault routes (Content-Encoding bombs of 1 GiB in
   every coding, refused formats served as image/jpeg, pixel bombs, 16-bit and float pixels, loopback
   addresses in Unicode and IPv6 dress, raw UTF-8 redirects, stalls, drips, truncated and oversized bodies,
   redirect loops, a robots.txt that makes a backtracking matcher take minutes).
2. `wit build` from a WARC of hostile pages (wit_pipeline/testbed/hostile_warc.py, when present) mixed with
   ordinary pages, downloading what survives curation.

It prints, for each run: wall time against the stated bound, CPU, the peak RSS of every process, and for the
download every case with the statuses its rows got. It exits non-zero when a row is missing, a case gets a
status it must not get, a process passes 1 GiB, or a run passes its bound.

    .venv/bin/python benchmarks/hostile.py [--count 10000] [--processes 2] [--bound 600]
"""
from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import exit_on_sigterm, run_measured, tail, wit_bin  # noqa: E402

from wit_pipeline.testbed.hostile import CODINGS, wildcard_robots  # noqa: E402
from wit_pipeline.testbed.server import start_subprocess  # noqa: E402

GIB = 1 << 30
BOMB_MIB = 1024  # each Content-Encoding bomb inflates to 1 GiB
NORMAL_SHARE = 0.6
NORMAL_SEEDS = 300  # distinct normal URLs (the row number picks size and format too)


def cases(a: str, b: str, port: int) -> list[tuple[str, object, set]]:
    """(case name, url maker of i, statuses allowed). `a` is the main server, `b` the one whose robots.txt is
    hostile; only 127.0.0.1 is allowed, so every other loopback address stands for a refused one."""
    sizes = ["500x375", "640x480", "1024x768", "300x400", "1600x1200"]
    exts = ["jpg", "jpg", "jpg", "png", "webp", "gif"]
    # Normal images come from NORMAL_SEEDS pictures (warmed before timing), so the test server, which draws
    # each picture on first use, does not become the bottleneck the soak measures.
    out = [("normal image", lambda i: f"{a}/img/{i % NORMAL_SEEDS}_{sizes[i % len(sizes)]}.{exts[i % len(exts)]}",
            {"success"})]
    hostile = [
        ("loopback in fullwidth digits", lambda i: f"http://１２７.０.０.２:{port}/img/{i}_64x48.jpg", {"blocked_address"}),
        ("loopback with ideographic dots", lambda i: f"http://127。0。0。3:{port}/img/{i}_64x48.jpg", {"blocked_address"}),
        ("loopback in circled digits", lambda i: f"http://①②⑦.0.0.4:{port}/img/{i}_64x48.jpg", {"blocked_address"}),
        ("IPv4-mapped IPv6 loopback", lambda i: f"http://[::ffff:127.0.0.5]:{port}/img/{i}_64x48.jpg", {"blocked_address"}),
        ("integer IPv4", lambda i: f"http://2130706438:{port}/img/{i}_64x48.jpg", {"invalid_url", "blocked_address"}),
        ("raw UTF-8 redirect", lambda i: f"{a}/hostile/location?to=http://１２７.０.０.６:{port}/img/{i}_64x48.jpg",
         {"blocked_address"}),
        *[(f"{c} bomb (1 GiB)", (lambda c: lambda i: f"{a}/hostile/encoded/{c}/{BOMB_MIB}/{i}_64x48.jpg")(c),
           {"body_too_large"}) for c in CODINGS],
        *[(f"{c}-encoded image", (lambda c: lambda i: f"{a}/hostile/compressed/{c}/{i}_320x240.jpg")(c), {"success"})
          for c in CODINGS],
        *[(f"{k} labelled image/jpeg", (lambda k: lambda i: f"{a}/hostile/image/{k}")(k), {"unsupported_format"})
          for k in ("tiff", "bmp", "ico", "eps", "pcx", "tga", "psd", "float_tiff")],
        ("PNG labelled image/jpeg", lambda i: f"{a}/hostile/image/png_as_jpeg", {"success"}),
        *[(f"decoder bomb: {k}", (lambda k: lambda i: f"{a}/hostile/image/{k}")(k), {"decode_error"})
          for k in ("jpeg_scans", "jpeg_markers", "png_chunks", "gif_comment")],
        ("two hosts redirecting to each other", lambda i: (f"{a}/hostile/location?to=http://localhost:{port}"
                                                           f"/hostile/location?to={a}/img/{i}_64x48.jpg"),
         {"success"}),
        ("16-bit greyscale PNG", lambda i: f"{a}/hostile/image/grey16", {"success"}),
        *[(f"pixel bomb {k}", (lambda k: lambda i: f"{a}/hostile/image/{k}")(k), {"image_too_large"})
          for k in ("wide_20000", "wide_100000", "tall_100000")],
        ("header pixel bomb", lambda i: f"{a}/fault/bomb/{i}_64x48.png", {"image_too_large"}),
        ("30 MiB body", lambda i: f"{a}/fault/huge/30/{i}_64x48.jpg", {"body_too_large"}),
        ("30 MiB chunked body", lambda i: f"{a}/fault/huge_chunked/30/{i}_64x48.jpg", {"body_too_large"}),
        ("stall", lambda i: f"{a}/fault/stall/{i}_64x48.jpg", {"timeout"}),
        ("drip", lambda i: f"{a}/fault/drip/{i}_600x600.png", {"timeout"}),
        ("truncated body", lambda i: f"{a}/fault/truncated/{i}_400x300.jpg", {"network_error"}),
        ("corrupt JPEG", lambda i: f"{a}/fault/corrupt/{i}_64x48.jpg", {"decode_error"}),
        ("HTML", lambda i: f"{a}/fault/html/{i}_64x48.jpg", {"not_an_image"}),
        ("redirect loop", lambda i: f"{a}/fault/loop/{i}_64x48.jpg", {"redirect_error"}),
        ("HTTP 500", lambda i: f"{a}/fault/status/500/{i}_64x48.jpg", {"http_error"}),
        ("wildcard robots.txt: allowed", lambda i: f"{b}/img/{i}_320x240.jpg", {"success"}),
        ("wildcard robots.txt: disallowed", lambda i: f"{b}/private/{i}_64x48.jpg", {"robots_disallowed"}),
        ("wildcard robots.txt: long path", lambda i: f"{b}/img/{i}_{'a' * 2000}.jpg", {"http_error"}),
    ]
    return out + hostile


def make_manifest(path: str, count: int, table) -> list[str]:
    """Rows cycle through the hostile cases; NORMAL_SHARE of them are normal images. Returns each row's case."""
    hostile = table[1:]
    names, urls = [], []
    for i in range(count):
        name, make, _ = table[0] if (i % 10) < NORMAL_SHARE * 10 else hostile[i % len(hostile)]
        names.append(name)
        urls.append(make(i))
    pq.write_table(pa.table({"url": urls, "caption": [f"row {i}" for i in range(count)], "case": names}), path)
    return names


def warm(urls: list[str]) -> None:
    """Ask for each bomb once before timing: the server makes each 1 GiB bomb on first use (seconds)."""
    for url in urls:
        with urllib.request.urlopen(url, timeout=120) as r:
            while r.read(1 << 20):
                pass


def report_processes(measured) -> int:
    """Print the peak RSS of each process of a run; returns the largest."""
    print(f"  peak RSS per process (limit 1024 MiB), whole tree {measured.peak_rss_bytes / (1 << 20):.0f} MiB:")
    worst = 0
    for pid, (name, rss) in sorted((measured.process_peaks or {}).items(), key=lambda kv: -kv[1][1]):
        worst = max(worst, rss)
        if rss >= 50 << 20:  # the bash and tiny helper processes are not worth a line
            print(f"    pid {pid:>7} {name:<16} peak RSS {rss / (1 << 20):7.0f} MiB")
    return worst


def measure(cmd: list[str], log: str, bound: float):
    """Run `cmd` within `bound` seconds, print its exit, time and the load around it; (measured, ok)."""
    load_before = os.getloadavg()
    m = run_measured(cmd, log_path=log, timeout=bound)
    load_after = os.getloadavg()
    ok = m.returncode == 0 and not m.timed_out
    print(f"  exit {m.returncode}{' (TIMED OUT)' if m.timed_out else ''}, wall {m.wall_s:.1f} s, CPU {m.cpu_s:.1f} s, "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    if not ok:
        print(tail(log))
    return m, ok


def soak_download(args, web_a, web_b, work: str) -> bool:
    port = int(web_a.base_url.rsplit(":", 1)[1])
    table = cases(web_a.base_url, web_b.base_url, port)
    manifest = os.path.join(work, "hostile.parquet")
    names = make_manifest(manifest, args.count, table)
    warm([web_a.url(f"/hostile/encoded/{c}/{BOMB_MIB}/0_64x48.jpg") for c in CODINGS])
    normal = table[0][1]
    warm(sorted({normal(i) for i in range(min(args.count, NORMAL_SEEDS * 2))}))
    out = os.path.join(work, "download")
    cmd = wit_bin() + ["download", manifest, "--output", out, "--processes", str(args.processes),
                       "--allow-network", "127.0.0.1/32", "--connect-timeout", "2", "--read-timeout", "2",
                       "--total-timeout", "5", "--retries", "0", "--shard-size", "1000", "--no-progress",
                       "--summary-json", os.path.join(work, "summary.json")]
    print(f"wit download: {args.count} URLs ({len(table) - 1} hostile cases, {1 - NORMAL_SHARE:.0%} of rows), "
          f"{args.processes} processes; bound {args.bound:g} s", flush=True)
    m, ok = measure(cmd, os.path.join(work, "download.log"), args.bound)
    if not ok:
        return False
    rows = pa.concat_tables([pq.read_table(f) for f in sorted(glob.glob(os.path.join(out, "*.parquet")))])
    statuses, messages, case = (rows.column(c).to_pylist() for c in ("status", "error_message", "case"))
    allowed = {name: ok_statuses for name, _, ok_statuses in table}
    seen = collections.defaultdict(collections.Counter)
    wrong = []
    for name, status, message in zip(case, statuses, messages):
        seen[name][status] += 1
        if status not in allowed[name]:
            wrong.append((name, status, message))
        if status != "success" and not message:
            wrong.append((name, status, "(no reason)"))
    print(f"  rows written {len(statuses)} of {len(names)}; unexpected statuses: {len(wrong)}")
    for name, _, _ in table:
        counts = ", ".join(f"{s} {n}" for s, n in seen[name].most_common())
        print(f"    {name:<34} {counts}")
    for name, status, message in wrong[:10]:
        print(f"  UNEXPECTED {name}: {status}: {message}")
    worst = report_processes(m)  # printed whatever the rows say
    return len(statuses) == len(names) and not wrong and worst < GIB


def hostile_warc(path: str, web_a, pages: int, work: str) -> str:
    """A WARC of `pages` ordinary mini-web pages and every hostile page and record of testbed/hostile_warc.py
    (their relative images point at the test web). Returns what it holds, in words."""
    from wit_pipeline.testbed import hostile_warc as h
    from wit_pipeline.testbed.warc import write_warc

    normal = os.path.join(work, "normal.warc.gz")
    write_warc(normal, [web_a.url(f"/site/{n}.html") for n in range(pages)])
    url = web_a.url("/hostile/page.html")
    stray = '<html><head><meta charset="utf-8"></head><body><img src="/img/1_64x48.jpg" alt="caf\u00e9 '.encode() + \
        b"\xff" + b' au lait"></body></html>'
    members = [
        h.response(1, h.many_images(100_000), url), h.response(2, h.nested(100_000), url),
        h.response(3, h.formatting_bomb(20_000), url), h.response(4, h.unmatched_end_tags(100_000), url),
        h.response(5, h.huge_srcset(100_000), url), h.response(6, h.long_attributes(100_000, 100_000), url),
        h.metadata_bomb(7, 6, 1 << 30), h.response_bomb(8, 512 << 20, url), h.response(9, stray, url),
    ]
    h.write(path, members)
    with open(path, "ab") as out, open(normal, "rb") as f:
        out.write(f.read())  # gzip members concatenate: one file, the hostile records first
    return (f"{pages} mini-web pages and 9 hostile records (100k images, 100k nested elements, a formatting "
            "bomb, 100k unmatched end tags, a 100k-entry srcset, 100 kB URL and alt, a 1 GiB metadata record, a "
            "512 MiB page, a stray byte in a UTF-8 page)")


def soak_build(args, web_a, work: str) -> bool:
    from queries import DEFAULT_QUERIES
    warc = os.path.join(work, "hostile.warc.gz")
    described = hostile_warc(warc, web_a, args.pages, work)
    out = os.path.join(work, "build")
    cmd = wit_bin() + ["build", "--input", warc, "--queries", str(DEFAULT_QUERIES), "--output", out,
                       "--balance-t", "50", "--shard-size", "200", "--image-size", "64", "--languages", "all",
                       "--allow-network", "127.0.0.1/32", "--total-timeout", "5", "--runner", "FnApiRunner"]
    print(f"\nwit build: a WARC of {described} ({os.path.getsize(warc) / (1 << 20):.1f} MiB); "
          f"bound {args.bound:g} s", flush=True)
    m, ok = measure(cmd, os.path.join(work, "build.log"), args.bound)
    summary_path = os.path.join(out, "summary.json")
    if os.path.exists(summary_path):
        with open(summary_path) as f:
            stages = json.load(f)["stages"]
        for stage, counters in stages.items():
            print(f"    {stage:<9} " + ", ".join(f"{k} {v}" for k, v in counters.items()))
    return report_processes(m) < GIB and ok


def main() -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="URLs in the download soak")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--pages", type=int, default=200, help="ordinary pages in the build soak's WARC")
    parser.add_argument("--bound", type=float, default=900.0, help="seconds each run must finish within")
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wit-hostile-") as work:
        robots = os.path.join(work, "robots.txt")
        with open(robots, "w") as f:
            f.write(wildcard_robots(stars=100, rules=100))
        web_a = start_subprocess(stall_seconds=10)
        web_b = start_subprocess(stall_seconds=10, robots_file=robots)
        try:
            start = time.monotonic()
            ok = soak_download(args, web_a, web_b, work)
            if not args.skip_build:
                ok = soak_build(args, web_a, work) and ok
            print(f"\n{'PASS' if ok else 'FAIL'} in {time.monotonic() - start:.0f} s")
        finally:
            web_a.stop()
            web_b.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
