"""`wit build` end to end on the embedded runner: a WARC of the local mini-web to WebDataset shards, with every
candidate accounted for (kept, or rejected with its stage and reason)."""
import glob
import json
import os
import tarfile

import pyarrow.parquet as pq
import pytest

from wit_pipeline.pipeline import run


def parquet_rows(pattern):
    return [r for f in sorted(glob.glob(pattern)) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def built(mini_corpus):
    return mini_corpus["out"], mini_corpus["summary"], mini_corpus["argv"]


def test_every_candidate_is_accounted_for(built):
    out, summary, _ = built
    stages = summary["stages"]
    candidates = stages["crawl"]["candidates"]
    rejected = parquet_rows(f"{out}/rejected/part-*.parquet")
    manifest = parquet_rows(f"{out}/manifest/*.parquet")
    assert candidates > 100 and len(manifest) > 50
    assert candidates == len(rejected) + len(manifest)
    for stage in ("text", "language", "dedup", "match", "balance"):  # each stage's in = out + its drops
        counters = stages[stage]
        assert counters["in"] == counters["out"] + sum(v for k, v in counters.items() if k.startswith("dropped."))
    # (the mini-web's junk texts go at the language stage now, before matching could drop them)
    assert {r["stage"] for r in rejected} >= {"text", "language", "dedup", "balance"}
    assert all(r["reason"] for r in rejected)
    by_reason = {}
    for r in rejected:
        by_reason[(r["stage"], r["reason"])] = by_reason.get((r["stage"], r["reason"]), 0) + 1
    for (stage, reason), n in by_reason.items():  # rejected/ and the counters agree
        assert stages[stage][f"dropped.{reason}"] == n


def test_shards_match_the_manifest(built):
    out, summary, _ = built
    manifest = parquet_rows(f"{out}/manifest/*.parquet")
    shard_rows = parquet_rows(f"{out}/shards/*.parquet")
    assert sorted(r["uid"] for r in shard_rows) == sorted(r["uid"] for r in manifest)
    assert all(r["language"] == "en" and r["matched_queries"] for r in shard_rows)
    sizes = json.load(open(f"{out}/shards/sizes.json"))
    successes = sum(r["status"] == "success" for r in shard_rows)
    assert sum(sizes.values()) == successes == summary["stages"]["download"]["success"]
    assert {r["status"] for r in shard_rows} >= {"success", "http_error"}  # the mini-web's faulty links
    counts = pq.read_table(f"{out}/query_counts.parquet").to_pylist()
    assert all(r["count_after"] <= r["count_before"] for r in counts)
    assert any(r["keep_probability"] < 1 for r in counts)  # head queries were capped


def test_rerun_is_byte_identical(built, tmp_path):
    out, _, argv = built
    again = str(tmp_path / "again")
    run([a if a != out else again for a in argv])

    def files(root):
        return {os.path.relpath(p, root): open(p, "rb").read() for p in glob.glob(f"{root}/**/*", recursive=True)
                if os.path.isfile(p) and not p.endswith("summary.json")}
    assert files(again) == files(out)


# --- re-running into an existing output ----------------------------------------------------------------------

def _into(argv, old, new, *extra):
    return [new if a == old else a for a in argv] + list(extra)


def _copy(out, tmp_path):
    import shutil
    return str(shutil.copytree(out, tmp_path / "copy"))


def test_rebuild_with_other_inputs_or_options_is_refused(built, web, tmp_path):
    from transforms.download.provenance import OutputMismatch
    from wit_pipeline.testbed.warc import write_warc
    out, _, argv = built
    copy = _copy(out, tmp_path)
    before = {p: open(p, "rb").read() for p in glob.glob(f"{copy}/**/*", recursive=True) if os.path.isfile(p)}
    with pytest.raises(OutputMismatch, match=r"download\.image\.image_size 64 -> 32.*--overwrite"):
        run(_into(argv, out, copy, "--image_size", "32"))
    with pytest.raises(OutputMismatch, match=r"balance\.t 5 -> 30"):
        run(_into(argv, out, copy, "--balance_t", "30"))
    other = str(tmp_path / "other.warc.gz")
    write_warc(other, [web.url(f"/site/{n}.html") for n in range(3)])
    with pytest.raises(OutputMismatch, match=r"input \S*site\.warc\.gz -> \S*other\.warc\.gz\)"):
        run([other if a.endswith("site.warc.gz") else a for a in _into(argv, out, copy)])
    after = {p: open(p, "rb").read() for p in glob.glob(f"{copy}/**/*", recursive=True) if os.path.isfile(p)}
    assert after == before


def test_rebuild_resumes_or_overwrites(built, tmp_path):
    out, _, argv = built
    copy = _copy(out, tmp_path)
    tars = sorted(glob.glob(f"{copy}/shards/*.tar"))
    summary = run(_into(argv, out, copy, "--download_timeout", "20"))  # not an option that changes the bytes
    assert summary["stages"]["download"]["shards_skipped"] == len(tars)

    run(_into(argv, out, copy, "--image_size", "32", "--overwrite"))
    provenance = json.load(open(f"{copy}/_wit_provenance.json"))
    assert provenance["options"]["download.image.image_size"] == 32
    sides = _shorter_sides(copy)
    assert sides and max(sides) <= 32 < max(_shorter_sides(out))


def _shorter_sides(corpus) -> list[int]:
    sides = []
    for path in glob.glob(f"{corpus}/shards/*.tar"):
        with tarfile.open(path) as tar:
            metas = [json.loads(tar.extractfile(m).read()) for m in tar if m.name.endswith(".json")]
        sides += [min(m["width"], m["height"]) for m in metas]
    return sides


def test_build_against_drops_evaluation_copies_from_its_shards(built, tmp_path):
    """`wit build --against DIR`: samples whose images near-duplicate an evaluation image leave the shards (their
    rows say eval_overlap, sizes.json agrees); a re-run resumes with nothing more to drop; other folders refused."""
    from transforms.download.provenance import OutputMismatch
    out, _, argv = built
    evals = tmp_path / "evals" / "mini"
    evals.mkdir(parents=True)
    picked = []
    for tar_path in sorted(glob.glob(f"{out}/shards/*.tar")):
        with tarfile.open(tar_path) as tar:
            for m in tar.getmembers():
                if m.name.endswith(".jpg") and len(picked) < 3:
                    (evals / os.path.basename(m.name)).write_bytes(tar.extractfile(m).read())
                    picked.append(m.name.split(".")[0])
    clean = str(tmp_path / "clean")
    summary = run(_into(argv, out, clean, "--against", str(evals)))
    rows = parquet_rows(f"{clean}/shards/*.parquet")
    dropped = {r["key"] for r in rows if r["status"] == "eval_overlap"}
    assert set(picked) <= dropped
    assert summary["decontaminate"]["dropped"] == {"eval_overlap": len(dropped)}
    assert summary["decontaminate"]["sets"]["mini"]["eval_images_found"] == 3
    in_tars = set()
    for tar_path in glob.glob(f"{clean}/shards/*.tar"):
        with tarfile.open(tar_path) as tar:
            in_tars |= {m.name.split(".")[0] for m in tar.getmembers()}
    successes = {r["key"] for r in rows if r["status"] == "success"}
    assert in_tars == successes and not in_tars & dropped
    assert sum(json.load(open(f"{clean}/shards/sizes.json")).values()) == len(successes)
    before = parquet_rows(f"{out}/shards/*.parquet")
    assert len(rows) == len(before) and len(successes) + len(dropped) == sum(r["status"] == "success" for r in before)

    again = run(_into(argv, out, clean, "--against", str(evals)))
    assert again["stages"]["download"]["shards_skipped"] == len(glob.glob(f"{clean}/shards/*.tar"))
    assert again["decontaminate"]["dropped"] == {}
    with pytest.raises(OutputMismatch, match="against"):
        run(_into(argv, out, clean))
