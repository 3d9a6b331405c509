"""The training loop: `train(TrainOptions)`; one process, or one per rank under torchrun (DDP).

`train` reads top to bottom: set-up (a resumed run takes its model config, tokenizer, weights, optimiser, RNG
and data positions from the checkpoint, a fresh one makes them), then the loop. A `State` holds what a step
changes and a checkpoint keeps; `_step(state, micro)` is one optimiser step: forward under autocast, the
contrastive loss over the whole accumulated batch (features of the other micro-batches cached, as open_clip
does, so accumulation gives the same gradient as one big batch), backward, clip, AdamW, the cosine schedule,
clamp the temperature. Every `save_every` steps a checkpoint; every `log_every` steps a JSONL line. SIGTERM
(to the trainer or its whole process group) saves a checkpoint after the current step and stops cleanly.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.distributed as dist

from wit_pipeline.train import augment, checkpoint
from wit_pipeline.train.config import ModelConfig, model_config
from wit_pipeline.train.data import (DataOptions, check_shard, iter_captions, make_loader, resolve_shards,
                                     start_workers, stop_workers)
from wit_pipeline.train.loss import ClipLoss
from wit_pipeline.train.model import CLIP, parameter_count
from wit_pipeline.train.tokenizer import Tokenizer, train_tokenizer

log = logging.getLogger(__name__)
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class TrainOptions:
    data: str
    output: str
    model: str = "tiny"
    batch_size: int = 64  # per rank and micro-batch; the global batch is batch_size * accum_freq * ranks
    steps: int | None = None  # optimiser steps in all; default: `epochs` passes over sizes.json's samples
    epochs: float = 1.0
    stop_after: int | None = None  # leave after this step (a time-boxed slot), to `--resume latest` later
    lr: float = 5e-4
    weight_decay: float = 0.2
    warmup: int = 100
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-6
    grad_clip: float = 0.0  # max global gradient norm; 0 = off
    accum_freq: int = 1
    precision: str = "fp32"
    grad_checkpointing: bool = False
    compile: bool = False
    workers: int = 2
    threads: int = 0  # torch intra-op threads of the trainer; 0 = torch's default
    seed: int = 0
    save_every: int = 1000
    keep_checkpoints: int = 3
    resume: str | None = None  # "latest" (fresh start when there is none yet) or a checkpoint file
    log_every: int = 10
    tensorboard: bool = False
    progress: bool = True
    tokenizer: str | None = None  # a tokenizer.json; default: trained on the corpus captions
    tokenizer_samples: int = 200_000
    vocab_size: int | None = None  # BPE vocabulary to train; default: the model config's
    context_length: int | None = None
    image_size: int | None = None
    resampled: bool = False
    shard_shuffle: bool = True
    shuffle_buffer: int = 2000
    local_loss: bool = False
    device: str | None = None  # default: cuda:LOCAL_RANK when CUDA is there, else cpu

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        for name in ("batch_size", "accum_freq", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be at least 1, not {self.steps}")
        if self.lr <= 0 or self.warmup < 0 or self.grad_clip < 0:
            raise ValueError("lr must be positive, warmup and grad_clip 0 or more")
        model_config(self.model)  # an unknown name fails here, before any work


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up over `warmup` steps, then a cosine from 1 to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """No decay on gains, biases, norms, embeddings' scalars and the temperature (CLIP/open_clip's rule)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        exempt = p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
        (no_decay if exempt else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device_opt: str | None) -> tuple[Dist, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    info = Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    cuda = torch.cuda.is_available() and (device_opt is None or device_opt.startswith("cuda"))
    device = torch.device(device_opt or ("cuda" if cuda else "cpu"))
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", info.local_rank)  # one GPU per torchrun rank
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return info, device


def prepare_tokenizer(opts: TrainOptions, urls: list[str], cfg: ModelConfig, d: Dist) -> Tokenizer:
    context = opts.context_length or cfg.text.context_length
    if opts.tokenizer:
        return Tokenizer.load(opts.tokenizer, context)
    trained = [None]
    if d.main:
        vocab = opts.vocab_size or cfg.text.vocab_size
        log.info("training a %d-token BPE on up to %d captions of the corpus", vocab, opts.tokenizer_samples)
        trained[0] = train_tokenizer(iter_captions(urls, opts.tokenizer_samples), vocab_size=vocab,
                                     context_length=context).to_json()
    if d.world_size > 1:  # sent, not read back from a file: ranks on other nodes need no shared disk
        dist.broadcast_object_list(trained, src=0)
    return Tokenizer.from_json(trained[0], context)


class MetricsLog:
    """metrics.jsonl (one JSON object per log step), an optional TensorBoard writer; rank 0 only."""

    def __init__(self, output: str, enabled: bool, tensorboard: bool):
        self.enabled = enabled
        self.file = open(os.path.join(output, "metrics.jsonl"), "a", encoding="utf-8") if enabled else None
        self.tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise ValueError("--tensorboard needs the tensorboard package: pip install tensorboard") from e
            self.tb = SummaryWriter(os.path.join(output, "tensorboard"))

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.tb:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.tb.add_scalar(f"train/{key}", value, record["step"])

    def close(self) -> None:
        if self.file:
            self.file.close()
        if self.tb:
            self.tb.close()


def _truncate_metrics(output: str, step: int) -> None:
    """Drop metrics lines past the checkpoint a run resumes from: those steps are trained again."""
    path = os.path.join(output, "metrics.jsonl")
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        kept = [line for line in f if line.strip() and json.loads(line).get("step", 0) <= step]
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.writelines(kept)
    os.replace(path + ".tmp", path)


class StopRequest:
    """SIGTERM (a preempted VM, a job scheduler's notice) asks for a checkpoint at the end of the current step
    and a clean exit, so `--resume latest` loses nothing. Loader workers ignore it (data.py): sent to the whole
    process group, it is still the trainer's to handle."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def install(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        log.warning("SIGTERM: saving a checkpoint after this step, then stopping")
        self.requested = True

    def on_any_rank(self, d: Dist, device: torch.device) -> bool:
        """Every rank stops at the same step, or the others would wait in a collective."""
        if d.world_size == 1:
            return self.requested
        flag = torch.tensor([int(self.requested)], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


@dataclass
class State:
    """What a step changes and a checkpoint keeps: the model, its optimiser, schedule, scaler and loss, the step
    count and where each data stream of this rank stands."""
    model: CLIP  # the bare model: its weights are what a checkpoint holds
    optimizer: torch.optim.Optimizer
    loss: ClipLoss
    device: torch.device
    scheduler: Any = None  # stepped after each optimiser step
    scaler: torch.amp.GradScaler | None = None  # fp16 only
    autocast: Any = field(default_factory=contextlib.nullcontext)  # bf16/fp16 autocast; fp32: a no-op
    grad_clip: float = 0.0  # max global gradient norm; 0 = off
    ddp: torch.nn.Module | None = None  # the model in DistributedDataParallel; one process: the model itself
    forward: Callable | None = None  # what a step calls: ddp, compiled or not
    step: int = 0
    consumed: int = 0  # micro-batches taken from this rank's loader
    cursors: dict = field(default_factory=dict)  # stream -> raw samples read (data.py)
    bad: dict = field(default_factory=dict)  # stream -> bad samples met

    def __post_init__(self):
        if self.ddp is None:
            self.ddp = self.model
        if self.forward is None:
            self.forward = self.ddp

    def restore(self, saved: dict, rank: int) -> None:
        """Continue where a checkpoint written by `_save_checkpoint` stopped."""
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        if self.scaler and saved.get("scaler"):
            self.scaler.load_state_dict(saved["scaler"])
        rngs = saved["rng"]
        checkpoint.set_rng_state(rngs[rank] if rank < len(rngs) else rngs[0], self.device)
        self.step, self.consumed = saved["step"], saved["batches_consumed"]
        self.cursors, self.bad = dict(saved["data"]["cursors"]), dict(saved["data"]["bad"])


def _save_checkpoint(state: State, d: Dist, folder: str, keep: int, streams: tuple, run_info: dict) -> None:
    """Rank 0 writes the weights with every rank's data positions and RNG state; the others wait for it."""
    cursors, bad, rngs = _rank_states(state.cursors, state.bad, state.device, d)
    if d.main:
        checkpoint.save({
            "step": state.step, "batches_consumed": state.consumed, "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(), "scheduler": state.scheduler.state_dict(),
            "scaler": state.scaler.state_dict() if state.scaler else None, "rng": rngs,
            "data": {"cursors": cursors, "bad": bad, "streams": streams}, **run_info,
        }, folder, state.step, keep)
    if d.world_size > 1:
        dist.barrier()


def _rank_states(cursors: dict, bad: dict, device: torch.device, d: Dist) -> tuple[dict, dict, list]:
    """Every rank's stream cursors and bad-sample counts (merged) and RNG states (one per rank), in one gather, so
    rank 0's checkpoint can restart all of them."""
    mine = (cursors, bad, checkpoint.rng_state(device))
    gathered: list = [mine]
    if d.world_size > 1:
        gathered = [None] * d.world_size
        dist.all_gather_object(gathered, mine)
    all_cursors, all_bad = {}, {}
    for c, b, _ in gathered:
        all_cursors.update(c)
        all_bad.update(b)
    return all_cursors, all_bad, [rng for _, _, rng in gathered]


def _resume_checkpoint(opts: TrainOptions, folder: str, d: Dist) -> dict | None:
    """The checkpoint a resumed run continues from, or None for a fresh start. Metrics lines past it go: those
    steps are trained again."""
    if not opts.resume:
        return None
    if opts.resume == "latest" and not checkpoint.list_checkpoints(folder):
        log.info("--resume latest: no checkpoint in %s yet, starting fresh", folder)
        return None
    path = checkpoint.find(opts.resume, folder)
    saved = checkpoint.load(path)
    log.info("resuming from %s (step %d)", path, saved["step"])
    if d.main:
        _truncate_metrics(opts.output, saved["step"])
    return saved


def _config_and_tokenizer(opts: TrainOptions, urls: list[str], saved: dict | None,
                          d: Dist) -> tuple[ModelConfig, Tokenizer]:
    if saved:
        cfg = ModelConfig.from_dict(saved["model_config"])
        tokenizer = Tokenizer.from_json(saved["tokenizer"], cfg.text.context_length)
    else:
        base = model_config(opts.model).replace(context_length=opts.context_length, image_size=opts.image_size)
        tokenizer = prepare_tokenizer(opts, urls, base, d)
        # The embedding table fits the trained vocabulary unless a larger size is asked for explicitly.
        cfg = base.replace(vocab_size=max(tokenizer.vocab_size, opts.vocab_size or 0))
    if tokenizer.vocab_size > cfg.text.vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model only {cfg.text.vocab_size}")
    return cfg, tokenizer


def _total_steps(opts: TrainOptions, num_samples: int | None, global_batch: int) -> int:
    if opts.steps is not None:
        return opts.steps
    if not num_samples:
        raise ValueError("no sizes.json with the data: give --steps")
    return max(1, math.ceil(opts.epochs * num_samples / global_batch))


def _make_state(opts: TrainOptions, cfg: ModelConfig, total_steps: int, device: torch.device, d: Dist,
                saved: dict | None) -> State:
    """The model and its optimiser, fresh or as `saved` left them, then wrapped for DDP and torch.compile."""
    torch.manual_seed(opts.seed)  # the same initial weights on every rank (DDP also broadcasts them)
    model = CLIP(cfg).to(device)
    if opts.grad_checkpointing:
        model.set_grad_checkpointing(True)
    # Fused: one kernel over every parameter. On the CPU the default (one tensor at a time) took 6% of the tiny
    # model's step (py-spy); fused is 8x faster there (benchmarks/train.py). CUDA has it too.
    optimizer = torch.optim.AdamW(param_groups(model, opts.weight_decay), lr=opts.lr,
                                  betas=(opts.beta1, opts.beta2), eps=opts.eps,
                                  fused=device.type in ("cpu", "cuda"))
    low = torch.bfloat16 if opts.precision == "bf16" else torch.float16
    state = State(
        model=model, optimizer=optimizer, device=device, grad_clip=opts.grad_clip,
        loss=ClipLoss(local_loss=opts.local_loss, rank=d.rank, world_size=d.world_size),
        scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, opts.warmup, total_steps)),
        scaler=torch.amp.GradScaler("cuda") if opts.precision == "fp16" else None,
        autocast=torch.autocast(device.type, dtype=low) if opts.precision != "fp32" else contextlib.nullcontext())
    if saved:
        state.restore(saved, d.rank)
    if d.world_size > 1:
        state.ddp = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    state.forward = torch.compile(state.ddp) if opts.compile else state.ddp
    return state


