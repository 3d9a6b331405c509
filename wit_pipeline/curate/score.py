"""CLIP scores: the cosine similarity of each sample's normalised image and caption embeddings, computed with a
checkpoint of the project's trainer and written beside each shard as `NNNNN_scores.parquet`.

A scores file has one row per sample of the tar, in tar order: `key` (string), `score` (float32; NaN where the
image does not decode or the caption is missing or empty) and, with `embeddings`, `image_embedding` and
`text_embedding` (lists of float16, null where unscored). Its Parquet metadata (key `wit_score`) records what
made it: the checkpoint's path, sha256 and step, the tar's size, the samples and whether embeddings are there.

Images get the evaluation transform (shorter side to the model's size, centre crop), captions the checkpoint's
tokenizer; a batch never spans two shards, so a shard's scores do not depend on the others or on the order the
shards are done in (Beam workers, retries). Resumable: a shard whose scores file was made from the same
checkpoint and the same tar is skipped; a scores file made from another checkpoint refuses the whole run before
any work (one line), unless `overwrite`. Plain Python: beam.py runs the same Scorer inside a DoFn.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import posixpath
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from wit_pipeline.curate.corpus import (CAPTION_EXT, Shard, file_size, find_shards, image_of, iter_samples,
                                        members_by_ext)
from wit_pipeline.curate.options import ScoreOptions
from wit_pipeline.stats.collect import QUANTILES

SCORES_SUFFIX = "_scores.parquet"
META_KEY = b"wit_score"


def scores_path(shard: Shard) -> str:
    return shard.beside(SCORES_SUFFIX)


def checkpoint_identity(path: str) -> dict:
    """{"checkpoint": path, "sha256": hex}: what a scores file records of the checkpoint that made it."""
    fs, fs_path = fsspec.core.url_to_fs(path)
    if not fs.isfile(fs_path):
        raise ValueError(f"{path}: no such checkpoint file")
    digest = hashlib.sha256()
    with fs.open(fs_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return {"checkpoint": path, "sha256": digest.hexdigest()}


def read_meta(path: str) -> dict | None:
    """The `wit_score` metadata of a scores file; None when there is no file, {} when it is not one of ours."""
    fs, fs_path = fsspec.core.url_to_fs(path)
    try:
        with fs.open(fs_path, "rb") as f:
            meta = pq.read_schema(f).metadata or {}
    except FileNotFoundError:
        return None
    except (pa.ArrowException, OSError, ValueError):
        return {}
    try:
        value = json.loads(meta.get(META_KEY, b"{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def is_current(meta: dict | None, identity: dict, tar_bytes: int | None, embeddings: bool) -> bool:
    """A scores file that this run would write again: same checkpoint, same tar, embeddings if asked for."""
    return bool(meta) and meta.get("checkpoint_sha256") == identity["sha256"] and meta.get("tar_bytes") == tar_bytes \
        and (meta.get("embeddings") or not embeddings)


def plan(shards: list[Shard], identity: dict, options: ScoreOptions) -> tuple[list[Shard], list[Shard]]:
    """(shards to score, shards already scored). Scores made from another checkpoint refuse the run (ValueError,
    one line) unless options.overwrite; those of a tar that has changed since are redone."""
    todo, done, foreign = [], [], []
    for shard in shards:
        meta = read_meta(scores_path(shard))
        if meta is None:
            todo.append(shard)
        elif is_current(meta, identity, file_size(shard.url), options.embeddings):
            done.append(shard)
        else:
            if meta.get("checkpoint_sha256") != identity["sha256"]:
                foreign.append((shard, meta))
            todo.append(shard)
    if foreign and not options.overwrite:
        shard, meta = foreign[0]
        made = (f"from {meta.get('checkpoint')} (sha256 {str(meta.get('checkpoint_sha256'))[:12]})" if meta
                else "by something else (no wit_score metadata)")
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise ValueError(f"{scores_path(shard)}{more} was made {made}, not from {identity['checkpoint']} (sha256 "
                         f"{identity['sha256'][:12]}): use --overwrite to replace it")
    return todo, done


class Scorer:
    """The model, tokenizer and decode threads of one process (one Beam worker): score_shard() for each shard."""

    def __init__(self, options: ScoreOptions, identity: dict):
        import torch

        from wit_pipeline.train import evaluate

        self.options, self.identity = options, identity
        if options.device and options.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"--device {options.device}: this machine has no CUDA device")
        try:
            self.model = evaluate.load(_local_copy(identity["checkpoint"], identity["sha256"]), options.device)
        except Exception as e:  # noqa: BLE001 - torch.load's (pickle, zip, EOF) and the state dict's many errors
            raise ValueError(f"{identity['checkpoint']}: not a wit train checkpoint ({type(e).__name__}: "
                             f"{' '.join(str(e).split())[:200]})") from None
        threads = options.decode_threads or min(8, os.cpu_count() or 1)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="wit-score-decode") if threads > 1 else None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def meta(self, shard: Shard, samples: int, scored: int) -> dict:
        return {"checkpoint": self.identity["checkpoint"], "checkpoint_sha256": self.identity["sha256"],
                "step": self.model.step, "image_size": self.model.config.vision.image_size,
                "tar": posixpath.basename(shard.url), "tar_bytes": file_size(shard.url), "samples": samples,
                "scored": scored, "embeddings": self.options.embeddings}

    def score_shard(self, shard: Shard) -> dict:
        """Score one shard and write its scores file (skipped when a current one is there: a retried bundle)."""
        started = time.monotonic()
        path = scores_path(shard)
        meta = read_meta(path)
        if is_current(meta, self.identity, file_size(shard.url), self.options.embeddings):
            return {"shard": shard.name, "samples": meta.get("samples", 0), "scored": meta.get("scored", 0),
                    "skipped": True, "seconds": 0.0}
        keys, scores, image_emb, text_emb = [], [], [], []
        batch = []
        for key, members in iter_samples(shard.url):
            sample = members_by_ext(members)
            batch.append((key, image_of(sample), sample.get(CAPTION_EXT)))
            if len(batch) == self.options.batch_size:
                self._score_batch(batch, keys, scores, image_emb, text_emb)
                batch = []
        if batch:
            self._score_batch(batch, keys, scores, image_emb, text_emb)
        scored = int(sum(1 for s in scores if not math.isnan(s)))
        columns = {"key": pa.array(keys, pa.string()), "score": pa.array(np.asarray(scores, np.float32))}
        if self.options.embeddings:
            columns["image_embedding"] = pa.array(image_emb, pa.list_(pa.float16()))
            columns["text_embedding"] = pa.array(text_emb, pa.list_(pa.float16()))
        meta = self.meta(shard, len(keys), scored)
        table = pa.table(columns).replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True).encode()})
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        _publish(path, buffer.getvalue())
        return {"shard": shard.name, "samples": len(keys), "scored": scored, "skipped": False,
                "seconds": round(time.monotonic() - started, 3)}

    def _decode(self, data: bytes | None):
        from wit_pipeline.train import augment

        if data is None:
            return None
        try:
            return augment.eval_image(data, self.model.config.vision.image_size)
        except Exception:  # noqa: BLE001 - any decoder error is one unscored sample
            return None

    def _score_batch(self, batch, keys, scores, image_emb, text_emb) -> None:
        import torch

        from wit_pipeline.train import augment

        images = list(self.pool.map(self._decode, [b[1] for b in batch]) if self.pool else
                      map(self._decode, [b[1] for b in batch]))
        texts = [b[2].decode("utf-8", "replace").strip() if b[2] is not None else "" for b in batch]
        ok = [i for i, (image, text) in enumerate(zip(images, texts)) if image is not None and text]
        batch_scores = np.full(len(batch), np.nan, np.float32)
        img = txt = None
        if ok:
            m = self.model
            with torch.no_grad():
                img = m.model.encode_image(augment.normalize(torch.stack([images[i] for i in ok]), m.device))
                tokens = torch.from_numpy(m.tokenizer.encode([texts[i] for i in ok])).to(m.device)
                txt = m.model.encode_text(tokens)
                img, txt = img.float().cpu(), txt.float().cpu()
            batch_scores[ok] = (img * txt).sum(dim=-1).numpy()
        keys.extend(b[0] for b in batch)
        scores.extend(batch_scores.tolist())
        if self.options.embeddings:
            rows = {i: j for j, i in enumerate(ok)}
            img16 = img.half().numpy() if img is not None else None
            txt16 = txt.half().numpy() if txt is not None else None
            image_emb.extend(img16[rows[i]] if i in rows else None for i in range(len(batch)))
            text_emb.extend(txt16[rows[i]] if i in rows else None for i in range(len(batch)))


def _local_copy(url: str, sha256: str) -> str:
    """A local path of the checkpoint: itself when local, else a copy in the temporary folder named by its sha256
    and checked against it (a Beam worker reading gs://...; torch.load reads local files)."""
    import tempfile

    fs, path = fsspec.core.url_to_fs(url)
    if "file" in fs.protocol or "local" in fs.protocol:
        return path
    local = os.path.join(tempfile.gettempdir(), f"wit-score-{sha256[:32]}.pt")
    if not os.path.exists(local):
        part = f"{local}.part-{os.getpid()}"
        fs.get_file(path, part)
        with open(part, "rb") as f:
            got = hashlib.file_digest(f, "sha256").hexdigest()
        if got != sha256:
            os.remove(part)
            raise ValueError(f"{url} has changed since the run began (sha256 {got[:12]}, not {sha256[:12]})")
        os.replace(part, local)
    return local


def _publish(url: str, data: bytes) -> None:
    """Write `data` to `url` atomically: a temporary name beside it, then a rename (no shared staging folder:
    several processes publish into the same shards folder at once)."""
    fs, path = fsspec.core.url_to_fs(url)
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        fs.pipe_file(tmp, data)
        if "file" in fs.protocol or "local" in fs.protocol:
            os.replace(tmp, path)
        else:
            fs.mv(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            fs.rm(tmp)
        raise


def score_corpus(options: ScoreOptions, beam_args: list[str] | None = None) -> dict:
    """Score every shard of options.corpus not scored yet (on Beam with options.beam); a summary."""
    started = time.monotonic()
    shards = find_shards(options.corpus)
    identity = checkpoint_identity(options.checkpoint)
    todo, done = plan(shards, identity, options)
    if options.beam:
        from wit_pipeline.curate.beam import run_scoring

        counts = run_scoring(options, identity, [s.url for s in todo], beam_args or [])
    else:
        counts = {"shards": 0, "samples": 0, "scored": 0}
        scorer = Scorer(options, identity) if todo else None
        try:
            for shard in todo:
                stats = scorer.score_shard(shard)
                counts["shards"] += 1
                counts["samples"] += stats["samples"]
                counts["scored"] += stats["scored"]
        finally:
            if scorer is not None:
                scorer.close()
    return {"corpus": options.corpus, "checkpoint": options.checkpoint, "checkpoint_sha256": identity["sha256"],
            "shards": len(shards), "skipped_shards": len(done), "scored_shards": counts["shards"],
            "samples": counts["samples"], "scored": counts["scored"], "unscored": counts["samples"] - counts["scored"],
            "seconds": round(time.monotonic() - started, 1), "distribution": distribution(shards)}


def read_scores(shard: Shard, columns=("key", "score")) -> pa.Table:
    """A shard's scores file (ValueError naming it when missing or unreadable)."""
    path = scores_path(shard)
    fs, fs_path = fsspec.core.url_to_fs(path)
    try:
        with fs.open(fs_path, "rb") as f:
            return pq.read_table(f, columns=list(columns))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such scores file: run wit score on the corpus first") from None
    except (pa.ArrowException, OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read it: {' '.join(str(e).split())}") from None


class Distribution:
    """The distribution of many scores in bounded memory: exact count, mean, min and max; quantiles (nearest
    rank) to within `1 / bins` (cosine similarities lie in -1..1: 2,000 bins are 0.001 wide); a histogram of
    at most 40 bars over the occupied range. `wit score`'s report and `wit stats` use it."""

    def __init__(self, bins: int = 2000):
        self.hist = np.zeros(bins, np.int64)
        self.count = self.unscored = 0
        self.total, self.lo, self.hi = 0.0, math.inf, -math.inf

    def add(self, scores: np.ndarray) -> None:
        scores = np.asarray(scores, np.float64)
        valid = scores[~np.isnan(scores)]
        self.count += len(valid)
        self.unscored += len(scores) - len(valid)
        if len(valid):
            self.total += float(valid.sum())
            self.lo, self.hi = min(self.lo, float(valid.min())), max(self.hi, float(valid.max()))
            bins = len(self.hist)
            self.hist += np.bincount(np.clip(((valid + 1) / 2 * bins).astype(np.int64), 0, bins - 1), minlength=bins)

    def summary(self) -> dict:
        out = {"count": self.count, "unscored": self.unscored}
        if not self.count:
            return out
        cum, width = np.cumsum(self.hist), 2 / len(self.hist)
        out.update(mean=round(self.total / self.count, 6), min=round(self.lo, 6))
        for name, q in QUANTILES:  # the centre of the bin holding the nearest-rank quantile, within [min, max]
            at = int(np.searchsorted(cum, max(1, math.ceil(q * self.count))))
            out[name] = round(min(self.hi, max(self.lo, -1 + (at + 0.5) * width)), 4)
        out["max"] = round(self.hi, 6)
        occupied = np.nonzero(self.hist)[0]
        first, last = int(occupied[0]), int(occupied[-1]) + 1
        group = max(1, -(-(last - first) // 40))
        counts = np.add.reduceat(self.hist[first:last], np.arange(0, last - first, group))
        out["histogram"] = {"start": round(-1 + first * width, 6), "bin_width": round(group * width, 6),
                            "counts": counts.tolist()}
        return out


def distribution(shards: list[Shard]) -> dict:
    """The distribution of the scores in every scores file there is among `shards`."""
    d = Distribution()
    for shard in shards:
        if file_size(scores_path(shard)) is not None:
            d.add(read_scores(shard, ("score",))["score"].to_numpy(zero_copy_only=False))
    return d.summary()
