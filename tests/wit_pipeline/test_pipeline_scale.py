"""`wit build` over thousands of candidates against the local test web: it finishes and every row is accounted
for (kept in manifest/ and the shard Parquet with a status, or in rejected/ with its stage and reason).

- test_two_thousand_candidates_are_all_accounted_for: 2,000 manifest rows, generated images, the package's query list,
  with junk texts, foreign-language texts, unmatched texts, head-query texts that balancing caps, duplicates
  and faulty URLs mixed in, so every stage drops something.
- test_benchmark_twenty_thousand_candidates (slow): benchmarks/pipeline.py itself at 20,000 candidates with generated
  images (and ../shared/data's captions and query list when present), its bare-downloader comparison over one
  shard included; the same accounting is checked on the output it leaves in --workdir.
No wall-clock thresholds: timings belong to the benchmark.
"""
import collections
import glob
import json
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from queries import DEFAULT_QUERIES
from wit_pipeline.pipeline import run

ROOT = Path(__file__).resolve().parents[2]
DISTINCT_IMAGES = 1000


def parquet_rows(pattern, columns=None):
    return [r for f in sorted(glob.glob(pattern)) for r in pq.read_table(f, columns=columns).to_pylist()]


def assert_accounted_for(out: str, n_input: int, summary: dict) -> dict:
    """Every input row is in manifest/ or rejected/; every manifest row is in the shard Parquet; counters agree."""
    stages = summary["stages"]
    rejected = parquet_rows(f"{out}/rejected/part-*.parquet", ["uid", "stage", "reason"])
    manifest = parquet_rows(f"{out}/manifest/*.parquet", ["uid"])
    shard_rows = parquet_rows(f"{out}/shards/*.parquet", ["uid", "status", "error_message"])
    assert stages["crawl"]["candidates"] == n_input
    assert n_input == len(rejected) + len(manifest)
    order = ("text", "language", "dedup", "match", "balance")  # the build's order
    for stage in order:  # each stage's in = out + its drops
        counters = stages[stage]
        assert counters["in"] == counters["out"] + sum(v for k, v in counters.items() if k.startswith("dropped."))
    for before, after in zip(order, order[1:]):  # each is fed what the one before kept
        assert stages[before]["out"] == stages[after]["in"], (before, after)
    assert stages["balance"]["out"] == len(manifest)  # the manifest is what balancing kept
    by_reason = collections.Counter((r["stage"], r["reason"]) for r in rejected)
    assert all(r["reason"] for r in rejected)
    assert {f"{s}/{r}": n for (s, r), n in by_reason.items()} == {
        f"{s}/{k[len('dropped.'):]}": v for s, c in stages.items() for k, v in c.items()
        if k.startswith("dropped.") and s != "download" and v}
    uids = [r["uid"] for r in manifest]
    assert len(set(uids)) == len(uids)
    assert sorted(r["uid"] for r in shard_rows) == sorted(uids)  # one shard row per manifest row, no more
    assert all(r["status"] for r in shard_rows)
    assert all(r["error_message"] for r in shard_rows if r["status"] != "success")
    successes = sum(r["status"] == "success" for r in shard_rows)
    sizes = json.loads(Path(out, "shards", "sizes.json").read_text())
    assert sum(sizes.values()) == successes == stages["download"]["success"]
    assert stages["download"]["rows"] == len(shard_rows)
    statuses = collections.Counter(r["status"] for r in shard_rows)
    return {"by_reason": by_reason, "statuses": statuses, "successes": successes, "manifest": len(manifest)}


