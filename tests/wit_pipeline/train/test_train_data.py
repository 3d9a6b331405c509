import json
import os
import threading

import pytest
import torch

from train_shards import object_sample, write_shards
from wit_pipeline.train.data import DataOptions, ShardStream, check_shard, make_loader, resolve_shards
from wit_pipeline.train.tokenizer import train_tokenizer

TOKENIZER = train_tokenizer([f"a photo of a {w}" for w in ("dog", "cat", "car", "tree")] * 5, vocab_size=300,
                            context_length=16)


def stream(urls, cursors=None, **kw):
    opts = DataOptions(data="unused", batch_size=kw.pop("batch_size", 8), workers=0, shuffle_buffer=20,
                       shuffle_initial=5, image_size=32, **kw)
    return ShardStream(urls, opts, TOKENIZER.to_json(), 16, cursors=cursors, **{})


def take(it, n):
    return [next(it) for _ in range(n)]


def test_resolve_shards_folder_build_output_and_patterns(tmp_path):
    write_shards(tmp_path / "corpus" / "shards", 3, 4)
    sizes = json.loads((tmp_path / "corpus" / "shards" / "sizes.json").read_text())
    sizes["00001.tar"] = 0  # every download of that shard failed
    (tmp_path / "corpus" / "shards" / "sizes.json").write_text(json.dumps(sizes))
    urls, n = resolve_shards(str(tmp_path / "corpus"))  # a wit build output: its shards/ folder
    assert [os.path.basename(u) for u in urls] == ["00000.tar", "00002.tar"] and n == 8
    urls, n = resolve_shards(str(tmp_path / "corpus" / "shards" / "{00000..00002}.tar"))
    assert len(urls) == 3 and n is None
    with pytest.raises(ValueError, match="no .tar shards"):
        resolve_shards(str(tmp_path))
    with pytest.raises(ValueError, match="neither a folder"):
        resolve_shards(str(tmp_path / "missing"))


def test_a_corpus_without_captions_is_a_clear_error(tmp_path):
    no_text = lambda i: {"jpg": object_sample(i)["jpg"]}  # noqa: E731
    urls = write_shards(tmp_path, 1, 5, sample=no_text)
    with pytest.raises(ValueError, match="no captions"):
        check_shard(urls[0])
    no_image = lambda i: {"txt": b"a dog"}  # noqa: E731
    urls = write_shards(tmp_path / "b", 1, 5, sample=no_image)
    with pytest.raises(ValueError, match="no images"):
        check_shard(urls[0])
    (tmp_path / "junk.tar").write_bytes(b"not a tar file at all" * 100)
    with pytest.raises(ValueError, match="cannot read|no samples"):
        check_shard(str(tmp_path / "junk.tar"))


def _raises_within(fn, seconds, exc, match):
    """fn() must raise exc within `seconds` (a hang is the bug this guards against)."""
    box = {}

    def target():
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            box["e"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the data stream hung"
    assert isinstance(box.get("e"), exc) and match in str(box["e"]), box.get("e")


def test_streams_of_only_bad_samples_stop_with_an_error_instead_of_hanging(tmp_path):
    urls = write_shards(tmp_path, 2, 10, sample=lambda i: {"jpg": object_sample(i)["jpg"]})
    s = stream(urls, max_consecutive_bad=15)
    _raises_within(lambda: next(iter(s)), 60, RuntimeError, "bad samples in a row")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "00000.tar").write_bytes(b"\0garbage" * 50)
    _raises_within(lambda: next(iter(stream([str(junk / "00000.tar")]))), 60, RuntimeError, "read no sample")
    _raises_within(lambda: next(iter(stream([str(junk / "00000.tar")], resampled=True))), 60, RuntimeError,
                   "gave no readable sample")


