"""img2dataset's command lines run as `wit download` (the program name changed, nothing else but the loopback
opt-in the test web needs), against the test web; the settings wit cannot honour are refused with a reason."""
import glob
import json
import os
import shlex
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wit_pipeline.cli import main as wit
from wit_pipeline.img2dataset_flags import Img2DatasetError, translate

LOOPBACK = ["--allow-network", "127.0.0.0/8"]


def run(command: str, cwd) -> int:
    """An img2dataset README command line, run in `cwd` as `wit download`."""
    argv = shlex.split(command)
    assert argv[0] == "img2dataset"
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return wit(["download", *argv[1:], *LOOPBACK, "--no-progress"])
    finally:
        os.chdir(old)


def rows(folder) -> list[dict]:
    return pa.concat_tables([pq.read_table(f) for f in sorted(glob.glob(f"{folder}/*.parquet"))]).to_pylist()


def members(folder) -> dict:
    out = {}
    for path in sorted(glob.glob(f"{folder}/*.tar")):
        with tarfile.open(path) as tar:
            out.update({m.name: tar.extractfile(m).read() for m in tar.getmembers()})
    return out


def test_readme_example(web, tmp_path):
    """The README's first example: a text file of URLs, img2dataset's defaults (border, no caption)."""
    urls = [web.url(f"/img/{i}_{w}x{h}.jpg") for i, (w, h) in enumerate([(200, 305), (200, 304), (200, 303)])]
    (tmp_path / "myimglist.txt").write_text("\n".join(urls) + "\n")
    assert run("img2dataset --url_list=myimglist.txt --output_folder=output_folder --thread_count=64 "
               "--image_size=256", tmp_path) == 0
    got = rows(tmp_path / "output_folder")
    assert [r["url"] for r in got] == urls and {r["status"] for r in got} == {"success"}
    assert {(r["width"], r["height"]) for r in got} == {(256, 256)}  # resize_mode border, img2dataset's default
    assert all(r["caption"] is None for r in got)
    assert len([m for m in members(tmp_path / "output_folder") if m.endswith(".jpg")]) == 3


def test_mscoco_example(web, tmp_path):
    urls = [web.url(f"/img/{i}_320x240.jpg") for i in range(6)]
    pq.write_table(pa.table({"URL": urls, "TEXT": [f"a photo {i}" for i in range(6)], "other": list(range(6))}),
                   tmp_path / "mscoco.parquet")
    # As in dataset_examples/mscoco.md, with --processes_count 2 on this 2-core machine.
    assert run('img2dataset --url_list mscoco.parquet --input_format "parquet" --url_col "URL" --caption_col "TEXT" '
               '--output_format webdataset --output_folder mscoco --processes_count 2 --thread_count 64 '
               '--image_size 256 --enable_wandb True', tmp_path) == 0
    got = rows(tmp_path / "mscoco")
    assert [r["caption"] for r in got] == [f"a photo {i}" for i in range(6)]
    assert "other" not in got[0]  # img2dataset carries no column unless --save_additional_columns names it
    texts = {k: v for k, v in members(tmp_path / "mscoco").items() if k.endswith(".txt")}
    assert sorted(texts.values()) == [f"a photo {i}".encode() for i in range(6)]


def test_cc3m_example_with_header_directives(web, tmp_path):
    urls = [web.url("/img/1_320x240.jpg"), web.url("/fault/xrobots/noai/2_320x240.jpg"),
            web.url("/fault/xrobots/noimageai/3_320x240.jpg")]
    (tmp_path / "cc3m.tsv").write_text("caption\turl\n" + "".join(f"c{i}\t{u}\n" for i, u in enumerate(urls)))
    assert run('img2dataset --url_list cc3m.tsv --input_format "tsv" --url_col "url" --caption_col "caption" '
               "--output_format webdataset --output_folder cc3m --processes_count 2 --thread_count 64 "
               "--image_size 256 --enable_wandb True --user_agent_token img2dataset "
               "--disallowed_header_directives '[\"noai\", \"noindex\"]'", tmp_path) == 0
    # noai is in the list: opted out; noimageai is not: downloaded.
    assert [r["status"] for r in rows(tmp_path / "cc3m")] == ["success", "opted_out", "success"]


def test_laion_art_example_ignoring_directives(web, tmp_path):
    urls = [web.url("/img/1_600x400.jpg"), web.url("/fault/xrobots/noai/2_200x100.jpg")]
    pq.write_table(pa.table({"URL": urls, "TEXT": ["big", "small"], "similarity": [0.3, 0.4], "hash": [1, 2],
                             "punsafe": [0.1, 0.2]}), tmp_path / "laion-art.parquet")
    assert run('img2dataset --url_list laion-art.parquet --input_format "parquet" --url_col "URL" --caption_col "TEXT" '
               "--output_format webdataset --output_folder laion-high-resolution --processes_count 2 "
               '--thread_count 64 --image_size 384 --resize_only_if_bigger=True --resize_mode="keep_ratio" '
               "--skip_reencode=True --save_additional_columns '[\"similarity\",\"hash\"]' --enable_wandb True "
               "--user_agent_token img2dataset --disallowed_header_directives '[]'", tmp_path) == 0
    got = rows(tmp_path / "laion-high-resolution")
    assert [r["status"] for r in got] == ["success", "success"]  # '[]': X-Robots-Tag is not looked at
    assert [(r["width"], r["height"]) for r in got] == [(576, 384), (200, 100)]  # only if bigger
    assert [r["similarity"] for r in got] == [0.3, 0.4] and "punsafe" not in got[0]
    meta = json.loads(members(tmp_path / "laion-high-resolution")[got[0]["key"] + ".json"])
    assert meta["hash"] == 1


@pytest.mark.parametrize("flag, why", [
    ("--output_format files", "WebDataset shards"), ("--output_format=parquet", "WebDataset shards"),
    ("--distributor pyspark", "wit build"), ("--compute_hash md5", "sha256"), ("--bbox_col box", "blurring"),
    ("--disable_all_reencoding True", "re-encodes"), ("--oom_shard_count 8", "5 digits"),
    ("--downscale_interpolation cubic --upscale_interpolation area", "resamples"),
])
def test_unsupported_settings_are_refused_with_the_reason(flag, why, tmp_path, capsys):
    code = wit(["download", "--url_list", "x.txt", "--output_folder", str(tmp_path / "o"), *shlex.split(flag)])
    err = capsys.readouterr().err
    assert code == 2 and why in err and err.count("\n") == 1 and "Traceback" not in err


def test_translation():
    argv, notes = translate(shlex.split("--url_list=a.txt --output_folder=o --thread_count=64 --image_size=256 "
                                        "--resize_only_if_bigger=False --timeout 5 --max_aspect_ratio inf "
                                        "--incremental_mode overwrite --wandb_project p"))
    assert argv[:1] == ["a.txt"] and argv[argv.index("--output") + 1] == "o"
    assert argv[argv.index("--concurrency") + 1] == "64" and "--no-resize-only-if-bigger" in argv
    assert argv[argv.index("--read-timeout") + 1] == "5" and argv[argv.index("--max_aspect_ratio") + 1] == "0"
    assert "--overwrite" in argv and any("wandb_project" in n for n in notes)
    assert argv[argv.index("--resize-mode") + 1] == "border"  # img2dataset's default, since not given
    # wit's own command line passes through untouched.
    own = ["m.parquet", "--output", "o", "--no-progress", "--image-size", "64"]
    assert translate(own) == (own, [])
    with pytest.raises(Img2DatasetError, match="cannot read the list"):
        translate(["--url_list", "a", "--save_additional_columns", "[oops"])
