"""`wit score` on a corpus the project built (the session's mini-web corpus, copied): the scores are the cosine
similarities the model gives when asked directly, a re-run skips, another checkpoint is refused (and replaces the
scores with --overwrite), the Beam job writes the same scores, and broken samples are unscored, not fatal."""
import glob
import io
import json
import math
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate_helpers import captions_of, copy_corpus, make_checkpoint, scores_of, tar_samples, write_shards
from wit_pipeline.cli import main
from wit_pipeline.train import augment, evaluate


@pytest.fixture(scope="module")
def scored(mini_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    corpus = copy_corpus(mini_corpus, root)
    captions = captions_of(corpus)
    ckpt = make_checkpoint(root / "a.pt", captions, seed=0)
    other = make_checkpoint(root / "b.pt", captions, seed=1)
    assert main(["score", corpus, "--checkpoint", ckpt, "--embeddings", "--batch-size", "7",
                 "--json", str(root / "summary.json")]) == 0
    return {"corpus": corpus, "ckpt": ckpt, "other": other, "summary": json.loads((root / "summary.json").read_text())}


def shard_tars(corpus):
    return sorted(glob.glob(os.path.join(corpus, "shards", "*.tar")))


def direct_scores(m, tar_path):
    """The similarity of each sample's image and caption, computed with the evaluation code."""
    samples = tar_samples(tar_path)
    images = [augment.eval_image(s["jpg"], m.config.vision.image_size) for s in samples.values()]
    img = evaluate.encode_images(m, images)
    txt = evaluate.encode_texts(m, [s["txt"].decode().strip() for s in samples.values()])
    return {key: (float((img[i] * txt[i]).sum()), img[i], txt[i]) for i, key in enumerate(samples)}


def test_scores_equal_the_models_own_similarities(scored):
    tars = shard_tars(scored["corpus"])
    assert len(tars) > 1
    m = evaluate.load(scored["ckpt"], "cpu")
    total = 0
    for tar_path in tars:
        table = pq.read_table(tar_path[:-4] + "_scores.parquet")
        want = direct_scores(m, tar_path)
        assert table["key"].to_pylist() == list(want)  # one row per sample, in tar order
        assert str(table.schema.field("score").type) == "float"
        for row in table.to_pylist():
            score, img, txt = want[row["key"]]
            assert row["score"] == pytest.approx(score, abs=1e-5)
            assert np.allclose(row["image_embedding"], img.numpy(), atol=2e-3)  # float16
            assert np.allclose(row["text_embedding"], txt.numpy(), atol=2e-3)
        total += len(want)
        meta = json.loads(table.schema.metadata[b"wit_score"])
        import hashlib
        assert meta["checkpoint_sha256"] == hashlib.sha256(open(scored["ckpt"], "rb").read()).hexdigest()
        assert meta["step"] == 7 and meta["samples"] == len(want) and meta["tar_bytes"] == os.path.getsize(tar_path)
    summary = scored["summary"]
    assert summary["samples"] == summary["scored"] == total and summary["skipped_shards"] == 0
    assert summary["distribution"]["count"] == total
    sizes = json.load(open(os.path.join(scored["corpus"], "shards", "sizes.json")))
    assert sum(sizes.values()) == total


def test_a_rerun_skips_and_another_checkpoint_is_refused(scored, capsys, tmp_path):
    files = sorted(glob.glob(os.path.join(scored["corpus"], "shards", "*_scores.parquet")))
    before = {f: (os.stat(f).st_mtime_ns, open(f, "rb").read()) for f in files}
    summary = tmp_path / "again.json"
    assert main(["score", scored["corpus"], "--checkpoint", scored["ckpt"], "--embeddings",
                 "--json", str(summary)]) == 0
    again = json.loads(summary.read_text())
    assert again["skipped_shards"] == len(files) and again["scored_shards"] == 0
    assert {f: (os.stat(f).st_mtime_ns, open(f, "rb").read()) for f in files} == before
    capsys.readouterr()
    assert main(["score", scored["corpus"], "--checkpoint", scored["other"]]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("wit score: error: ") and "_scores.parquet" in err
    assert "--overwrite" in err and "a.pt" in err and "b.pt" in err
    assert {f: open(f, "rb").read() for f in files} == {f: b for f, (_, b) in before.items()}  # nothing touched


def test_a_changed_tar_is_rescored_and_overwrite_replaces(tmp_path):
    data = tmp_path / "shards"
    write_shards(data, 2, 6)
    ckpt = make_checkpoint(tmp_path / "a.pt", ["a photo of a dog", "a photo of a cat"])
    other = make_checkpoint(tmp_path / "b.pt", ["a photo of a dog", "a photo of a cat"], seed=3)
    assert main(["score", str(data), "--checkpoint", ckpt]) == 0
    first = scores_of(str(data / "00001_scores.parquet"))
    write_shards(data, 2, 4)  # the shards are rebuilt: smaller tars
    assert main(["score", str(data), "--checkpoint", ckpt]) == 0
    assert len(scores_of(str(data / "00001_scores.parquet"))) == 4 != len(first)
    assert main(["score", str(data), "--checkpoint", other, "--overwrite"]) == 0
    meta = json.loads(pq.read_schema(data / "00000_scores.parquet").metadata[b"wit_score"])
    assert meta["checkpoint"] == other


def test_the_beam_job_writes_the_same_scores(scored, tmp_path):
    import shutil
    corpus = str(tmp_path / "beam")
    shutil.copytree(os.path.join(scored["corpus"], "shards"), corpus,
                    ignore=shutil.ignore_patterns("*_scores.parquet"))
    assert main(["score", corpus, "--checkpoint", scored["ckpt"], "--beam", "--batch-size", "7",
                 "--runner", "FnApiRunner"]) == 0
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(corpus, "*_scores.parquet")))
    assert names and names == sorted(os.path.basename(p) for p in
                                     glob.glob(os.path.join(scored["corpus"], "shards", "*_scores.parquet")))
    for name in names:
        beam = scores_of(os.path.join(corpus, name))
        plain = scores_of(os.path.join(scored["corpus"], "shards", name))
        assert list(beam) == list(plain)
        assert np.allclose(list(beam.values()), list(plain.values()), atol=1e-6, rtol=0)