def test_bad_samples_are_skipped_and_counted(tmp_path):
    def sample(i):
        s = object_sample(i)
        if i % 5 == 1:
            s["jpg"] = b"\xff\xd8 broken jpeg"
        if i % 5 == 3:
            s["txt"] = b"   "
        return s

    urls = write_shards(tmp_path, 2, 20, sample=sample)
    batches = take(iter(stream(urls)), 3)
    for b in batches:
        assert b["images"].shape == (8, 3, 32, 32) and b["images"].dtype == torch.uint8
        assert b["tokens"].shape == (8, 16) and b["tokens"].dtype == torch.int64
    # 24 good samples taken; about 2 of every 5 raw samples were bad
    assert batches[-1]["bad"] >= 10 and batches[-1]["cursor"] == 24 + batches[-1]["bad"]


def test_batches_are_deterministic_and_a_resumed_stream_continues_exactly(tmp_path):
    urls = write_shards(tmp_path, 3, 12, sample=object_sample)
    first = take(iter(stream(urls)), 7)
    again = take(iter(stream(urls)), 7)
    for a, b in zip(first, again):
        assert torch.equal(a["images"], b["images"]) and torch.equal(a["tokens"], b["tokens"])
    resumed = take(iter(stream(urls, cursors={0: first[3]["cursor"]})), 3)
    for a, b in zip(first[4:], resumed):  # crops included: augmentation is seeded by position, not by order
        assert torch.equal(a["images"], b["images"]) and torch.equal(a["tokens"], b["tokens"])
        assert a["cursor"] == b["cursor"]
    other_seed = take(iter(stream(urls, seed=1)), 1)
    assert not torch.equal(other_seed[0]["tokens"], first[0]["tokens"])


def test_streams_split_the_shards_between_ranks_and_workers(tmp_path):
    urls = write_shards(tmp_path, 8, 2, sample=object_sample)
    s = stream(urls)
    seen = []
    for sid in range(4):  # 2 ranks x 2 workers
        gen = s._shard_urls(sid, 4, [1])
        seen.append([next(gen) for _ in range(2)])
    assert sorted(u for part in seen for u in part) == sorted(urls)  # one pass: every shard once, no overlap
    progress = [0]
    resampled = stream(urls, resampled=True)._shard_urls(0, 4, progress)
    draws = []
    for _ in range(40):
        draws.append(next(resampled))
        progress[0] += 1  # each drawn shard gave samples
    assert set(draws) <= set(urls) and len(set(draws)) > 4


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_loader_workers_rotate_so_a_resume_continues_with_the_right_stream(tmp_path):
    urls = write_shards(tmp_path, 4, 12, sample=object_sample)
    opts = DataOptions(data=str(tmp_path), batch_size=4, workers=2, shuffle_buffer=10, shuffle_initial=2,
                       image_size=32)
    loader, workers = make_loader(opts, TOKENIZER.to_json(), 16, urls=urls)
    assert workers == 2
    plain = [(b["stream"], b["cursor"]) for _, b in zip(range(5), loader)]
    assert [s for s, _ in plain] == [0, 1, 0, 1, 0]
    cursors = {0: plain[2][1], 1: plain[3][1]}  # 4 batches consumed: stream 0 is next
    loader, _ = make_loader(opts, TOKENIZER.to_json(), 16, urls=urls, cursors=cursors, rotation=4)
    again = next(iter(loader))
    assert (again["stream"], again["cursor"]) == plain[4]
    loader, workers = make_loader(DataOptions(data=str(tmp_path), workers=8, image_size=32), TOKENIZER.to_json(),
                                  16, urls=urls)
    assert workers == 4  # never more streams than shards


def test_bad_sample_counts_go_on_after_a_resume(tmp_path):
    urls = write_shards(tmp_path, 1, 20)
    opts = DataOptions(data="unused", batch_size=4, workers=0, shuffle_buffer=5, shuffle_initial=2, image_size=32)
    fresh = next(iter(ShardStream(urls, opts, TOKENIZER.to_json(), 16)))
    resumed = next(iter(ShardStream(urls, opts, TOKENIZER.to_json(), 16, cursors={0: 4}, bad={0: 7})))
    assert fresh["bad"] == 0 and resumed["bad"] == 7