def candidates_table(base_url: str, n: int, seed: int = 0) -> pa.Table:
    """n rows of (url, caption): mostly good pairs on generated images, plus every kind of row a stage drops."""
    rng = random.Random(seed)
    queries = [q for q in json.loads(Path(DEFAULT_QUERIES).read_text()) if " " not in q and len(q) > 3]
    sizes = [(96, 72), (72, 96), (120, 90), (80, 80)]
    images = [f"/img/{i}_{w}x{h}.jpg" for i, (w, h) in enumerate(rng.choice(sizes) for _ in range(DISTINCT_IMAGES))]
    urls, texts = [], []
    for i in range(n):
        url = f"{base_url}{images[i % len(images)]}?i={i}"
        kind = rng.random()
        if kind < 0.05:
            text = rng.choice(["IMG_1234.jpg", "DSC01234", "logo", "image", "https://example.com/a.jpg", "12345"])
        elif kind < 0.10:
            text = rng.choice(["Ein Hund spielt im Park mit seinem Ball", "Der Dom in der Stadt bei Nacht",
                               "Une vieille maison au bord de la rivière", "Un chat noir dort sur le canapé"])
        elif kind < 0.15:
            text = f"because yesterday really just being sneaky {i}"  # English, and no query matches
        elif kind < 0.35:
            text = "A Cat"  # head queries only: balancing caps them
        else:
            text = f"{rng.choice(queries)} and the {rng.choice(queries)} in the morning"
        if 0.35 <= kind < 0.37:
            url = f"{base_url}/fault/status/404/{i}_64x48.jpg"
        elif 0.37 <= kind < 0.38:
            url = f"{base_url}/fault/corrupt/{i}_64x48.jpg"
        elif 0.38 <= kind < 0.39:
            url = f"{base_url}/private/{i}_64x48.jpg"  # disallowed by the test web's robots.txt
        urls.append(url)
        texts.append(text)
    for i in range(0, n // 50):  # duplicates: the same pair twice, and the same image with another text
        j = i * 37 % n
        urls[n - 1 - 2 * i] = urls[j]
        texts[n - 1 - 2 * i] = texts[j] if i % 2 else texts[j] + " in the snow"
    return pa.table({"url": urls, "caption": texts})


def test_two_thousand_candidates_are_all_accounted_for(web, tmp_path):
    n = 2000
    manifest = tmp_path / "candidates.parquet"
    pq.write_table(candidates_table(web.base_url, n), manifest)
    out = str(tmp_path / "corpus")
    summary = run(["--input", str(manifest), "--input-kind", "manifest", "--url_col", "url",
                   "--text_col", "caption", "--queries", str(DEFAULT_QUERIES), "--output", out,
                   "--languages", "en", "--balance_t", "100", "--shard_size", "500", "--image_size", "64",
                   "--allow_network", "127.0.0.0/8", "--download_timeout", "10", "--runner", "FnApiRunner"])
    found = assert_accounted_for(out, n, summary)
    stages_dropping = {stage for stage, _ in found["by_reason"]}
    assert stages_dropping == {"text", "match", "balance", "language", "dedup"}
    assert found["manifest"] > n // 2
    assert len(glob.glob(f"{out}/shards/*.tar")) >= 2
    assert {"success", "http_error", "decode_error", "robots_disallowed"} <= set(found["statuses"])
    assert found["successes"] > n // 3


@pytest.mark.slow
def test_benchmark_twenty_thousand_candidates(tmp_path):
    n = 20_000
    work = tmp_path / "work"
    report = tmp_path / "figures.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pipeline.py"), "--candidates", str(n),
                           "--images", "generated", "--bare-shards", "1", "--workdir", str(work),
                           "--json", str(report)], capture_output=True, text=True, cwd=ROOT, timeout=580)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(report.read_text())
    assert figures["accounted"] and all(c["ok"] for c in figures["checks"])
    assert "PASS" in proc.stdout or "FAIL" in proc.stdout  # the 80% target is reported, not asserted here
    summary = json.loads((work / "corpus" / "summary.json").read_text())
    found = assert_accounted_for(str(work / "corpus"), n, summary)
    assert found["successes"] > n // 2
    assert figures["bare"]["ok"] and figures["bare"]["shards"]["successes"] > 0
