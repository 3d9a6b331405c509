"""open_clip 3.3.0 as the peer of the training benchmark: its own venv and one measured run of its trainer.

open_clip_train (shipped in the open_clip_torch wheel) trains in its own virtualenv, .bench/openclip-venv,
created on first use (that needs the package index once). The run itself is benchmarks/openclip_peer.py
started with that venv's Python: `open_clip_train.main` with --dataset-type webdataset on the CPU, no
logging services, no checkpoints (--logs none), one log line per step, which is where the figures come from.

What open_clip 3.3.0 builds from TINY_OPENCLIP_CONFIG (its defaults; read from open_clip/model.py and
transformer.py), for a trainer that wants to match it:
  blocks (both towers): pre-norm, x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)); no LayerScale, no dropout;
    LayerNorm eps 1e-5 with affine weight and bias; nn.MultiheadAttention (fused qkv in_proj with bias,
    out_proj with bias); MLP Linear(128, 512) -> exact nn.GELU (quick_gelu False) -> Linear(512, 128).
  vision: Conv2d(3, 128, kernel 8, stride 8, bias=False) -> 8x8 = 64 patch tokens; a learned class token
    prepended; learned positional embedding (65 x 128); ln_pre before the blocks; ln_post, then the
    class token is taken (pool_type 'tok'; no attentional pooling, no mean pooling); proj = bare
    128 x 128 matrix, x @ proj, no bias. heads = width // head_width = 4.
  text: token embedding (49408 x 128) + learned positional embedding (32 x 128); causal mask (additive
    -inf above the diagonal), no padding mask; ln_final on every token, then the token at argmax(token ids)
    is taken, i.e. the EOT (pool_type 'argmax'); text_projection = bare 128 x 128 matrix, no bias.
  head: both features L2-normalised; logits = exp(logit_scale) * img @ txt.T; logit_scale is a learned
    scalar initialised to log(1 / 0.07) = 2.659 (scale 14.29), clamped by the trainer to [0, ln 100] after
    each step; no logit_bias. Loss: mean of the two cross-entropies (image->text, text->image).
  init: vision keeps PyTorch's defaults (MHA in_proj xavier_uniform, MHA biases 0, Linear/Conv
    kaiming-uniform) except class token, positional embedding and proj = randn * 128 ** -0.5. Text:
    token embedding std 0.02, positional std 0.01, in_proj std 128 ** -0.5, out_proj and mlp c_proj
    std 128 ** -0.5 * (2 * 3) ** -0.5, mlp c_fc std (2 * 128) ** -0.5, text_projection std 128 ** -0.5;
    the text tower's Linear biases keep PyTorch's default init. LayerNorms weight 1, bias 0.
  data: RandomResizedCrop(64, scale=(0.9, 1.0), default ratio (3/4, 4/3), bicubic), ToTensor, Normalize
    with the OpenAI CLIP mean (0.48145466, 0.4578275, 0.40821073) / std (0.26862954, 0.26130258,
    0.27577711); captions: SimpleTokenizer (ftfy fix, whitespace clean, lower-case, BPE), SOT + tokens +
    EOT, zero-padded to 32, cut at 32 with EOT kept last.
  optimiser (run_openclip passes these explicitly: open_clip's defaults depend on "vit" being in the model
    name): AdamW betas (0.9, 0.98), eps 1e-6, weight decay 0.2 except on params with ndim < 2 or "ln" /
    "bias" / "logit_scale" in the name (so class token and gains/biases are exempt; positional and token
    embeddings do decay); lr: linear warm-up, then cosine to 0 over the run.
"""
from __future__ import annotations

import functools
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common

from _common import peer_venv, run_measured, tail  # noqa: E402

