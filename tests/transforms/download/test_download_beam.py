"""The downloader inside Beam: deterministic host-aware shards, the same files on every runner."""
import json
import os

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline

from transforms.candidate import candidate
from transforms.download.beam import AssignShards, DownloadShards, WriteSizes
from transforms.download.options import ManifestOptions
from transforms.beam_util import Batch

from helpers import options, tree_bytes


def rows(web, n):
    out = []
    for i in range(n):
        path = f"/img/{i}_{60 + i}x{40 + i}.jpg" if i % 5 else f"/fault/status/404/{i}_10x10.jpg"
        out.append({**candidate(web.url(path), f"picture {i}"), "matched_queries": [i % 3, 7]})
    return out


def run(web, out, argv):
    opts = options(out, shard_size=10).replace(manifest=ManifestOptions(url_col="url", caption_col="text"))
    columns = ["url", "text", "uid", "source", "matched_queries"]
    with TestPipeline(argv=argv) as p:
        shards = p | beam.Create(rows(web, 35)) | Batch() | AssignShards(10, per_host_budget=16)
        stats = shards | DownloadShards(opts, columns)
        stats | WriteSizes(str(out))


def test_shards_are_deterministic_and_complete(web, tmp_path):
    run(web, tmp_path / "a", ["--runner=FnApiRunner"])
    names = sorted(os.listdir(tmp_path / "a"))
    # One host with 35 rows, under 4 shards' worth: one lane, so one group, cut into shards of about 10,
    # numbered from 0 without gaps.
    stats = sorted(n for n in names if n.endswith("_stats.json"))
    assert names[-1] == "sizes.json" and stats == [f"{i:05d}_stats.json" for i in range(len(stats))]
    assert 3 <= len(stats) <= 5
    all_rows = [r for f in sorted(names) if f.endswith(".parquet") for r in pq.read_table(tmp_path / "a" / f).to_pylist()]
    assert len(all_rows) == 35 and sum(r["status"] == "success" for r in all_rows) == 28
    assert sorted(r["uid"] for r in all_rows) == sorted(r["uid"] for r in rows(web, 35))
    assert all(r["matched_queries"][-1] == 7 for r in all_rows)  # list columns carried through
    sizes = json.loads((tmp_path / "a" / "sizes.json").read_text())
    assert sum(sizes.values()) == 28
    run(web, tmp_path / "b", ["--runner=FnApiRunner", "--direct_running_mode=multi_processing",
                              "--direct_num_workers=2"])
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
