"""Helpers of the curation tests: a tiny checkpoint of the project's own model made in well under a second
(random seeded weights and a byte-level BPE tokenizer trained on the given captions, saved the way `wit train`
saves its checkpoints), a private copy of the session's built corpus, and readers of tars and scores files.
`write_shards` is the trainer tests' (tests/wit_pipeline/train/train_shards.py)."""
from __future__ import annotations

import os
import sys

import torch

_TRAIN_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "train")
if os.path.abspath(_TRAIN_TESTS) not in map(os.path.abspath, sys.path):
    sys.path.append(os.path.abspath(_TRAIN_TESTS))
from train_shards import write_shards  # noqa: E402 - re-exported for the curation tests

__all__ = ["write_shards", "make_checkpoint", "copy_corpus", "captions_of", "tar_samples", "scores_of"]

from wit_pipeline.train.config import MODELS
from wit_pipeline.train.model import CLIP
from wit_pipeline.train.tokenizer import train_tokenizer


def make_checkpoint(path, captions, seed: int = 0, step: int = 7) -> str:
    cfg = MODELS["tiny"]
    tokenizer = train_tokenizer(captions, vocab_size=300, context_length=cfg.text.context_length, min_frequency=1)
    cfg = cfg.replace(vocab_size=tokenizer.vocab_size)
    torch.manual_seed(seed)
    model = CLIP(cfg)
    torch.save({"model": model.state_dict(), "model_config": cfg.to_dict(), "tokenizer": tokenizer.to_json(),
                "step": step}, str(path))
    return str(path)


def copy_corpus(mini_corpus: dict, folder) -> str:
    """A private copy of the session's built corpus (its shards/ and provenance): scores written beside the
    shards must not reach the shared one, which other test files read."""
    import shutil

    target = os.path.join(str(folder), "corpus")
    shutil.copytree(os.path.join(mini_corpus["out"], "shards"), os.path.join(target, "shards"))
    return target


def captions_of(corpus: str) -> list[str]:
    import glob

    import pyarrow.parquet as pq

    rows = [r for f in sorted(glob.glob(os.path.join(corpus, "shards", "[0-9]*.parquet")))
            for r in pq.read_table(f, columns=["caption", "status"]).to_pylist()]
    return [r["caption"] for r in rows if r["status"] == "success" and r["caption"]]


def tar_samples(tar_path: str) -> dict[str, dict[str, bytes]]:
    """key -> {extension: bytes} of every sample of a tar, in order."""
    import tarfile

    out: dict[str, dict[str, bytes]] = {}
    with tarfile.open(tar_path) as tar:
        for member in tar.getmembers():
            key, _, ext = os.path.basename(member.name).partition(".")
            out.setdefault(key, {})[ext] = tar.extractfile(member).read()
    return out


def scores_of(path: str) -> dict[str, float]:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["key", "score"])
    return dict(zip(table["key"].to_pylist(), table["score"].to_pylist()))


def write_scores(tar_path: str, scores: dict, checkpoint: str = "/ckpt/a.pt", sha256: str = "a" * 64) -> str:
    """A scores file as `wit score` writes it, with chosen scores (ties, NaN) for the filter's tests."""
    import json

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {"checkpoint": checkpoint, "checkpoint_sha256": sha256, "step": 1, "tar_bytes": os.path.getsize(tar_path),
            "samples": len(scores), "scored": len(scores), "embeddings": False}
    table = pa.table({"key": pa.array(list(scores), pa.string()),
                      "score": pa.array(np.asarray(list(scores.values()), np.float32))})
    path = tar_path[:-len(".tar")] + "_scores.parquet"
    pq.write_table(table.replace_schema_metadata({b"wit_score": json.dumps(meta).encode()}), path)
    return path