OPENCLIP_VERSION = "3.3.0"
OPENCLIP_VENV = ROOT / ".bench" / "openclip-venv"
PEER_SCRIPT = Path(__file__).resolve().parent / "openclip_peer.py"
# torch is the local CPU wheel: every other install below must leave it alone. PyPI's torchvision is a CUDA
# build whose requirements would pull CUDA torch, so it goes in with --no-deps (0.28.0 is the release made for
# torch 2.13) and openclip_peer.py stubs the part of it that needs its compiled ops.
TORCH_PIN = "torch==2.13.0"
TORCHVISION_PIN = "torchvision==0.28.0"
# webdataset > 0.2.86 breaks open_clip_train's loader (open_clip issue #935); pandas and fsspec are
# imported by open_clip_train; timm, ftfy, regex, huggingface_hub, safetensors, tqdm come with open_clip.
OPENCLIP_PINS = [f"open_clip_torch=={OPENCLIP_VERSION}", "webdataset==0.2.86", "braceexpand", "pandas", "fsspec",
                 "numpy", "pillow"]

MODEL_NAME = "wit-tiny"
TINY_OPENCLIP_CONFIG = {
    "embed_dim": 128,
    "vision_cfg": {"image_size": 64, "layers": 3, "width": 128, "patch_size": 8, "head_width": 32,
                   "mlp_ratio": 4.0},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 128, "heads": 4, "layers": 3},
}

WARMUP_STEPS = 5  # steps left out of samples/s and the data-wait share: first batches, allocator, caches


