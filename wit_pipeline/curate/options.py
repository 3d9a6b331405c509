"""Options of `wit score` and `wit filter`, one dataclass per stage: the single source of their flags (made by
wit_pipeline/flags.py), defaults and checks. Torch-free, so `wit --help` stays quick."""
from __future__ import annotations

import math
from dataclasses import dataclass

from transforms.flag import opt
from wit_pipeline.curate.decontaminate_options import MAX_DISTANCE

QUANTILES = ("global", "per-shard")


@dataclass(frozen=True)
class ScoreOptions:
    """How `wit score` computes the CLIP score of every sample of a corpus."""

    corpus: str = opt(help="the corpus: wit build output, shards folder or .tar pattern", cli=False)
    checkpoint: str = opt(help="a checkpoint written by wit train", cli=False)
    batch_size: int = opt(256, "samples per forward pass")
    device: str | None = opt(None, "torch device: cpu, cuda, cuda:1 (default: cuda when there is one, else cpu)")
    embeddings: bool = opt(False, "also store each sample's image and text embeddings (float16) in its scores file")
    decode_threads: int = opt(0, "threads decoding images (0: one per core, at most 8)")
    overwrite: bool = opt(False, "replace scores made from another checkpoint (without it such a corpus is refused)")
    beam: bool = opt(False, "run as a Beam job, one shard per element, the model loaded once per worker; flags wit "
                     "does not know are Beam's (--runner=DataflowRunner ...; default FnApiRunner)")

    def __post_init__(self):
        if not self.corpus or not self.checkpoint:
            raise ValueError("give a corpus and --checkpoint")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if self.decode_threads < 0:
            raise ValueError(f"decode_threads must not be negative, not {self.decode_threads}")


@dataclass(frozen=True)
class FilterOptions:
    """Which samples `wit filter` keeps, from the scores `wit score` wrote beside the shards."""

    corpus: str = opt(help="the scored corpus: wit build output, shards folder or .tar pattern", cli=False)
    output: str = opt(help="the new corpus's folder", cli=False)
    min_score: float | None = opt(None, "keep the samples scoring at least this (cosine similarity, -1..1)",
                                  metavar="X")
    keep_fraction: float | None = opt(None, "keep this share of the samples, the highest scoring (ties: lower key "
                                      "first)", metavar="F")
    quantile: str = opt("global", "with --keep-fraction: the share of the whole corpus or of each shard",
                        choices=QUANTILES)
    against: tuple = opt((), "also drop the samples whose images are near-duplicates of these evaluation images "
                         "(folders, one evaluation set each; reason eval_overlap; as wit decontaminate finds them)",
                         nargs="+", metavar="DIR")
    max_distance: int = opt(MAX_DISTANCE, "with --against: largest Hamming distance of the 256-bit DCT hashes "
                            "(0-256) that counts as a copy", metavar="N")
    overwrite: bool = opt(False, "replace an output made from other inputs or settings (without it: refused; the "
                          "same ones resume it)")

    def __post_init__(self):
        if not self.corpus or not self.output:
            raise ValueError("give a corpus and --output")
        if self.min_score is not None and self.keep_fraction is not None:
            raise ValueError("give either --min-score X or --keep-fraction F, not both")
        if self.min_score is None and self.keep_fraction is None and not self.against:
            raise ValueError("give --min-score X or --keep-fraction F (after wit score), or --against DIR")
        if not 0 <= self.max_distance <= 256:
            raise ValueError(f"max_distance must be in 0..256, not {self.max_distance}")
        if self.min_score is not None and not math.isfinite(self.min_score):
            raise ValueError(f"min_score must be a finite number, not {self.min_score}")
        if self.keep_fraction is not None and not 0 <= self.keep_fraction <= 1:
            raise ValueError(f"keep_fraction must be in 0..1, not {self.keep_fraction}")
        if self.quantile not in QUANTILES:
            raise ValueError(f"quantile must be one of {', '.join(QUANTILES)}, not {self.quantile!r}")
