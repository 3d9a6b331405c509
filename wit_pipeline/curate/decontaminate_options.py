"""Options of `wit decontaminate`: the single source of its flags (made by wit_pipeline/flags.py), defaults and
checks. Imports nothing heavy, so `wit --help` stays quick (the work is in decontaminate.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from transforms.flag import opt

# The largest Hamming distance between 256-bit DCT hashes (0..256) that counts as a copy. Measured on Flickr8k
# (benchmarks/decontamination.py): copies cropped by 5%, resized, brightness- and colour-shifted and saved as
# JPEG q60 reach at most about 50; different photos come no closer than about 70 (burst shots of one scene).
MAX_DISTANCE = 60
CROPS = (0.05, 0.10)


def _fraction(text) -> float:
    value = float(text)
    if not (math.isfinite(value) and 0 < value < 0.5):
        raise ValueError(f"a crop fraction must be a number between 0 and 0.5, not {text!r}")
    return value


@dataclass(frozen=True)
class DecontaminateOptions:
    """What `wit decontaminate` compares, how strictly, and what it writes."""

    corpus: str = opt(help="the corpus: wit build output, shards folder or .tar pattern", cli=False)
    against: tuple = opt((), "evaluation image folders, each one evaluation set named by its folder (searched "
                         "recursively for .jpg .jpeg .png .webp .bmp .gif .tif)", nargs="+", metavar="DIR")
    report: str | None = opt(None, "write every match and the per-set counts to this JSON file", metavar="FILE")
    html: str | None = opt(None, "write an HTML page with the matches side by side (corpus | evaluation image)",
                           metavar="FILE")
    examples: int = opt(60, "matched pairs shown in the HTML page")
    output: str | None = opt(None, "write a new corpus without the matched samples here (their Parquet rows get "
                             "status eval_overlap)", metavar="NEW")
    overwrite: bool = opt(False, "with --output: replace an output made from other inputs or settings")
    max_distance: int = opt(MAX_DISTANCE, "largest Hamming distance of the 256-bit DCT hashes (0-256) that counts "
                            "as a copy", metavar="N")
    crops: tuple = opt(CROPS, "crop fractions indexed for each evaluation image (a 3x3 grid of offsets each), so "
                       "that cropped copies are found; more cost time and memory")
    workers: int = opt(0, "processes decoding and hashing (0: one per CPU core)")
    checkpoint: str | None = opt(None, "a wit train checkpoint: also compare the image embeddings of every matched "
                                 "pair (a second opinion)", metavar="CKPT")
    min_similarity: float | None = opt(None, "with --checkpoint: a match whose embeddings' cosine similarity is "
                                       "below this is not counted (without it the similarity is only reported)",
                                       metavar="S")
    device: str | None = opt(None, "with --checkpoint: torch device (default: cuda when there is one, else cpu)")
    fail_on_match: bool = opt(False, "exit with status 1 when any corpus sample matches (for scripts and CI)")

    def __post_init__(self):
        if not self.corpus:
            raise ValueError("give a corpus")
        if not self.against:
            raise ValueError("give the evaluation image folders: --against DIR [DIR ...]")
        if not 0 <= self.max_distance <= 256:
            raise ValueError(f"--max-distance must be in 0..256, not {self.max_distance}")
        object.__setattr__(self, "crops", tuple(sorted({_fraction(c) for c in self.crops})))
        if self.workers < 0 or self.examples < 0:
            raise ValueError("--workers and --examples must not be negative")
        if self.min_similarity is not None and not -1 <= self.min_similarity <= 1:
            raise ValueError(f"--min-similarity must be in -1..1, not {self.min_similarity}")
        if self.min_similarity is not None and not self.checkpoint:
            raise ValueError("--min-similarity needs --checkpoint")
