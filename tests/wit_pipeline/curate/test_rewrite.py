"""The corpus rewrite shared by `wit filter` and `wit decontaminate`: any reason, corpora without Parquet (plain
WebDataset shards), drops that name no sample, and the refusals (a tar and Parquet that disagree, an output of
another command)."""
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate_helpers import tar_samples, write_shards
from wit_pipeline.curate.rewrite import drops_digest, write_filtered


def test_plain_webdataset_shards_get_a_parquet_and_any_reason(tmp_path):
    write_shards(tmp_path / "in", 2, 4)
    drops = {"000000002": ("eval_overlap", "near-duplicate of test/12.jpg"), "000010000": ("eval_overlap", "x"),
             "nowhere": ("eval_overlap", "y")}
    summary = write_filtered(str(tmp_path / "in"), str(tmp_path / "out"), drops, settings={"command": "decontaminate"})
    assert summary["kept"] == 6 and summary["dropped"] == {"eval_overlap": 2} and summary["drops_not_found"] == 1
    table = pq.read_table(tmp_path / "out" / "00000.parquet").to_pylist()
    assert [r["status"] for r in table] == ["success", "success", "eval_overlap", "success"]
    assert table[2]["error_message"] == "near-duplicate of test/12.jpg" and table[0]["caption"] == "a photo of a dog"
    assert set(tar_samples(str(tmp_path / "out" / "00000.tar"))) == {"000000000", "000000001", "000000003"}
    assert json.load(open(tmp_path / "out" / "sizes.json")) == {"00000.tar": 3, "00001.tar": 3}
    provenance = json.load(open(tmp_path / "out" / "_wit_provenance.json"))
    assert provenance["command"] == "decontaminate" and provenance["options"]["dropped_samples"] == drops_digest(drops)


def test_the_digest_does_not_depend_on_order_but_on_every_drop():
    a = {"k1": ("r", "m"), "k2": ("r", "m")}
    assert drops_digest(a) == drops_digest(dict(reversed(list(a.items()))))
    assert drops_digest(a) != drops_digest({"k1": ("r", "m"), "k2": ("r", "other message")})
    assert drops_digest(a) != drops_digest({"k1": ("r", "m")})


def test_a_tar_and_parquet_that_disagree_are_refused(tmp_path):
    write_shards(tmp_path / "in", 1, 3, sizes=False)
    rows = {"key": ["000000000", "000000001", "000000002", "000000009"], "status": ["success"] * 4,
            "error_message": [None] * 4}
    pq.write_table(pa.table(rows), tmp_path / "in" / "00000.parquet")
    with pytest.raises(ValueError, match=r"00000\.tar and .*00000\.parquet disagree: 1 success row.*000000009"):
        write_filtered(str(tmp_path / "in"), str(tmp_path / "out"), {}, settings={})
    assert not os.path.exists(tmp_path / "out" / "00000.tar")


def test_another_commands_output_is_never_written_into(tmp_path):
    write_shards(tmp_path / "in", 1, 3)
    os.makedirs(tmp_path / "build")
    (tmp_path / "build" / "_wit_provenance.json").write_text(json.dumps({"command": "build", "inputs": []}))
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="holds the output of wit build"):
            write_filtered(str(tmp_path / "in"), str(tmp_path / "build"), {}, settings={"command": "filter"},
                           overwrite=overwrite)
    assert os.listdir(tmp_path / "build") == ["_wit_provenance.json"]
