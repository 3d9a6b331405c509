"""A build that did not do its work fails loudly: missing outputs and counters that do not add up are named."""
import os
import shutil

import pytest

from wit_pipeline.verify import RunCheckError, check_build, counter_problems, output_problems


def test_a_real_build_passes(mini_corpus):
    stages = mini_corpus["summary"]["stages"]
    assert counter_problems(stages, skip_download=False) == []
    assert output_problems(mini_corpus["out"], stages, skip_download=False) == []


def test_no_counters_is_a_failure():
    """What a runner that never ran the stages (or reports no metrics) leaves: an empty summary."""
    assert "no counters" in counter_problems({}, skip_download=True)[0]


def test_counters_that_do_not_add_up_are_named(mini_corpus):
    stages = {stage: dict(counters) for stage, counters in mini_corpus["summary"]["stages"].items()}
    stages["language"]["in"] += 3  # three rows appeared from nowhere
    stages["download"]["rows"] -= 1  # and one shard row was lost
    problems = counter_problems(stages, skip_download=False)
    assert any(p.startswith("language: in") for p in problems), problems
    assert any(p.startswith("download: rows") for p in problems), problems


def test_missing_or_short_outputs_are_named(mini_corpus, tmp_path):
    out = str(tmp_path / "corpus")
    shutil.copytree(mini_corpus["out"], out)
    stages = mini_corpus["summary"]["stages"]
    first_manifest = sorted(os.listdir(os.path.join(out, "manifest")))[0]
    os.remove(os.path.join(out, "manifest", first_manifest))
    os.remove(os.path.join(out, "shards", "sizes.json"))
    os.remove(os.path.join(out, "query_counts.parquet"))
    with pytest.raises(RunCheckError) as e:
        check_build(out, stages, skip_download=False)
    message = str(e.value)
    assert out in message and "query_counts.parquet is missing" in message
    assert "manifest/:" in message and "sizes.json is missing" in message
    # Without downloads the shards are not asked for, the rest still is.
    assert not any("shards" in p for p in output_problems(out, stages, skip_download=True))


def test_a_pilot_download_that_left_no_record_is_named(mini_corpus):
    stages = mini_corpus["summary"]["stages"]
    assert output_problems(mini_corpus["out"], stages, skip_download=False, pilot=True) == ["pilot.json is missing"]