def _write_run_files(opts: TrainOptions, state: State, cfg: ModelConfig, tokenizer: Tokenizer, info: dict) -> None:
    """train_config.json and tokenizer.json in the run folder (rank 0)."""
    parameters = parameter_count(state.model)
    with open(os.path.join(opts.output, "train_config.json"), "w") as f:
        json.dump({"options": dataclasses.asdict(opts), "model_config": cfg.to_dict(), "parameters": parameters,
                   **info}, f, indent=1)
    tokenizer.save(os.path.join(opts.output, "tokenizer.json"))
    log.info("model %s: %.2fM parameters; %d steps of %d samples", opts.model, parameters / 1e6,
             info["total_steps"], info["global_batch"])


class Window:
    """Sums over the steps since the last metrics line."""

    def __init__(self):
        self.loss, self.steps, self.wait, self.time, self.samples = 0.0, 0, 0.0, 0.0, 0

    def add(self, loss: float, wait: float, elapsed: float, samples: int) -> None:
        self.loss += loss
        self.steps += 1
        self.wait += wait
        self.time += elapsed
        self.samples += samples


def _metrics_line(state: State, window: Window, global_batch: int, num_samples: int | None) -> dict:
    scale = state.model.logit_scale.exp().item()
    return {"step": state.step, "loss": window.loss / window.steps, "logit_scale": scale, "temperature": 1 / scale,
            "lr": state.scheduler.get_last_lr()[0], "samples_per_s": window.samples / window.time,
            "data_wait_share": window.wait / window.time, "bad_samples": sum(state.bad.values()),
            "epoch": state.step * global_batch / num_samples if num_samples else None}


