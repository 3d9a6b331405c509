"""benchmarks/filtering.py: the caption swap, the noisy corpus it writes and the precision/recall of a filter,
on a tiny synthetic corpus (no training, no Flickr8k data needed)."""
import importlib.util
import io
import json
import sys
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("filtering", ROOT / "benchmarks" / "filtering.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["filtering"] = module
    spec.loader.exec_module(module)
    return module


filtering = _load()


def _shard(folder: Path, name: str, samples: list[tuple[str, bytes, str]]) -> None:
    """A downloader-style shard: NNNNN.tar (jpg, json, txt per key) and NNNNN.parquet (plus one failed row)."""
    with tarfile.open(folder / f"{name}.tar", "w") as tar:
        for key, image, caption in samples:
            meta = json.dumps({"key": key, "caption": caption, "status": "success"}).encode()
            for ext, data in (("jpg", image), ("json", meta), ("txt", caption.encode())):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    keys = [s[0] for s in samples] + [f"{name}-failed"]
    pq.write_table(pa.table({"key": keys, "caption": [s[2] for s in samples] + ["lost"],
                             "status": ["success"] * len(samples) + ["failed_to_download"],
                             "error_message": [None] * len(samples) + ["404"]}), folder / f"{name}.parquet")


@pytest.fixture()
def corpus(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    # 12 photos x 5 captions = 60 pairs over two shards; a photo's bytes name it
    pairs = [(f"{i:04d}", f"photo{i // 5}".encode(), f"caption {i % 5} of photo {i // 5}") for i in range(60)]
    _shard(src, "00000", pairs[:35])
    _shard(src, "00001", pairs[35:])
    (src / "sizes.json").write_text(json.dumps({"00000.tar": 35, "00001.tar": 25}))
    return src


def test_choose_swaps_is_a_seeded_derangement_across_photos():
    keys = [f"{i:04d}" for i in range(1000)]
    images = {k: int(k) // 5 for k in keys}
    swaps = filtering.choose_swaps(keys, images, 0.3, seed=3)
    assert len(swaps) == 300
    assert sorted(swaps.values()) == sorted(swaps)  # captions move among the chosen pairs only
    assert all(images[k] != images[src] for k, src in swaps.items())  # never a caption of its own photo
    assert swaps == filtering.choose_swaps(keys, images, 0.3, seed=3)
    assert swaps != filtering.choose_swaps(keys, images, 0.3, seed=4)
    assert filtering.choose_swaps(keys[:3], images, 0.3, seed=0) == {}  # fewer than 2 to swap: none


def test_noisy_corpus_carries_the_swapped_captions_everywhere(corpus, tmp_path):
    from wit_pipeline.curate.corpus import find_shards, iter_samples, members_by_ext

    layout, images, captions = filtering.read_pairs(find_shards(str(corpus)))
    keys = [k for _, ks in layout for k in ks]
    assert len(keys) == 60 and len(set(images.values())) == 12
    swaps = filtering.choose_swaps(keys, images, 0.3, seed=0)
    out = tmp_path / "noisy"
    summary = filtering.write_corpus(layout, captions, swaps, out)
    assert summary == {"shards": 2, "pairs": 60, "swapped": 18}
    assert json.loads((out / "sizes.json").read_text()) == {"00000.tar": 35, "00001.tar": 25}
    for name in ("00000", "00001"):
        stats = json.loads((out / f"{name}_stats.json").read_text())
        assert stats["files"][f"{name}.tar"]["bytes"] == (out / f"{name}.tar").stat().st_size
        table = pq.read_table(out / f"{name}.parquet")
        rows = dict(zip(table.column("key").to_pylist(), table.column("caption").to_pylist()))
        assert rows[f"{name}-failed"] == "lost"  # a failed row of a whole shard stays
        for key, members in iter_samples(str(out / f"{name}.tar")):
            sample = members_by_ext(members)
            want = captions[swaps.get(key, key)].decode()
            assert sample["txt"].decode() == want == json.loads(sample["json"])["caption"] == rows[key]
            assert sample["jpg"] == f"photo{int(key) // 5}".encode()  # the image never moves


def test_limit_keeps_the_parquet_and_tar_in_agreement(corpus, tmp_path):
    from wit_pipeline.curate.corpus import find_shards
    from wit_pipeline.curate.rewrite import write_filtered

    layout, images, captions = filtering.read_pairs(find_shards(str(corpus)), limit=40)
    assert [(s.name, len(k)) for s, k in layout] == [("00000", 35), ("00001", 5)]
    out = tmp_path / "noisy"
    filtering.write_corpus(layout, captions, {}, out)
    assert json.loads((out / "sizes.json").read_text()) == {"00000.tar": 35, "00001.tar": 5}
    # what wit filter requires of its input: each success row's sample in the tar and nothing else
    summary = write_filtered(str(out), str(tmp_path / "filtered"), {"0000": ("low_clip_score", "low")},
                             settings={"command": "filter"})
    assert summary["kept"] == 39 and summary["dropped"] == {"low_clip_score": 1}
    assert filtering.dropped_keys(tmp_path / "filtered") == {"0000"}


def test_catch_figures_and_auc():
    f = filtering.catch_figures(dropped={"a", "b", "c", "d"}, swapped={"a", "b", "e"}, total=10)
    assert (f["caught"], f["precision"], f["recall"]) == (2, 0.5, 2 / 3)
    assert (f["chance_precision"], f["chance_recall"]) == (0.3, 0.4)
    assert filtering.auc([0.9, 0.8, 0.7], [0.1, 0.2]) == 1.0
    assert filtering.auc([0.1], [0.9]) == 0.0
    assert filtering.auc([0.5, 0.5], [0.5, float("nan")]) == 0.5
    assert filtering.auc([], [0.1]) is None
