"""The downloader inside Beam: deterministic shards, the same files as the plain downloader would write."""
import json
import os

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline

from transforms.candidate import candidate
from transforms.download.beam import AssignShards, DownloadShards, WriteSizes
from transforms.files import bucket_of as shard_of
from transforms.download.options import ManifestOptions

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
        shards = p | beam.Create(rows(web, 35)) | AssignShards(10)
        stats = shards | DownloadShards(opts, columns)
        stats | WriteSizes(str(out))


def test_shards_are_deterministic_and_complete(web, tmp_path):
    run(web, tmp_path / "a", ["--runner=FnApiRunner"])
    names = sorted(os.listdir(tmp_path / "a"))
    assert names[-1] == "sizes.json" and sum(n.endswith("_stats.json") for n in names) == 4  # ceil(35 / 10)
    all_rows = [r for f in sorted(names) if f.endswith(".parquet") for r in pq.read_table(tmp_path / "a" / f).to_pylist()]
    assert len(all_rows) == 35 and sum(r["status"] == "success" for r in all_rows) == 28
    assert all(shard_of(r["uid"], 4) == int(r["key"][:5]) for r in all_rows)
    assert all(r["matched_queries"][-1] == 7 for r in all_rows)  # list columns carried through
    sizes = json.loads((tmp_path / "a" / "sizes.json").read_text())
    assert sum(sizes.values()) == 28
    run(web, tmp_path / "b", ["--runner=FnApiRunner", "--direct_running_mode=multi_processing",
                              "--direct_num_workers=2"])
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