def _next_batches(batches, state: State, count: int) -> tuple[list[dict], float]:
    """`count` micro-batches, noting where each stream now stands, and the time spent waiting for them."""
    micro, wait = [], 0.0
    for _ in range(count):
        t0 = time.perf_counter()
        batch = next(batches)
        wait += time.perf_counter() - t0
        micro.append(batch)
        state.cursors[batch["stream"]] = batch["cursor"]
        state.bad[batch["stream"]] = batch["bad"]
        state.consumed += 1
    return micro, wait


def train(opts: TrainOptions) -> dict:
    d, device = init_distributed(opts.device)
    if opts.precision == "fp16" and device.type != "cuda":
        raise ValueError("fp16 with a gradient scaler needs CUDA; on CPU use --precision bf16")
    if opts.compile and opts.grad_checkpointing:
        log.warning("--compile with --grad-checkpointing: compiled graphs recompute through the checkpoints")
    if opts.threads:
        torch.set_num_threads(opts.threads)
    os.makedirs(opts.output, exist_ok=True)
    ckpt_dir = os.path.join(opts.output, "checkpoints")

    # Set-up: a resumed run takes the model config, tokenizer, weights, optimiser, RNG states and data
    # positions from its checkpoint; a fresh one makes them.
    saved = _resume_checkpoint(opts, ckpt_dir, d)
    urls, num_samples = resolve_shards(opts.data)
    check_shard(urls[0])
    cfg, tokenizer = _config_and_tokenizer(opts, urls, saved, d)
    global_batch = opts.batch_size * opts.accum_freq * d.world_size
    total_steps = _total_steps(opts, num_samples, global_batch)
    state = _make_state(opts, cfg, total_steps, device, d, saved)
    data_opts = DataOptions(data=opts.data, batch_size=opts.batch_size, workers=opts.workers,
                            resampled=opts.resampled, shard_shuffle=opts.shard_shuffle,
                            shuffle_buffer=opts.shuffle_buffer, shuffle_initial=min(500, opts.shuffle_buffer),
                            seed=opts.seed, image_size=cfg.vision.image_size)
    # The loader's first worker must serve the stream whose turn it is, so a resumed run continues exactly.
    loader, workers = make_loader(data_opts, tokenizer.to_json(), tokenizer.context_length, d.rank, d.world_size,
                                  cursors=state.cursors, urls=urls, rotation=state.consumed, bad=state.bad,
                                  pin_memory=device.type == "cuda")
    streams = (d.world_size, workers)
    if saved and tuple(saved["data"]["streams"]) != streams:
        log.warning("resuming with %s (ranks, loader workers) instead of %s: each stream continues from its saved "
                    "position, but the batch order differs from an uninterrupted run",
                    streams, tuple(saved["data"]["streams"]))
    del saved  # its tensors are in the state now
    run_info = {"model_config": cfg.to_dict(), "tokenizer": tokenizer.to_json(), "options": dataclasses.asdict(opts)}
    metrics = MetricsLog(opts.output, d.main, opts.tensorboard)
    if d.main:
        _write_run_files(opts, state, cfg, tokenizer, {
            "global_batch": global_batch, "total_steps": total_steps, "shards": len(urls),
            "epoch_samples": num_samples, "loader_workers": workers, "world_size": d.world_size})
    last = min(total_steps, opts.stop_after or total_steps)
    progress = None
    if d.main and opts.progress:
        from tqdm import tqdm
        progress = tqdm(total=last, initial=state.step, unit="step", dynamic_ncols=True)

    # The loop.
    window, summary, batches = Window(), {}, None
    stop = StopRequest().install()
    try:
        batches = start_workers(loader)
        state.model.train()
        while state.step < last:
            t0 = time.perf_counter()
            micro, wait = _next_batches(batches, state, opts.accum_freq)
            loss = _step(state, micro)
            window.add(loss, wait, time.perf_counter() - t0, sum(len(b["tokens"]) for b in micro) * d.world_size)
            if progress:
                progress.update(1)
                progress.set_postfix(loss=f"{loss:.3f}")
            stopping = stop.on_any_rank(d, device)
            if state.step % opts.log_every == 0 or state.step == last or stopping:
                summary = _metrics_line(state, window, global_batch, num_samples)
                metrics.write(summary)
                window = Window()
            if state.step % opts.save_every == 0 or state.step == last or stopping:
                _save_checkpoint(state, d, ckpt_dir, opts.keep_checkpoints, streams, run_info)
            if stopping:
                break
    finally:
        stop.restore()
        if progress:
            progress.close()
        metrics.close()
        stop_workers(batches)  # now, and for sure: persistent workers otherwise linger until interpreter exit
    if d.world_size > 1:
        dist.destroy_process_group()
    return dict(summary, total_steps=total_steps, output=opts.output,
                checkpoint=checkpoint.path_for(ckpt_dir, state.step))


