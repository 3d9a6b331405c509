"""Balancing caps the pool that ends up in the corpus, statistically: `wit build` over tens of thousands of
candidates in several languages with heavy duplication, then link rot compensated by a pilot download.

- test_heads_hold_t_of_the_final_rows: 26k candidates (about 40% in German, French, Spanish, Russian or Hindi,
  a third of the English pairs crawled two to four times). The head queries' counts in query_counts.parquet
  are counts over the English unique pairs (computed here from what the earlier stages rejected), the
  manifest holds t +- 4 standard deviations of each head and every tail whole.
- test_pilot_download_compensates_link_rot: a third of the image links dead; with --pilot-sample the heads end
  within +-15% of t *in the shards*, where balancing to t alone leaves about two thirds of t.
No wall-clock thresholds.
"""
import collections
import glob
import json
import math
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wit_pipeline.pipeline import run

HEADS = {"lighthouse": 1000, "waterfall": 1500, "volcano": 2500, "giraffe": 4000}  # English unique pairs each
TAILS = {"kayak": 120, "windmill": 200, "glacier": 350}
ADJECTIVES = ("old", "tall", "beautiful", "famous", "small", "quiet", "bright", "distant")
PLACES = ("near the coast at sunset", "on a cloudy morning", "seen from the road", "in the early spring",
          "under a clear blue sky", "after the rain", "from the hills above the town", "at the end of summer")
# Real-looking foreign alt texts that carry the query word (a name, a loan word): the old order counted them.
FOREIGN = ("Der {q} am Ufer des Sees bei Sonnenuntergang, fotografiert von unserem Team",
           "Une photo du {q} prise pendant nos vacances en famille au mois de juillet",
           "El {q} visto desde la carretera durante nuestro viaje por el norte del país",
           "Вид на {q} с дороги во время нашего путешествия по северу страны",
           "हमारी यात्रा के दौरान सड़क से {q} का दृश्य, परिवार के साथ छुट्टियों में")
T = 500


def parquet_rows(pattern, columns=None):
    return [r for f in sorted(glob.glob(pattern)) for r in pq.read_table(f, columns=columns).to_pylist()]


def english(rng, query, i):
    return f"the {rng.choice(ADJECTIVES)} {query} {rng.choice(PLACES)} number {i}"


def corpus(base: str, pools: dict, rng: random.Random, foreign_share: float, repeat_share: float,
           dead_share: float = 0.0) -> tuple[list, list]:
    """(urls, texts): every query's English unique pairs, copies of a share of them, foreign rows."""
    urls, texts = [], []
    for query, n in pools.items():
        for i in range(n):
            k = len(urls)
            if rng.random() < dead_share:
                url = f"{base}/fault/status/404/{k}_32x24.jpg" if k % 3 else f"{base}/fault/corrupt/{k}_32x24.jpg"
            else:
                url = f"{base}/img/{k}_32x24.jpg"
            text = english(rng, query, i)
            copies = 1 + (rng.randint(1, 3) if rng.random() < repeat_share else 0)
            urls += [url] * copies
            texts += [text] * copies
    n_foreign = int(len(urls) * foreign_share / (1 - foreign_share))
    queries = list(pools)
    for k in range(n_foreign):
        urls.append(f"{base}/img/{900_000 + k}_32x24.jpg")
        texts.append(rng.choice(FOREIGN).format(q=rng.choice(queries)) + f" ({k})")
    order = list(range(len(urls)))
    rng.shuffle(order)
    return [urls[i] for i in order], [texts[i] for i in order]


def build(tmp_path, urls, texts, queries, *extra):
    manifest = tmp_path / "candidates.parquet"
    pq.write_table(pa.table({"url": urls, "caption": texts}), manifest)
    (tmp_path / "queries.json").write_text(json.dumps(queries))
    out = str(tmp_path / "corpus")
    summary = run(["--input", str(manifest), "--input-kind", "manifest", "--queries", str(tmp_path / "queries.json"),
                   "--output", out, "--balance-t", str(T), "--shard-size", "2000", "--image-size", "32",
                   "--allow-network", "127.0.0.0/8", "--total-timeout", "20", "--runner", "FnApiRunner", *extra])
    return out, summary


def per_query(rows, queries, column="text"):
    counts = collections.Counter()
    for r in rows:
        counts.update(q for q in queries if q in r[column])
    return counts


