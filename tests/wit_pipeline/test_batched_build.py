"""`wit build` moves candidates in batches (transforms.beam_util); what it writes must not depend on where the
batches and dedup's buckets happen to cut: the same bytes with batches of 1000 rows and one bucket as with
batches of 7, lists sent every 20 rows held and 11 buckets."""
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from transforms import beam_util
from transforms.dedup import beam as dedup_beam
from wit_pipeline import pipeline

QUERIES = ["dog", "cat", "red car", "beach", "mountain lake"]
TEXTS = ["a dog on the beach", "the red car in the rain", "a cat asleep", "ein Hund am Strand",
         "un chat endormi", "IMG_0001.JPG", "a mountain lake at dawn", "nothing to see", "a dog and a cat",
         "el coche rojo"]


def _manifest(path: Path) -> None:
    rng = random.Random(3)
    urls, captions = [], []
    for i in range(900):
        host = f"h{rng.randint(0, 5)}.example.com"
        urls.append(f"http://{host}/{rng.randint(0, 400)}.jpg")  # many URLs twice or more: dedup works
        captions.append(f"{rng.choice(TEXTS)} {rng.randint(0, 3)}" if rng.random() < 0.8 else rng.choice(TEXTS))
    pq.write_table(pa.table({"url": urls, "caption": captions}), path)


def _files(out: Path) -> dict:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name not in ("summary.json", "_wit_provenance.json")}


def test_output_does_not_depend_on_batches_or_buckets(tmp_path, monkeypatch):
    manifest, queries = tmp_path / "m.parquet", tmp_path / "q.json"
    _manifest(manifest)
    queries.write_text(json.dumps(QUERIES))

    def build(name):
        out = tmp_path / name
        summary = pipeline.run(["--input", str(manifest), "--url-col", "url", "--caption-col", "caption",
                                "--queries", str(queries), "--output", str(out), "--balance-t", "20",
                                "--shard-size", "50", "--skip-download", "--runner", "FnApiRunner"])
        return _files(out), summary["stages"]

    files, counters = build("default")
    assert counters["dedup"]["dropped.duplicate_pair"] > 0 and counters["balance"]["dropped.balanced_out"] > 0
    assert counters["language"]["dropped.language"] > 0 and counters["text"]["in"] == 900
    monkeypatch.setattr(pipeline, "BATCH_ROWS", 7)
    monkeypatch.setattr(beam_util, "BATCH_ROWS", 7)
    monkeypatch.setattr(beam_util, "REGROUP_HELD_ROWS", 20)
    monkeypatch.setattr(dedup_beam, "BUCKET_ROWS", 90)  # 900 candidates at most: 10 buckets
    small_files, small_counters = build("small_batches")
    assert small_counters == counters
    assert sorted(small_files) == sorted(files) and any(name.startswith("manifest/") for name in files)
    assert [name for name in files if files[name] != small_files[name]] == []
