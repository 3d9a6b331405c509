"""`wit stats` on a scored corpus: the score distribution agrees with the scores files, the lowest and highest
scored pairs are the right ones, --plots draws the distribution and --html shows those pairs."""
import glob
import json
import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate_helpers import make_checkpoint, scores_of, tar_samples, write_shards
from wit_pipeline.cli import main
from wit_pipeline.stats.collect import SCORE_EXTREMES, collect


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("scorestats")
    write_shards(root / "shards", 3, 12)
    for tar in sorted(glob.glob(str(root / "shards" / "*.tar"))):  # the shard Parquet wit stats reads
        keys = list(tar_samples(tar))
        pq.write_table(pa.table({"key": keys, "status": ["success"] * len(keys),
                                 "error_message": pa.nulls(len(keys), pa.string())}), tar[:-4] + ".parquet")
    ckpt = make_checkpoint(root / "a.pt", ["a photo of a dog", "a photo of a cat", "a photo of a car"])
    assert main(["score", str(root / "shards"), "--checkpoint", ckpt]) == 0
    scores = {}
    for path in sorted(glob.glob(str(root / "shards" / "*_scores.parquet"))):
        scores.update(scores_of(path))
    return {"path": str(root / "shards"), "scores": scores, "ckpt": ckpt}


def test_the_distribution_and_extremes_agree_with_the_scores_files(corpus):
    s = collect(corpus["path"])["scores"]
    values = np.sort(np.array(list(corpus["scores"].values())))
    assert s["count"] == len(values) == 36 and s["unscored"] == 0 and s["files"] == 3
    assert s["min"] == pytest.approx(values[0], abs=1e-6) and s["max"] == pytest.approx(values[-1], abs=1e-6)
    assert s["mean"] == pytest.approx(values.mean(), abs=1e-6)
    for name, q in (("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95)):
        exact = values[max(1, math.ceil(q * len(values))) - 1]  # nearest rank
        assert abs(s[name] - exact) <= 0.001, (name, s[name], exact)
    assert sum(s["histogram"]["counts"]) == len(values)
    by_score = sorted(corpus["scores"].items(), key=lambda kv: (kv[1], kv[0]))
    assert [r["key"] for r in s["lowest"]] == [k for k, _ in by_score[:SCORE_EXTREMES]]
    by_score_down = sorted(corpus["scores"].items(), key=lambda kv: (-kv[1], kv[0]))
    assert [r["key"] for r in s["highest"]] == [k for k, _ in by_score_down[:SCORE_EXTREMES]]
    assert s["checkpoints"] == [{"checkpoint": corpus["ckpt"], "sha256": s["checkpoints"][0]["sha256"], "step": 7,
                                 "shards": 3}]


def test_cli_tables_plot_and_html_gallery(corpus, tmp_path, capsys):
    assert main(["stats", corpus["path"]]) == 0
    text = capsys.readouterr().out
    assert "CLIP scores: 36 samples scored" in text and "lowest scored" in text and "highest scored" in text
    plots, report = tmp_path / "plots", tmp_path / "r.html"
    assert main(["stats", corpus["path"], "--json", "--plots", str(plots), "--html", str(report)]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["scores"]["count"] == 36
    assert "clip_scores.png" in os.listdir(plots)
    page = report.read_text()
    low = page[page.index("Lowest scored pairs"):page.index("Highest scored pairs")]
    assert low.count("<figure>") == SCORE_EXTREMES
    first = parsed["scores"]["lowest"][0]
    assert first["key"] in low and f"score {first['score']:.4f}" in low


def test_an_unscored_corpus_has_no_scores_section(tmp_path):
    write_shards(tmp_path / "s", 1, 3)
    pq.write_table(pa.table({"key": ["000000000", "000000001", "000000002"], "status": ["success"] * 3,
                             "error_message": [None] * 3}), tmp_path / "s" / "00000.parquet")
    assert collect(str(tmp_path / "s"))["scores"] is None
