"""`wit train` and `wit eval` on a corpus the project built itself (the session's mini-web corpus), and the
exact-resume guarantee."""
import json
import os

import pytest
import torch

from train_shards import object_folder, write_shards
from wit_pipeline.cli import main as wit
from wit_pipeline.train import checkpoint

FAST = ["--model", "tiny", "--batch-size", "16", "--lr", "2e-3", "--warmup", "5", "--vocab-size", "400",
        "--shuffle-buffer", "50", "--log-every", "2", "--no-progress"]


def metrics(run):
    return [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]


@pytest.fixture(scope="module")
def trained(mini_corpus, tmp_path_factory):
    run = str(tmp_path_factory.mktemp("train") / "run")
    # lr 1e-3 over 60 steps: the loss falls far (2.9 -> 1.1 here), so the check below has a wide margin
    assert wit(["train", mini_corpus["out"], "--output", run, "--steps", "60", "--workers", "1",
                "--save-every", "30", *FAST, "--lr", "1e-3"]) == 0
    return run


def test_training_on_a_built_corpus_lowers_the_loss_and_writes_everything(trained, mini_corpus):
    rows = metrics(trained)
    assert [r["step"] for r in rows] == list(range(2, 61, 2))
    first, last = sum(r["loss"] for r in rows[:3]) / 3, sum(r["loss"] for r in rows[-3:]) / 3
    assert last < first - 0.3, (first, last)
    for r in rows:
        assert 0 <= r["data_wait_share"] <= 1 and r["samples_per_s"] > 0 and (r["lr"] > 0 or r["step"] == 60)
        assert 1 / 100 - 1e-6 <= r["temperature"] <= 1
    assert [s for s, _ in checkpoint.list_checkpoints(os.path.join(trained, "checkpoints"))] == [30, 60]
    config = json.load(open(os.path.join(trained, "train_config.json")))
    sizes = json.load(open(os.path.join(mini_corpus["out"], "shards", "sizes.json")))
    assert config["epoch_samples"] == sum(sizes.values()) and config["total_steps"] == 60
    assert os.path.exists(os.path.join(trained, "tokenizer.json"))
    state = checkpoint.load(os.path.join(trained, "checkpoints", "step_00000060.pt"))
    assert {"model", "optimizer", "scheduler", "rng", "data", "tokenizer", "model_config"} <= state.keys()


