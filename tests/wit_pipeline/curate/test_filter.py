"""`wit filter` on a corpus the project built and scored: the new corpus holds exactly the samples the scores
keep (byte for byte), its Parquet keeps every row with the dropped ones marked `low_clip_score`, its stats and
sizes.json agree with the tars, `wit stats` and the trainer read it; keep-fraction ties go by key; a re-run
resumes, one with other settings is refused."""
import glob
import json
import math
import os

import pyarrow.parquet as pq
import pytest

from curate_helpers import (captions_of, copy_corpus, make_checkpoint, scores_of, tar_samples, write_scores,
                            write_shards)
from wit_pipeline.cli import main
from wit_pipeline.stats.collect import collect


@pytest.fixture(scope="module")
def scored(mini_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("filter")
    corpus = copy_corpus(mini_corpus, root)
    ckpt = make_checkpoint(root / "a.pt", captions_of(corpus))
    assert main(["score", corpus, "--checkpoint", ckpt]) == 0
    scores = {}
    for path in sorted(glob.glob(os.path.join(corpus, "shards", "*_scores.parquet"))):
        scores.update(scores_of(path))
    return {"corpus": corpus, "root": root, "scores": scores, "ckpt": ckpt}


def rows(folder):
    return {os.path.basename(p): pq.read_table(p) for p in sorted(glob.glob(os.path.join(folder, "[0-9]*.parquet")))
            if not p.endswith("_scores.parquet")}


def test_min_score_writes_exactly_the_kept_samples(scored):
    scores = scored["scores"]
    threshold = sorted(scores.values())[len(scores) // 2]
    keep = {k for k, s in scores.items() if s >= threshold}
    assert 0 < len(keep) < len(scores)
    out = str(scored["root"] / "kept")
    assert main(["filter", scored["corpus"], "--output", out, "--min-score", repr(threshold)]) == 0
    source = os.path.join(scored["corpus"], "shards")
    old, new = rows(source), rows(out)
    assert list(old) == list(new)
    failed_before = 0
    for name, table in old.items():
        stem = name[:-len(".parquet")]
        assert new[name].schema == table.schema  # every column, carried ones too, same types
        before, after = table.to_pylist(), new[name].to_pylist()
        assert [r["key"] for r in before] == [r["key"] for r in after]
        for a, b in zip(before, after):
            if a["status"] == "success" and a["key"] not in keep:
                assert b["status"] == "low_clip_score" and b["error_message"] == f"CLIP score < {threshold:g}"
                assert {k: v for k, v in a.items() if k not in ("status", "error_message")} == \
                    {k: v for k, v in b.items() if k not in ("status", "error_message")}
            else:
                assert a == b  # kept, or failed at download: untouched
                failed_before += a["status"] != "success"
        # the tar: the kept samples, every member byte for byte
        input_samples = tar_samples(os.path.join(source, stem + ".tar"))
        output_samples = tar_samples(os.path.join(out, stem + ".tar"))
        assert output_samples == {k: v for k, v in input_samples.items() if k in keep}
        stats = json.load(open(os.path.join(out, stem + "_stats.json")))
        statuses = [r["status"] for r in after]
        assert stats["count"] == len(after) and stats["successes"] == len(output_samples) == statuses.count("success")
        assert stats["status_counts"] == {s: statuses.count(s) for s in set(statuses)}
        assert stats["dropped"].get("low_clip_score", 0) == statuses.count("low_clip_score")
        assert all(os.path.getsize(os.path.join(out, f)) == m["bytes"] for f, m in stats["files"].items())
    assert failed_before > 0  # the built corpus has failed downloads: carried as they were
    sizes = json.load(open(os.path.join(out, "sizes.json")))
    assert sizes == {f"{n[:-8]}.tar": len(tar_samples(os.path.join(out, n[:-8] + ".tar"))) for n in new}
    assert sum(sizes.values()) == len(keep)
    s = collect(out)
    assert s["totals"]["success"] == len(keep) == s["totals"]["images_in_sizes_json"]
    assert s["status"]["low_clip_score"] == len(scores) - len(keep)
    assert s["corpus"]["shards_disagreeing_with_stats_json"] == [] == s["corpus"]["shards_without_stats_json"]


def test_the_trainer_reads_the_filtered_corpus(scored):
    from wit_pipeline.train.data import DataOptions, ShardStream, resolve_shards
    from wit_pipeline.train.evaluate import load

    out = str(scored["root"] / "half")
    assert main(["filter", scored["corpus"], "--output", out, "--keep-fraction", "0.5"]) == 0
    kept = math.floor(0.5 * len(scored["scores"]) + 0.5)
    urls, epoch = resolve_shards(out)
    assert epoch == kept
    m = load(scored["ckpt"], "cpu")
    opts = DataOptions(data=out, batch_size=1, workers=0, shard_shuffle=False, shuffle_buffer=1, shuffle_initial=1,
                       image_size=m.config.vision.image_size, train=False)
    batches = iter(ShardStream(urls, opts, m.tokenizer.to_json(), m.config.text.context_length))
    seen = [next(batches) for _ in range(kept)]
    assert seen[-1]["cursor"] == kept and seen[-1]["bad"] == 0  # one pass: every sample read, none bad
    assert all(b["images"].shape[0] == 1 for b in seen)


@pytest.fixture()
def tied(tmp_path):
    """Two shards of 5 with chosen scores: ties at 0.2 and one unscored sample."""
    write_shards(tmp_path / "in", 2, 5)
    values = [[0.5, 0.2, 0.2, 0.9, math.nan], [0.2, 0.1, 0.2, 0.7, 0.3]]
    for s, shard in enumerate(values):
        tar = str(tmp_path / "in" / f"{s:05d}.tar")
        write_scores(tar, {f"{s:05d}{j:04d}": v for j, v in enumerate(shard)})
    return tmp_path


def kept_keys(folder):
    return {k for tar in sorted(glob.glob(os.path.join(folder, "*.tar"))) for k in tar_samples(tar)}


def test_keep_fraction_ties_go_by_key_globally_and_per_shard(tied):
    assert main(["filter", str(tied / "in"), "--output", str(tied / "global"), "--keep-fraction", "0.5"]) == 0
    # 0.9, 0.7, 0.5, 0.3, then the first of the four 0.2 by key
    assert kept_keys(tied / "global") == {"000000003", "000010003", "000000000", "000010004", "000000001"}
    assert main(["filter", str(tied / "in"), "--output", str(tied / "shard"), "--keep_fraction", "0.5",
                 "--quantile", "per-shard"]) == 0  # the underscore spelling is accepted too
    assert kept_keys(tied / "shard") == {"000000003", "000000000", "000000001", "000010003", "000010004", "000010000"}
    table = pq.read_table(tied / "shard" / "00000.parquet").to_pylist()
    assert [r["status"] for r in table] == ["success", "success", "low_clip_score", "success", "low_clip_score"]
    assert table[4]["error_message"].startswith("no CLIP score") and "shard" in table[2]["error_message"]
    # the order the shards come in changes nothing
    reverse = str(tied / "in" / "00001.tar") + "::" + str(tied / "in" / "00000.tar")
    assert main(["filter", reverse, "--output", str(tied / "reverse"), "--keep-fraction", "0.5"]) == 0
    assert kept_keys(tied / "reverse") == kept_keys(tied / "global")


def test_a_rerun_resumes_and_other_settings_are_refused(tied, capsys):
    out = tied / "out"
    argv = ["filter", str(tied / "in"), "--output", str(out), "--min-score", "0.25"]
    assert main(argv) == 0
    files = sorted(p for p in glob.glob(str(out / "*")) if not p.endswith("_wit_provenance.json"))
    first = {p: open(p, "rb").read() for p in files}
    stamps = {p: os.stat(p).st_mtime_ns for p in files if not p.endswith("sizes.json")}
    assert main(argv + ["--json", str(tied / "s.json")]) == 0
    summary = json.loads((tied / "s.json").read_text())
    assert summary["skipped_shards"] == 2 and summary["kept"] == 4 and summary["dropped"] == {"low_clip_score": 6}
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps  # complete shards kept as they were
    os.remove(out / "00001_stats.json")  # as if killed before the shard was complete: redone, the same bytes
    (out / "00001.tar").write_bytes(b"partial")
    assert main(argv) == 0
    assert {p: open(p, "rb").read() for p in files} == first
    capsys.readouterr()
    assert main(["filter", str(tied / "in"), "--output", str(out), "--min-score", "0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wit filter: error: ") and "\n" not in err
    assert "min_score 0.25 -> 0.1" in err and "--overwrite" in err
    assert {p: open(p, "rb").read() for p in files} == first  # nothing mixed in
    assert main(["filter", str(tied / "in"), "--output", str(out), "--min-score", "0.1", "--overwrite"]) == 0
    assert len(kept_keys(out)) == 9


def test_other_scores_are_refused(tied, capsys):
    out = tied / "out"
    assert main(["filter", str(tied / "in"), "--output", str(out), "--keep-fraction", "0.5"]) == 0
    write_scores(str(tied / "in" / "00000.tar"), {f"00000{j:04d}": 0.5 - j / 10 for j in range(5)})
    capsys.readouterr()
    assert main(["filter", str(tied / "in"), "--output", str(out), "--keep-fraction", "0.5"]) == 2
    assert "dropped_samples" in capsys.readouterr().err  # the same settings, other drops: not resumed
    write_scores(str(tied / "in" / "00000.tar"), {f"00000{j:04d}": 0.1 for j in range(5)}, sha256="b" * 64)
    assert main(["filter", str(tied / "in"), "--output", str(tied / "o2"), "--keep-fraction", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "another checkpoint" in err and "00000_scores.parquet" in err and "\n" not in err


@pytest.mark.parametrize("case", ["no_scores", "stale_scores", "into_the_input", "no_rule", "both_rules",
                                  "bad_fraction"])
def test_bad_input_is_one_line(tied, capsys, case):
    argv = ["filter", str(tied / "in"), "--output", str(tied / "out"), "--keep-fraction", "0.5"]
    named = "error"
    if case == "no_scores":
        os.remove(tied / "in" / "00001_scores.parquet")
        named = "00001_scores.parquet"
    elif case == "stale_scores":
        with open(tied / "in" / "00001.tar", "ab") as f:
            f.write(b"\0" * 10240)
        named = "wit score again"
    elif case == "into_the_input":
        argv[3] = str(tied / "in")
        named = "another folder"
    elif case == "no_rule":
        argv = argv[:4]
        named = "--min-score"
    elif case == "both_rules":
        argv += ["--min-score", "0.1"]
        named = "either"
    else:
        argv[5] = "1.5"
        named = "keep_fraction"
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wit filter: error: ") and "\n" not in err and named in err, err
    assert not os.path.exists(tied / "out" / "00000.tar")


def test_a_filtered_corpus_is_scored_and_summarised_again(tied, tmp_path):
    assert main(["filter", str(tied / "in"), "--output", str(tied / "out"), "--min-score", "0.25"]) == 0
    ckpt = make_checkpoint(tmp_path / "c.pt", ["a photo of a dog", "a photo of a cat"])
    assert main(["score", str(tied / "out"), "--checkpoint", ckpt]) == 0
    assert sorted(scores_of(str(tied / "out" / "00000_scores.parquet"))) == ["000000000", "000000003"]
    assert collect(str(tied / "out"))["scores"]["count"] == 4