def test_broken_samples_are_unscored_not_fatal(tmp_path):
    def sample(i):
        if i == 1:
            return {"jpg": b"\xff\xd8 not a jpeg", "txt": b"a photo of a dog"}
        if i == 2:
            return {"jpg": make_jpeg(), "txt": b"   "}
        if i == 3:
            return {"jpg": make_jpeg()}  # no caption at all
        return {"jpg": make_jpeg(), "txt": b"a photo of a cat"}

    write_shards(tmp_path / "s", 1, 5, sample=sample)
    ckpt = make_checkpoint(tmp_path / "a.pt", ["a photo of a dog", "a photo of a cat"])
    assert main(["score", str(tmp_path / "s"), "--checkpoint", ckpt, "--embeddings"]) == 0
    table = pq.read_table(tmp_path / "s" / "00000_scores.parquet").to_pylist()
    assert [r["key"] for r in table] == [f"0000000{i:02d}" for i in range(5)]
    assert [math.isnan(r["score"]) for r in table] == [False, True, True, True, False]
    assert [r["image_embedding"] is None for r in table] == [False, True, True, True, False]


def make_jpeg():
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("case", ["no_checkpoint", "not_a_checkpoint", "no_corpus", "damaged_tar", "beam_flags"])
def test_bad_input_is_one_line_naming_the_file(tmp_path, capsys, case):
    write_shards(tmp_path / "s", 1, 3)
    ckpt = make_checkpoint(tmp_path / "a.pt", ["a photo of a dog"])
    corpus, named = str(tmp_path / "s"), None
    argv = ["score", corpus, "--checkpoint", ckpt]
    if case == "no_checkpoint":
        argv[3], named = str(tmp_path / "missing.pt"), "missing.pt"
    elif case == "not_a_checkpoint":
        (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
        argv[3], named = str(tmp_path / "junk.pt"), "junk.pt"
    elif case == "no_corpus":
        argv[1], named = str(tmp_path / "nothing"), "nothing"
    elif case == "damaged_tar":
        data = (tmp_path / "s" / "00000.tar").read_bytes()
        (tmp_path / "s" / "00000.tar").write_bytes(data[:700])
        named = "00000.tar"
    else:
        argv += ["--runner", "FnApiRunner"]
        named = "--beam"
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wit score: error: ") and "\n" not in err and named in err, err
    assert "Traceback" not in err


def test_a_sample_is_scored_alone_whatever_its_batch(tmp_path):
    """Batches of 1 and of the whole shard give the same scores: nothing leaks between the samples of a batch."""
    write_shards(tmp_path / "s", 1, 9)
    ckpt = make_checkpoint(tmp_path / "a.pt", ["a photo of a dog", "a photo of a cat"])
    path = tmp_path / "s" / "00000_scores.parquet"
    results = []
    for size in ("1", "9"):
        assert main(["score", str(tmp_path / "s"), "--checkpoint", ckpt, "--batch-size", size,
                     "--no-embeddings"]) == 0
        results.append(scores_of(str(path)))
        path.unlink()
    assert list(results[0]) == list(results[1])
    assert np.allclose(list(results[0].values()), list(results[1].values()), atol=1e-5, rtol=0)


def test_cuda_without_a_gpu_is_one_line(tmp_path, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    write_shards(tmp_path / "s", 1, 2)
    ckpt = make_checkpoint(tmp_path / "a.pt", ["a photo of a dog"])
    assert main(["score", str(tmp_path / "s"), "--checkpoint", ckpt, "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wit score: error: --device cuda") and "\n" not in err
