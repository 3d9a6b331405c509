"""The `wit` command line: help everywhere, clear errors and non-zero exits on bad input."""
import json
import subprocess
import tarfile
import sys

import pytest

from wit_pipeline.cli import COMMANDS, main


def wit(*args):
    return subprocess.run([sys.executable, "-m", "wit_pipeline.cli", *args], capture_output=True, text=True)


def test_help_lists_every_command():
    result = wit("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command):
    result = wit(command, "--help")
    assert result.returncode == 0 and "usage: wit " + command in result.stdout


def test_unknown_command_and_missing_arguments_fail():
    assert wit("frobnicate").returncode == 2
    result = wit("download", "m.parquet")
    assert result.returncode == 2 and "--output" in result.stderr


def test_download_errors_are_clear(tmp_path, capsys):
    assert main(["download", str(tmp_path / "absent.parquet"), "--output", str(tmp_path / "o")]) == 2
    assert "no manifest file at" in capsys.readouterr().err
    bad = tmp_path / "m.csv"
    bad.write_text("link,text\nhttp://example.com/a.jpg,hello\n")
    assert main(["download", str(bad), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "has no column url" in err and "link, text" in err
    assert main(["download", str(bad), "--output", str(tmp_path / "o"), "--url-col", "link",
                 "--caption-col", "text", "--shard-size", "0"]) == 2
    assert "shard_size must be positive" in capsys.readouterr().err
    assert main(["download", str(bad), "--output", str(tmp_path / "o"), "--allow-network", "nonsense"]) == 2
    assert "allowed_networks" in capsys.readouterr().err


def test_download_command_end_to_end(web, tmp_path, capsys):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(
        f'{{"link": "{web.url(f"/img/{i}_90x60.png")}", "alt": "picture {i}", "lang": "en"}}' for i in range(3)))
    code = main(["download", str(manifest), "--output", str(tmp_path / "o"), "--url-col", "link",
                 "--caption-col", "alt", "--allow-network", "127.0.0.0/8", "--encode-format", "webp",
                 "--resize-mode", "center_crop", "--image-size", "32", "--no-progress",
                 "--summary-json", str(tmp_path / "summary.json")])
    assert code == 0
    out = capsys.readouterr().out
    assert "3 images" in out and "success" in out

    assert json.loads((tmp_path / "summary.json").read_text())["successes"] == 3

    with tarfile.open(tmp_path / "o" / "00000.tar") as tar:
        assert sorted(tar.getnames())[:3] == ["000000000.json", "000000000.txt", "000000000.webp"]


def one_line_error(err: str, path: str, phrase: str) -> str:
    """The single error line of a failed command: it names the file and says what is wrong."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert path in lines[0] and phrase in lines[0], lines[0]
    return lines[0]


def test_damaged_manifest_is_one_clear_line(bad_manifest, bad_manifest_kind, tmp_path, capsys):
    path, phrase = bad_manifest(bad_manifest_kind)
    assert main(["download", path, "--output", str(tmp_path / "o"), "--no-progress"]) == 2
    assert one_line_error(capsys.readouterr().err, path, phrase).startswith("wit download: error: ")


def test_duplicated_header_through_the_real_cli(bad_manifest, tmp_path):
    path, phrase = bad_manifest("duplicate_header")
    result = wit("download", path, "--output", str(tmp_path / "o"), "--no-progress")
    assert result.returncode == 2
    one_line_error(result.stderr, path, phrase)


def test_candidates_name_each_damaged_manifest(bad_manifest, tmp_path, capsys):
    # A bad file among many does not stop the job: each gets its one line in errors.jsonl and on the console.
    bad = {kind: bad_manifest(kind) for kind in ("duplicate_header", "broken_jsonl", "latin1_csv", "no_url_column",
                                                  "truncated_parquet")}
    assert main(["candidates", *(path for path, _ in bad.values()), "--output", str(tmp_path / "c")]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    errors = [json.loads(line) for line in open(tmp_path / "c" / "errors" / "errors.jsonl")]
    for path, phrase in bad.values():
        messages = [e["error"] for e in errors if e["file"] == path]
        assert len(messages) == 1 and path in messages[0] and phrase in messages[0], (path, messages)
        assert messages[0] in out.out


def _corpus_copy(mini_corpus, tmp_path):
    import shutil
    copy = tmp_path / "corpus"
    shutil.copytree(mini_corpus["out"], copy)
    return copy


@pytest.mark.parametrize("damage", ["truncated_parquet", "broken_stats_json", "broken_sizes_json"])
def test_stats_names_a_damaged_file(mini_corpus, tmp_path, capsys, damage):
    shards = _corpus_copy(mini_corpus, tmp_path) / "shards"
    name = {"truncated_parquet": "00000.parquet", "broken_stats_json": "00000_stats.json",
            "broken_sizes_json": "sizes.json"}[damage]
    data = (shards / name).read_bytes()
    (shards / name).write_bytes(data[: len(data) // 2])
    assert main(["stats", str(shards.parent)]) == 2
    one_line_error(capsys.readouterr().err, str(shards / name), "cannot read it")


# --- re-running into an existing output ----------------------------------------------------------------------

def _download_argv(web, manifest, out, *extra):
    return ["download", str(manifest), "--output", str(out), "--allow-network", "127.0.0.0/8", "--no-progress",
            "--image-size", "32", "--shard-size", "2", *extra]


def _jsonl_manifest(web, path, names):
    path.write_text("".join(json.dumps({"url": web.url(f"/img/{n}"), "caption": n}) + "\n" for n in names))
    return path


def test_download_rerun_resumes_refuses_or_overwrites(web, tmp_path, capsys):
    first = _jsonl_manifest(web, tmp_path / "a.jsonl", ["9101_40x30.png", "9102_50x30.png", "9103_60x30.png"])
    other = _jsonl_manifest(web, tmp_path / "b.jsonl", ["9104_40x30.png", "9105_50x30.png"])
    out = tmp_path / "o"
    assert main(_download_argv(web, first, out)) == 0
    made = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "_wit_provenance.json" in made
    capsys.readouterr()

    # The same manifest and options, run differently (processes, timeouts): resumed, nothing fetched again.
    hits = sum(web.hits.values())
    assert main(_download_argv(web, first, out, "--processes", "2", "--total-timeout", "20")) == 0
    assert "(2 already complete)" in capsys.readouterr().out and sum(web.hits.values()) == hits

    # Another manifest, or another image size: refused in one line, the output untouched.
    assert main(_download_argv(web, other, out)) == 2
    assert "a.jsonl -> " in one_line_error(capsys.readouterr().err, str(out), "--overwrite")
    assert main(_download_argv(web, first, out, "--image-size", "16")) == 2
    assert "image.image_size 32 -> 16" in one_line_error(capsys.readouterr().err, str(out), "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == made

    # --overwrite: the old shards are gone, the output is what a fresh run makes.
    assert main(_download_argv(web, other, out, "--overwrite")) == 0
    assert main(_download_argv(web, other, tmp_path / "fresh")) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {p.name: p.read_bytes() for p in
                                                                (tmp_path / "fresh").iterdir()}


def test_download_refuses_shards_of_unknown_origin(web, tmp_path, capsys):
    manifest = _jsonl_manifest(web, tmp_path / "a.jsonl", ["9106_40x30.png"])
    out = tmp_path / "o"
    assert main(_download_argv(web, manifest, out)) == 0
    (out / "_wit_provenance.json").unlink()  # e.g. made by an older wit, or by img2dataset
    capsys.readouterr()
    assert main(_download_argv(web, manifest, out)) == 2
    one_line_error(capsys.readouterr().err, str(out), "_wit_provenance.json")