def test_heads_hold_t_of_the_final_rows(web, tmp_path):
    rng = random.Random(15)
    pools = {**HEADS, **TAILS}
    urls, texts = corpus(web.base_url, pools, rng, foreign_share=0.4, repeat_share=0.35)
    assert len(urls) > 25_000
    queries = list(pools)
    out, summary = build(tmp_path, urls, texts, queries, "--skip-download")
    stages = summary["stages"]
    assert stages["language"]["dropped.language"] > 0.3 * len(urls)  # the foreign rows went first
    assert stages["dedup"]["dropped.duplicate_pair"] > 3000

    # The pool balancing saw, rebuilt here: the distinct pairs the text rules and language ID let through
    # (the copies of a pair share its fate there; dedup drops only the extra copies, as duplicate_pair).
    rejected = parquet_rows(f"{out}/rejected/part-*.parquet", ["uid", "stage", "reason"])
    gone = {r["uid"] for r in rejected if r["stage"] in ("text", "language")}
    assert {r["reason"] for r in rejected if r["stage"] == "dedup"} == {"duplicate_pair"}
    from transforms.candidate import make_uid
    pool = {make_uid(url, text): {"text": text} for url, text in zip(urls, texts)}
    pool = {uid: row for uid, row in pool.items() if uid not in gone}
    assert {r["uid"] for r in rejected if r["stage"] == "dedup"} <= set(pool)
    pool_counts = per_query(pool.values(), queries)
    counts = {r["query"]: r for r in pq.read_table(f"{out}/query_counts.parquet").to_pylist()}
    assert {q: counts[q]["count_before"] for q in queries} == dict(pool_counts)
    manifest = per_query(parquet_rows(f"{out}/manifest/*.parquet", ["text"]), queries)
    assert {q: counts[q]["count_after"] for q in queries} == dict(manifest)
    for query in HEADS:
        n = counts[query]["count_before"]
        assert n > T
        sigma = math.sqrt(n * (T / n) * (1 - T / n))
        # The URLs carry the test web's port, so every run draws a fresh sample: at 3 sigma about one run in 90 failed
        # somewhere among the 4 heads (seen: 3.1 sigma); 4 sigma is one in ~4,000 (a bias above ~17% still fails).
        assert abs(manifest[query] - T) <= 4 * sigma, (query, n, manifest[query])
    for query in TAILS:  # kept whole
        assert manifest[query] == counts[query]["count_before"] == pool_counts[query]


def test_pilot_download_compensates_link_rot(web, tmp_path):
    rng = random.Random(16)
    pools = {"lighthouse": 2400, "waterfall": 2400, "kayak": 150}
    urls, texts = corpus(web.base_url, pools, rng, foreign_share=0.0, repeat_share=0.0, dead_share=0.3)
    out, summary = build(tmp_path, urls, texts, list(pools), "--pilot-sample", "2000")
    pilot = summary["stages"]["pilot"]
    assert pilot["sampled"] == 2000
    assert 0.65 < pilot["success"] / pilot["sampled"] < 0.75, pilot
    shards = per_query([r for r in parquet_rows(f"{out}/shards/*.parquet", ["caption", "status"])
                        if r["status"] == "success"], list(pools), "caption")
    # A fresh random sample every run (the URLs carry the port): the draw (sd ~20 at t = 500) and the pilot's
    # survival estimate (sd ~0.01) together put +-10% at about 2.3 sd; +-15% is about 3.5 sd and still far from
    # the 0.7 t left without a pilot (the next test).
    for query in ("lighthouse", "waterfall"):
        assert abs(shards[query] - T) <= 0.15 * T, (query, shards[query], pilot, summary["stages"]["download"])
    recorded = json.loads((tmp_path / "corpus" / "pilot.json").read_text())
    assert recorded["sampled"] == 2000 and recorded["success"] == pilot["success"]
    assert recorded["statuses"]["http_error"] > 0 and recorded["statuses"]["decode_error"] > 0
    counts = {r["query"]: r for r in pq.read_table(f"{out}/query_counts.parquet").to_pylist()}
    assert counts["lighthouse"]["target"] == pytest.approx(T / recorded["survival"])

    # Resumed, the build balances with the recorded survival, even when the web has changed since.
    (tmp_path / "corpus" / "pilot.json").write_text(json.dumps({**recorded, "survival": 0.5}))
    import shutil
    shutil.rmtree(tmp_path / "corpus" / "manifest")
    out, summary = build(tmp_path, urls, texts, list(pools), "--pilot-sample", "2000", "--skip-download")
    assert "pilot" not in summary["stages"]  # nothing downloaded for it
    counts = {r["query"]: r for r in pq.read_table(f"{out}/query_counts.parquet").to_pylist()}
    assert counts["lighthouse"]["target"] == pytest.approx(T / 0.5)
    (tmp_path / "corpus" / "pilot.json").write_text('{"survival": ')  # damaged: named, never a traceback
    with pytest.raises(ValueError, match="pilot.json is damaged"):
        build(tmp_path, urls, texts, list(pools), "--pilot-sample", "2000", "--skip-download")


def test_without_a_pilot_link_rot_leaves_heads_short(web, tmp_path):
    """The reference: balanced to t before the download, a head loses its dead links (about 0.7 t is left)."""
    rng = random.Random(16)
    pools = {"lighthouse": 2400}
    urls, texts = corpus(web.base_url, pools, rng, foreign_share=0.0, repeat_share=0.0, dead_share=0.3)
    out, _ = build(tmp_path, urls, texts, list(pools))
    shards = per_query([r for r in parquet_rows(f"{out}/shards/*.parquet", ["caption", "status"])
                        if r["status"] == "success"], list(pools), "caption")
    assert shards["lighthouse"] < 0.8 * T
