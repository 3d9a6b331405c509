"""The shard output: readable by webdataset and pyarrow, deterministic, resumable after a crash."""
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import fsspec
import pyarrow.parquet as pq
import pytest
import webdataset as wds
from PIL import Image

from transforms.download.run import download

from helpers import TEST_FETCH, options, read_rows, tree_bytes, write_manifest

FAULTS = ("/fault/status/404/{}", "/fault/corrupt/{}", "/fault/html/{}")


def mixed_urls(web, n):
    """n URLs, mostly good images of several formats, every seventh a failure."""
    urls = []
    for i in range(n):
        name = f"{i}_{80 + i % 50}x{60 + i % 40}.{('jpg', 'png', 'webp', 'gif')[i % 4]}"
        urls.append(web.url(FAULTS[i % 3].format(name) if i % 7 == 3 else f"/img/{name}"))
    return urls


@pytest.fixture
def built(web, tmp_path):
    urls = mixed_urls(web, 45)
    manifest = write_manifest(tmp_path / "m.parquet", urls, page=[f"p{i}" for i in range(45)],
                              score=[i / 10 for i in range(45)])
    summary = download([manifest], options(tmp_path / "out", shard_size=20))
    return tmp_path / "out", urls, summary, manifest


def test_layout_counts_and_parquet(built):
    out, urls, summary, _ = built
    names = sorted(os.listdir(out))
    assert names == ["00000.parquet", "00000.tar", "00000_stats.json", "00001.parquet", "00001.tar",
                     "00001_stats.json", "00002.parquet", "00002.tar", "00002_stats.json", "_wit_provenance.json",
                     "sizes.json"]
    rows = read_rows(out)
    assert [r["url"] for r in rows] == urls and len(rows) == 45
    assert [r["key"] for r in rows][:2] == ["0000000", "0000001"] and rows[20]["key"] == "0000100"
    assert [r["page"] for r in rows] == [f"p{i}" for i in range(45)]  # carried columns, original types
    assert pq.read_schema(out / "00000.parquet").field("score").type == "double"
    stats = [json.loads((out / f"0000{i}_stats.json").read_text()) for i in range(3)]
    assert [s["count"] for s in stats] == [20, 20, 5]
    assert sum(s["successes"] for s in stats) == sum(r["status"] == "success" for r in rows) == summary.successes
    assert summary.successes == 45 - sum(1 for i in range(45) if i % 7 == 3)
    sizes = json.loads((out / "sizes.json").read_text())
    assert sizes == {f"0000{i}.tar": s["successes"] for i, s in enumerate(stats)}
    modes = {os.stat(out / name).st_mode & 0o777 for name in names}
    assert len(modes) == 1 and modes.pop() & 0o044  # stats and sizes readable like the tars, not 0600


def test_tars_read_with_webdataset_and_match_parquet(built):
    out, _, _, _ = built
    rows = {r["key"]: r for r in read_rows(out) if r["status"] == "success"}
    shards = [str(out / f"0000{i}.tar") for i in range(3)]
    samples = list(wds.WebDataset(shards, shardshuffle=False, empty_check=False))
    assert [s["__key__"] for s in samples] == sorted(rows)
    for sample in samples:
        row = rows[sample["__key__"]]
        image = Image.open(io.BytesIO(sample["jpg"]))
        assert image.format == "JPEG" and image.size == (row["width"], row["height"])
        assert sample["txt"].decode() == row["caption"]
        meta = json.loads(sample["json"])
        assert meta["sha256"] == row["sha256"] and meta["page"] == row["page"] and meta["url"] == row["url"]
        import hashlib
        assert hashlib.sha256(sample["jpg"]).hexdigest() == row["sha256"]
    with tarfile.open(shards[0]) as tar:  # fixed metadata, members sorted by key
        members = tar.getmembers()
        assert [m.name for m in members] == sorted(m.name for m in members)
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {(0, 0, 0, "", "", 0o644)}


def test_same_input_gives_identical_bytes_and_rerun_skips(web, built, tmp_path):
    out, urls, _, manifest = built
    download([manifest], options(tmp_path / "again", shard_size=20, processes=2))
    assert tree_bytes(tmp_path / "again") == tree_bytes(out)
    before = sum(web.hits.values())
    summary = download([manifest], options(out, shard_size=20))
    assert summary.skipped_shards == 3 and sum(web.hits.values()) == before  # nothing fetched again


def test_broken_shards_are_redone(built):
    out, _, _, manifest = built
    reference = tree_bytes(out)
    with open(out / "00001.tar", "r+b") as f:  # a tar cut short: its stats no longer match
        f.truncate(1000)
    os.remove(out / "00002_stats.json")  # a shard whose stats never got written
    summary = download([manifest], options(out, shard_size=20))
    assert summary.skipped_shards == 1
    assert tree_bytes(out) == reference


def test_fsspec_output(web, tmp_path):
    manifest = write_manifest(tmp_path / "m.parquet", mixed_urls(web, 8))
    download([manifest], options("memory://wit-test/out", shard_size=5))
    fs = fsspec.filesystem("memory")
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls("/wit-test/out", detail=False)) == [
        "00000.parquet", "00000.tar", "00000_stats.json", "00001.parquet", "00001.tar", "00001_stats.json",
        "_wit_provenance.json", "sizes.json"]
    assert json.loads(fs.cat("/wit-test/out/sizes.json")) == {"00000.tar": 4, "00001.tar": 3}


def _cli(manifest, output):
    allow = [a for net in TEST_FETCH["allowed_networks"] for a in ("--allow-network", net)]
    return [sys.executable, "-m", "wit_pipeline.cli", "download", manifest, "--output", str(output),
            "--shard-size", "25", "--processes", "2", "--concurrency", "4", "--image-size", "64",
            "--no-progress", *allow]


@pytest.mark.timeout(180)
def test_sigkill_mid_run_then_rerun_is_byte_identical(web, tmp_path):
    # Pages of the drip fault would be too slow; instead throttle with a small concurrency.
    manifest = write_manifest(tmp_path / "m.parquet", mixed_urls(web, 300))
    subprocess.run(_cli(manifest, tmp_path / "reference"), check=True, capture_output=True)
    proc = subprocess.Popen(_cli(manifest, tmp_path / "killed"), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        done = [n for n in os.listdir(tmp_path / "killed")] if (tmp_path / "killed").exists() else []
        if sum(n.endswith("_stats.json") for n in done) >= 2:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: main and workers, like a lost machine
    proc.wait()
    partial = [n for n in os.listdir(tmp_path / "killed") if n.endswith("_stats.json")]
    assert 0 < len(partial) < 12, "the kill should land mid-run"
    subprocess.run(_cli(manifest, tmp_path / "killed"), check=True, capture_output=True)
    assert tree_bytes(tmp_path / "killed") == tree_bytes(tmp_path / "reference")