def _venv_versions(python: Path) -> dict | None:
    probe = subprocess.run([str(python), str(PEER_SCRIPT), "--check"], capture_output=True, text=True)
    if probe.returncode != 0:
        return None
    try:
        return json.loads(probe.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _expected(versions: dict | None) -> bool:
    return bool(versions) and versions["torch"].split("+")[0] == TORCH_PIN.split("==")[1] \
        and versions["open_clip"] == OPENCLIP_VERSION


@functools.lru_cache(maxsize=None)
def ensure_openclip_venv() -> Path:
    """The Python of the benchmark's open_clip virtualenv, created on first use."""
    python = OPENCLIP_VENV / "bin" / "python"
    if python.exists() and _expected(_venv_versions(python)):
        return python
    pip = peer_venv(OPENCLIP_VENV, f"open_clip {OPENCLIP_VERSION}")
    subprocess.run(pip + [TORCH_PIN], check=True)  # first, so nothing below picks a torch of its own
    subprocess.run(pip + ["--no-deps", TORCHVISION_PIN], check=True)
    # torch and torchvision named again: pip then keeps the installed ones instead of resolving afresh
    subprocess.run(pip + [TORCH_PIN, TORCHVISION_PIN, *OPENCLIP_PINS], check=True)
    versions = _venv_versions(python)
    if not _expected(versions):
        raise RuntimeError(f"{OPENCLIP_VENV}: expected {TORCH_PIN} and open_clip {OPENCLIP_VERSION}, got {versions}")
    return python


# One log line per step, e.g. "Train Epoch: 0 [ 128/2560 (5%)] Data (t): 0.012 Batch (t): 0.512, 125.1/s,
# 125.1/s/gpu LR: 0.000100 Logit Scale: 14.286 Contrastive_loss: 4.1 (4.2) Loss: 4.1 (4.2)".
# Data (t) and Batch (t) are running means since the first step; the samples/s is of this step alone.
_STEP_LINE = re.compile(r"Train Epoch: \d+ \[\s*(\d+)/\d+ .*?Data \(t\): ([\d.]+) Batch \(t\): ([\d.]+), "
                        r"([\d.eE+-]+)/s,.*?\bLoss: ([\d.eE+-]+|nan|inf)")


def parse_steps(log_text: str, batch_size: int) -> list[dict]:
    """The per-step log lines of open_clip_train: step number, running mean data/batch time, this step's
    batch time (from its samples/s, 6 significant digits) and loss."""
    steps = []
    for m in _STEP_LINE.finditer(log_text):
        samples, data_avg, batch_avg, sps, loss = m.groups()
        steps.append({"step": int(samples) // batch_size, "data_avg": float(data_avg),
                      "batch_avg": float(batch_avg), "batch_s": batch_size / float(sps), "loss": float(loss)})
    return steps


def run_openclip(shards: str, num_samples: int, model_config: dict, batch_size: int, steps: int, workers: int,
                 threads: int, workdir: Path, precision: str = "fp32", lr: float = 5e-4,
                 warmup: int | None = None, timeout: float = 1800.0) -> dict:
    """Trains open_clip on `shards` (a brace pattern holding `num_samples` samples) for `steps` steps of
    `batch_size` and returns what it measured.

    `steps` is rounded up to a multiple of `workers` (open_clip gives every loader worker the same number of
    batches); the data loops over the shards when steps * batch_size > num_samples. Figures over the steps
    after the first WARMUP_STEPS: samples_per_s (batch_size / mean step time) and data_wait_share (time
    waiting for the loader / step time; running means of open_clip's 3-decimal log, so good to about
    1e-3 s x steps); wall_s and cpu_s are of the whole command, start-up included.
    """
    python = ensure_openclip_venv()
    workdir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="openclip-", dir=workdir))
    (run_dir / "configs").mkdir()
    (run_dir / "configs" / f"{MODEL_NAME}.json").write_text(json.dumps(model_config))
    warmup = max(1, steps // 10) if warmup is None else warmup
    train_args = [
        "--dataset-type", "webdataset", "--train-data", shards, "--train-num-samples", str(steps * batch_size),
        "--model", MODEL_NAME, "--device", "cpu", "--precision", precision,
        "--batch-size", str(batch_size), "--epochs", "1", "--workers", str(workers),
        "--lr", str(lr), "--warmup", str(warmup), "--lr-scheduler", "cosine",
        "--beta1", "0.9", "--beta2", "0.98", "--eps", "1e-6", "--wd", "0.2", "--seed", "0",
        "--log-every-n-steps", "1", "--report-to", "", "--logs", "none", "--name", "run",
        "--save-frequency", "0", "--zeroshot-frequency", "0", "--val-frequency", "0",
    ]
    cmd = [str(python), str(PEER_SCRIPT), "--threads", str(threads), "--model-config", str(run_dir / "configs"),
           "--", *train_args]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1",
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    log_path = run_dir / "train.log"
    # cwd=run_dir: with --logs none open_clip still writes none/run/{out.log,params.txt} below its cwd
    measured = run_measured(cmd, log_path=str(log_path), env=env, cwd=str(run_dir), timeout=timeout)
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    done = parse_steps(log_text, batch_size)
    if measured.returncode != 0 or not done:
        raise RuntimeError(f"open_clip_train failed (exit {measured.returncode}, {len(done)} steps logged); "
                           f"log {log_path}:\n{tail(str(log_path))}")

    skip = min(WARMUP_STEPS, len(done) - 1)  # at least one measured step
    last, first = done[-1], done[skip - 1] if skip else None
    n, k = last["step"], (first["step"] if first else 0)
    batch_sum = sum(s["batch_s"] for s in done[skip:])
    data_sum = n * last["data_avg"] - (k * first["data_avg"] if first else 0.0)
    return {
        "tool": f"open_clip {OPENCLIP_VERSION}",
        "samples_per_s": batch_size * (len(done) - skip) / batch_sum,
        # the median step resists other load on the machine, which the mean does not
        "samples_per_s_median": batch_size / statistics.median(s["batch_s"] for s in done[skip:]),
        "data_wait_share": min(1.0, max(0.0, data_sum / batch_sum)),
        "wall_s": measured.wall_s,
        "cpu_s": measured.cpu_s,
        "peak_rss_bytes": measured.peak_rss_bytes,
        "train_s": sum(s["batch_s"] for s in done),  # all steps, first ones included
        "steps": n,
        "measured_steps": len(done) - skip,
        "final_loss": last["loss"],
        "epochs_of_data": n * batch_size / num_samples if num_samples else math.nan,
        "precision": precision,
        "command": cmd,
        "log": str(log_path),
    }
