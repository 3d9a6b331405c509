"""The training loop: `train(TrainOptions)`; one process, or one per rank under torchrun (DDP).

Per step: take `accum_freq` batches (timing the wait for each), forward under autocast, the contrastive loss
over the whole accumulated batch (features of the other micro-batches cached, as open_clip does, so
accumulation gives the same gradient as one big batch), backward, clip, AdamW, the cosine schedule, clamp the
temperature. Every `save_every` steps a checkpoint; every `log_every` steps a JSONL line.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist

from wit_pipeline.train import augment, checkpoint
from wit_pipeline.train.config import ModelConfig, model_config
from wit_pipeline.train.data import DataOptions, check_shard, iter_captions, make_loader, resolve_shards
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
    and a clean exit, so `--resume latest` loses nothing."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def install(self) -> "StopRequest":
        import signal
        import threading
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        log.warning("SIGTERM: saving a checkpoint after this step, then stopping")
        self.requested = True

    def restore(self) -> None:
        import signal
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


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

    state = None
    if opts.resume == "latest" and not checkpoint.list_checkpoints(ckpt_dir):
        log.info("--resume latest: no checkpoint in %s yet, starting fresh", ckpt_dir)
    elif opts.resume:
        path = checkpoint.find(opts.resume, ckpt_dir)
        state = checkpoint.load(path)
        log.info("resuming from %s (step %d)", path, state["step"])
        if d.main:
            _truncate_metrics(opts.output, state["step"])

    urls, num_samples = resolve_shards(opts.data)
    check_shard(urls[0])
    if state:
        cfg = ModelConfig.from_dict(state["model_config"])
        tokenizer = Tokenizer.from_json(state["tokenizer"], cfg.text.context_length)
    else:
        base = model_config(opts.model).replace(context_length=opts.context_length, image_size=opts.image_size)
        tokenizer = prepare_tokenizer(opts, urls, base, d)
        # The embedding table fits the trained vocabulary unless a larger size is asked for explicitly.
        cfg = base.replace(vocab_size=max(tokenizer.vocab_size, opts.vocab_size or 0))
    if tokenizer.vocab_size > cfg.text.vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model only {cfg.text.vocab_size}")

    global_batch = opts.batch_size * opts.accum_freq * d.world_size
    total_steps = opts.steps
    if total_steps is None:
        if not num_samples:
            raise ValueError("no sizes.json with the data: give --steps")
        total_steps = max(1, math.ceil(opts.epochs * num_samples / global_batch))

    torch.manual_seed(opts.seed)  # the same initial weights on every rank (DDP also broadcasts them)
    model = CLIP(cfg).to(device)
    if opts.grad_checkpointing:
        model.set_grad_checkpointing(True)
    optimizer = torch.optim.AdamW(param_groups(model, opts.weight_decay), lr=opts.lr,
                                  betas=(opts.beta1, opts.beta2), eps=opts.eps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, opts.warmup, total_steps))
    scaler = torch.amp.GradScaler("cuda") if opts.precision == "fp16" else None
    step, cursors, bad, consumed = 0, {}, {}, 0
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        checkpoint.set_rng_state(state["rng"][d.rank] if d.rank < len(state["rng"]) else state["rng"][0], device)
        step, consumed = state["step"], state["batches_consumed"]
        cursors, bad = dict(state["data"]["cursors"]), dict(state["data"]["bad"])
    ddp = model
    if d.world_size > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    forward = torch.compile(ddp) if opts.compile else ddp

    image_size = cfg.vision.image_size
    data_opts = DataOptions(opts.data, opts.batch_size, opts.workers, opts.resampled, opts.shard_shuffle,
                            opts.shuffle_buffer, min(500, opts.shuffle_buffer), opts.seed, image_size)
    # The loader's first worker must serve the stream whose turn it is, so a resumed run continues exactly.
    loader, workers = make_loader(data_opts, tokenizer.to_json(), tokenizer.context_length, d.rank, d.world_size,
                                  cursors=cursors, urls=urls, rotation=consumed, bad=bad,
                                  pin_memory=device.type == "cuda")
    if state and tuple(state["data"]["streams"]) != (d.world_size, workers):
        log.warning("resuming with %s (ranks, loader workers) instead of %s: each stream continues from its saved "
                    "position, but the batch order differs from an uninterrupted run",
                    (d.world_size, workers), tuple(state["data"]["streams"]))
    loss_fn = ClipLoss(local_loss=opts.local_loss, rank=d.rank, world_size=d.world_size)
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16 if opts.precision == "bf16" else torch.float16)
                if opts.precision != "fp32" else contextlib.nullcontext())
    metrics = MetricsLog(opts.output, d.main, opts.tensorboard)
    if d.main:
        with open(os.path.join(opts.output, "train_config.json"), "w") as f:
            json.dump({"options": dataclasses.asdict(opts), "model_config": cfg.to_dict(),
                       "parameters": parameter_count(model), "global_batch": global_batch,
                       "total_steps": total_steps, "shards": len(urls), "epoch_samples": num_samples,
                       "loader_workers": workers, "world_size": d.world_size}, f, indent=1)
        tokenizer.save(os.path.join(opts.output, "tokenizer.json"))
        log.info("model %s: %.2fM parameters; %d steps of %d samples", opts.model, parameter_count(model) / 1e6,
                 total_steps, global_batch)

    def save_checkpoint(at: int) -> None:
        all_cursors, all_bad, rngs = _rank_states(cursors, bad, device, d)
        if d.main:
            checkpoint.save({
                "step": at, "batches_consumed": consumed, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler else None, "rng": rngs,
                "data": {"cursors": all_cursors, "bad": all_bad, "streams": (d.world_size, workers)},
                "model_config": cfg.to_dict(), "tokenizer": tokenizer.to_json(), "options": dataclasses.asdict(opts),
            }, ckpt_dir, at, opts.keep_checkpoints)
        if d.world_size > 1:
            dist.barrier()

    last = min(total_steps, opts.stop_after or total_steps)
    progress = None
    if d.main and opts.progress:
        from tqdm import tqdm
        progress = tqdm(total=last, initial=step, unit="step", dynamic_ncols=True)
    window = {"loss": 0.0, "steps": 0, "wait": 0.0, "time": 0.0, "samples": 0}
    summary = {}
    batches = iter(loader)
    model.train()
    stop = StopRequest().install()
    try:
        while step < last:
            t0 = time.perf_counter()
            micro, wait = [], 0.0
            for _ in range(opts.accum_freq):
                w0 = time.perf_counter()
                batch = next(batches)
                wait += time.perf_counter() - w0
                micro.append(batch)
                cursors[batch["stream"]] = batch["cursor"]
                bad[batch["stream"]] = batch["bad"]
                consumed += 1
            loss = _step(forward, ddp, model, micro, loss_fn, optimizer, scaler, autocast, device, opts)
            scheduler.step()
            model.clamp_logit_scale()
            step += 1
            elapsed = time.perf_counter() - t0
            window["loss"] += loss
            window["steps"] += 1
            window["wait"] += wait
            window["time"] += elapsed
            window["samples"] += sum(len(b["tokens"]) for b in micro) * d.world_size
            if progress:
                progress.update(1)
                progress.set_postfix(loss=f"{loss:.3f}")
            stopping = stop.requested
            if d.world_size > 1:  # every rank stops at the same step, or the others would wait in a collective
                flag = torch.tensor([int(stopping)], device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                stopping = bool(flag.item())
            if step % opts.log_every == 0 or step == last or stopping:
                summary = {
                    "step": step, "loss": window["loss"] / window["steps"],
                    "logit_scale": model.logit_scale.exp().item(),
                    "temperature": 1 / model.logit_scale.exp().item(), "lr": scheduler.get_last_lr()[0],
                    "samples_per_s": window["samples"] / window["time"],
                    "data_wait_share": window["wait"] / window["time"],
                    "bad_samples": sum(bad.values()),
                    "epoch": step * global_batch / num_samples if num_samples else None,
                }
                metrics.write(summary)
                window = dict.fromkeys(window, 0)
                window["loss"] = 0.0
            if step % opts.save_every == 0 or step == last or stopping:
                save_checkpoint(step)
            if stopping:
                break
    finally:
        stop.restore()
        if progress:
            progress.close()
        metrics.close()
        # Shut workers down now: persistent workers otherwise linger until interpreter exit.
        del batches
    if d.world_size > 1:
        dist.destroy_process_group()
    return dict(summary, total_steps=total_steps, output=opts.output,
                checkpoint=checkpoint.path_for(ckpt_dir, step))


def _step(forward, ddp, model, micro, loss_fn, optimizer, scaler, autocast, device, opts) -> float:
    images = [augment.normalize(b["images"], device) for b in micro]
    tokens = [b["tokens"].to(device, non_blocking=True) for b in micro]
    optimizer.zero_grad(set_to_none=True)
    if len(micro) == 1:
        with autocast:
            img, txt, scale = forward(images[0], tokens[0])
            loss = loss_fn(img, txt, scale)
        _backward(loss, scaler)
    else:
        # Features of all micro-batches first, without a graph; then each micro-batch again with its graph,
        # its slice swapped into the cached features: the loss sees every negative of the accumulated batch.
        # BatchNorm running statistics (the ResNet) must move once per micro-batch, not once more for this pass.
        buffers = {n: b.clone() for n, b in model.named_buffers()}
        with torch.no_grad(), autocast:
            cached = [forward(i, t)[:2] for i, t in zip(images, tokens)]
        with torch.no_grad():
            for n, b in model.named_buffers():
                b.copy_(buffers[n])
        for j in range(len(micro)):
            last = j == len(micro) - 1
            with (ddp.no_sync() if not last and hasattr(ddp, "no_sync") else contextlib.nullcontext()), autocast:
                img, txt, scale = forward(images[j], tokens[j])
                all_img = torch.cat([c[0] for c in cached[:j]] + [img] + [c[0] for c in cached[j + 1:]])
                all_txt = torch.cat([c[1] for c in cached[:j]] + [txt] + [c[1] for c in cached[j + 1:]])
                # The temperature's gradient is taken once, not once per micro-batch (in the last, synced pass).
                loss = loss_fn(all_img, all_txt, scale if last else scale.detach())
            _backward(loss, scaler)
    if scaler:
        scaler.unscale_(optimizer)
    if opts.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
    if scaler:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return loss.item()


def _backward(loss, scaler) -> None:
    (scaler.scale(loss) if scaler else loss).backward()
