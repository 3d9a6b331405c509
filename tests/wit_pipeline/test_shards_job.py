"""The download stage as a job of its own: `wit build --skip-download`, then `wit shards`, gives the shards a
whole `wit build` gives, byte for byte."""
import os

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


def test_shards_needs_a_build(tmp_path, capsys):
    assert wit(["shards", str(tmp_path)]) == 2
    assert "is missing or not a build's" in capsys.readouterr().err