def _step(state: State, micro: list[dict]) -> float:
    """One optimiser step on the micro-batches of one step (accum_freq of them); returns the loss."""
    images = [augment.normalize(b["images"], state.device) for b in micro]
    tokens = [b["tokens"].to(state.device, non_blocking=True) for b in micro]
    forward, autocast = state.forward, state.autocast
    state.optimizer.zero_grad(set_to_none=True)
    if len(micro) == 1:
        with autocast:
            img, txt, scale = forward(images[0], tokens[0])
            loss = state.loss(img, txt, scale)
        _backward(loss, state.scaler)
    else:
        # Features of all micro-batches first, without a graph; then each micro-batch again with its graph,
        # its slice swapped into the cached features: the loss sees every negative of the accumulated batch.
        # BatchNorm running statistics (the ResNet) must move once per micro-batch, not once more for this pass.
        buffers = {n: b.clone() for n, b in state.model.named_buffers()}
        with torch.no_grad(), autocast:
            cached = [forward(i, t)[:2] for i, t in zip(images, tokens)]
        with torch.no_grad():
            for n, b in state.model.named_buffers():
                b.copy_(buffers[n])
        for j in range(len(micro)):
            last = j == len(micro) - 1
            no_sync = state.ddp.no_sync() if not last and hasattr(state.ddp, "no_sync") else contextlib.nullcontext()
            with no_sync, autocast:
                img, txt, scale = forward(images[j], tokens[j])
                all_img = torch.cat([c[0] for c in cached[:j]] + [img] + [c[0] for c in cached[j + 1:]])
                all_txt = torch.cat([c[1] for c in cached[:j]] + [txt] + [c[1] for c in cached[j + 1:]])
                # The temperature's gradient is taken once, not once per micro-batch (in the last, synced pass).
                loss = state.loss(all_img, all_txt, scale if last else scale.detach())
            _backward(loss, state.scaler)
    if state.scaler:
        state.scaler.unscale_(state.optimizer)
    if state.grad_clip:
        torch.nn.utils.clip_grad_norm_(state.model.parameters(), state.grad_clip)
    if state.scaler:
        state.scaler.step(state.optimizer)
        state.scaler.update()
    else:
        state.optimizer.step()
    if state.scheduler is not None:
        state.scheduler.step()
    state.model.clamp_logit_scale()
    state.step += 1
    return loss.item()


def _backward(loss, scaler) -> None:
    (scaler.scale(loss) if scaler else loss).backward()
