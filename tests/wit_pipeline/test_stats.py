"""`wit stats` and `wit show` on a corpus built by the project (`wit build` on the local mini-web): the numbers
agree with the Parquet files, --json parses, --plots writes PNGs, --html is one self-contained page that
headless Chromium renders (skipped only when Chromium is absent), and `wit show` finds a key or fails clearly."""
import glob
import json
import os
import re
import shutil
import string
import subprocess
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wit_pipeline.cli import main
from wit_pipeline.stats import html as stats_html
from wit_pipeline.stats.collect import (HOST_TEXTS_KEPT, _duplicates, _host_counts, _host_texts, _Partial, collect,
                                        gallery_samples, open_corpus)

SCREENSHOT_COPY = "/tmp/wit_report_screenshot.png"


def parquet_rows(pattern):
    return [r for f in sorted(glob.glob(pattern)) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def corpus(mini_corpus):
    return mini_corpus["out"]


@pytest.fixture(scope="module")
def stats(corpus):
    return collect(corpus)


def test_totals_and_failures_match_the_parquet(corpus, stats):
    rows = parquet_rows(f"{corpus}/shards/*.parquet")
    status = Counter(r["status"] for r in rows)
    assert stats["totals"]["rows"] == len(rows)
    assert stats["totals"]["success"] == status["success"] > 0
    assert stats["totals"]["failed"] == len(rows) - status["success"] > 0
    assert stats["status"] == dict(status)
    assert stats["corpus"]["shards"] == len(glob.glob(f"{corpus}/shards/*.parquet")) > 1
    assert stats["corpus"]["shards_without_stats_json"] == [] == stats["corpus"]["shards_disagreeing_with_stats_json"]
    assert stats["totals"]["images_in_sizes_json"] == status["success"]
    errors = Counter((r["status"], r["error_message"]) for r in rows if r["status"] != "success")
    assert {(e["status"], e["error_message"]): e["count"] for e in stats["errors"]} == dict(errors)
    assert sum(h["count"] for h in stats["failing_hosts"]) == len(rows) - status["success"]
    assert stats["failing_hosts"][0]["host"] == "127.0.0.1"


def test_sizes_captions_languages_duplicates(corpus, stats):
    ok = [r for r in parquet_rows(f"{corpus}/shards/*.parquet") if r["status"] == "success"]
    widths = sorted(r["width"] for r in ok)
    w = stats["image_sizes"]["width"]
    assert (w["count"], w["min"], w["max"]) == (len(ok), widths[0], widths[-1])
    assert w["p50"] == widths[(len(widths) + 1) // 2 - 1]  # nearest-rank median
    assert stats["image_sizes"]["original_height"]["max"] == max(r["original_height"] for r in ok)
    lengths = [len(r["caption"]) for r in ok]
    assert stats["caption_length"]["min"] == min(lengths) and stats["caption_length"]["max"] == max(lengths)
    assert stats["languages"] == dict(Counter(r["language"] for r in ok))
    shas = Counter(r["sha256"] for r in ok)
    assert stats["duplicates"]["distinct"] == len(shas)
    assert stats["duplicates"]["duplicate_rows"] == len(ok) - len(shas)


def test_rejected_and_query_balancing(corpus, stats):
    rejected = parquet_rows(f"{corpus}/rejected/*.parquet")
    assert stats["rejected"]["total"] == len(rejected)
    by = Counter((r["stage"], r["reason"]) for r in rejected)
    assert {(x["stage"], x["reason"]): x["count"] for x in stats["rejected"]["by_reason"]} == dict(by)
    counts = pq.read_table(f"{corpus}/query_counts.parquet").to_pylist()
    q = stats["queries"]
    assert q["capped"] == sum(r["keep_probability"] < 1 for r in counts) > 0
    assert q["t"] == 5  # the fixture's --balance_t
    assert q["matches_before"] == sum(r["count_before"] for r in counts)
    assert q["head"][0]["count_before"] == max(r["count_before"] for r in counts)
    d = q["distribution"]
    assert d["rank"][0] == 1 and d["count_before"][0] == q["head"][0]["count_before"]
    assert d["count_before"] == sorted(d["count_before"], reverse=True)


def test_a_shards_folder_and_an_fsspec_url(corpus, stats):
    only_shards = collect(f"{corpus}/shards")
    assert only_shards["totals"] == stats["totals"] and only_shards["queries"] is None
    import fsspec
    mem = fsspec.filesystem("memory")
    for path in glob.glob(f"{corpus}/**/*", recursive=True):
        if os.path.isfile(path):
            mem.pipe("/statstest/" + os.path.relpath(path, corpus), open(path, "rb").read())
    remote = collect("memory://statstest")
    assert remote["totals"] == stats["totals"] and remote["queries"]["capped"] == stats["queries"]["capped"]
    assert len(gallery_samples(open_corpus("memory://statstest"), 4)) == 4


def test_cli_json_plots_and_html(corpus, stats, tmp_path, capsys):
    assert main(["stats", corpus]) == 0
    text = capsys.readouterr().out
    assert f"{stats['totals']['rows']:,} rows" in text and "head queries" in text
    plots, report = tmp_path / "plots", tmp_path / "report.html"
    assert main(["stats", corpus, "--json", "--plots", str(plots), "--html", str(report)]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["totals"] == stats["totals"]
    pngs = sorted(os.listdir(plots))
    assert pngs == ["caption_lengths.png", "image_sizes.png", "query_counts_loglog.png", "status.png"]
    assert all(open(plots / p, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for p in pngs)
    page = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from outside
    assert page.count('src="data:image/png;base64,') == 4
    assert page.count('<figure><img alt=') == 24
    assert "queries:" in page  # matched query names in the gallery


def test_html_escapes_untrusted_text(stats):
    sample = {"key": "0000000", "caption": '<script>alert(1)</script> & "x"', "image": b"\xff\xd8", "ext": "jpg",
              "queries": ["<b>q</b>"]}
    page = stats_html.render(stats, [sample])
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;" in page
    assert "<b>q</b>" not in page


def test_show(corpus, capsys):
    ok = [r for r in parquet_rows(f"{corpus}/shards/*.parquet") if r["status"] == "success"]
    row = ok[len(ok) // 2]
    assert main(["show", corpus, row["key"]]) == 0
    out = capsys.readouterr().out
    assert repr(row["caption"]) in out and row["url"] in out and row["page_url"] in out and row["source"] in out
    assert f"{row['key']}.jpg" in out
    assert main(["show", corpus, row["key"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sha256"] == row["sha256"] and shown["matched_query_names"]
    assert main(["show", corpus, "9999999"]) == 2
    assert "no sample with key '9999999'" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_report_renders_in_headless_chromium(corpus, stats, tmp_path):
    report = tmp_path / "report.html"
    stats_html.write(stats, str(report), gallery_samples(open_corpus(corpus), 24))
    shot = tmp_path / "report.png"
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2000",
           f"file://{report}"]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page is a few kB
    from PIL import Image
    with Image.open(shot) as im:
        assert im.size == (1280, 2000)
        assert len(im.convert("RGB").getcolors(1 << 20) or range(1 << 20)) > 50  # drawn, not one flat colour
    shutil.copyfile(shot, SCREENSHOT_COPY)


# ------------------------------------------------------------------------- the fast paths against plain Python
ODD_URLS = ["https://User@Host.Example.com:8080/a.jpg", "http://a@b@c/x", "http://:80/", "http://a@/x", "http://@@x",
            "http://a:1:2/", "http://a:12x/", "HTTP://MiXeD.Org:443", "http://ÄÖ.de/", "mailto:x@y", "s3://bucket/k",
            "http://[::1]:8080/x", "http://h.com:/", "https://x.com?y=1", "https://h.com#f", "1http://bad.com/",
            "", "no-scheme/path", None]


def plain_host(url):
    m = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)", url or "")
    host = re.sub(r":\d*$", "", re.sub(r"^[^@]*@", "", m.group(1), count=1), count=1).lower() if m else ""
    return host or "(no host)"


def test_hosts_are_cleaned_up_as_url_by_url():
    urls = [ODD_URLS[i % len(ODD_URLS)] for i in range(7 * len(ODD_URLS) + 3)]
    texts = [_host_texts(pa.array(urls[:50])), _host_texts(pa.array(urls[50:]))]  # two shards
    assert _host_counts(texts) == Counter(plain_host(u) for u in urls)
    assert _host_counts([]) == Counter()
    total, expected = _Partial(), Counter()
    for i in range(3 * HOST_TEXTS_KEPT):  # the tables kept are summed on the way
        total.merge(_Partial(hosts=[_host_texts(pa.array(urls[i % 10::10]))]))
        expected.update(plain_host(u) for u in urls[i % 10::10])
    assert len(total.hosts) <= HOST_TEXTS_KEPT + 1 and _host_counts(total.hosts) == expected


def test_duplicates_top_ties_go_in_first_seen_order():
    rng = np.random.default_rng(0)
    shards = [rng.integers(0, 300, 200).astype(np.uint64) for _ in range(4)] + [np.zeros(0, np.uint64)]
    other = ["short"] * 3 + ["zz"] * 5
    seen = Counter(int(v) for s in shards for v in s)  # insertion order: first appearance
    expected_top = [{"sha256_prefix": f"{v:016x}", "count": n} for v, n in
                    sorted(((v, n) for v, n in seen.items() if n > 1), key=lambda vn: -vn[1])[:25]]
    expected_top += [{"sha256_prefix": "zz", "count": 5}, {"sha256_prefix": "short", "count": 3}]
    expected_top.sort(key=lambda r: -r["count"])
    got = _duplicates(_Partial(sha=shards, sha_other=other))
    assert got == {"images": 800 + 8, "distinct": len(seen) + 2, "duplicate_rows": 800 + 8 - len(seen) - 2,
                   "duplicated_images": sum(n > 1 for n in seen.values()) + 2, "top": expected_top[:25]}
    assert _duplicates(_Partial(sha=[np.zeros(0, np.uint64)], sha_other=["x", "x"]))["top"] == [
        {"sha256_prefix": "x", "count": 2}]


def odd_shard(n, seed):
    rng = np.random.default_rng(seed)
    hexes = ["%064x" % int(v) for v in rng.integers(0, 20, n)]
    # upper case, too short, not hex in the first 16 digits, not hex after them, 64 bytes not ASCII, null
    odd = [lambda h: h.upper(), lambda h: "short", lambda h: "zz" + h[2:], lambda h: h[:40] + "xyz" + h[43:],
           lambda h: "é" * 32, lambda h: None]
    sha = [odd[k](h) if k < len(odd) else h for h, k in zip(hexes, rng.integers(0, 12, n).tolist())]
    status = [["success", "success", "timeout", None, "", "http_error"][int(k)] for k in rng.integers(0, 6, n)]
    return {"url": pa.array([ODD_URLS[int(k)] for k in rng.integers(0, len(ODD_URLS), n)], pa.large_string()),
            "caption": pa.array([None if k == 0 else "é" * int(k) + "x" for k in rng.integers(0, 30, n)]),
            "status": pa.array(status),
            "error_message": pa.array([None if s == "success" else f"e{s}" for s in status]),
            "width": pa.array(rng.integers(-3, 300, n), mask=rng.random(n) < 0.1),  # int64, read as int32
            "height": pa.array(rng.integers(0, 300, n).astype(np.int32)),
            "original_width": pa.array(rng.integers(0, 300, n).astype(np.int32)),
            "original_height": pa.array(rng.integers(0, 300, n).astype(np.int32)),
            "sha256": pa.array(sha), "language": pa.array(rng.choice(["en", "de", ""], n)).dictionary_encode()}


def test_odd_shards_are_counted_as_plain_python_does(tmp_path):
    """Other Arrow types (large strings, int64 sizes, a dictionary column), several row groups, a shard without some
    columns, one with no successes, odd sha256 values and URLs: every count agrees with Python over the rows."""
    shards = [odd_shard(400, 1), odd_shard(300, 2), odd_shard(200, 3)]
    shards[1] = {k: v for k, v in shards[1].items() if k not in ("language", "sha256", "caption")}
    shards[2]["status"] = pa.array(["timeout"] * 200)
    for i, cols in enumerate(shards):
        pq.write_table(pa.table(cols), tmp_path / f"{i:05d}.parquet", row_group_size=128)
    rows = [{k: r.get(k) for k in odd_shard(1, 0)} for cols in shards for r in pa.table(cols).to_pylist()]
    stats = collect(str(tmp_path))
    ok = [r for r in rows if r["status"] == "success"]
    assert stats["status"] == dict(Counter(r["status"] or "(none)" for r in rows))
    assert {h["host"]: h["count"] for h in stats["failing_hosts"]} == dict(
        Counter(plain_host(r["url"]) for r in rows if r["status"] != "success").most_common(25))
    widths = sorted(max(r["width"], 0) for r in ok if r["width"] is not None)
    assert (stats["image_sizes"]["width"]["count"], stats["image_sizes"]["width"]["max"]) == (len(widths), widths[-1])
    lengths = sorted(len(r["caption"]) for r in ok if r["caption"] is not None)
    assert (stats["caption_length"]["count"], stats["caption_length"]["min"], stats["caption_length"]["max"]) == (
        len(lengths), lengths[0], lengths[-1])
    assert stats["languages"] == dict(Counter("(none)" if r["language"] is None else r["language"] for r in ok))

    def key(s):  # what duplicates are found on: the first 64 bits when the sha256 starts like one
        hexed = len(s.encode()) == 64 and all(c in string.hexdigits for c in s[:16])
        return int(s[:16], 16) if hexed else s
    shas = Counter(key(r["sha256"]) for r in ok if r["sha256"] is not None)
    d = stats["duplicates"]
    assert (d["images"], d["distinct"], d["duplicated_images"]) == (
        sum(shas.values()), len(shas), sum(n > 1 for n in shas.values()))
    assert [r["shard"] for r in stats["shards"]] == ["00000", "00001", "00002"] and stats["shards"][2]["success"] == 0
