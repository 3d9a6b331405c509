"""The download stage as a job of its own: `wit build --skip-download`, then `wit shards`, gives the shards a
whole `wit build` gives, byte for byte."""
import os

import pytest

from wit_pipeline.cli import main as wit
from wit_pipeline.pipeline import run


def files(folder) -> dict:
    return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))
            if not name.startswith("_")}


def test_two_jobs_make_the_shards_of_one(mini_corpus, tmp_path):
    out = str(tmp_path / "corpus")
    argv = list(mini_corpus["argv"])
    argv[argv.index("--output") + 1] = out
    run(argv + ["--skip-download"])
    assert not os.path.exists(os.path.join(out, "shards"))
    # The image options come from the build's record: these flags only change speed and politeness.
    assert wit(["shards", out, "--concurrency", "8", "--total-timeout", "10", "--runner", "FnApiRunner"]) == 0
    whole = files(os.path.join(mini_corpus["out"], "shards"))
    assert files(os.path.join(out, "shards")) == whole and any(n.endswith(".tar") for n in whole)
    # A re-run skips every complete shard and changes nothing.
    assert wit(["shards", out, "--runner", "FnApiRunner"]) == 0
    assert files(os.path.join(out, "shards")) == whole


def test_shards_needs_the_build_s_download_groups(mini_corpus, tmp_path, capsys):
    import shutil
    out = shutil.copytree(mini_corpus["out"], tmp_path / "corpus")
    os.remove(out / "manifest" / "_groups.json")  # as a build from before host-aware shards left it
    assert wit(["shards", str(out), "--runner", "FnApiRunner"]) == 2
    assert "no manifest/_groups.json" in capsys.readouterr().err
    (out / "manifest" / "_groups.json").write_text('{"groups": 2, "shards": ')  # cut short
    assert wit(["shards", str(out), "--runner", "FnApiRunner"]) == 2
    assert "_groups.json is damaged" in capsys.readouterr().err
    # The per-host budget decides the groups, so it is the build's, as the image options are: refused by name.
    for flag in ("--per-host-concurrency", "--image-size", "--ignore-robots"):
        with pytest.raises(SystemExit) as exit_:
            wit(["shards", mini_corpus["out"], flag, "4"])
        assert exit_.value.code == 2 and f"{flag} is the build's" in capsys.readouterr().err


def test_shards_needs_a_build(tmp_path, capsys):
    assert wit(["shards", str(tmp_path)]) == 2
    assert "is missing or not a build's" in capsys.readouterr().err
