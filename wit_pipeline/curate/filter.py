"""Which samples `wit filter` drops, from the scores `wit score` wrote beside the shards; rewrite.py writes the
new corpus without them (each dropped row with status `low_clip_score`).

- `min_score X`: keep the samples scoring at least X.
- `keep_fraction F`: keep round(F * n) samples, the highest scoring, of the whole corpus (`quantile` global) or
  of each shard (per-shard); n counts every sample, and the unscored ones (NaN: undecodable image, empty
  caption) rank last. Equal scores are ordered by key (the lower key is kept), so the kept set never depends
  on the order shards were read in.
With `against` (evaluation image folders), the samples whose images near-duplicate an evaluation image are
dropped too, with reason `eval_overlap` (decontaminate.py finds them; scores are then optional).
Unscored samples are always dropped. Every scores file must come from one checkpoint and be current with its
tar; the checkpoint's sha256 and the settings are recorded in the output, so a re-run with others is refused.
"""
from __future__ import annotations

import math
import os

import numpy as np

from wit_pipeline.curate.corpus import Shard, file_size, find_shards
from wit_pipeline.curate.options import FilterOptions
from wit_pipeline.curate.rewrite import write_filtered
from wit_pipeline.curate.score import read_meta, read_scores, scores_path

REASON = "low_clip_score"
UNSCORED = "no CLIP score (undecodable image or missing caption)"


def _checked_scores(shards: list[Shard]) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict]:
    """Each shard's (keys, scores), and the metadata of the checkpoint they come from (all from one)."""
    first, out = None, []
    for shard in shards:
        path = scores_path(shard)
        meta = read_meta(path)
        if meta is None:
            raise ValueError(f"{path}: no such scores file: run `wit score {shard.url.rsplit('/', 2)[0]} "
                             "--checkpoint CKPT` first")
        if not meta:
            raise ValueError(f"{path}: not a wit score file (no wit_score metadata)")
        if meta.get("tar_bytes") != file_size(shard.url):
            raise ValueError(f"{path} was made from another {shard.name}.tar (its size has changed since): run "
                             "wit score again")
        if first is None:
            first = meta
        elif meta.get("checkpoint_sha256") != first.get("checkpoint_sha256"):
            raise ValueError(f"{path} comes from another checkpoint ({meta.get('checkpoint')}) than "
                             f"{scores_path(shards[0])} ({first.get('checkpoint')}): score the corpus with one "
                             "checkpoint (wit score --overwrite)")
        table = read_scores(shard)
        keys = np.asarray(table["key"].to_pylist(), dtype=object)
        out.append((keys, table["score"].to_numpy(zero_copy_only=False).astype(np.float64)))
    return out, first or {}


def _ranked(keys: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indices from the highest score down, equal scores by key, unscored (NaN) last."""
    order_keys = np.asarray(keys, dtype=str)
    return np.lexsort((order_keys, np.where(np.isnan(scores), np.inf, -scores)))


def _keep_count(fraction: float, n: int) -> int:
    return min(n, int(math.floor(fraction * n + 0.5)))


def choose_drops(parts: list[tuple[np.ndarray, np.ndarray]], options: FilterOptions) -> dict[str, tuple[str, str]]:
    """key -> (reason, message) of every sample to drop."""
    drops: dict[str, tuple[str, str]] = {}

    def drop(keys, scores, message):
        for key, score in zip(keys, scores):
            drops[key] = (REASON, UNSCORED if math.isnan(score) else message)

    if options.min_score is not None:
        for keys, scores in parts:
            low = ~(scores >= options.min_score)  # NaN compares False: dropped
            drop(keys[low], scores[low], f"CLIP score < {options.min_score:g}")
        return drops
    fraction = options.keep_fraction
    groups = parts if options.quantile == "per-shard" else [(
        np.concatenate([k for k, _ in parts]) if parts else np.zeros(0, object),
        np.concatenate([s for _, s in parts]) if parts else np.zeros(0))]
    where = "of its shard" if options.quantile == "per-shard" else "of the corpus"
    for keys, scores in groups:
        order = _ranked(keys, scores)
        kept = _keep_count(fraction, len(order))
        cut = scores[order[kept - 1]] if kept else math.nan
        cut_text = f", cut at {cut:.4f}, ties by key" if options.quantile == "global" and not math.isnan(cut) else ""
        rest = order[kept:]
        drop(keys[rest], scores[rest], f"not among the highest-scoring {fraction:g} {where}{cut_text}")
    return drops


def overlap_drops(options: FilterOptions) -> dict[str, tuple[str, str]]:
    """key -> ("eval_overlap", message) of the samples near-duplicating an image of options.against."""
    from wit_pipeline.curate.decontaminate import scan
    from wit_pipeline.curate.decontaminate_options import DecontaminateOptions

    found = scan(DecontaminateOptions(corpus=options.corpus, against=options.against,
                                      max_distance=options.max_distance))
    return found.drops()


def filter_corpus(options: FilterOptions) -> dict:
    """Write options.output: options.corpus without the samples the scores and options drop. A summary."""
    shards = find_shards(options.corpus)
    by_score = options.min_score is not None or options.keep_fraction is not None
    parts, meta = _checked_scores(shards) if by_score else ([], {})
    drops = choose_drops(parts, options) if by_score else {}
    if options.against:
        drops.update(overlap_drops(options))  # an evaluation copy is named as such, whatever its score
    settings = {"command": "filter", "min_score": options.min_score, "keep_fraction": options.keep_fraction,
                "quantile": options.quantile if options.keep_fraction is not None else None,
                "checkpoint_sha256": meta.get("checkpoint_sha256"), "step": meta.get("step"),
                "against": [os.path.abspath(d) for d in options.against],
                "max_distance": options.max_distance if options.against else None}
    summary = write_filtered(options.corpus, options.output, drops, settings=settings, overwrite=options.overwrite)
    summary["checkpoint"] = meta.get("checkpoint")
    summary["unscored_dropped"] = sum(1 for _, message in drops.values() if message == UNSCORED)
    return summary
