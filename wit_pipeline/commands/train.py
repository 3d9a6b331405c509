"""Train CLIP on a built corpus: contrastive image-text learning over the WebDataset shards.

DATA is a `wit build` output, a shards folder (epoch size from sizes.json) or brace patterns
(`dir/{00000..00099}.tar`, several joined with `::`). A byte-level BPE tokenizer is trained on the corpus
captions first unless --tokenizer gives one; it is saved with every checkpoint. Several processes or GPUs:
`torchrun --nproc_per_node N -m wit_pipeline.cli train ...` (DDP; gloo on CPU, NCCL on CUDA).
Writes OUTPUT/metrics.jsonl, OUTPUT/checkpoints/step_*.pt, OUTPUT/tokenizer.json, OUTPUT/train_config.json.
"""
from __future__ import annotations

import argparse

import json
import logging

HELP = "train CLIP on a built corpus's shards"


def register(p) -> None:
    from wit_pipeline.train.config import MODELS  # torch-free: the configs are plain dataclasses

    p.add_argument("data", help="wit build output, shards folder, or brace pattern of .tar shards")
    p.add_argument("--output", required=True, help="run folder: checkpoints, metrics.jsonl, tokenizer.json")
    p.add_argument("--model", default="tiny", choices=list(MODELS), help="model size")
    g = p.add_argument_group("schedule")
    g.add_argument("--batch-size", type=int, default=64, help="samples per rank per micro-batch")
    g.add_argument("--steps", type=int, default=None, help="optimiser steps (default: --epochs over sizes.json)")
    g.add_argument("--epochs", type=float, default=1.0, help="passes over the corpus when --steps is not given")
    g.add_argument("--stop-after", type=int, default=None, help="leave after this step; continue with --resume latest")
    g.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (AdamW)")
    g.add_argument("--weight-decay", type=float, default=0.2, help="AdamW weight decay (not on gains and biases)")
    g.add_argument("--warmup", type=int, default=100, help="linear warm-up steps before the cosine decay")
    g.add_argument("--beta1", type=float, default=0.9, help="AdamW beta1")
    g.add_argument("--beta2", type=float, default=0.98, help="AdamW beta2")
    g.add_argument("--eps", type=float, default=1e-6, help="AdamW epsilon")
    g.add_argument("--grad-clip", type=float, default=0.0, help="max gradient norm; 0 = off")
    g.add_argument("--accum-freq", type=int, default=1, help="micro-batches per step (features cached: "
                   "the loss sees the whole accumulated batch)")
    g = p.add_argument_group("speed and memory")
    g.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"],
                   help="bf16 autocast on CPU or CUDA; fp16 with a gradient scaler on CUDA")
    g.add_argument("--grad-checkpointing", action="store_true", help="recompute activations in the backward pass")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument("--workers", type=int, default=2, help="data loader processes per rank")
    g.add_argument("--threads", type=int, default=0, help="torch threads of the trainer (0: torch's default)")
    g.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present; each torchrun rank "
                   "takes GPU LOCAL_RANK)")
    g = p.add_argument_group("data")
    g.add_argument("--resampled", action="store_true", help="draw shards with replacement (endless)")
    g.add_argument("--shard-shuffle", action=argparse.BooleanOptionalAction, default=True,
                   help="shuffle the order of the shards each epoch")
    g.add_argument("--shuffle-buffer", type=int, default=2000, help="sample shuffle buffer per loader stream")
    g.add_argument("--image-size", type=int, default=None, help="override the model's input size")
    g.add_argument("--tokenizer", default=None, help="tokenizer.json to use instead of training one")
    g.add_argument("--vocab-size", type=int, default=None, help="BPE vocabulary size (default: the model's)")
    g.add_argument("--context-length", type=int, default=None, help="tokens per caption (default: the model's)")
    g.add_argument("--tokenizer-samples", type=int, default=200_000, help="captions read to train the tokenizer")
    g = p.add_argument_group("distributed")
    g.add_argument("--local-loss", action="store_true", help="each rank scores its own rows against all columns "
                   "(features are always gathered with their gradients)")
    g = p.add_argument_group("checkpoints and logs")
    g.add_argument("--save-every", type=int, default=1000, help="checkpoint every N steps (and at the end)")
    g.add_argument("--keep-checkpoints", type=int, default=3, help="newest checkpoints kept; 0 keeps all")
    g.add_argument("--resume", default=None, help="'latest' (starts fresh when there is none yet) or a file")
    g.add_argument("--log-every", type=int, default=10, help="steps between metrics lines")
    g.add_argument("--tensorboard", action="store_true", help="also write TensorBoard scalars")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show a progress bar on a terminal")
    g.add_argument("--seed", type=int, default=0, help="seed of initialisation, shuffling and augmentation")


def options_from_args(args):
    import dataclasses

    from wit_pipeline.train.loop import TrainOptions
    names = {f.name for f in dataclasses.fields(TrainOptions)}
    return TrainOptions(**{k: v for k, v in vars(args).items() if k in names})


def run(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from wit_pipeline.train.loop import train
    summary = train(options_from_args(args))
    print(json.dumps(summary, indent=1))
    return 0