def test_eval_zero_shot_retrieval_and_linear_probe(trained, mini_corpus, tmp_path, capsys):
    ckpt = os.path.join(trained, "checkpoints", "step_00000060.pt")
    folder = object_folder(tmp_path / "objects", per_class=3)
    out = tmp_path / "zs.json"
    assert wit(["eval", "zeroshot", ckpt, "--images", folder, "--json", str(out)]) == 0
    zs = json.loads(out.read_text())
    assert zs["classes"] == 20 and zs["images"] == 60 and 0 <= zs["top1"] <= zs["top5"] <= 1
    assert wit(["eval", "retrieval", ckpt, "--shards", mini_corpus["out"], "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["images"] == r["texts"] > 10
    assert r["image_to_text_R@1"] <= r["image_to_text_R@5"] <= r["image_to_text_R@10"] <= 1
    assert wit(["eval", "linear-probe", ckpt, "--train", folder, "--json", str(out)]) == 0
    lp = json.loads(out.read_text())
    assert lp["test_images"] == 18 and lp["train_images"] == 42 and 0 <= lp["top1"] <= 1
    (tmp_path / "objects" / "dog" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    assert wit(["eval", "zeroshot", ckpt, "--images", folder, "--json", str(out)]) == 0
    zs = json.loads(out.read_text())
    assert zs["images"] == 60 and zs["unreadable_images"] == 1  # left out and counted, not a crash


def test_a_resumed_run_reproduces_the_uninterrupted_one(tmp_path):
    data = tmp_path / "shards"
    write_shards(data, 4, 24)
    common = ["--steps", "8", "--save-every", "4", "--workers", "2", "--keep-checkpoints", "0", *FAST]
    whole, parts = str(tmp_path / "whole"), str(tmp_path / "parts")
    assert wit(["train", str(data), "--output", whole, *common]) == 0
    assert wit(["train", str(data), "--output", parts, "--stop-after", "5", *common]) == 0
    assert checkpoint.list_checkpoints(os.path.join(parts, "checkpoints"))[-1][0] == 5
    assert wit(["train", str(data), "--output", parts, "--resume", "latest", *common]) == 0
    a = checkpoint.load(os.path.join(whole, "checkpoints", "step_00000008.pt"))
    b = checkpoint.load(os.path.join(parts, "checkpoints", "step_00000008.pt"))
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert a["data"]["cursors"] == b["data"]["cursors"]
    assert metrics(whole)[-1]["loss"] == metrics(parts)[-1]["loss"]


def test_bad_corpora_and_options_are_clear_errors(tmp_path, capsys):
    data = tmp_path / "no_captions"
    write_shards(data, 1, 4, sample=lambda i: {"jpg": b"\xff\xd8"})
    assert wit(["train", str(data), "--output", str(tmp_path / "r"), "--steps", "2", *FAST]) == 2
    assert "no captions" in capsys.readouterr().err
    assert wit(["train", str(tmp_path / "nothing"), "--output", str(tmp_path / "r"), "--steps", "2"]) == 2
    assert wit(["train", str(tmp_path / "nothing"), "--output", str(tmp_path / "r"), "--precision", "fp16",
                "--device", "cpu", "--steps", "1", *FAST]) == 2
    assert "needs CUDA" in capsys.readouterr().err
    assert wit(["eval", "retrieval", str(tmp_path / "missing.pt"), "--shards", str(data)]) == 2


def test_torchrun_two_ranks_train_save_and_resume(tmp_path):
    """The whole loop under torchrun on gloo: both ranks' data positions land in rank 0's checkpoint, and a
    resumed 2-rank run goes on from it."""
    import subprocess
    import sys

    data = tmp_path / "shards"
    write_shards(data, 4, 16)
    run = str(tmp_path / "run")
    # --standalone: a local rendezvous on a free port (a static --master_port 0 would never meet)
    base = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "wit_pipeline.cli", "train", str(data), "--output", run, "--steps", "4",
            "--save-every", "2", "--workers", "1", "--keep-checkpoints", "0", *FAST]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for extra in (["--stop-after", "2"], ["--resume", "latest"]):
        proc = subprocess.run(base + extra, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
    state = checkpoint.load(os.path.join(run, "checkpoints", "step_00000004.pt"))
    assert state["data"]["streams"] == (2, 1)
    assert sorted(state["data"]["cursors"]) == [0, 1]  # rank 0's stream and rank 1's
    assert len(state["rng"]) == 2
    rows = metrics(run)
    assert [r["step"] for r in rows] == [2, 4] and all(r["samples_per_s"] > 0 for r in rows)


@pytest.mark.parametrize("extra", [
    ["--precision", "bf16"],
    ["--accum-freq", "2", "--grad-checkpointing", "--grad-clip", "1.0", "--model", "tiny-rn"],
    ["--compile"],  # inductor compiles C++ kernels: seconds once its cache is warm, about a minute cold
])
def test_training_options_run_end_to_end(tmp_path, extra):
    data = tmp_path / "shards"
    write_shards(data, 2, 16)
    run = str(tmp_path / "run")
    assert wit(["train", str(data), "--output", run, "--steps", "4", "--workers", "0", *FAST, *extra]) == 0
    rows = metrics(run)
    assert rows[-1]["step"] == 4 and all(r["loss"] == r["loss"] and r["loss"] > 0 for r in rows)  # finite
    state = checkpoint.load(os.path.join(run, "checkpoints", "step_00000004.pt"))
    assert not any(k.startswith("_orig_mod") for k in state["model"])  # loadable without torch.compile


def test_resume_latest_starts_fresh_and_a_resume_does_not_repeat_metrics(tmp_path):
    data = tmp_path / "shards"
    write_shards(data, 2, 16)
    run = str(tmp_path / "run")
    common = ["--steps", "6", "--save-every", "3", "--workers", "0", "--resume", "latest", *FAST]
    assert wit(["train", str(data), "--output", run, "--stop-after", "4", *common]) == 0  # nothing to resume yet
    assert [r["step"] for r in metrics(run)] == [2, 4]
    assert wit(["train", str(data), "--output", run, *common]) == 0  # resumes at 4 (stop-after saved it)
    assert [r["step"] for r in metrics(run)] == [2, 4, 6]


def test_sigterm_saves_a_checkpoint_and_stops_cleanly(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    data = tmp_path / "shards"
    write_shards(data, 2, 16)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "wit_pipeline.cli", "train", str(data), "--output", str(run),
                             "--steps", "100000", "--save-every", "100000", "--workers", "0", *FAST],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text().strip():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-2000:]
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    saved = checkpoint.list_checkpoints(str(run / "checkpoints"))
    assert len(saved) == 1 and 2 <= saved[0][0] < 100000
    assert metrics(str(run))[-1]["step"] == saved[0][0]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_sigterm_to_the_process_group_with_loader_workers_saves_and_resumes(tmp_path):
    """`timeout`, Slurm's scancel and container runtimes signal the whole group: the loader workers get SIGTERM
    too. They must leave it to the trainer, which saves, stops them and exits cleanly."""
    import signal
    import subprocess
    import sys
    import time

    data = tmp_path / "shards"
    write_shards(data, 4, 16)
    run = tmp_path / "run"
    common = ["--save-every", "100000", "--workers", "2", *FAST]
    proc = subprocess.Popen([sys.executable, "-m", "wit_pipeline.cli", "train", str(data), "--output", str(run),
                             "--steps", "100000", *common],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    pgid = proc.pid  # a new session: the trainer leads its own process group, its workers are in it
    try:
        deadline = time.monotonic() + 240  # a hang guard, not a speed check
        while not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text().strip():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-3000:]
            time.sleep(0.2)
        os.killpg(pgid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:].decode(errors="replace")
        deadline = time.monotonic() + 60
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _group_alive(pgid), "a loader worker outlived the trainer"
    finally:
        if _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
        if proc.poll() is None:
            proc.wait()
    saved = checkpoint.list_checkpoints(str(run / "checkpoints"))
    assert len(saved) == 1 and 2 <= saved[0][0] < 100000
    assert metrics(str(run))[-1]["step"] == saved[0][0]
    stopped = saved[0][0]
    assert wit(["train", str(data), "--output", str(run), "--steps", str(stopped + 2), "--resume", "latest",
                *common]) == 0
    assert checkpoint.list_checkpoints(str(run / "checkpoints"))[-1][0] == stopped + 2
    assert metrics(str(run))[-1]["step"] == stopped + 2
